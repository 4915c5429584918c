"""The learner behind model.py, as a pipeline of stages; each train call runs the next stage that has work:

1. first read    (learner.feed)      the first train examples, at a small side, time-boxed
2. pixel head    (learner.heads)     a ridge on raw pixels at the config's pixel_side: the first prediction,
                                     about a second in
3. feature head  (learner.heads)     a ridge on frozen backbone features, predicted when validation prefers it
4. config choice (learner.choice)    once, when the Learner was given a ConfigChoice (the meta-learned Model):
                                     a random train batch decides the config to go on with; when it is another,
                                     the stages restart with it (1-3, then 5) and keep the predictions made so far
5. fine-tuning   (learner.schedule)  the network, starting from the feature head; learner.schedule decides when
                                     to evaluate, predict, resize, cut the learning rate and stop
Test calls (learner.predictor) predict with whatever the best-so-far record (learner.best) has queued.

The constructor (not charged to the budget) builds the pretrained backbone and warms it up. Every stage first
compares the time left with its cost estimated from measured rates (learner.run) and shrinks or skips itself
when that does not fit, so that no call runs past the budget.

After a switch (stage 4) the new config's stages share the clock, keep the last prediction as their own, with that
prediction's validation result as the bar their heads and network must beat to be predicted (the pixel head too:
predicted only when better than what stands), scored on the same validation examples.
"""
from __future__ import annotations

import logging
import os
import sys
import time

import numpy as np
import torch

