"""Test calls: predict with what the best-so-far record has queued, when the time left covers decoding the test
set and the pass; otherwise (and when nothing new is queued) return the last prediction at no cost.

From `flip_test_after` predictions on, network predictions average the horizontally flipped images when
validation says that helps (scored on the same weights) and the time left covers FLIP_PREDICTIONS_LEFT such
predictions.
"""
from __future__ import annotations

import time

import numpy as np

from learner.best import Source
from learner.heads import RidgeHeads
from learner.run import Run

# Flip-averaging doubles a network test pass: used only while the time left covers this many flip-averaged
# predictions (and the safety margin), so that it does not crowd out later predictions.
FLIP_PREDICTIONS_LEFT = 4


class Predictor:
    def __init__(self, run: Run, heads: RidgeHeads) -> None:
        self.run, self.heads = run, heads
        self.count_ = 0                        # predictions made
        self.last_: np.ndarray | None = None   # the last one
        self.failed_: Source | None = None     # what the last failed prediction was made with

    def use_flip(self) -> bool:
        run = self.run
        return (self.count_ >= run.cfg.flip_test_after and run.best.pending is Source.NETWORK and run.best.flip_helps
                and run.clock.left() > FLIP_PREDICTIONS_LEFT * run.prediction_seconds(Source.NETWORK, flip=True)
                + run.clock.safety_margin())

    def predict(self) -> np.ndarray:
        run, feed, source = self.run, self.run.feed, self.run.best.pending
        if feed.expected_test is None and not feed.test_reader(False).exhausted:
            feed.test_reader(False).read()  # no test metadata beside the train one: the only way to the size
        if source is None:
            return self.last_good()
        flip = self.use_flip()
        reader = feed.test_reader(network=source is Source.NETWORK)
        pass_seconds = run.cfg.cost_factor * run.pass_seconds(source, flip)
        if not reader.exhausted:
            reader.read(deadline=run.clock.deadline - run.clock.safety_margin() - pass_seconds)
            run.log.info("test set: %d examples decoded at %d px in %.2fs%s", reader.store.count,
                         reader.store.side, reader.seconds, "" if reader.exhausted else " (more left)")
            if not reader.exhausted:
                run.log.info("no time to decode the whole test set (%.2fs left): returning the last prediction",
                             run.clock.left())
                return self.last_good()
        if run.clock.left() < pass_seconds + run.clock.safety_margin():
            run.log.info("no time for a test pass (%.2fs left): returning the last prediction", run.clock.left())
            return self.last_good()
        start = time.monotonic()
        examples = reader.store.arrays()[0]
        if source is Source.NETWORK:
            scores = run.runner.predict(examples, run.best.network.side, flip)
        else:
            scores = self.heads.logits(source, examples)
        prediction = run.probabilities(scores)
        self.count_ += 1
        run.log.info("prediction %d (%s) at %.2fs elapsed (test pass %.2fs%s)", self.count_, source.value,
                     run.clock.elapsed(), time.monotonic() - start, ", flip-averaged" if flip else "")
        self.last_, run.best.pending, self.failed_ = prediction, None, None
        return prediction

    def take_over(self, other: Predictor) -> None:
        """Another learner's predictions so far become this one's: its last stays the answer until a better one,
        and what it was validated at is the bar (the learner validates on the same examples: learner.pipeline's
        first read; without the bar a head that only ties the standing prediction would be predicted again, and
        with a bar of this learner's own unpredicted heads a better one could be held back)."""
        self.count_, self.last_ = other.count_, other.last_
        self.run.best.result = other.run.best.result

    def failed(self) -> None:
        """The last predict() raised: the queued source gets one more try, then it is dropped (a prediction that
        fails twice would cost every later test call the same failed pass)."""
        if self.failed_ is not None and self.failed_ is self.run.best.pending:
            self.run.best.pending = None
        self.failed_ = self.run.best.pending

    def last_good(self) -> np.ndarray:
        """The last prediction; before any, the train class frequencies (valid shape, no information)."""
        if self.last_ is not None:
            return self.last_
        return np.tile(self.run.feed.prior(self.run.num_classes), (self.run.feed.test_count(), 1))
