"""AutoDL metrics: NAUC per prediction, soft accuracy, and the ALC of a learning curve.

Formulas follow the AutoDL protocol (docs/autodl_protocol.md, sections 4.2 to 4.4):

* NAUC = 2 * AUC - 1, a macro average over the *valid* columns of the solution (columns whose sum is neither
  close to 0 nor close to N). AUC per column is the Mann-Whitney statistic on average ranks, so tied predictions
  share their mean rank exactly as in the official scorer.
* ALC: area under the step learning curve on transformed time t~ = ln(1 + t/t0) / ln(1 + T/t0). The curve starts
  at (0, 0) and the last score is held until t~ = 1.

Late predictions (t > T): the official ``get_alc`` does not clip them, so a late prediction gets t~ > 1 and is
followed by a *negative* slice back to 1 (one NAUC-1 prediction at 1300 s with T = 1200 scores -0.0250853723).
By default we clip t to [0, T]: a late prediction then has zero width and adds no area (the same ALC as dropping
it). ``alc(..., clip_late=False)`` reproduces the official unclipped number.
"""

from collections.abc import Sequence

import numpy as np

from autodl_format.errors import BadInput


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of a 1-D array, tied values sharing their mean rank (scipy's rankdata 'average', in numpy:
    the metric runs inside model.py, on machines that may lack scipy)."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])  # first position of each run of ties
    ends = np.r_[starts[1:], len(values)]
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.repeat((starts + 1 + ends) / 2.0, ends - starts)  # mean of ranks start+1 .. end
    return ranks


class ScoringError(BadInput):
    """A solution, prediction or learning curve cannot be scored. The message names the file when known."""


def _where(source: str | None) -> str:
    return f"{source}: " if source else ""


def valid_columns(solution: np.ndarray) -> np.ndarray:
    """Indices of the columns holding both classes: sum neither ~0 nor ~N (isclose, as the official scorer)."""
    solution = np.asarray(solution, dtype=np.float64)
    if solution.ndim != 2:
        raise ScoringError(f"solution must be a 2-D (N, C) array, got shape {solution.shape}")
    column_sums = solution.sum(axis=0)
    single_class = np.isclose(column_sums, 0.0) | np.isclose(column_sums, solution.shape[0])
    return np.flatnonzero(~single_class)


def check_prediction(solution: np.ndarray, prediction: np.ndarray, source: str | None = None) -> np.ndarray:
    """Return the prediction as float64 after checking its shape against the solution and that it is finite."""
    prediction = np.asarray(prediction, dtype=np.float64)
    if prediction.shape != np.shape(solution):
        raise ScoringError(
            f"{_where(source)}prediction has shape {prediction.shape}, expected {np.shape(solution)} (the solution's)"
        )
    bad = ~np.isfinite(prediction)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ScoringError(
            f"{_where(source)}prediction holds {int(bad.sum())} NaN/inf value(s), first at row {row}, column {col}"
        )
    return prediction


def nauc(solution: np.ndarray, prediction: np.ndarray, source: str | None = None) -> float:
    """Normalised AUC (2 * AUC - 1), unweighted mean over the solution's valid columns.

    ``source`` (a file name) is put into error messages. Raises ScoringError for a wrong shape, NaN/inf values,
    a solution that is not 0/1, or a solution without any valid column.
    """
    solution = np.asarray(solution, dtype=np.float64)
    if solution.ndim != 2:
        raise ScoringError(f"solution must be a 2-D (N, C) array, got shape {solution.shape}")
    if not np.isin(solution, (0.0, 1.0)).all():
        raise ScoringError("solution must hold only 0/1 values")
    prediction = check_prediction(solution, prediction, source)
    columns = valid_columns(solution)
    if columns.size == 0:
        raise ScoringError(
            f"{_where(source)}no valid column in the solution (every column holds a single class; N = "
            f"{solution.shape[0]}), so NAUC is undefined"
        )
    per_column = []
    for k in columns:
        positives = solution[:, k] == 1
        n_pos = int(positives.sum())
        n_neg = solution.shape[0] - n_pos
        ranks = average_ranks(prediction[:, k])
        auc = (ranks[positives].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
        per_column.append(2.0 * auc - 1.0)
    return float(np.mean(per_column))


def is_one_hot(solution: np.ndarray) -> bool:
    """True when every row of the solution has exactly one 1 and zeros elsewhere (a multiclass task)."""
    solution = np.asarray(solution, dtype=np.float64)
    if solution.ndim != 2 or solution.shape[0] == 0:
        return False
    return bool(np.isin(solution, (0.0, 1.0)).all() and (solution.sum(axis=1) == 1).all())


def soft_accuracy(solution: np.ndarray, prediction: np.ndarray, source: str | None = None) -> float | None:
    """Soft accuracy of the official scorer: rows divided by their L1 norm (+1e-15), mean mass on the true class.

    Returns None when the solution is not one-hot (multilabel tasks have no accuracy). It differs from argmax
    accuracy for soft predictions.
    """
    if not is_one_hot(solution):
        return None
    solution = np.asarray(solution, dtype=np.float64)
    prediction = check_prediction(solution, prediction, source)
    normalised = prediction / (np.abs(prediction).sum(axis=1, keepdims=True) + 1e-15)
    return float((solution * normalised).sum() / solution.shape[0])


def transform_time(t: float | np.ndarray, T: float, t0: float = 60.0) -> float | np.ndarray:
    """Transformed time ln(1 + t/t0) / ln(1 + T/t0): 0 at t = 0, 1 at t = T."""
    return np.log1p(np.asarray(t, dtype=np.float64) / t0) / np.log1p(T / t0)


def alc(
    relative_timestamps: Sequence[float],
    scores: Sequence[float],
    time_budget: float,
    t0: float = 60.0,
    clip_late: bool = True,
) -> float:
    """Area under the step learning curve on transformed time (the AutoDL ranking score).

    ``relative_timestamps`` are seconds since ingestion's start_time, in prediction order (non-decreasing).
    With ``clip_late`` (default) timestamps are clipped to [0, T], so a prediction after T adds no area;
    ``clip_late=False`` gives the official unclipped formula. An empty curve has ALC 0.
    """
    times = np.asarray(relative_timestamps, dtype=np.float64).reshape(-1)
    values = np.asarray(scores, dtype=np.float64).reshape(-1)
    if times.size != values.size:
        raise ScoringError(f"{times.size} timestamps but {values.size} scores")
    if not (np.isfinite(time_budget) and time_budget > 0 and np.isfinite(t0) and t0 > 0):
        raise ScoringError(f"time budget and t0 must be positive, got T={time_budget}, t0={t0}")
    if not (np.isfinite(times).all() and np.isfinite(values).all()):
        raise ScoringError("timestamps and scores must be finite")
    if times.size == 0:
        return 0.0
    if (np.diff(times) < 0).any():
        raise ScoringError(f"timestamps must be non-decreasing in prediction order, got {times.tolist()}")
    if clip_late:
        times = np.clip(times, 0.0, time_budget)
    x = transform_time(times, time_budget, t0)
    widths = np.diff(np.append(x, 1.0))  # each score holds until the next prediction, the last one until t~ = 1
    return float(np.sum(values * widths))
