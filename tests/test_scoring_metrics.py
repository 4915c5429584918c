"""NAUC, soft accuracy and ALC against the protocol's test vectors (section 4.9) and scikit-learn."""

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from autodl_format.metrics import (ScoringError, alc, average_ranks, nauc, soft_accuracy, transform_time,
                                   valid_columns)
from scoring.score import read_prediction, read_solution, score_predictions


@pytest.fixture(scope="module")
def miniciao_solution(miniciao_dir: Path) -> np.ndarray:
    return read_solution(miniciao_dir / "miniciao.solution")


def through_g_format(prediction: np.ndarray, tmp_path: Path) -> np.ndarray:
    """Round-trip through a prediction file written with '{:g}', exactly as ingestion writes it."""
    path = tmp_path / "task.predict_0"
    path.write_text("\n".join(" ".join(f"{v:g}" for v in row) for row in prediction) + "\n")
    return read_prediction(path)


def vector_predictions(solution: np.ndarray) -> dict[str, np.ndarray]:
    i, j = np.indices(solution.shape)
    return {
        "zeros": np.zeros_like(solution),
        "mod11": ((7 * i + 3 * j) % 11) / 10,
        "noisy": 0.3 * solution + ((5 * i + 2 * j) % 7) / 7,
        "perfect": solution.copy(),
        "inverted": 1 - solution,
    }


EXPECTED_NAUC = {"zeros": 0.0, "mod11": -0.1931781046, "noisy": 0.6826388889, "perfect": 1.0, "inverted": -1.0}


def test_miniciao_solution_shape_and_valid_columns(miniciao_solution: np.ndarray) -> None:
    assert miniciao_solution.shape == (18, 10)
    # bird (2) and truck (9) are absent from miniciao's test set (protocol 4.2)
    assert valid_columns(miniciao_solution).tolist() == [0, 1, 3, 4, 5, 6, 7, 8]


@pytest.mark.parametrize("name", sorted(EXPECTED_NAUC))
def test_nauc_protocol_vectors_on_miniciao(name: str, miniciao_solution: np.ndarray, tmp_path: Path) -> None:
    prediction = through_g_format(vector_predictions(miniciao_solution)[name], tmp_path)
    assert abs(nauc(miniciao_solution, prediction) - EXPECTED_NAUC[name]) < 1e-9


def test_g_round_trip_keeps_six_significant_digits(miniciao_solution: np.ndarray, tmp_path: Path) -> None:
    raw = vector_predictions(miniciao_solution)["noisy"]  # multiples of 1/7: not exact in 6 digits
    rounded = through_g_format(raw, tmp_path)
    assert not np.array_equal(raw, rounded)
    assert np.allclose(rounded, raw, rtol=5e-6, atol=0.0)


@pytest.mark.parametrize("seed", range(4))
def test_nauc_matches_sklearn_macro_auc(seed: int) -> None:
    rng = np.random.default_rng(seed)
    solution = (rng.random((120, 7)) < 0.3).astype(float)
    solution[:, 2] = 0.0  # no positive: invalid column
    solution[:, 5] = 1.0  # no negative: invalid column
    prediction = rng.random((120, 7))
    if seed % 2:
        prediction = np.round(prediction, 1)  # many ties: average ranks must match sklearn's tie handling
    columns = valid_columns(solution)
    assert columns.tolist() == [0, 1, 3, 4, 6]
    expected = 2 * roc_auc_score(solution[:, columns], prediction[:, columns], average="macro") - 1
    assert abs(nauc(solution, prediction) - expected) < 1e-12


def test_nauc_rejects_wrong_shape_naming_the_file(miniciao_solution: np.ndarray) -> None:
    with pytest.raises(ScoringError, match=r"miniciao\.predict_3: prediction has shape \(18, 9\)"):
        nauc(miniciao_solution, np.zeros((18, 9)), source="miniciao.predict_3")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nauc_rejects_nan_and_inf(bad: float, miniciao_solution: np.ndarray) -> None:
    prediction = np.zeros_like(miniciao_solution)
    prediction[4, 7] = bad
    with pytest.raises(ScoringError, match=r"x\.predict_0: .*NaN/inf.*row 4, column 7"):
        nauc(miniciao_solution, prediction, source="x.predict_0")


def test_nauc_without_valid_column_is_a_clear_error() -> None:
    one_example = np.array([[0.0, 1.0, 0.0]])
    with pytest.raises(ScoringError, match="no valid column"):
        nauc(one_example, np.array([[0.2, 0.5, 0.3]]))


