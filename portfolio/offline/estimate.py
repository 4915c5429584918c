"""The cheap variant of the BOHB objective: the ALC a logged run would have at a budget T, from its learning curve
(validation NAUC against training steps) and a lookup table of measured step and inference times
(portfolio.offline.lookup), without looking at the test labels.

The curve comes from the learner's own log lines (the `log` of an evaluation's info, portfolio.offline.objective): which
predictions were made, when, with what (pixel head, features head, network at some side), and the validation NAUC
each was chosen on. That NAUC stands in for its test NAUC.

The model of time. A prediction's time is the time ingestion measured for it, shifted by the sum, over the work
done before it that the table covers, of (the table's time - the measured time):
- training: each `trained N steps in Xs` line, X measured, N x step time (backbone, current side, batch size);
- validation passes: the gap between a `trained` line and the `validation` line after it, measured (0.1 s
  resolution); n_val x frames x inference time per image at the current side, three passes when the weights
  improved (plain, then flipped) and one otherwise;
- test passes of the features head and the network: `test pass Xs` measured, n_test x frames x inference time at
  the side predicted with (x 2 when flip-averaged);
- the features head's extraction on its rows (fitted + validation): measured at the run's own rate of the features
  prediction's test pass (skipped when no such prediction was made), the table's inference time at the starting
  side.
Everything else keeps its measured time: reading and decoding data, the pixel head, the ridge fits, copies of the
best weights, the platform's overhead. The run's schedule is kept as it was at its own budget (the learner plans
with the times it measures; a faster machine would also have trained more between predictions); for T above it,
the last prediction holds to the end.
"""
from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np

from autodl_format.errors import BadInput
from portfolio.offline.lookup import LookupTable
from autodl_format.metrics import alc

CONFIG = re.compile(r"\[learner\] config (\{.*\}) \| backbone (\S+) on .* -> (\d+) frame\(s\) .*trained from (\d+) px"
                    r".* \| test size (\S+)$")
READ = re.compile(r"\[learner\] read \d+ train examples .* \| validation (\d+) examples")
HEAD = re.compile(r"\[learner\] (pixels|features) head: ridge on (\d+) examples at ([\d.]+)s elapsed \| "
                  r"validation NAUC (\S+?)( \(not better: no prediction[^)]*\))?(?: \(gain [^)]*\))?$")
TEST_SET = re.compile(r"\[learner\] test set: (\d+) examples decoded")
PREDICTION = re.compile(r"\[learner\] prediction \d+ \((\w+)\) at ([\d.]+)s elapsed \(test pass ([\d.]+)s"
                        r"(, flip-averaged)?\)")
TRAINED = re.compile(r"\[learner\] trained (\d+) steps in ([\d.]+)s .* at ([\d.]+)s elapsed")
VALIDATION = re.compile(r"\[learner\] validation NAUC (\S+) loss \S+ at ([\d.]+)s elapsed: (.*)$")
RAISED = re.compile(r"\[learner\] plateau at \d+ px: side raised to (\d+) px")
INGESTED = re.compile(r"ingestion: prediction \d+: t=([\d.]+) s")


class LogError(BadInput, ValueError):
    """The log lines do not describe a learner run (no config line)."""


@dataclass
class Work:
    """A piece of the run's time that the table covers: `steps` training steps or `images` inferred images."""

    kind: str              # "train", "validation", "test pass", "features"
    side: int
    measured: float | None  # seconds; None when the log does not time it (then it keeps its unknown measured time)
    steps: int = 0
    images: int = 0


@dataclass
class Validation:
    """One evaluation of the fine-tuned network: the curve's point."""

    steps: int   # training steps so far
    side: int
    nauc: float
    elapsed: float


@dataclass
class Prediction:
    source: str   # pixels, features, network
    score: float  # the validation NAUC it was chosen on (NaN: the run had no validation split)
    time: float   # ingestion's timestamp


@dataclass
class RunCurve:
    backbone: str
    batch_size: int
    events: list[Union[Work, Prediction]] = field(default_factory=list)  # in log order
    validations: list[Validation] = field(default_factory=list)


def _score(text: str) -> float:
    return math.nan if text == "-" else float(text)


