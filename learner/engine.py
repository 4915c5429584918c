"""The time-aware learner behind model.py: what to do in each train/test call, given the time left.

Schedule (see the module docs of data, ridge, validation, training and resolution for the parts):
1. Constructor (outside the budget): backbone built, weights loaded, a warm-up forward and backward.
2. First train call: read only the first train examples (at most `first_fit_samples`, for at most
   `first_read_seconds`, no shuffle buffer) at the small early side (learner.records: JPEGs decoded at reduced
   DCT scale straight from the dataset's files) and fit a ridge head on their raw pixels (16x16); the first test
   call decodes the test set at the same small side and predicts with it (about a second in all). Second train
   call: read more (half of `first_fit_seconds`) and fit a ridge head on frozen pooled backbone features of as
   many examples as `first_fit_seconds` allows, predicted with when validation says it is better. Fine-tuning
   starts from that ridge solution as its linear head, on the data read again at the stored side.
3. Later train calls: read the rest of the train data (up to `max_train_samples`, time-boxed), fine-tune, and
   evaluate on validation at elapsed times growing geometrically (x prediction_growth). A call returns (and the
   next test predicts) only when validation improved; otherwise it cuts the learning rate after `patience`
   evaluations, restarting from the best weights, and stops (done_training) after `max_lr_cuts` cuts or when the
   time left only covers a test pass. Before any lr cut, a plateau raises the input side (progressive resizing,
   learner.resolution) while that pays and the time left allows; predictions use the side their weights won at.
4. Test calls predict only when there is something new; otherwise they return the last prediction at no cost.
   From `flip_test_after` predictions on, test predictions average the horizontally flipped images when
   validation says that helps (scored on the same weights) and the time left allows it.

Anytime guarantee: every stage (first read, pixel and feature heads, test decoding, fine-tuning, test passes,
flip averaging) first compares the time left with its cost estimated from measured rates (decoding per example,
inference per example, step time) times COST_FACTOR plus the clock's safety margin, and shrinks or skips
itself when that does not fit; a train call with nothing left to do sets done_training.
"""
from __future__ import annotations

import logging
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from learner.backbones import build_first_available
from learner.clock import Clock
from learner.config import LearnerConfig
from learner.data import READ_BATCH, StreamReader, is_multilabel
from learner.network import Classifier
from learner.records import RecordSource
from learner.resolution import (MIN_PASSES, affordable_samples, cost_ratio, next_resolution, physical_memory_bytes,
                                resize_examples, side_that_fits)
from learner.ridge import RidgeHead, fit_ridge, pixel_features
from learner.runner import NetRunner
from learner.training import StepTrainer
from learner.validation import improves, nauc, split_validation

FALLBACK_BACKBONES = ("efficientnet_lite0", "efficientnet_lite1")
RIDGE_TEMPERATURE = 10.0  # ridge scores of 0/1 targets span about [0, 1]: sharpen them before softmax
MIN_FIRST_FIT = 64  # the time box of the first read never cuts it below this many examples
TEST_MEMORY_SHARE = 3  # the cached test set may take at most 1/N of the machine's memory
PIXEL_SIDE = 16  # the very first head sees raw pixels at this size
PLATEAU_EPOCHS = 3  # an lr level or a resolution gets at least this many passes over the train data
FIRST_READ_SHARE = 0.1  # the first read takes at most this share of the budget
COST_FACTOR = 1.5  # a stage starts only when the time left covers its estimated cost times this, plus the margin
MIN_HEAD_ROWS = 16  # a features head on fewer training rows than this is not worth its time


def get_logger() -> logging.Logger:
    logger = logging.getLogger("learner")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[learner] %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


def test_sample_count(metadata) -> int | None:
    """The test set size, from the test metadata beside the train directory; None if absent."""
    from autodl_format.metadata import load_metadata, test_dir_beside

    try:
        return load_metadata(test_dir_beside(metadata.get_dataset_name())).size()
    except Exception:  # noqa: BLE001 - only an estimate; the cached test set gives the real count later
        return None


