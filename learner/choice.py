"""Stage 4 of the learner's pipeline, the config choice: what the Learner asks, once, after the starting config's
heads, and what it needs to switch. The learner only drives the stage; which config to go on with is decided by a
`ConfigChoice` (the meta-learned one is portfolio.selection.ConfigSelection: fingerprint, meta-classifier, rule).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from learner.backbones import Backbone
from learner.config import LearnerConfig

# Below this many seconds left (plus the clock's margin) a new config cannot pay for the switch: its first read
# and heads take a few seconds before it can beat the standing prediction.
MIN_SECONDS_LEFT = 10.0


class TrainSample(Protocol):
    def __call__(self, count: int, side: int, frames: int, deadline: float) -> np.ndarray:
        """Up to `count` train examples drawn at random, uint8 (N, F, side, side, C), read until `deadline`
        (time.monotonic()); learner.feed.DataFeed.random_train_sample."""


@dataclass(frozen=True)
class MeasuredSpeed:
    """The run's own inference cost (learner.runner.NetRunner.seconds_per_frame: the constructor's warm-up, then
    the mean of its passes at this side), by which a choice compares this machine with the one its records were
    measured on. No training step has run when the choice is made, so inference is the measure there is."""
    backbone: str
    side: int
    seconds_per_frame: float


class ConfigChoice(Protocol):
    def choose(self, sample: TrainSample, frames: int, budget: float,
               speed: MeasuredSpeed) -> tuple[str, LearnerConfig]:
        """(name, config) to go on with, from train examples read through `sample` (videos with up to `frames`
        frames), for a run of time budget `budget` (seconds) on a machine of speed `speed`. It logs its own line;
        any exception means no choice, and the run keeps its config."""

    def prepared_backbone(self, name: str) -> Backbone | None:
        """The pretrained backbone `name` built beforehand (untouched; handed over once), else None."""
