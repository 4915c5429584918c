"""The one record of "the best so far": the best validated result of anything predicted with and where it came
from, what the next test call should predict with, and the network's own best weights.

A tie in NAUC (within TIE_TOLERANCE, common once validation saturates at 1.0) is broken by the lower loss
(learner.validation.improves). What replaces the standing prediction must also beat it by the gate's margin:
`gate_z` standard errors of the NAUC gain on the same validation examples (learner.validation.nauc_gain_se); the
network's own best, which only decides where training restarts from, needs no margin.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import torch

from learner.validation import TIE_TOLERANCE, improves, nauc_gain_se


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
    # The validation labels and scores behind it: the gate pairs two results scored on the same examples.
    labels: np.ndarray | None = field(default=None, repr=False, compare=False)
    scores: np.ndarray | None = field(default=None, repr=False, compare=False)

    def beaten_by(self, other: Result, margin: float = 0.0) -> bool:
        return improves(other.score, other.loss, self.score, self.loss, margin)

    def gain_se(self, other: Result) -> float:
        """Standard error of other's NAUC gain over this one; 0.0 unless both were scored on the same examples."""
        if (self.scores is None or other.scores is None or self.labels is None or other.labels is None
                or self.labels.shape != other.labels.shape or not np.array_equal(self.labels, other.labels)):
            return 0.0
        return nauc_gain_se(other.labels, other.scores, self.scores)


@dataclass(frozen=True)
class Verdict:
    """The gate's decision on a candidate's validation result, and the numbers behind it for the log."""

    better: bool         # it replaces the standing best
    gain: float = 0.0    # its NAUC minus the standing best's (same validation examples)
    se: float = 0.0      # the gain's standard error
    margin: float = 0.0  # the gain it had to exceed: gate_z standard errors

    def note(self) -> str:
        """'' when the NAUC did not rise, else the gain, its SE and the margin (scripts.gate_report
        reads them back)."""
        if self.gain <= TIE_TOLERANCE or not np.isfinite(self.gain):
            return ""
        return f"gain {self.gain:+.4f}, SE {self.se:.4f}, margin {self.margin:.4f}"


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
    def __init__(self, side: int, gate_z: float = 0.0) -> None:
        self.gate_z = gate_z                   # the margin of a replacement, in standard errors of its gain
        self.result = Result()                 # the best validation result of anything predicted with
        self.source: Source | None = None      # where it came from
        self.pending: Source | None = None     # what the next test call predicts with; None: nothing new
        self.flip_helps = False                # validation of the pending network weights says flips help
        self.heads: dict[Source, Result] = {}  # each ridge head's validation result
        self.network = NetworkBest(side)

    def judge(self, result: Result | None) -> Verdict:
        """Whether a candidate's validation result (None: there is no validation, every candidate counts) replaces
        the standing best: a better NAUC by more than gate_z standard errors of the gain, or a tie and a lower
        loss."""
        if result is None:
            return Verdict(True)
        se = self.result.gain_se(result) if np.isfinite(self.result.score) else 0.0
        margin = self.gate_z * se
        return Verdict(self.result.beaten_by(result, margin), result.score - self.result.score, se, margin)

    def offer(self, source: Source, result: Result | None, predict: bool) -> Verdict:
        """judge() the candidate; when it is better it becomes the best of all, queued for the next test call when
        `predict`."""
        verdict = self.judge(result)
        if verdict.better:
            self.take(source, result, predict)
        return verdict

    def take(self, source: Source, result: Result | None, predict: bool) -> None:
        """A candidate judged better becomes the best of all (queued for the next test call when `predict`)."""
        if result is not None:
            self.result, self.source = result, source
        if predict:
            self.pending = source