from autodl_format.errors import first_line
from learner.backbones import PYPI_BACKBONES, Backbone, build_first_available
from learner.best import BestSoFar, Source
from learner.choice import MIN_SECONDS_LEFT, ConfigChoice, MeasuredSpeed
from learner.clock import Clock
from learner.config import LearnerConfig
from learner.data import is_multilabel
from learner.feed import DataFeed
from learner.heads import RidgeHeads
from learner.network import Classifier
from learner.predictor import Predictor
from learner.run import Run
from learner.runner import NetRunner
from learner.schedule import FineTuning
from learner.sides import affordable_samples, physical_memory_bytes, side_ladder, side_that_fits
from learner.training import StepTrainer, examples_per_step
from learner.validation import split_validation


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
    """train(dataset, remaining_time_budget) / test(...) / done_training, as the AutoDL Model API calls them."""

    def __init__(self, metadata, config: LearnerConfig, config_choice: ConfigChoice | None = None,
                 backbone: Backbone | None = None) -> None:
        """config_choice: asked once after the heads which config to go on with (stage 4), None for no choice;
        backbone: a pretrained one built beforehand (it must be config.backbone and untouched), else built here."""
        self.metadata = metadata
        self.config_choice = config_choice
        self.switch_seconds: float | None = None  # how long the switch of stage 4 took, when there was one
        self.stopped = False
        self._start(_build_run(metadata, config, backbone=backbone))

    def _start(self, run: Run, standing: Predictor | None = None) -> None:
        """The stages of `run`, from the first read on; `standing`: the predictor whose predictions they keep."""
        heads = RidgeHeads(run)
        predictor = Predictor(run, heads)
        if standing is not None:
            predictor.take_over(standing)
        self.run, self.heads, self.predictor = run, heads, predictor
        # After a switch, the standing prediction's validation examples (positions in the train files' order, which
        # every config reads in): candidates are then compared with it on the same examples.
        self.shared_validation = standing.run.val_index if standing is not None else np.empty(0, dtype=np.int64)
        self.fine_tuning = FineTuning(run, heads, predictor.use_flip)
        self.first_read_done = self.features_tried = False

    @property
    def done_training(self) -> bool:
        return self.stopped or self.fine_tuning.done

    @property
    def backbone_name(self) -> str:
        return self.run.net.backbone_name

    def stop_training(self) -> None:
        self.stopped = True

    def train(self, dataset, remaining_time_budget: float | None = None) -> None:
        self.run.clock.update(remaining_time_budget)
        if self.done_training:
            return
        self._next_stage(dataset)

    def _next_stage(self, dataset) -> None:
        run = self.run
        run.feed.given_train = dataset
        early = run.cfg.early_predictions
        if not self.first_read_done:
            self._first_read()
            if early and run.cfg.pixel_head:
                self.heads.fit_pixels()
                if run.best.pending is not None:
                    return
        if not self.features_tried:
            self._feature_head()
            if (early and run.best.pending is not None) or self.config_choice is not None:
                return  # the choice, when there is one, comes in the next call: the features head is out first
        if self.config_choice is not None and self.choose_config():
            self._next_stage(dataset)  # the chosen config's first read and pixel head, in this same call
            return
        self.fine_tuning.train_call()

    def choose_config(self) -> bool:
        """Stage 4, once: ask the config choice which config to go on with, and switch to it when it is another
        and the time left can pay for it. True when the learner switched."""
        choice, self.config_choice = self.config_choice, None
        clock = self.run.clock
        if clock.left() < MIN_SECONDS_LEFT + clock.safety_margin():
            self.run.log.info("config choice skipped: %.1fs left, a switch needs %.0fs", clock.left(),
                              MIN_SECONDS_LEFT)
            return False
        try:
            speed = MeasuredSpeed(self.run.net.backbone_name, self.run.side, self.run.runner.seconds_per_frame)
            name, config = choice.choose(self.run.feed.random_train_sample, self.run.frames, clock.budget, speed)
            if config == self.run.cfg:
                return False
            start = time.monotonic()
            self.switch_to(config, choice.prepared_backbone(config.backbone))
        except Exception as error:  # noqa: BLE001 - the current config goes on; its predictions are intact
            self.run.log.info("config choice failed (%s: %s): keeping %s", type(error).__name__, first_line(error),
                              self.run.cfg.to_dict() or "the generalist")
            return False
        self.switch_seconds = time.monotonic() - start
        self.run.log.info("switched to config %s in %.2fs (%.1fs elapsed)", name, self.switch_seconds,
                          self.run.clock.elapsed())
        return True

    def switch_to(self, config: LearnerConfig, backbone: Backbone | None = None) -> None:
        """Restart the stages with `config` on the same clock, keeping the predictions made so far (the last one
        stays the answer, and its validation result is the bar). Nothing changes when building the new run fails."""
        self._start(_build_run(self.metadata, config, self.run.clock, backbone), standing=self.predictor)

    def test(self, dataset, remaining_time_budget: float | None = None) -> np.ndarray:
        self.run.clock.update(remaining_time_budget)
        self.run.feed.given_test = dataset
        return self.predictor.predict()

    def test_failed(self) -> None:
        """model.py's safety net caught an exception in test(): retry the queued prediction once, then drop it."""
        self.predictor.failed()

    def last_good_prediction(self) -> np.ndarray:
        return self.predictor.last_good()

    def _first_read(self) -> None:
        """Read the first train examples (learner.feed.read_first). With early predictions this stops at
        first_fit_samples, after first_read_seconds (at most first_read_share of the budget, never below
        min_first_fit examples), and while the first prediction still fits. Without, everything (up to the cap)
        is read, within the budget. Then the validation split (learner.validation); after a switch, the standing
        prediction's validation examples (read first, whatever the time box)."""
        run, cfg = self.run, self.run.cfg
        self.first_read_done = True
        early = cfg.early_predictions
        limit = min(cfg.first_fit_samples, run.feed.train_cap) if early else run.feed.train_cap
        box = min(cfg.first_read_seconds, cfg.first_read_share * run.clock.budget) if early else np.inf
        shared = self.shared_validation
        cover = int(shared.max()) + 1 if len(shared) else 0  # reading that many covers the shared examples
        seconds = run.feed.read_first(max(limit, cover), box, max(cfg.min_first_fit, cover),
                                      lambda: run.fits(run.feed.unread_test_seconds(network=False)))
        examples, labels = run.feed.train_early.store.arrays()
        run.multilabel = is_multilabel(labels)
        if len(shared) and len(examples) > shared.max():
            run.val_index = shared
        else:
            run.val_index = split_validation(labels, cfg.validation_fraction, cfg.validation_max, run.multilabel,
                                             np.random.default_rng(cfg.seed))
            if len(shared):
                run.log.info("validation: not the standing prediction's examples (%d of them not read): its result "
                             "is compared on other examples", cover - len(examples))
        run.log.info("read %d train examples at %d px in %.2fs (%s) | %s | validation %d examples%s",
                     len(examples), run.feed.train_early.store.side, seconds,
                     "all" if run.feed.train_early.exhausted else "more left",
                     "multilabel (sigmoid, BCE)" if run.multilabel else "multiclass (softmax, CE)",
                     len(run.val_index), "" if len(run.val_index) else " (too few: predict on the time grid)")

    def _feature_head(self) -> None:
        """With early predictions, read more train examples first (for half of first_fit_seconds, up to
        first_fit_samples). Then a ridge on frozen features of the validation rows and as many other rows (in read
        order) as fit in first_fit_seconds at the measured inference speed (all of them without early
        predictions), leaving time for the test pass of its prediction; skipped when that leaves too few rows."""
        run, cfg, reader = self.run, self.run.cfg, self.run.feed.train_early
        self.features_tried = True
        per_image = cfg.cost_factor * run.runner.seconds(1, run.feed.early_frames)
        test_pass = 0.0
        if cfg.early_predictions:
            test_pass = cfg.cost_factor * run.prediction_seconds(Source.FEATURES)
            limit = min(cfg.first_fit_samples, run.feed.train_cap)
            if reader.store.count < limit and not reader.exhausted:
                least = per_image * (len(run.val_index) + cfg.min_head_rows)
                reader.read(limit=limit - reader.store.count,
                            deadline=min(time.monotonic() + cfg.first_fit_seconds / 2,
                                         run.clock.deadline - run.clock.safety_margin() - test_pass - least))
        seconds = run.clock.left() - run.clock.safety_margin() - test_pass
        if cfg.early_predictions:
            seconds = min(seconds, cfg.first_fit_seconds)
        count = reader.store.count
        others = np.setdiff1d(np.arange(count), run.val_index)
        others = others[:max(0, int(seconds / per_image) - len(run.val_index))]
        if len(others) < min(cfg.min_head_rows, count - len(run.val_index)):
            run.log.info("no time for the features head (%.2fs left)", run.clock.left())
            return
        self.heads.fit_features(np.union1d(others, run.val_index))


