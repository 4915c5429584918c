"""Scoring library API and the file formats the scorer reads and writes.

* ``score_predictions`` scores in-memory predictions (no files), for benchmarks and tests.
* ``read_solution`` / ``read_prediction``: whitespace-separated numbers, one row per test example.
* ``read_start_file`` / ``read_end_file``: ingestion's YAML ``start.txt`` / ``end.txt`` (protocol 3.3).
* ``write_scores_file``: ``scores.txt`` as in protocol 4.5, with plain floats.

Late predictions follow ``metrics.alc``: timestamps after T are clipped to T and add no area.
"""

import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from autodl_format.errors import first_line
from autodl_format.files import write_atomic
from autodl_format.metrics import ScoringError, alc, is_one_hot, nauc, soft_accuracy


@dataclass(frozen=True)
class ScoreResult:
    """Everything ``scores.txt`` reports. ``timestamps`` are seconds relative to ingestion's start_time."""

    alc: float
    nauc: list[float]
    timestamps: list[float]
    accuracy: list[float] | None  # None when the solution is not one-hot (multilabel)
    duration: float  # relative time of the last prediction (0.0 without predictions), as the official scorer


@dataclass(frozen=True)
class StartInfo:
    """Content of ingestion's ``start.txt``; ``timestamps`` maps prediction index K to its epoch time."""

    ingestion_pid: int
    task_name: str
    time_budget: float
    start_time: float
    timestamps: dict[int, float]


@dataclass(frozen=True)
class EndInfo:
    """Content of ingestion's ``end.txt``."""

    ingestion_duration: float
    ingestion_success: bool
    end_time: float


def build_result(
    timestamps: Sequence[float],
    naucs: Sequence[float],
    accuracies: Sequence[float] | None,
    time_budget: float,
    t0: float = 60.0,
) -> ScoreResult:
    """Assemble a ScoreResult from per-prediction scores already computed (in prediction order)."""
    times = [float(t) for t in timestamps]
    return ScoreResult(
        alc=alc(times, naucs, time_budget, t0=t0),
        nauc=[float(s) for s in naucs],
        timestamps=times,
        accuracy=None if accuracies is None else [float(a) for a in accuracies],
        duration=times[-1] if times else 0.0,
    )


def score_predictions(
    solution: np.ndarray,
    predictions: list[tuple[float, np.ndarray]],
    time_budget: float,
    t0: float = 60.0,
) -> ScoreResult:
    """Score (relative timestamp, prediction) pairs given in prediction order against a solution."""
    naucs = [nauc(solution, prediction) for _, prediction in predictions]
    accuracies = [soft_accuracy(solution, prediction) for _, prediction in predictions] if is_one_hot(solution) else None
    return build_result([t for t, _ in predictions], naucs, accuracies, time_budget, t0)


def _read_matrix(path: str | os.PathLike, what: str) -> np.ndarray:
    if not Path(path).is_file():
        raise ScoringError(f"{path}: {what} file not found")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data": reported below instead
            matrix = np.loadtxt(path, dtype=np.float64, ndmin=2)  # any whitespace; a single column gives (N, 1)
    except (OSError, ValueError) as error:
        raise ScoringError(f"{path}: cannot read {what}: {first_line(error)}") from None
    if matrix.size == 0:
        raise ScoringError(f"{path}: {what} file is empty")
    return matrix


def read_solution(path: str | os.PathLike) -> np.ndarray:
    """Read ``NAME.solution``: whitespace-separated 0/1 values, one row per test example; always (N, C)."""
    solution = _read_matrix(path, "solution")
    if not np.isin(solution, (0.0, 1.0)).all():
        raise ScoringError(f"{path}: solution must hold only 0/1 values")
    return solution


def read_prediction(path: str | os.PathLike) -> np.ndarray:
    """Read ``NAME.predict_K``: whitespace-separated numbers, one row per test example; always (N, C)."""
    return _read_matrix(path, "prediction")


def _load_yaml_mapping(path: Path) -> dict:
    try:
        text = path.read_text()
    except OSError as error:
        raise ScoringError(f"{path}: cannot read: {error.strerror or error}") from None
    try:
        content = yaml.safe_load(text)
    except yaml.YAMLError as first_error:
        # Ingestion appends lines while we poll: an unterminated last line may be half written, so parse without it.
        complete = text[: text.rfind("\n") + 1] if not text.endswith("\n") else text
        try:
            content = yaml.safe_load(complete)
        except yaml.YAMLError:
            raise ScoringError(f"{path}: not valid YAML ({first_line(first_error)})") from None
    if not isinstance(content, dict):
        raise ScoringError(f"{path}: expected 'key: value' lines, got {type(content).__name__}")
    return content


def _number(path: Path, key: object, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ScoringError(f"{path}: '{key}' must be a finite number, got {value!r}")
    return float(value)


def _require(path: Path, content: dict, keys: Sequence[str]) -> None:
    missing = [key for key in keys if key not in content]
    if missing:
        raise ScoringError(f"{path}: missing key(s) {', '.join(missing)}")


def read_start_file(path: str | os.PathLike) -> StartInfo:
    """Parse ``start.txt``: ingestion_pid, task_name, time_budget, start_time, then one ``K: <epoch>`` per prediction."""
    path = Path(path)
    content = _load_yaml_mapping(path)
    _require(path, content, ("ingestion_pid", "task_name", "time_budget", "start_time"))
    pid = content["ingestion_pid"]
    if isinstance(pid, bool) or not isinstance(pid, int):
        raise ScoringError(f"{path}: 'ingestion_pid' must be an integer, got {pid!r}")
    time_budget = _number(path, "time_budget", content["time_budget"])
    if time_budget <= 0:
        raise ScoringError(f"{path}: 'time_budget' must be positive, got {time_budget}")
    timestamps = {
        key: _number(path, key, value)
        for key, value in content.items()
        if isinstance(key, int) and not isinstance(key, bool) and key >= 0
    }
    return StartInfo(
        ingestion_pid=pid,
        task_name=str(content["task_name"]),
        time_budget=time_budget,
        start_time=_number(path, "start_time", content["start_time"]),
        timestamps=timestamps,
    )


def read_end_file(path: str | os.PathLike) -> EndInfo:
    """Parse ``end.txt``: ingestion_duration, ingestion_success (1/0), end_time."""
    path = Path(path)
    content = _load_yaml_mapping(path)
    _require(path, content, ("ingestion_duration", "ingestion_success", "end_time"))
    return EndInfo(
        ingestion_duration=_number(path, "ingestion_duration", content["ingestion_duration"]),
        ingestion_success=_number(path, "ingestion_success", content["ingestion_success"]) == 1,
        end_time=_number(path, "end_time", content["end_time"]),
    )


def _float_list(values: Sequence[float]) -> str:
    # repr of plain Python floats: full precision, and no numpy-2 "np.float64(...)" wrappers.
    return "[" + ", ".join(repr(float(v)) for v in values) + "]"


def write_scores_file(path: str | os.PathLike, result: ScoreResult) -> None:
    """Write ``scores.txt`` (score, Duration, timestamps, nauc_scores, accuracy for one-hot tasks) atomically."""
    lines = [
        f"score: {float(result.alc)!r}",
        f"Duration: {float(result.duration)!r}",
        f"timestamps: {_float_list(result.timestamps)}",
        f"nauc_scores: {_float_list(result.nauc)}",
    ]
    if result.accuracy is not None:
        lines.append(f"accuracy: {_float_list(result.accuracy)}")
    write_atomic(path, "\n".join(lines) + "\n")  # readers (the parent phase, a browser) never see half a file
