"""The run's effective budget: its time budget T in seconds of the machine the performance matrices were measured
on, so that the config choice reads the matrices at what the run can do in T, not at T itself.

The matrices ran every cell with one torch thread on the CPU that `lookup_table_cpu.csv` describes (its
`infer_seconds_per_image` column, measured with the learner's own runner). The run measures its own inference cost
per frame at its backbone and side (learner.choice.MeasuredSpeed), so

    T_eff = T * speed,  speed = reference seconds per image / measured seconds per frame

(same backbone, same side), clamped to SPEED_RANGE. On the matrices' machine with one thread the speed is about 1;
with more threads or a GPU the run does more per second, and T_eff is larger than T.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from learner.choice import MeasuredSpeed
from learner.config import PORTFOLIO_DIR

REFERENCE_TABLE = PORTFOLIO_DIR / "lookup_table_cpu.csv"  # the matrices' machine (portfolio.offline.lookup made it)
# Outside this range a measured cost is more likely a timing glitch (a pass timed at about nothing, a stalled
# machine) than a machine's speed: the H200 of lookup_table_gpu.csv infers 1.4x (32 px) to 270x (224 px) as fast
# as one thread of this CPU.
SPEED_RANGE = (0.1, 1000.0)


def log_interp(x: float, xs: list[int], ys: list[float]) -> float:
    """y at x, linear in (log x, log y) between the points, continued along the end segments outside them."""
    if len(xs) == 1:
        return float(ys[0])
    lx, ly = np.log(np.asarray(xs, dtype=float)), np.log(np.asarray(ys, dtype=float))
    target = np.log(float(x))
    i = int(np.clip(np.searchsorted(lx, target) - 1, 0, len(lx) - 2))  # segment (i, i+1), the end ones outside
    slope = (ly[i + 1] - ly[i]) / (lx[i + 1] - lx[i])
    return float(np.exp(ly[i] + slope * (target - lx[i])))


def read_reference(path: Path = REFERENCE_TABLE) -> dict[str, dict[int, float]]:
    """backbone -> side -> seconds per inferred image, from a lookup table (its `#` lines name the machine)."""
    with open(path, newline="") as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        reference: dict[str, dict[int, float]] = {}
        for row in rows:
            reference.setdefault(row["backbone"], {})[int(row["side"])] = float(row["infer_seconds_per_image"])
    return reference


@dataclass(frozen=True)
class EffectiveBudget:
    budget: float              # the run's T, seconds of this machine
    speed: float | None        # reference seconds / measured seconds, clamped; None: not measurable here
    measured: MeasuredSpeed
    why: str = ""              # why the speed is None

    @property
    def seconds(self) -> float:
        """T_eff: the budget in seconds of the matrices' machine (T itself when the speed is unknown)."""
        return self.budget * (1.0 if self.speed is None else self.speed)

    def describe(self) -> str:
        speed = (f"speed unknown: {self.why}" if self.speed is None else
                 f"speed x{self.speed:.2f}, {self.measured.backbone} at {self.measured.side} px")
        return f"T_eff {self.seconds:.0f} s (T {self.budget:.0f} s, {speed})"


def effective_budget(budget: float, measured: MeasuredSpeed,
                     reference: dict[str, dict[int, float]]) -> EffectiveBudget:
    """The run's budget in seconds of the matrices' machine, from its measured speed against `reference`
    (read_reference); the reference cost at the run's side is log-log interpolated between the measured sides."""
    sides = reference.get(measured.backbone)
    if not sides:
        return EffectiveBudget(budget, None, measured, f"no reference timing of {measured.backbone}")
    if not measured.seconds_per_frame > 0 or not math.isfinite(measured.seconds_per_frame):
        return EffectiveBudget(budget, None, measured, "not measured")
    ordered = sorted(sides)
    seconds = log_interp(measured.side, ordered, [sides[side] for side in ordered])
    speed = min(max(seconds / measured.seconds_per_frame, SPEED_RANGE[0]), SPEED_RANGE[1])
    return EffectiveBudget(budget, speed, measured)
