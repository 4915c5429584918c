"""The held-out validation split and the score that gates predictions.

Split: min(fraction * n, maximum) examples, raised to MIN_VALIDATION (above `maximum` too) when n >=
MIN_VALIDATED_SET and fraction > 0, taken once from the first train examples read. Only examples whose class
(multiclass) has at least two examples there can go to validation, and never a class's last one, so no class loses
its only training example; at most half of those candidates are taken. When fewer than `MIN_VALIDATION` examples
can be held out (tiny datasets, e.g. one example per class), there is no validation:
the learner then predicts at every point of its time grid instead of gating on validation.

Score: the challenge's own NAUC (autodl_format.metrics; the upload zip ships that module for this). A tie in NAUC
(within TIE_TOLERANCE, common once validation saturates at 1.0) is broken by the lower loss.
"""
from __future__ import annotations

import numpy as np

from autodl_format.metrics import nauc as challenge_nauc
from autodl_format.metrics import valid_columns

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


def improves(score: float, loss: float, best_score: float, best_loss: float) -> bool:
    """Better NAUC, or the same NAUC (within TIE_TOLERANCE) and a lower loss."""
    if score > best_score + TIE_TOLERANCE:
        return True
    return abs(score - best_score) <= TIE_TOLERANCE and loss < best_loss
