"""The prediction gate: learner.validation.nauc_gain_se against a paired bootstrap, and learner.best's margin."""
import numpy as np
import pytest

from autodl_format.metrics import nauc
from learner.best import BestSoFar, Result, Source
from learner.validation import improves, nauc_gain_se


def paired_predictions(rng: np.random.Generator, count: int, classes: int, correlation: float):
    """One-hot labels with every class present, and two score matrices that rank alike to `correlation`."""
    labels = np.eye(classes)[np.r_[np.arange(classes), rng.integers(0, classes, count - classes)]]
    shared = rng.normal(size=(count, classes)) + labels
    new = shared + 0.5 * rng.normal(size=(count, classes))
    old = correlation * shared + (1 - correlation) * rng.normal(size=(count, classes)) + 0.3 * labels
    return labels, new, old


def bootstrap_se(labels, new, old, rng, draws=600):
    gains = []
    for _ in range(draws):
        rows = rng.integers(0, len(labels), len(labels))
        if labels[rows].sum(axis=0).min() > 0:  # every class present, as in the full set
            gains.append(nauc(labels[rows], new[rows]) - nauc(labels[rows], old[rows]))
    return float(np.std(gains))


@pytest.mark.parametrize("count, classes, correlation", [(200, 5, 0.8), (60, 10, 0.5), (400, 3, 0.95)])
def test_the_gain_se_agrees_with_a_paired_bootstrap(count, classes, correlation):
    rng = np.random.default_rng(count)
    labels, new, old = paired_predictions(rng, count, classes, correlation)
    assert nauc_gain_se(labels, new, old) == pytest.approx(bootstrap_se(labels, new, old, rng), rel=0.25)


def test_the_gain_se_shrinks_with_the_validation_size_and_pairing():
    rng = np.random.default_rng(0)
    small = np.mean([nauc_gain_se(*paired_predictions(rng, 50, 5, 0.7)) for _ in range(20)])
    large = np.mean([nauc_gain_se(*paired_predictions(rng, 800, 5, 0.7)) for _ in range(20)])
    assert 2.5 < small / large < 6.5  # about sqrt(800 / 50) = 4
    labels, new, _ = paired_predictions(rng, 100, 4, 0.7)
    assert nauc_gain_se(labels, new, new) == 0.0  # the same ranking: no uncertainty in a zero gain
    assert nauc_gain_se(labels, new, 2 * new + 1) == 0.0  # nor under a monotone change of the scores
    assert nauc_gain_se(np.zeros((10, 2)), new[:10, :2], new[:10, :2]) == 0.0  # no column to rank


def test_a_gain_within_the_margin_does_not_replace_the_standing_prediction():
    assert not improves(0.91, 0.1, 0.90, 0.5, margin=0.02)
    assert improves(0.93, 0.9, 0.90, 0.5, margin=0.02)
    rng = np.random.default_rng(1)
    labels = np.eye(3)[np.r_[0, 1, 2, rng.integers(0, 3, 27)]]  # 30 validation examples
    standing_scores = rng.normal(size=(30, 3)) + labels
    # The candidate swaps the ranks of two examples of a class: a small NAUC gain that 30 examples cannot tell
    # from noise.
    candidate_scores = standing_scores.copy()
    column = 0
    positive = np.flatnonzero(labels[:, column] == 1)
    negative = np.flatnonzero(labels[:, column] == 0)
    worst_positive = positive[np.argmin(standing_scores[positive, column])]
    above = negative[standing_scores[negative, column] > standing_scores[worst_positive, column]]
    candidate_scores[worst_positive, column] = standing_scores[above, column].min() + 1e-3
    standing = Result(nauc(labels, standing_scores), 0.5, labels=labels, scores=standing_scores)
    candidate = Result(nauc(labels, candidate_scores), 0.5, labels=labels, scores=candidate_scores)
    assert candidate.score > standing.score

    gated, plain = BestSoFar(side=64, gate_z=1.0), BestSoFar(side=64, gate_z=0.0)
    for best in (gated, plain):
        assert best.offer(Source.FEATURES, standing, predict=True).better  # the first result always counts
        best.pending = None  # as if it had been predicted
    held = gated.offer(Source.NETWORK, candidate, predict=True)
    assert not held.better and gated.pending is None and gated.result is standing
    assert 0 < held.gain < held.margin == held.se and f"SE {held.se:.4f}" in held.note()
    taken = plain.offer(Source.NETWORK, candidate, predict=True)
    assert taken.better and plain.pending is Source.NETWORK and plain.result is candidate

    # A clearly better candidate passes the margin; results scored on other examples are compared without one.
    perfect = Result(1.0, 0.1, labels=labels, scores=labels + 0.01 * rng.normal(size=labels.shape))
    assert gated.offer(Source.NETWORK, perfect, predict=True).better
    assert BestSoFar(64, 1.0).judge(candidate).margin == 0.0  # nothing standing yet
    other_examples = Result(standing.score + 1e-3, 0.5, labels=labels[::-1], scores=standing_scores)
    assert standing.gain_se(other_examples) == 0.0
