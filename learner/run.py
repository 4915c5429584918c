"""What the stages of one run share: the settings, the clock, the network with its runner and trainer, the data
feed, the best-so-far record, the validation split; and the time estimates every stage checks before it starts.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from learner.best import BestSoFar, Source
from learner.clock import Clock
from learner.config import LearnerConfig
from learner.feed import DataFeed
from learner.network import Classifier
from learner.runner import NetRunner
from learner.training import StepTrainer


@dataclass(eq=False)
class Run:
    cfg: LearnerConfig
    log: logging.Logger
    clock: Clock
    num_classes: int
    frames: int
    net: Classifier
    runner: NetRunner
    trainer: StepTrainer
    feed: DataFeed
    best: BestSoFar
    side: int                          # the side the network trains at now (progressive resizing raises it)
    multilabel: bool = False           # sigmoid/BCE instead of softmax/CE; decided from the first labels read
    val_index: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))  # rows held out
    pixel_seconds: float = 0.0         # measured cost of the pixel head's features, per example

    def loss(self, logits: torch.Tensor, labels: np.ndarray) -> float:
        targets = torch.as_tensor(labels, dtype=logits.dtype)
        if self.multilabel:
            return float(F.binary_cross_entropy_with_logits(logits, targets))
        return float(F.cross_entropy(logits, targets.argmax(dim=1)))

    def probabilities(self, scores: torch.Tensor) -> np.ndarray:
        """Scores -> probabilities in float64 (float64 keeps confident values apart, fewer ties)."""
        scores = scores.double()
        return (torch.sigmoid(scores) if self.multilabel else torch.softmax(scores, dim=1)).numpy()

    # ------------------------------------------------------------------ time estimates (seconds)
    def fits(self, seconds: float) -> bool:
        """True when the time left covers `seconds` times the cost factor, plus the clock's margin."""
        return self.clock.left() >= self.cfg.cost_factor * seconds + self.clock.safety_margin()

    def pass_seconds(self, source: Source, flip: bool = False) -> float:
        """One prediction pass over the test set (decoding excluded)."""
        if source is Source.PIXELS:
            return self.pixel_seconds * self.feed.test_count()
        frames = self.frames if source is Source.NETWORK else self.feed.early_frames  # features: the early copy
        return self.runner.seconds(self.feed.test_count(), frames) * (2 if flip else 1)

    def prediction_seconds(self, source: Source, flip: bool = False) -> float:
        """A prediction with `source`: its test pass plus decoding what is still unread of the test set."""
        return self.pass_seconds(source, flip) + self.feed.unread_test_seconds(network=source is Source.NETWORK)
