"""Fine-tuning, and the file that decides when to evaluate, predict, resize, cut the learning rate and stop.

Within a train call: read more train data (time-boxed), train until the next evaluation time (elapsed times
growing geometrically, x `prediction_growth`, at least `min_prediction_gap_s` apart), evaluate on validation.
When the weights beat everything predicted so far, the call returns and the next test call predicts with them.
When they do not, a plateau of `patience` evaluations (and `plateau_passes` passes over the data) first raises
the input side (progressive resizing, while the previous raise reached the network's best validation NAUC, a tie
included, and the time left allows), then cuts the
learning rate, both restarting from the network's best weights; at a plateau after `max_lr_cuts` cuts (every cut
of the run counts, also one after which the NAUC improved), or when the time left only covers the reserve (the
validation passes and a test pass), training is done. Without early predictions there is one evaluation, at the
end, and one prediction with the best weights.
"""
from __future__ import annotations

import time

import numpy as np

from learner.best import Result, Source
from learner.heads import RidgeHeads
from learner.run import Run
from learner.sides import cost_ratio, next_side
from learner.validation import TIE_TOLERANCE, nauc

# The reserve's validation passes: a plain one, then, after an improvement, the flip-averaged one, which runs the
# images twice (plain and flipped).
VALIDATION_PASSES = 3
# A read of more train data while fine-tuning takes at most this share of the time beyond the reserve (training
# keeps the rest),
READ_SHARE = 0.25
# but at least this many seconds (within the deadline), so that a read when little time is left still adds examples.
MIN_READ_SECONDS = 5.0
# Training that stops for time with more than this share of the budget left logs the costs that make it stop.
UNEXPLAINED_SHARE = 0.1