def test_soft_accuracy_is_l1_normalised_mass_on_true_class() -> None:
    solution = np.array([[1.0, 0.0], [0.0, 1.0]])
    prediction = np.array([[3.0, 1.0], [-1.0, 1.0]])
    # row 0: 3 / (3 + 1); row 1: 1 / (|-1| + 1)
    assert soft_accuracy(solution, prediction) == pytest.approx((0.75 + 0.5) / 2, abs=1e-12)


def test_soft_accuracy_is_none_for_multilabel() -> None:
    solution = np.array([[1.0, 1.0], [0.0, 1.0]])
    assert soft_accuracy(solution, np.ones((2, 2))) is None


def test_transform_time_matches_protocol_table() -> None:
    t = [1, 5, 10, 30, 60, 120, 300, 600, 900]
    expected = [0.0054, 0.0263, 0.0506, 0.1332, 0.2277, 0.3608, 0.5885, 0.7876, 0.9107]
    assert np.abs(transform_time(np.array(t), 1200.0) - expected).max() < 5e-5
    assert transform_time(0.0, 1200.0) == 0.0
    assert transform_time(1200.0, 1200.0) == pytest.approx(1.0, abs=1e-15)


ALC_VECTORS = [
    ([5, 30, 100, 400], [0, -0.19317810457516327, 1, 1], 0.6413306092),
    ([0], [1], 1.0),
    ([1200], [1], 0.0),
    ([60], [1], 0.7723297513),
    ([60, 600], [0.5, 0.9], 0.4711210129),
    ([], [], 0.0),
]


@pytest.mark.parametrize("timestamps, scores, expected", ALC_VECTORS)
def test_alc_protocol_vectors(timestamps: list, scores: list, expected: float) -> None:
    assert abs(alc(timestamps, scores, 1200.0) - expected) < 1e-9
    # no timestamp is after T, so the official unclipped formula agrees
    assert abs(alc(timestamps, scores, 1200.0, clip_late=False) - expected) < 1e-9


def test_alc_late_prediction_official_versus_clipped() -> None:
    assert abs(alc([1300], [1], 1200.0, clip_late=False) - (-0.0250853723)) < 1e-9
    assert alc([1300], [1], 1200.0) == 0.0
    # clipping equals dropping the late prediction: the previous score is held to T
    assert alc([60, 1300], [0.5, 1.0], 1200.0) == pytest.approx(alc([60], [0.5], 1200.0), abs=1e-15)


def test_alc_rejects_decreasing_timestamps_and_length_mismatch() -> None:
    with pytest.raises(ScoringError, match="non-decreasing"):
        alc([30, 5], [0.1, 0.2], 1200.0)
    with pytest.raises(ScoringError, match="2 timestamps but 1 scores"):
        alc([5, 30], [0.1], 1200.0)


def test_score_predictions_reproduces_official_run(miniciao_solution: np.ndarray, tmp_path: Path) -> None:
    # The protocol's observed run of the official scorer (4.8): predictions at 5, 30, 100, 400 s gave 0.6413306092165822.
    vectors = vector_predictions(miniciao_solution)
    names = ["zeros", "mod11", "perfect", "perfect"]
    predictions = [(t, through_g_format(vectors[n], tmp_path)) for t, n in zip([5.0, 30.0, 100.0, 400.0], names)]
    result = score_predictions(miniciao_solution, predictions, time_budget=1200.0)
    assert abs(result.alc - 0.6413306092165822) < 1e-9
    assert result.timestamps == [5.0, 30.0, 100.0, 400.0]
    assert result.duration == 400.0
    assert [round(s, 10) for s in result.nauc] == [0.0, -0.1931781046, 1.0, 1.0]
    assert result.accuracy is not None and len(result.accuracy) == 4
    assert result.accuracy[2] == pytest.approx(1.0, abs=1e-12)


def test_score_predictions_empty_and_multilabel() -> None:
    multilabel = np.array([[1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    empty = score_predictions(multilabel, [], time_budget=1200.0)
    assert (empty.alc, empty.nauc, empty.timestamps, empty.accuracy, empty.duration) == (0.0, [], [], None, 0.0)
    scored = score_predictions(multilabel, [(0.0, multilabel)], time_budget=1200.0)
    assert scored.alc == 1.0 and scored.accuracy is None


def test_average_ranks_are_scipys_rankdata():
    # The metric ranks with numpy (model.py runs it where scipy may be missing); scipy is the reference.
    from scipy.stats import rankdata

    rng = np.random.default_rng(0)
    for _ in range(500):
        values = rng.integers(0, rng.integers(1, 12), size=rng.integers(1, 40)).astype(np.float64)  # many ties
        np.testing.assert_array_equal(average_ranks(values), rankdata(values, method="average"))
    np.testing.assert_array_equal(average_ranks(np.array([0.5, 0.1, 0.5, 0.9])), [2.5, 1.0, 2.5, 4.0])
