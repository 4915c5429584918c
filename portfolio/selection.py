"""The config choice inside model.py: fingerprint a random batch of the new dataset's train examples, identify the
known datasets it resembles (meta_classifier), choose a portfolio config (portfolio.choice), and hand the run to
a learner with that config.

Everything that can be built beforehand is built in the Model's constructor, which the budget does not charge:
the fingerprint network and classifier (warmed up and timed), the chooser, and one pretrained backbone of every
kind the portfolio's configs use, so that a switch builds no network within the budget. The run starts with the
prior's choice (`starting_config`: the config with the best mean ALC over the known datasets). The choice is made
once, in the train call after the starting config's features head (its second prediction, when validation
preferred it to the pixel head), and only when the time left could pay for a switch; the predictions made so far
stay the answer until the new learner has a better one (learner.pipeline).
"""
from __future__ import annotations

import dataclasses
import logging
import time

import numpy as np

from autodl_format.errors import first_line
from learner.backbones import Backbone, WeightsUnavailable, build_backbone
from learner.config import config_from_dict, load_config
from learner.pipeline import Learner
from meta_classifier.classifiers import DEFAULT_ARTIFACTS
from meta_classifier.fingerprint import VIDEO_FRAMES
from meta_classifier.identify import DatasetIdentifier
from portfolio.choice import Choice, Chooser, ChoiceSettings, load_settings
from portfolio.entries import portfolio_configs

FINGERPRINT_EXAMPLES = 64      # the batch size the meta-classifier was tuned for
READ_SECONDS = 1.0             # time box of reading the random batch
FORWARD_SECONDS = 1.0          # the fingerprint pass is cut to what fits in this, at the measured speed
MIN_SECONDS_LEFT = 10.0        # below this (plus the clock's margin) a new config cannot pay for the switch


class ConfigSelection:
    def __init__(self, metadata, identifier: DatasetIdentifier, chooser: Chooser, backbones: dict[str, Backbone],
                 log: logging.Logger) -> None:
        self.metadata, self.identifier, self.chooser, self.backbones, self.log = (
            metadata, identifier, chooser, backbones, log)
        self.seconds_per_image = _time_fingerprints(identifier)
        self.timings: dict[str, float] = {}  # of the choice made: read, choice (read included), switch
        self.choice: Choice | None = None

    @classmethod
    def prepare(cls, metadata, log: logging.Logger, settings: ChoiceSettings | None = None) -> ConfigSelection | None:
        """Build what the choice needs; None (logged) when something is missing, and the run keeps its config."""
        try:
            settings = settings or load_settings()
            identifier = DatasetIdentifier.load(settings.classifier_dir or DEFAULT_ARTIFACTS)
            chooser = Chooser.load(settings)
        except Exception as error:  # noqa: BLE001 - no choice is no reason to fail: the generalist runs
            log.info("config choice unavailable (%s: %s): the generalist runs", type(error).__name__,
                     first_line(error))
            return None
        backbones = {}
        for name in sorted({config_from_dict(fields).backbone for fields in portfolio_configs().values()}):
            try:
                backbones[name] = build_backbone(name)
            except WeightsUnavailable as error:
                log.info("config choice: %s not prepared (%s)", name, first_line(error))
        return cls(metadata, identifier, chooser, backbones, log)

    def starting_config(self) -> str:
        """The portfolio config the run starts with, before the fingerprint: the prior's choice (logged)."""
        prior = self.chooser.prior()
        self.log.info("starting config: %s", prior.describe())
        return prior.config

    def choose(self, learner: Learner, remaining_time_budget: float | None) -> Learner:
        """The learner to go on with: `learner` itself when its config is the one chosen or there is no time for
        a switch, else a new learner with the chosen config that takes over from it."""
        clock = learner.run.clock
        clock.update(remaining_time_budget)
        if clock.left() < MIN_SECONDS_LEFT + clock.safety_margin():
            self.log.info("config choice skipped: %.1fs left, a switch needs %.0fs", clock.left(), MIN_SECONDS_LEFT)
            return learner
        try:
            return self._choose(learner)
        except Exception as error:  # noqa: BLE001 - the current learner goes on; its predictions are intact
            self.log.info("config choice failed (%s: %s): keeping %s", type(error).__name__, first_line(error),
                          learner.run.cfg.to_dict() or "the generalist")
            return learner

    def _choose(self, learner: Learner) -> Learner:
        start = time.monotonic()
        frames = min(VIDEO_FRAMES, learner.run.frames if learner.run.frames > 1 else 1)
        count = int(max(8, min(FINGERPRINT_EXAMPLES, FORWARD_SECONDS / max(self.seconds_per_image * frames, 1e-6))))
        sample = learner.run.feed.random_train_sample(count, self.identifier.net.input_size, frames,
                                                      deadline=start + READ_SECONDS)
        self.timings["read"] = time.monotonic() - start
        probabilities = self.identifier.identify([example[0] if len(example) == 1 else example
                                                  for example in sample])
        self.choice = self.chooser.choose(probabilities)
        config = load_config(self.choice.config)
        if self.chooser.settings.seed is not None:
            config = dataclasses.replace(config, seed=self.chooser.settings.seed)
        self.timings["choice"] = time.monotonic() - start
        self.log.info("config choice: %s | %d examples fingerprinted in %.2fs (read %.2fs)", self.choice.describe(),
                      len(sample), self.timings["choice"], self.timings["read"])
        if config == learner.run.cfg:
            return learner
        successor = Learner(self.metadata, config, takeover=learner, backbone=self.backbones.pop(config.backbone,
                                                                                                  None))
        self.timings["switch"] = time.monotonic() - start - self.timings["choice"]
        self.log.info("switched to config %s in %.2fs (%.1fs elapsed)", self.choice.config, self.timings["switch"],
                      learner.run.clock.elapsed())
        return successor


def _time_fingerprints(identifier: DatasetIdentifier) -> float:
    """Seconds per image of the fingerprint pass, measured on a warm network (the first pass sets it up)."""
    images = [np.zeros((identifier.net.input_size, identifier.net.input_size, 3), np.uint8)] * 8
    identifier.net(images)
    start = time.monotonic()
    identifier.net(images)
    return (time.monotonic() - start) / len(images)