class FineTuning:
    def __init__(self, run: Run, heads: RidgeHeads, use_flip) -> None:
        self.run, self.heads, self.use_flip = run, heads, use_flip
        self.started = False
        self.done = False
        self.next_eval = 0.0  # elapsed seconds of the next evaluation
        self.side_best = -np.inf  # the best validation NAUC reached at the current side
        self.val_x = self.val_y = None  # the validation rows at the stored side, set with the train tensors

    def reserve_parts(self) -> dict[str, float]:
        """The measured costs (seconds) a train call must leave room for: the test pass of the prediction it may
        queue (decoding the unread test set included), the validation passes that end it (the flipped one
        included), and one more step."""
        run = self.run
        return {"test pass": run.prediction_seconds(Source.NETWORK, self.use_flip()),
                f"{VALIDATION_PASSES} validation passes": VALIDATION_PASSES * run.runner.seconds(len(run.val_index),
                                                                                                run.frames),
                "a step": run.trainer.seconds_per_step()}

    def reserve(self) -> float:
        """Seconds a train call must leave: its reserve_parts times the cost factor, plus the clock's margin."""
        return self.run.cfg.cost_factor * sum(self.reserve_parts().values()) + self.run.clock.safety_margin()

    def _why_stop_now(self) -> str:
        """Why training stops for time: the time left is nearly spent, and when that is more than
        UNEXPLAINED_SHARE of the budget, why it cannot pay (one more step with the evaluation and the prediction
        after it does not fit), with the measured costs."""
        run = self.run
        left = run.clock.left()
        if left <= UNEXPLAINED_SHARE * run.clock.budget:
            return "time nearly spent"
        parts = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in self.reserve_parts().items())
        return (f"time nearly spent: {left:.1f}s left, but one more step with the evaluation and prediction after "
                f"it needs {self.reserve() + run.trainer.seconds_per_step():.1f}s ({parts}, x{run.cfg.cost_factor:g} "
                f"for estimate errors, plus {run.clock.safety_margin():.1f}s margin, plus the step)")

    def _time_nearly_spent(self) -> bool:
        return self.run.clock.left() < self.reserve() + self.run.trainer.seconds_per_step()

    def train_call(self) -> None:
        run = self.run
        if self._time_nearly_spent():
            return self.finish(self._why_stop_now())
        if not self.load_data():
            if self._time_nearly_spent():
                self.finish(self._why_stop_now())
            return
        if not self.started:
            self.started = True
            if self.heads.features_ is not None:
                self.heads.init_network_head()
                # The starting point is a valid "best": plateaus restart from it until something beats it.
                self._keep_network_best(run.best.heads.get(Source.FEATURES, Result()))
            self.next_eval = run.clock.elapsed() + run.cfg.min_prediction_gap_s
        while True:
            stop_at = run.clock.deadline - self.reserve()
            eval_at = stop_at if not run.cfg.early_predictions else min(run.clock.start + self.next_eval, stop_at)
            trained = run.trainer.train_until(eval_at, stop_at, run.side, run.clock.elapsed)
            out_of_time = time.monotonic() >= stop_at - run.trainer.seconds_per_step()
            if not trained and out_of_time:
                return self.finish(self._why_stop_now())
            if self.evaluate() and run.cfg.early_predictions:
                return self._schedule_next(out_of_time)
            if out_of_time or self._converged():
                return self.finish(self._why_stop_now() if out_of_time else "converged")
            self._schedule_next(False)

    def load_data(self) -> bool:
        """Read more train data at the stored side (time-boxed), then (re)build the device tensors the training
        samples from. False while the stored rows do not yet cover the validation rows (training must wait)."""
        run = self.run
        budget = max(MIN_READ_SECONDS, READ_SHARE * (run.clock.left() - self.reserve()))
        changed = run.feed.read_more_train(min(time.monotonic() + budget, run.clock.deadline - self.reserve()))
        if run.feed.train_full.store.count <= (run.val_index.max() if len(run.val_index) else 0):
            return False
        if changed or run.trainer.train_x is None:
            self._build_train_tensors()
        return True

    def _build_train_tensors(self) -> None:
        """The stored rows at the training side on the device, but the validation rows, kept here."""
        run = self.run
        examples, labels = run.feed.train_full.store.arrays()
        mask = np.ones(len(examples), dtype=bool)
        mask[run.val_index] = False
        run.trainer.set_data(examples[mask], labels[mask], run.side, run.multilabel)
        self.val_x, self.val_y = examples[run.val_index], labels[run.val_index]

    def _schedule_next(self, out_of_time: bool) -> None:
        elapsed = self.run.clock.elapsed()
        self.next_eval = max(elapsed * self.run.cfg.prediction_growth, elapsed + self.run.cfg.min_prediction_gap_s)
        if out_of_time:
            self.done = True
            self.run.log.info("done training at %.1fs: %s", elapsed, self._why_stop_now())

    def finish(self, why: str) -> None:
        """Stop training; without early predictions, predict with the best weights once."""
        run, network = self.run, self.run.best.network
        self.done = True
        if network.state is not None and run.best.pending is None and not run.cfg.early_predictions:
            run.net.load_state_dict(network.state)
            run.best.pending = Source.NETWORK
        run.log.info("done training at %.1fs: %s (%d steps, best validation NAUC %.4f)", run.clock.elapsed(), why,
                     run.trainer.steps, run.best.result.score)

    def evaluate(self) -> bool:
        """Score the current weights on validation: kept as a copy when they are the network's best so far;
        True when they are also the best of all (then queued for prediction)."""
        run, best = self.run, self.run.best
        if not len(run.val_index):
            return best.offer(Source.NETWORK, None, predict=True).better
        logits = run.runner.predict(self.val_x, run.side)
        scores = logits.numpy()
        result = Result(nauc(self.val_y, scores), run.loss(logits, self.val_y), labels=self.val_y, scores=scores)
        self.side_best = max(self.side_best, result.score)
        verdict = best.judge(result)
        net_better = verdict.better or best.network.result.beaten_by(result)
        if verdict.better:
            flipped = run.runner.predict(self.val_x, run.side, flip=True)
            best.flip_helps = nauc(self.val_y, flipped.numpy()) > result.score
        note = verdict.note()
        run.log.info("validation NAUC %.4f loss %.4f at %.1fs elapsed: %s", result.score, result.loss,
                     run.clock.elapsed(),
                     f"improved ({note + '; ' if note else ''}flip-averaging "
                     f"{'helps' if best.flip_helps else 'does not help'})" if verdict.better
                     else f"network's best so far, kept (best of all {best.result.score:.4f}"
                          f"{', ' + note if note else ''})" if net_better
                     else f"no improvement (best {best.result.score:.4f}{', ' + note if note else ''})")
        if net_better:
            self._keep_network_best(result)
        else:
            best.network.plateau += 1
        if verdict.better:
            best.take(Source.NETWORK, result, predict=run.cfg.early_predictions)
        return verdict.better

    def _keep_network_best(self, result: Result) -> None:
        self.run.best.network.keep(self.run.net, result, self.run.side, self.run.trainer.steps)

    def _converged(self) -> bool:
        """After `patience` evaluations without improvement: raise the side while that may still pay, else cut
        the lr; both restart from the best weights. Converged at such a plateau once the run has cut the lr
        `max_lr_cuts` times (the count is never reset)."""
        run, network = self.run, self.run.best.network
        waited = run.trainer.steps - network.steps
        if network.plateau < run.cfg.patience or waited < run.cfg.plateau_passes * run.trainer.steps_per_pass():
            return False  # early evaluations come fast (geometric grid): also wait a few passes over the data
        if self._raise_side():
            return False
        if run.trainer.lr_cuts >= run.cfg.max_lr_cuts:
            return True
        self.restart_from_best()
        run.trainer.cut_lr()
        run.log.info("plateau: lr cut to %.3g (cut %d of %d), restarting from the best weights", run.trainer.lr,
                     run.trainer.lr_cuts, run.cfg.max_lr_cuts)
        return False

    def _raise_side(self) -> bool:
        """Progressive resizing: True when training goes on at a larger side."""
        run = self.run
        new = next_side(run.side, run.cfg.max_side, run.cfg.side_growth)
        # A raise that only ties the best NAUC (its loss higher) did not fail: with a few validation examples the
        # NAUC moves in coarse steps, and on mini_cifar (10 held out) such a tie at 96 px blocked the 128 px that
        # paid. A raise that stayed below the best did fail.
        network = run.best.network
        if new is None or (network.side != run.side and self.side_best < network.result.score - TIE_TOLERANCE):
            return False  # at the top, or the last raise did not reach the network's best
        ratio = cost_ratio(run.side, new)
        needed = ratio * (run.cfg.resize_min_passes * run.trainer.steps_per_pass() * run.trainer.seconds_per_step()
                          + self.reserve())
        if run.clock.left() < needed:
            run.log.info("plateau at %d px: %d px would need %.0fs, %.0fs left: side kept", run.side, new, needed,
                         run.clock.left())
            return False
        old, run.side, self.side_best = run.side, new, -np.inf
        self.restart_from_best()
        # Step and inference costs grow with the pixel count; measurements at the new side replace these guesses.
        run.trainer.rescale_step_time(ratio)
        run.runner.rescale_cost(ratio)
        self._build_train_tensors()
        run.log.info("plateau at %d px: side raised to %d px, restarting from the best weights", old, new)
        return True

    def restart_from_best(self) -> None:
        network = self.run.best.network
        network.plateau, network.steps = 0, self.run.trainer.steps
        if network.state is not None:
            self.run.net.load_state_dict(network.state)
