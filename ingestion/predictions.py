"""Check what Model.test returned and turn it into the text of a NAME.predict_K file."""
from __future__ import annotations

import numpy as np

from autodl_format.errors import first_line


class PredictionError(Exception):
    """Model.test returned something that cannot be scored; the message is one line."""


def check_prediction(raw: object, expected_shape: tuple[int, int], lenient: bool = False) -> np.ndarray:
    """Return `raw` as a float64 (N, C) array, or raise PredictionError saying what is wrong with it.

    Not lenient (the default), a `raw` without `.shape` (a list, say) is refused: the official program reads
    `prediction.shape` and fails on it, so a submission that passes here must not rely on it."""
    if not lenient and not hasattr(raw, "shape"):
        raise PredictionError(f"test returned a {type(raw).__name__}, not an array: the official ingestion fails on "
                              f"it ('{type(raw).__name__}' object has no attribute 'shape'); return a numpy array "
                              f"(--lenient accepts it)")
    try:
        pred = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise PredictionError(f"test returned a {type(raw).__name__} that is not a numeric array "
                              f"({first_line(e)})") from None
    if pred.shape != tuple(expected_shape):
        raise PredictionError(f"test returned shape {pred.shape}, "
                              f"expected {tuple(expected_shape)} (test examples, output_dim)")
    bad = int(np.size(pred) - np.count_nonzero(np.isfinite(pred)))
    if bad:
        # '{:g}' would write 'nan'/'inf' and the scorer's ranks would be arbitrary (protocol 8).
        raise PredictionError(f"test returned {bad} non-finite value(s) (NaN or inf)")
    return pred


def format_prediction(pred: np.ndarray) -> str:
    """One line per test example, values '{:g}' (6 significant digits, as the official ingestion) space-separated."""
    return "".join(" ".join(map("{:g}".format, row)) + "\n" for row in pred.tolist())
