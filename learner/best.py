"""The one record of "the best so far": the best validated result of anything predicted with and where it came
from, what the next test call should predict with, and the network's own best weights.

A tie in NAUC (within TIE_TOLERANCE, common once validation saturates at 1.0) is broken by the lower loss
(learner.validation.improves).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import torch

from learner.validation import improves


class Source(Enum):
    """What a prediction is made with."""

    PIXELS = "pixels"      # ridge head on raw pixels
    FEATURES = "features"  # ridge head on frozen backbone features
    NETWORK = "network"    # the fine-tuned network


@dataclass(frozen=True)
class Result:
    """A validation result: NAUC and loss."""

    score: float = -np.inf
    loss: float = np.inf

    def beaten_by(self, other: Result) -> bool:
        return improves(other.score, other.loss, self.score, self.loss)


@dataclass
class NetworkBest:
    """The network's own best weights: what plateaus and restarts go back to. It can trail the overall best while
    a ridge head is still better, and restarting from a state worse than the current one would throw training
    away."""

    side: int                                   # the side the weights won at: their predictions use it
    result: Result = field(default_factory=Result)
    state: dict[str, torch.Tensor] | None = None
    steps: int = 0                              # trainer steps when they were found
    plateau: int = 0                            # evaluations since, without improvement

    def keep(self, net: torch.nn.Module, result: Result, side: int, steps: int) -> None:
        """The current weights become the best: a real copy, the side they won at, the plateau reset."""
        self.result, self.side, self.steps, self.plateau = result, side, steps, 0
        self.state = {k: v.detach().clone() for k, v in net.state_dict().items()}


class BestSoFar:
    def __init__(self, side: int) -> None:
        self.result = Result()                 # the best validation result of anything predicted with
        self.source: Source | None = None      # where it came from
        self.pending: Source | None = None     # what the next test call predicts with; None: nothing new
        self.flip_helps = False                # validation of the pending network weights says flips help
        self.heads: dict[Source, Result] = {}  # each ridge head's validation result
        self.network = NetworkBest(side)

    def offer(self, source: Source, result: Result | None, predict: bool) -> bool:
        """A candidate's validation result (None: there is no validation, every candidate counts). True when it
        is the best of all; then it is queued for the next test call when `predict`."""
        better = result is None or self.result.beaten_by(result)
        if better and result is not None:
            self.result, self.source = result, source
        if better and predict:
            self.pending = source
        return better
