"""The meta-learned config choice (learner.choice.ConfigChoice, stage 4 of the learner's pipeline): fingerprint a
random batch of the new dataset's train examples, identify the known datasets it resembles (meta_classifier), and
choose a portfolio config (portfolio.choice); the Learner switches to it.

Everything that can be built beforehand is built in the Model's constructor, which the budget does not charge:
the fingerprint network and classifier (warmed up and timed), the chooser with the performance matrices of every
measured budget and the reference speeds of their machine, and one pretrained backbone of every kind the
portfolio's configs use, so that a switch builds no network within the budget. The run starts with the prior's
choice (`meta_learned_start`: the config with the best mean ALC over the known datasets at the smallest measured
budget); the Learner asks for the choice once, in the train call after that config's features head, and the rule
reads the matrices at the run's effective budget (portfolio.speed).
"""
from __future__ import annotations

import dataclasses
import logging
import time

import numpy as np

from autodl_format.errors import first_line
from learner.backbones import Backbone, WeightsUnavailable, build_backbone
from learner.choice import MeasuredSpeed, TrainSample
from learner.config import LearnerConfig, config_from_dict, load_config
from meta_classifier.classifiers import DEFAULT_ARTIFACTS
from meta_classifier.fingerprint import VIDEO_FRAMES
from meta_classifier.identify import DatasetIdentifier
from portfolio.choice import Choice, Chooser, ChoiceSettings, load_settings, settings_from_environment
from portfolio.entries import BudgetMatrices, portfolio_configs
from portfolio.speed import effective_budget, read_reference

FINGERPRINT_EXAMPLES = 64      # the batch size the meta-classifier was tuned for
READ_SECONDS = 1.0             # time box of reading the random batch
FORWARD_SECONDS = 1.0          # the fingerprint pass is cut to what fits in this, at the measured speed


def meta_learned_start(log: logging.Logger) -> tuple[LearnerConfig, ConfigSelection | None]:
    """The Model's start without a fixed config: the prior's choice and the selection that will choose after the
    heads; the generalist and None when the choice is unavailable (logged). The choice settings come from the
    environment (portfolio.choice.settings_from_environment); their seed, when set, is every config's seed."""
    settings = settings_from_environment()
    selection = ConfigSelection.prepare(log, settings)
    config = selection.starting_config() if selection else load_config(None)
    config = _with_run_seed(config, settings)
    return config, selection


class ConfigSelection:
    def __init__(self, identifier: DatasetIdentifier, chooser: Chooser, matrices: BudgetMatrices,
                 reference: dict[str, dict[int, float]], backbones: dict[str, Backbone], log: logging.Logger) -> None:
        """chooser: reading `matrices` at the smallest measured budget (the prior's); reference: the matrices'
        machine's inference costs (portfolio.speed.read_reference), against which the run's speed is measured."""
        self.identifier, self.chooser, self.backbones, self.log = identifier, chooser, backbones, log
        self.matrices, self.reference = matrices, reference
        self.seconds_per_image = _time_fingerprints(identifier)
        self.timings: dict[str, float] = {}  # of the choice made: read, choice (read included)
        self.choice: Choice | None = None

    @classmethod
    def prepare(cls, log: logging.Logger, settings: ChoiceSettings | None = None) -> ConfigSelection | None:
        """Build what the choice needs; None (logged) when something is missing, and the run keeps its config."""
        try:
            settings = settings or load_settings()
            identifier = DatasetIdentifier.load(settings.classifier_dir or DEFAULT_ARTIFACTS)
            matrices = BudgetMatrices.load()
            chooser = Chooser.load(settings, matrices=matrices)
            reference = read_reference()
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
        return cls(identifier, chooser, matrices, reference, backbones, log)

    def starting_config(self) -> LearnerConfig:
        """The portfolio config the run starts with, before the fingerprint: the prior's choice (logged)."""
        prior = self.chooser.prior()
        self.log.info("starting config: %s | %s", prior.describe(),
                      self.matrices.describe(self.matrices.budgets[0]) if self.matrices.budgets else "no matrix")
        return load_config(prior.config)

    def choose(self, sample: TrainSample, frames: int, budget: float,
               speed: MeasuredSpeed) -> tuple[str, LearnerConfig]:
        """learner.choice.ConfigChoice: fingerprint a random train batch, identify the known datasets it resembles,
        and return the rule's config (name, config with the run's seed), the rule reading the matrices at the
        run's effective budget (portfolio.speed); logged with that budget and the timings."""
        start = time.monotonic()
        effective = effective_budget(budget, speed, self.reference)
        frames = min(VIDEO_FRAMES, frames if frames > 1 else 1)
        count = int(max(8, min(FINGERPRINT_EXAMPLES, FORWARD_SECONDS / max(self.seconds_per_image * frames, 1e-6))))
        batch = sample(count, self.identifier.net.input_size, frames, start + READ_SECONDS)
        self.timings["read"] = time.monotonic() - start
        probabilities = self.identifier.identify([example[0] if len(example) == 1 else example for example in batch])
        self.choice = self.chooser.at_budget(self.matrices, effective.seconds).choose(probabilities)
        config = _with_run_seed(load_config(self.choice.config), self.chooser.settings)  # as the start has it
        self.timings["choice"] = time.monotonic() - start
        self.log.info("config choice: %s | %s, %s | %d examples fingerprinted in %.2fs (read %.2fs)",
                      self.choice.describe(), effective.describe(), self.matrices.describe(effective.seconds),
                      len(batch), self.timings["choice"], self.timings["read"])
        return self.choice.config, config

    def prepared_backbone(self, name: str) -> Backbone | None:
        """learner.choice.ConfigChoice: the backbone built in the constructor, handed over once."""
        return self.backbones.pop(name, None)


def _with_run_seed(config: LearnerConfig, settings: ChoiceSettings) -> LearnerConfig:
    """`config` with the choice settings' learner seed, when they set one."""
    return config if settings.seed is None else dataclasses.replace(config, seed=settings.seed)


def _time_fingerprints(identifier: DatasetIdentifier) -> float:
    """Seconds per image of the fingerprint pass, measured on a warm network (the first pass sets it up)."""
    images = [np.zeros((identifier.net.input_size, identifier.net.input_size, 3), np.uint8)] * 8
    identifier.net(images)
    start = time.monotonic()
    identifier.net(images)
    return (time.monotonic() - start) / len(images)