def parse_log(lines: list[str]) -> RunCurve:
    """The learner's log lines (an evaluation's info["log"], or a whole ingestion log) -> its curve and work."""
    from learner.config import LearnerConfig

    curve: RunCurve | None = None
    frames = n_val = n_test = side = start_side = steps = 0
    head_scores: dict[str, float] = {}
    network_score, network_side = math.nan, 0
    last_stamp, last_kind = 0.0, ""  # elapsed and kind of the latest line with an elapsed time
    pending: Prediction | None = None
    features_work: Work | None = None
    features_gap = 0.0
    for line in lines:
        if match := CONFIG.search(line):
            # The line shows what differs from the defaults; only the batch size matters here.
            batch_size = ast.literal_eval(match[1]).get("batch_size", LearnerConfig().batch_size)
            curve = RunCurve(match[2], int(batch_size))
            frames, side, start_side = int(match[3]), int(match[4]), int(match[4])
            n_test = int(match[5]) if match[5].isdigit() else 0
            network_side = side
            continue
        if curve is None:
            continue
        stamp = None
        if match := READ.search(line):
            n_val = int(match[1])
        elif match := TEST_SET.search(line):
            n_test = max(n_test, int(match[1]))
        elif match := HEAD.search(line):
            stamp = float(match[3])
            if match[5] is None:
                head_scores[match[1]] = _score(match[4])
            if match[1] == "features":
                features_work = Work("features", start_side, None, images=(int(match[2]) + n_val) * frames)
                features_gap = stamp - last_stamp
                curve.events.append(features_work)
        elif match := TRAINED.search(line):
            stamp = float(match[3])
            steps += int(match[1])
            curve.events.append(Work("train", side, float(match[2]), steps=int(match[1])))
        elif match := VALIDATION.search(line):
            stamp = float(match[2])
            improved = match[3].startswith("improved")
            gap = stamp - last_stamp if last_kind == "train" else None  # else other work hides in the gap
            curve.events.append(Work("validation", side, gap, images=n_val * frames * (3 if improved else 1)))
            curve.validations.append(Validation(steps, side, _score(match[1]), stamp))
            if improved or match[3].startswith("network's best"):
                network_score, network_side = _score(match[1]), side
        elif match := RAISED.search(line):
            side = int(match[1])
        elif match := PREDICTION.search(line):
            stamp = float(match[2])
            source, seconds = match[1], float(match[3])
            if source == "network":
                images = n_test * frames * (2 if match[4] else 1)
                curve.events.append(Work("test pass", network_side, seconds, images=images))
                pending = Prediction(source, network_score, math.nan)
            else:
                if source == "features":
                    curve.events.append(Work("test pass", start_side, seconds, images=n_test * frames))
                    if features_work is not None and n_test:  # the run's own rate, for its extraction
                        rate = seconds / (n_test * frames)
                        features_work.measured = min(features_gap, rate * features_work.images)
                pending = Prediction(source, head_scores.get(source, math.nan), math.nan)
        elif (match := INGESTED.search(line)) and pending is not None:
            pending.time = float(match[1])
            curve.events.append(pending)
            pending = None
        if stamp is not None:
            last_stamp, last_kind = stamp, "train" if TRAINED.search(line) else "other"
    if curve is None:
        raise LogError("no learner config line in the log")
    return curve


def _table_seconds(work: Work, curve: RunCurve, table: LookupTable) -> float:
    if work.kind == "train":
        return work.steps * table.step_seconds(curve.backbone, work.side, curve.batch_size)
    return work.images * table.infer_seconds(curve.backbone, work.side)


def estimate_curve(curve: RunCurve, table: LookupTable | None) -> tuple[list[float], list[float]]:
    """(times, scores) of the run's predictions with the table's times (measured ones when `table` is None).
    A prediction without a validation score (no validation split) keeps the one before it (0 for the first)."""
    shift, times, scores = 0.0, [], []
    for event in curve.events:
        if isinstance(event, Work):
            if table is not None and event.measured is not None:
                shift += _table_seconds(event, curve, table) - event.measured
        else:
            score = event.score if math.isfinite(event.score) else (scores[-1] if scores else 0.0)
            times.append(max(0.0, event.time + shift))
            scores.append(score)
    return np.maximum.accumulate(times).tolist() if times else [], scores  # 0.1 s stamps may nudge order


def estimate_alc(info_or_log: dict[str, Any] | list[str] | RunCurve, table: LookupTable | None, T: float) -> float:
    """The ALC at budget T of the run (an evaluation's info, its log lines, or their parsed curve) if each stage
    took the table's time, scored with validation NAUCs (see the module docstring)."""
    if isinstance(info_or_log, RunCurve):
        curve = info_or_log
    else:
        curve = parse_log(info_or_log["log"] if isinstance(info_or_log, dict) else info_or_log)
    times, scores = estimate_curve(curve, table)
    return alc(times, scores, T)