class Learner:
    def __init__(self, metadata, config: LearnerConfig) -> None:
        self.log = get_logger()
        self.cfg = config
        self.clock = Clock()
        self.num_classes = int(metadata.get_output_size())
        sequence, rows, cols, channels = metadata.get_tensor_shape()
        self.frames = 1 if sequence == 1 else config.video_frames
        # Progressive resizing: data is stored once, at the top side or the native one when that is smaller
        # (no point keeping upscaled copies), and the network sees it resized on the device to self.resolution.
        self.store_resolution = config.max_resolution
        if rows > 0 and cols > 0:
            self.store_resolution = min(config.max_resolution, max(rows, cols))
        self.resolution = self.best_resolution = config.resolution
        self.expected_test = test_sample_count(metadata)
        test_side = side_that_fits(self.store_resolution, self.expected_test, self.frames, channels,
                                   physical_memory_bytes() // TEST_MEMORY_SHARE)
        if test_side < self.store_resolution:
            self.log.info("%s test examples would not fit in 1/%d of the memory at %d px: stored at %d px",
                          self.expected_test, TEST_MEMORY_SHARE, self.store_resolution, test_side)
            self.store_resolution = test_side
        # Counted at the larger of the stored side and the top training side: training holds a copy at that side.
        self.train_cap = affordable_samples(config.max_train_samples, config.max_train_memory_mb, self.frames,
                                            max(self.store_resolution, config.max_resolution), channels)
        # The early heads read at a small side straight from the files (learner.records). Without usable train
        # files the given dataset is read once, at the stored side, and the early readers are the full ones.
        self.records = RecordSource(metadata, self.log)
        self.early_side = self.store_resolution
        if config.early_predictions and self.records.has_files("train"):
            self.early_side = min(config.resolution, self.store_resolution)
        self.rng = np.random.default_rng(0)
        torch.manual_seed(0)
        if not os.environ.get("OMP_NUM_THREADS"):
            torch.set_num_threads(max(1, min(os.cpu_count() or 1, 16)))
        names = list(dict.fromkeys([config.backbone, *FALLBACK_BACKBONES]))
        backbone, skipped = build_first_available(names)
        for reason in skipped:
            self.log.info("backbone fallback: %s", reason)
        self.backbone_name = backbone.name
        self.net = Classifier(backbone, self.num_classes, config.dropout, config.freeze_fraction,
                              config.adapt_batchnorm)
        self.runner = NetRunner(self.net, self.frames, self.log)
        self.runner.warm_up(self.store_resolution, self.resolution)
        self.device = self.runner.device
        self.log.info("config %s | backbone %s on %s (%d threads) | input %s -> %d frame(s) stored at %d px "
                      "(plain resize), early heads at %d px, trained from %d px | keeps at most %d train examples "
                      "| %d classes | test size %s", config.to_dict(), self.backbone_name, self.device,
                      torch.get_num_threads(), (sequence, rows, cols, channels), self.frames, self.store_resolution,
                      self.early_side, self.resolution, self.train_cap, self.num_classes, self.expected_test)
        self.done_training = False
        self.given_train = self.given_test = None  # the datasets of the last train / test call
        # Built here when the files are usable, so their pipelines are traced outside the budget (nothing is read
        # before the first train call); else on first use, from the given datasets.
        self.train_early = self._file_reader("train", self.early_side, self.train_cap)
        self.test_early = self._file_reader("test", self.early_side, sys.maxsize)
        self.train_full: StreamReader | None = None  # at the stored side, for fine-tuning
        self.test_full: StreamReader | None = None
        self.first_read_done = self.features_tried = False
        self.pixel_seconds = 0.0  # measured cost of the pixel head's features, per example
        self.multilabel = False
        self.val_index = np.empty(0, dtype=np.int64)
        self.trainer = StepTrainer(self.net, self.runner, config, self.frames, self.log)
        self.fine_tuning = False
        self.best_score = -np.inf  # the best validation result of anything predicted with (ridge heads included)
        self.best_loss = np.inf
        # The network's own best: what plateaus and restarts go by. It can trail best_score while a ridge head
        # is still better, and restarting from a state worse than the current one would throw training away.
        self.net_best_score = -np.inf
        self.net_best_loss = np.inf
        self.head_validation: dict[str, tuple[float, float]] = {}
        self.best_state: dict[str, torch.Tensor] | None = None
        self.plateau = 0
        self.steps_at_best = 0
        self.next_eval = 0.0
        self.pixel_head: RidgeHead | None = None
        self.first_head: RidgeHead | None = None
        self.pending: str | None = None  # what the next test call predicts with: "pixels", "features", "network"
        self.predictions = 0
        self.flip_helps = False  # set by validation: flips do not suit every dataset (digits, text)
        self.last_prediction: np.ndarray | None = None

    # ----------------------------------------------------------------- helpers
    def _probabilities(self, scores: torch.Tensor) -> np.ndarray:
        """Scores -> probabilities in float64 (float64 keeps confident values apart, fewer ties)."""
        scores = scores.double()
        return (torch.sigmoid(scores) if self.multilabel else torch.softmax(scores, dim=1)).numpy()

    def _file_reader(self, subset: str, side: int, cap: int) -> StreamReader | None:
        if not self.records.has_files(subset):
            return None
        return StreamReader(self.records.dataset(subset, side, None), self.frames, side, cap)

    def _reader(self, subset: str, side: int, cap: int) -> StreamReader:
        """A reader of the files at `side` when they are usable, else of the dataset given to the last call."""
        given = self.given_train if subset == "train" else self.given_test
        value_range = self.train_early.value_range if self.train_early is not None else None
        return StreamReader(self.records.dataset(subset, side, given), self.frames, side, cap, value_range)

    def _test_count(self) -> int:
        for reader in (self.test_early, self.test_full):
            if reader is not None and reader.exhausted:
                return reader.store.count
        if self.expected_test is not None:
            return self.expected_test
        return self.train_early.store.count if self.train_early is not None else 1000

    def _unread_test_seconds(self, reader: StreamReader | None, train: StreamReader | None) -> float:
        """Seconds to decode what a test reader (perhaps not made yet) still lacks, at its own measured rate or
        else at the rate measured on the train reader of the same side."""
        if reader is not None and reader.exhausted:
            return 0.0
        rate = (reader.seconds_per_example() if reader is not None else None) or (
            train.seconds_per_example() if train is not None else None) or 0.0
        return rate * max(self._test_count() - (reader.store.count if reader is not None else 0), 0)

    def _pass_seconds(self, what: str, flip: bool = False) -> float:
        """Estimated cost of predicting the test set with `what` ("pixels", "features", "network"), decoding
        excluded."""
        if what == "pixels":
            return self.pixel_seconds * self._test_count()
        return self.runner.seconds_per_image * self._test_count() * (2 if flip else 1)

    def _estimated_test_seconds(self, flip: bool = False) -> float:
        """A network prediction: its test pass plus decoding what is still unread of the test set at the stored
        side."""
        measured = self.train_full is not None and self.train_full.seconds_per_example() is not None
        return self._pass_seconds("network", flip) + self._unread_test_seconds(
            self.test_full, self.train_full if measured else self.train_early)

    def _use_flip(self) -> bool:
        return (self.predictions >= self.cfg.flip_test_after and self.pending == "network" and self.flip_helps
                and self.clock.left() > 4 * self._estimated_test_seconds(flip=True) + self.clock.safety_margin())

    def _reserve(self) -> float:
        """Seconds a train call must leave for the validation pass that ends it and the test pass after it."""
        per_image = self.runner.seconds_per_image
        # a validation pass, and the flipped one (two passes) that follows an improvement
        evaluation = 3 * per_image * len(self.val_index) * self.frames + self.trainer.seconds_per_step()
        return 1.5 * (self._estimated_test_seconds(flip=self._use_flip()) + evaluation) + self.clock.safety_margin()

    # ----------------------------------------------------------------- train
    def train(self, dataset, remaining_time_budget: float | None = None) -> None:
        self.clock.update(remaining_time_budget)
        if self.done_training:
            return
        self.given_train = dataset
        early = self.cfg.early_predictions
        if not self.first_read_done:
            self._first_read()
            if early and self.cfg.pixel_head:
                return self._fit_pixel_head()
        if not self.features_tried:
            self._fit_first_head()
            if early and self.pending is not None:
                return
        self._fine_tune()

    def _first_read(self) -> None:
        """Read the first train examples. With early predictions this stops at first_fit_samples or after
        first_read_seconds (at most FIRST_READ_SHARE of the budget; never below MIN_FIRST_FIT examples), and in any
        case while the first prediction still fits: decoding the test set at the rate measured here, plus the
        margin. Without early predictions everything (up to the cap) is read, within the budget."""
        cfg = self.cfg
        self.first_read_done = True
        if self.train_early is None:
            self.train_early = self._reader("train", self.early_side, self.train_cap)
        reader = self.train_early
        if self.early_side == self.store_resolution:
            self.train_full = reader
        start = time.monotonic()
        limit = min(cfg.first_fit_samples, self.train_cap) if cfg.early_predictions else self.train_cap
        box = min(cfg.first_read_seconds, FIRST_READ_SHARE * self.clock.budget) if cfg.early_predictions else np.inf
        while reader.store.count < limit and not reader.exhausted:
            if reader.store.count >= MIN_FIRST_FIT and time.monotonic() - start > box:
                break
            # Two batches are read whatever the time: without training data there is nothing to predict from, and
            # the first batch's time is mostly the pipeline's start-up, no measure of the decoding rate.
            if (reader.store.count > READ_BATCH
                    and time.monotonic() + self._first_prediction_seconds() > self.clock.deadline):
                break
            reader.read(limit=min(READ_BATCH, limit - reader.store.count))
        examples, labels = reader.store.arrays()
        self.multilabel = is_multilabel(labels)
        self.val_index = split_validation(labels, cfg.validation_fraction, cfg.validation_max, self.multilabel,
                                          self.rng)
        self.log.info("read %d train examples at %d px in %.2fs (%s) | %s | validation %d examples%s",
                      len(examples), reader.store.resolution, time.monotonic() - start,
                      "all" if reader.exhausted else "more left",
                      "multilabel (sigmoid, BCE)" if self.multilabel else "multiclass (softmax, CE)",
                      len(self.val_index), "" if len(self.val_index) else " (too few: predict on the time grid)")

    def _first_prediction_seconds(self) -> float:
        """What the first prediction needs once the first read stops: decoding the test set at the early side
        (at the train read's measured rate), with COST_FACTOR, plus the margin."""
        return COST_FACTOR * self._unread_test_seconds(self.test_early, self.train_early) + self.clock.safety_margin()

    def _train_mask(self, count: int) -> np.ndarray:
        mask = np.ones(count, dtype=bool)
        mask[self.val_index] = False
        return mask

    def _fit_head(self, features: torch.Tensor, rows: np.ndarray, what: str) -> RidgeHead:
        """Ridge on `features` of the stored examples `rows` (which include all validation rows); it becomes the
        next prediction when validation says it is better than the best so far (always, without validation)."""
        labels = self.train_early.store.arrays()[1]
        held_out = np.isin(rows, self.val_index)
        fit_rows = rows[~held_out]
        head = fit_ridge(features[~held_out], torch.from_numpy(labels[fit_rows]), self.cfg.first_head_l2)
        score = loss = None
        if len(self.val_index):
            logits = self._ridge_logits(head, features[held_out])
            val_labels = labels[rows[held_out]]
            score, loss = nauc(val_labels, logits.numpy()), self._loss(logits, val_labels)
            self.head_validation[what] = (score, loss)
        better = score is None or improves(score, loss, self.best_score, self.best_loss)
        if better and score is not None:  # also without early predictions: the fine-tuned net must beat it
            self.best_score, self.best_loss = score, loss
        if better and self.cfg.early_predictions:
            self.pending = what
        self.log.info("%s head: ridge on %d examples at %.1fs elapsed | validation NAUC %s%s", what,
                      len(fit_rows), self.clock.elapsed(), "-" if score is None else f"{score:.4f}",
                      "" if better else " (not better: no prediction)")
        return head

    def _ridge_logits(self, head: RidgeHead, inputs: torch.Tensor) -> torch.Tensor:
        """Ridge scores as logits: the same scale the network's head starts from (see _init_head_from)."""
        logits = head.scores(inputs) * RIDGE_TEMPERATURE
        return logits - RIDGE_TEMPERATURE / 2 if self.multilabel else logits

    def _loss(self, logits: torch.Tensor, labels: np.ndarray) -> float:
        targets = torch.as_tensor(labels, dtype=logits.dtype)
        if self.multilabel:
            return float(F.binary_cross_entropy_with_logits(logits, targets))
        return float(F.cross_entropy(logits, targets.argmax(dim=1)))

    def _fit_pixel_head(self) -> None:
        if self.clock.left() < self.clock.safety_margin():
            self.log.info("no time for the pixel head (%.2fs left)", self.clock.left())
            return
        examples = self.train_early.store.arrays()[0]
        start = time.monotonic()
        pixels = pixel_features(examples, PIXEL_SIDE)
        self.pixel_seconds = (time.monotonic() - start) / len(examples)
        self.pixel_head = self._fit_head(pixels, np.arange(len(examples)), "pixels")

    def _fit_first_head(self) -> None:
        """With early predictions, read more train examples first (for half of first_fit_seconds, up to
        first_fit_samples). Then a ridge on frozen features of the validation rows and as many other rows (in read
        order) as fit in first_fit_seconds at the measured inference speed (all of them without early
        predictions), leaving time for the test pass of its prediction; skipped when that leaves too few rows."""
        cfg, reader = self.cfg, self.train_early
        self.features_tried = True
        per_image = COST_FACTOR * self.runner.seconds_per_image
        test_pass = 0.0
        if cfg.early_predictions:
            test_pass = COST_FACTOR * (self._pass_seconds("features")
                                       + self._unread_test_seconds(self.test_early, reader))
            limit = min(cfg.first_fit_samples, self.train_cap)
            if reader.store.count < limit and not reader.exhausted:
                least = per_image * (len(self.val_index) + MIN_HEAD_ROWS)
                reader.read(limit=limit - reader.store.count,
                            deadline=min(time.monotonic() + cfg.first_fit_seconds / 2,
                                         self.clock.deadline - self.clock.safety_margin() - test_pass - least))
        seconds = self.clock.left() - self.clock.safety_margin() - test_pass
        if cfg.early_predictions:
            seconds = min(seconds, cfg.first_fit_seconds)
        examples = reader.store.arrays()[0]
        others = np.flatnonzero(self._train_mask(len(examples)))
        others = others[:max(0, int(seconds / per_image) - len(self.val_index))]
        if len(others) < min(MIN_HEAD_ROWS, len(examples) - len(self.val_index)):
            self.log.info("no time for the features head (%.2fs left)", self.clock.left())
            return
        rows = np.union1d(others, self.val_index)
        features = self.runner.features(examples[rows], self.resolution)
        self.first_head = self._fit_head(features, rows, "features")

    def _load_rest(self) -> bool:
        """Read more train data at the stored side (time-boxed), then (re)build the device tensors the training
        samples from. False while the stored rows do not yet cover the validation rows (training must wait)."""
        if self.train_full is None:  # the early rows are read again, at the stored side
            self.train_full = self._reader("train", self.store_resolution, self.train_cap)
        reader = self.train_full
        rebuild = self.trainer.train_x is None
        if not reader.exhausted:
            budget = max(5.0, 0.25 * (self.clock.left() - self._reserve()))
            before = reader.store.count
            reader.read(deadline=min(time.monotonic() + budget, self.clock.deadline - self._reserve()))
            if reader.store.count != before or rebuild:
                self.log.info("train data: %d examples in memory at %d px (%s) after %.1fs of reading",
                              reader.store.count, reader.store.resolution,
                              "all read" if reader.exhausted else "more left", reader.seconds)
                rebuild = True
        if reader.store.count <= (self.val_index.max() if len(self.val_index) else 0):
            return False
        if rebuild:
            self._build_train_tensors()
        return True

    def _build_train_tensors(self) -> None:
        """The tensors training samples from, on the device and at the training side: resizing once here rather
        than in every step saves up to 15 % of CPU throughput (omniglot, stored at 105 px, trained at 64)."""
        examples, labels = self.train_full.store.arrays()
        mask = self._train_mask(len(examples))
        self.trainer.set_data(torch.from_numpy(resize_examples(examples[mask], self.resolution)).to(self.device),
                              torch.from_numpy(labels[mask]).to(self.device), self.multilabel)
        self.val_x = examples[self.val_index]
        self.val_y = labels[self.val_index]

    @torch.no_grad()
    def _init_head_from(self, ridge: RidgeHead) -> None:
        """Start fine-tuning from the ridge solution (as logits), not from a random head: the first
        fine-tuned weights are then about as good as the first prediction instead of far worse."""
        weight = (ridge.weight / ridge.scale[:, None]) * RIDGE_TEMPERATURE
        bias = (ridge.bias - (ridge.mean / ridge.scale) @ ridge.weight) * RIDGE_TEMPERATURE
        if self.multilabel:
            bias = bias - RIDGE_TEMPERATURE / 2
        self.net.head.weight.copy_(weight.T.float())
        self.net.head.bias.copy_(bias.float())

    def _fine_tune(self) -> None:
        if self.clock.left() < self._reserve() + self.trainer.seconds_per_step():
            return self._finish("time nearly spent")
        if not self._load_rest():
            if self.clock.left() < self._reserve() + self.trainer.seconds_per_step():
                self._finish("time nearly spent")
            return
        if not self.fine_tuning:
            self.fine_tuning = True
            if self.first_head is not None:
                self._init_head_from(self.first_head)
                # The starting point is a valid "best": plateaus restart from it until something beats it.
                self._keep_network_best(*self.head_validation.get("features", (-np.inf, np.inf)))
            self.next_eval = self.clock.elapsed() + self.cfg.min_prediction_gap_s
        while True:
            stop_at = self.clock.deadline - self._reserve()
            if not self.cfg.early_predictions:
                eval_at = stop_at  # predict once, at the end
            else:
                eval_at = min(self.clock.start + self.next_eval, stop_at)
            trained = self.trainer.train_until(eval_at, stop_at, self.resolution, self.clock.elapsed)
            out_of_time = time.monotonic() >= stop_at - self.trainer.seconds_per_step()
            if not trained and out_of_time:
                return self._finish("time nearly spent")
            if self._evaluate() and self.cfg.early_predictions:
                return self._schedule_next(out_of_time)
            if out_of_time or self._converged():
                return self._finish("time nearly spent" if out_of_time else "converged")
            self._schedule_next(False)

    def _schedule_next(self, out_of_time: bool) -> None:
        elapsed = self.clock.elapsed()
        self.next_eval = max(elapsed * self.cfg.prediction_growth, elapsed + self.cfg.min_prediction_gap_s)
        if out_of_time:
            self.done_training = True
            self.log.info("done training at %.1fs: time nearly spent", elapsed)

    def _finish(self, why: str) -> None:
        """Stop training; predict with the best weights if they were not predicted with yet."""
        self.done_training = True
        if self.best_state is not None and self.pending is None and not self.cfg.early_predictions:
            self.net.load_state_dict(self.best_state)
            self.pending = "network"
        self.log.info("done training at %.1fs: %s (%d steps, best validation NAUC %.4f)", self.clock.elapsed(),
                      why, self.trainer.steps, self.best_score)

    def _evaluate(self) -> bool:
        """Score the current weights on validation: kept as a copy when they are the network's best so far;
        True when they are also the best of all (a new prediction)."""
        if not len(self.val_index):
            self.pending = "network"
            return True
        logits = self.runner.predict(self.val_x, self.resolution)
        loss = self._loss(logits, self.val_y)
        score = nauc(self.val_y, logits.numpy())
        better = improves(score, loss, self.best_score, self.best_loss)
        net_better = better or improves(score, loss, self.net_best_score, self.net_best_loss)
        if better:
            flipped = self.runner.predict(self.val_x, self.resolution, flip=True)
            self.flip_helps = nauc(self.val_y, flipped.numpy()) > score
        self.log.info("validation NAUC %.4f loss %.4f at %.1fs elapsed: %s", score, loss, self.clock.elapsed(),
                      f"improved (flip-averaging {'helps' if self.flip_helps else 'does not help'})" if better
                      else f"network's best so far, kept (best of all {self.best_score:.4f})" if net_better
                      else f"no improvement (best {self.best_score:.4f})")
        if net_better:
            self._keep_network_best(score, loss)
        else:
            self.plateau += 1
        if better:
            self.best_score, self.best_loss = score, loss
            if self.cfg.early_predictions:
                self.pending = "network"
        return better

    def _keep_network_best(self, score: float, loss: float) -> None:
        """The current weights become the network's best: a real copy, the side they won at, the plateau reset."""
        self.net_best_score, self.net_best_loss, self.plateau = score, loss, 0
        self.steps_at_best, self.best_resolution = self.trainer.steps, self.resolution
        self.best_state = {k: v.detach().clone() for k, v in self.net.state_dict().items()}

    def _converged(self) -> bool:
        """After `patience` evaluations without improvement: raise the resolution while that may still pay,
        else cut the lr; both restart from the best weights. Converged once `max_lr_cuts` cuts brought nothing."""
        waited = self.trainer.steps - self.steps_at_best
        if self.plateau < self.cfg.patience or waited < PLATEAU_EPOCHS * self.trainer.steps_per_pass():
            return False  # early evaluations come fast (geometric grid): also wait a few passes over the data
        if self._raise_resolution():
            return False
        if self.trainer.lr_cuts >= self.cfg.max_lr_cuts:
            return True
        self._restart_from_best()
        self.trainer.cut_lr()
        self.log.info("plateau: lr cut to %.3g (cut %d of %d), restarting from the best weights", self.trainer.lr,
                      self.trainer.lr_cuts, self.cfg.max_lr_cuts)
        return False

    def _raise_resolution(self) -> bool:
        """Progressive resizing (see learner.resolution): True when training goes on at a larger side."""
        new = next_resolution(self.resolution, self.cfg.max_resolution)
        if new is None or self.best_resolution != self.resolution:
            return False  # at the top, or the last raise did not pay
        ratio = cost_ratio(self.resolution, new)
        needed = ratio * (MIN_PASSES * self.trainer.steps_per_pass() * self.trainer.seconds_per_step()
                          + self._reserve())
        if self.clock.left() < needed:
            self.log.info("plateau at %d px: %d px would need %.0fs, %.0fs left: resolution kept", self.resolution,
                          new, needed, self.clock.left())
            return False
        old, self.resolution = self.resolution, new
        self._restart_from_best()
        # Step and inference costs grow with the pixel count; measurements at the new side replace these guesses.
        self.trainer.rescale_step_time(ratio)
        self.runner.rescale_cost(ratio)
        self._build_train_tensors()
        self.log.info("plateau at %d px: resolution raised to %d px, restarting from the best weights", old, new)
        return True

    def _restart_from_best(self) -> None:
        self.plateau, self.steps_at_best = 0, self.trainer.steps
        if self.best_state is not None:
            self.net.load_state_dict(self.best_state)

    # ----------------------------------------------------------------- test
    def test(self, dataset, remaining_time_budget: float | None = None) -> np.ndarray:
        self.clock.update(remaining_time_budget)
        self.given_test = dataset
        if self.expected_test is None and not self._test_reader(False).exhausted:
            self._test_reader(False).read()  # no test metadata beside the train one: the only way to the size
        if self.pending is None:
            return self.last_good_prediction()
        flip = self._use_flip()
        reader = self._test_reader(self.pending == "network")
        pass_seconds = COST_FACTOR * self._pass_seconds(self.pending, flip)
        if not reader.exhausted:
            reader.read(deadline=self.clock.deadline - self.clock.safety_margin() - pass_seconds)
            self.log.info("test set: %d examples decoded at %d px in %.2fs%s", reader.store.count,
                          reader.store.resolution, reader.seconds, "" if reader.exhausted else " (more left)")
            if not reader.exhausted:
                self.log.info("no time to decode the whole test set (%.2fs left): returning the last prediction",
                              self.clock.left())
                return self.last_good_prediction()
        if self.clock.left() < pass_seconds + self.clock.safety_margin():
            self.log.info("no time for a test pass (%.2fs left): returning the last prediction", self.clock.left())
            return self.last_good_prediction()
        start = time.monotonic()
        examples, _ = reader.store.arrays()
        if self.pending in ("pixels", "features"):
            head = self.pixel_head if self.pending == "pixels" else self.first_head
            if self.pending == "pixels":
                inputs = pixel_features(examples, PIXEL_SIDE)
            else:
                inputs = self.runner.features(examples, self.resolution)
            scores = self._ridge_logits(head, inputs)
        else:
            scores = self.runner.predict(examples, self.best_resolution, flip)
        prediction = self._probabilities(scores)
        seconds = time.monotonic() - start
        self.predictions += 1
        self.log.info("prediction %d (%s) at %.2fs elapsed (test pass %.2fs%s)", self.predictions, self.pending,
                      self.clock.elapsed(), seconds, ", flip-averaged" if flip else "")
        self.last_prediction, self.pending = prediction, None
        return prediction

    def _test_reader(self, network: bool) -> StreamReader:
        """The test reader a prediction needs: at the stored side for the network, at the early side for the
        ridge heads (one reader when the sides agree); made on first use, decoding nothing yet."""
        if self.test_early is None:
            self.test_early = self._reader("test", self.early_side, sys.maxsize)
        if self.early_side == self.store_resolution:
            self.test_full = self.test_early
        if network and self.test_full is None:
            self.test_full = self._reader("test", self.store_resolution, sys.maxsize)
        reader = self.test_full if network else self.test_early
        if reader.value_range is None:  # test values are mapped as the train values were
            reader.value_range = self.train_early.value_range
        return reader

    def last_good_prediction(self) -> np.ndarray:
        """The last prediction; before any, the train class frequencies (valid shape, no information)."""
        if self.last_prediction is not None:
            return self.last_prediction
        count = self._test_count()
        prior = np.full(self.num_classes, 1.0 / self.num_classes)
        if self.train_early is not None and self.train_early.store.count:
            prior = self.train_early.store.arrays()[1].mean(axis=0).astype(np.float64)
        return np.tile(prior, (count, 1))
