"""The held-out validation split and the score that gates predictions.

Split: min(fraction * n, maximum) examples, raised to MIN_VALIDATION (above `maximum` too) when n >=
MIN_VALIDATED_SET and fraction > 0, taken once from the first train examples read. Only examples whose class
(multiclass) has at least two examples there can go to validation, and never a class's last one, so no class loses
its only training example; at most half of those candidates are taken. When fewer than `MIN_VALIDATION` examples
can be held out (tiny datasets, e.g. one example per class), there is no validation:
the learner then predicts at every point of its time grid instead of gating on validation.

Score: the challenge's own NAUC (autodl_format.metrics; the upload zip ships that module for this). A tie in NAUC
(within TIE_TOLERANCE, common once validation saturates at 1.0) is broken by the lower loss.

Gate: a new prediction replaces the standing one only when its NAUC gain on the same validation examples exceeds
`z` standard errors of that gain (nauc_gain_se), so that a gain a few dozen examples cannot tell from noise does
not replace a prediction; the margin shrinks as the validation set grows.
"""
from __future__ import annotations

import numpy as np

from autodl_format.metrics import average_ranks, valid_columns
from autodl_format.metrics import nauc as challenge_nauc

# Fewer held-out examples than this give a NAUC too coarse to gate predictions on: no validation instead.
MIN_VALIDATION = 10
# Sets of at least this many examples hold out MIN_VALIDATION when `fraction` gives fewer (at most a fifth of it).
MIN_VALIDATED_SET = 5 * MIN_VALIDATION
# NAUCs this close are a tie, decided by the loss: such a gap on a small validation set is noise, not a better model.
TIE_TOLERANCE = 1e-4


def split_validation(labels: np.ndarray, fraction: float, maximum: int, multilabel: bool,
                     rng: np.random.Generator) -> np.ndarray:
    """Indices (into `labels`) of the validation examples; empty when the data is too small to hold any out."""
    count = min(int(fraction * len(labels)), maximum)
    if len(labels) >= MIN_VALIDATED_SET and fraction > 0:
        count = max(count, MIN_VALIDATION)  # small sets: a few more held out rather than no validation
    if multilabel:
        candidates = np.arange(len(labels))
    else:
        classes = labels.argmax(axis=1)
        per_class = np.bincount(classes, minlength=labels.shape[1])
        candidates = np.flatnonzero(per_class[classes] >= 2)
    count = min(count, len(candidates) // 2)
    if count < MIN_VALIDATION:
        return np.empty(0, dtype=np.int64)
    if multilabel:
        return np.sort(rng.choice(candidates, size=count, replace=False))
    # Round-robin over classes so that validation covers as many classes as possible.
    order = rng.permutation(candidates)
    classes_of = labels[order].argmax(axis=1)
    rank_in_class = np.zeros(len(order), dtype=np.int64)
    seen: dict[int, int] = {}
    for i, c in enumerate(classes_of):
        rank_in_class[i] = seen.get(int(c), 0)
        seen[int(c)] = rank_in_class[i] + 1
    # Never take the last example of a class: rank must stay below (class count - 1).
    keep = rank_in_class < np.array([seen[int(c)] - 1 for c in classes_of])
    chosen = order[keep][np.argsort(rank_in_class[keep], kind="stable")][:count]
    return np.sort(chosen)


def nauc(labels: np.ndarray, scores: np.ndarray) -> float:
    """The challenge's NAUC of validation scores; 0.0 when no column holds both classes (nothing to rank), NaN for
    non-finite scores (a diverged network: NaN never `improves` on anything)."""
    if valid_columns(labels).size == 0:
        return 0.0
    if not np.isfinite(scores).all():
        return float("nan")
    return challenge_nauc(labels, scores)


def nauc_gain_se(labels: np.ndarray, new: np.ndarray, old: np.ndarray) -> float:
    """Standard error of nauc(labels, new) - nauc(labels, old), both scored on the same examples.

    DeLong's method, extended to the macro average: each column's AUC is a two-sample U-statistic whose first-order
    projection gives every example an influence (its share of the other class ranked below or above it, centred,
    over its class's count); the NAUC difference's influence per example is the mean over valid columns of twice
    the difference of its two influences, and its variance is the sum of their squares (times n / (n - 1)). Pairing
    matters: two predictions that rank alike have a small SE of their difference even on few examples. 0.0 when
    no column holds both classes."""
    columns = valid_columns(labels)
    count = len(labels)
    if columns.size == 0 or count < 2:
        return 0.0
    influence = np.zeros(count)
    for column in columns:
        positive = labels[:, column] > 0.5
        positives, negatives = int(positive.sum()), count - int(positive.sum())
        for scores, sign in ((new, 1.0), (old, -1.0)):
            values = np.asarray(scores[:, column], dtype=np.float64)
            ranks = average_ranks(values)
            # Share of the other class ranked below each example (ties count half).
            below_positive = (ranks[positive] - average_ranks(values[positive])) / negatives
            below_negative = (ranks[~positive] - average_ranks(values[~positive])) / positives
            auc = below_positive.mean()
            column_influence = np.empty(count)
            column_influence[positive] = (below_positive - auc) / positives
            column_influence[~positive] = ((1.0 - below_negative) - auc) / negatives
            influence += sign * 2.0 * column_influence / columns.size
    return float(np.sqrt(count / (count - 1) * np.sum(influence ** 2)))


def improves(score: float, loss: float, best_score: float, best_loss: float, margin: float = 0.0) -> bool:
    """Better NAUC by more than `margin` (and TIE_TOLERANCE), or the same NAUC (within TIE_TOLERANCE) and a lower
    loss."""
    if score > best_score + max(margin, TIE_TOLERANCE):
        return True
    return abs(score - best_score) <= TIE_TOLERANCE and loss < best_loss