def _build_run(metadata, cfg: LearnerConfig, clock: Clock | None = None, backbone: Backbone | None = None) -> Run:
    """Sides, memory caps, the data feed, the pretrained network on its device (warmed up), the trainer."""
    log = get_logger()
    sequence, rows, cols, channels = metadata.get_tensor_shape()
    # Videos: few frames for the first reads and heads, more for fine-tuning; never more than a fixed length has.
    frames, early_frames = (1, 1) if sequence == 1 else (cfg.video_frames, cfg.video_frames_early)
    if sequence > 1:
        frames, early_frames = min(frames, sequence), min(early_frames, sequence)
    # Progressive resizing: data is stored once, at the top side or the native one when that is smaller (no point
    # keeping upscaled copies), and the network sees it resized on the device to the current side.
    store_side = min(cfg.max_side, max(rows, cols)) if rows > 0 and cols > 0 else cfg.max_side
    expected_test = test_sample_count(metadata)
    test_side = side_that_fits(store_side, expected_test, frames, channels,
                               physical_memory_bytes() // cfg.test_memory_share)
    if test_side < store_side:
        log.info("%s test examples would not fit in 1/%d of the memory at %d px: stored at %d px", expected_test,
                 cfg.test_memory_share, store_side, test_side)
        store_side = test_side
    # Counted at the larger of the stored side and the top training side: training holds a copy at that side.
    train_cap = affordable_samples(cfg.max_train_samples, cfg.max_train_memory_mb, frames,
                                   max(store_side, cfg.max_side), channels)
    early_side = min(cfg.side, store_side) if cfg.early_predictions else store_side
    early_frames = early_frames if cfg.early_predictions else frames  # without early predictions: one read
    feed = DataFeed(metadata, store_side, early_side, train_cap, frames, early_frames, expected_test, log)
    torch.manual_seed(cfg.seed)
    if not os.environ.get("OMP_NUM_THREADS"):
        torch.set_num_threads(max(1, min(os.cpu_count() or 1, 16)))
    if backbone is None:
        backbone, skipped = build_first_available(list(dict.fromkeys([cfg.backbone, *PYPI_BACKBONES])))
        for reason in skipped:
            log.info("backbone fallback: %s", reason)
    net = Classifier(backbone, int(metadata.get_output_size()), cfg.dropout, cfg.freeze_fraction,
                     cfg.adapt_batchnorm, cfg.temporal_model if frames > 1 else "mean")
    runner = NetRunner(net, frames, log)
    # On CUDA every new input shape costs seconds the first time: the constructor, which the budget does not
    # charge, pays for every side the run may train at; a learner taking over mid-run only for its first.
    runner.warm_up(store_side, cfg.side, examples_per_step(cfg.batch_size, frames),
                   later_sides=side_ladder(cfg.side, cfg.max_side, cfg.side_growth)[1:] if clock is None else ())
    log.info("config %s | backbone %s on %s (%d threads) | input %s -> %d frame(s) stored at %d px (plain "
             "resize), early heads at %d px with %d frame(s), trained from %d px%s | keeps at most %d train "
             "examples | %d classes | test size %s", cfg.to_dict(), backbone.name, runner.device,
             torch.get_num_threads(), (sequence, rows, cols, channels), frames, store_side, feed.early_side,
             feed.early_frames, cfg.side, f", temporal model {cfg.temporal_model}" if frames > 1 else "", train_cap,
             metadata.get_output_size(), expected_test)
    return Run(cfg=cfg, log=log, clock=clock or Clock(), num_classes=int(metadata.get_output_size()), frames=frames, net=net,
               runner=runner, trainer=StepTrainer(net, runner, cfg, frames, log), feed=feed,
               best=BestSoFar(cfg.side, cfg.gate_z), side=cfg.side)
