"""The precalculation layer against numpy/scipy on random data, and its safety for b = 1 and constant features."""
import numpy as np
import pytest
import torch
from scipy import stats

from meta_classifier.precalc import ALL_MOMENTS, PrecalcConfig, precalc


def reference(batch: np.ndarray, config: PrecalcConfig) -> np.ndarray:
    """Straightforward per-feature statistics with numpy/scipy, in PrecalcConfig's layout."""
    values = np.sort(batch, axis=0)
    if config.trim:
        b = len(values)
        cut = min(int(config.p * b), (b - 1) // 2)
        values = values[cut:b - cut]
    columns = {
        "mean": values.mean(axis=0), "median": np.median(values, axis=0),
        "std": values.std(axis=0), "var": values.var(axis=0),
        "skew": stats.skew(values, axis=0, bias=True), "kurt": stats.kurtosis(values, axis=0, bias=True),
        "q_low": np.quantile(values, config.p, axis=0), "q_high": np.quantile(values, 1 - config.p, axis=0),
    }
    return np.stack([columns[m] for m in config.moments], axis=-1).reshape(-1)


@pytest.mark.parametrize("b", [2, 3, 7, 64, 257])
@pytest.mark.parametrize("trim", [False, True])
@pytest.mark.parametrize("p", [0.0, 0.13, 0.4])
def test_matches_scipy_on_random_data(b, trim, p):
    rng = np.random.default_rng(b * 100 + int(p * 100))
    batch = rng.gamma(2.0, size=(b, 11)) * rng.normal(size=11)  # skewed, different scales
    config = PrecalcConfig(ALL_MOMENTS, p=p, trim=trim)
    ours = precalc(torch.from_numpy(batch), config).numpy()
    expected = reference(batch, config)
    if b == 2 or (trim and b - 2 * min(int(p * b), (b - 1) // 2) < 3):
        # scipy's skew/kurt of 1-2 points is 0/-2 or NaN; compare the rest only
        mask = np.isfinite(expected)
        assert np.allclose(ours[mask], expected[mask], rtol=1e-9, atol=1e-9)
    else:
        assert np.allclose(ours, expected, rtol=1e-9, atol=1e-9)


def test_batched_input_equals_per_sample():
    rng = np.random.default_rng(1)
    batches = torch.from_numpy(rng.normal(size=(5, 16, 9)))
    config = PrecalcConfig(("mean", "kurt", "q_high"), p=0.2)
    stacked = precalc(batches, config)
    assert stacked.shape == (5, 9 * 3)
    for i in range(5):
        assert torch.allclose(stacked[i], precalc(batches[i], config))


def test_subset_layout_is_feature_major_and_canonical():
    batch = torch.arange(12, dtype=torch.float64).reshape(4, 3)
    out = precalc(batch, PrecalcConfig(("std", "mean")))  # given out of order: stored as (mean, std)
    assert out.shape == (6,)
    assert torch.allclose(out[0::2], batch.mean(0)) and torch.allclose(out[1::2], batch.std(0, unbiased=False))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_batch_of_one_is_finite(dtype):
    batch = torch.randn(1, 20, dtype=dtype)
    out = precalc(batch, PrecalcConfig(ALL_MOMENTS, p=0.3, trim=True)).reshape(20, -1)
    assert torch.isfinite(out).all()
    assert torch.allclose(out[:, ALL_MOMENTS.index("mean")], batch[0])
    assert (out[:, [ALL_MOMENTS.index(m) for m in ("std", "var", "skew", "kurt")]] == 0).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_constant_features_are_finite_and_zero_spread(dtype):
    rng = np.random.default_rng(2)
    batch = torch.from_numpy(rng.normal(size=(100, 6))).to(dtype)
    batch[:, 2] = 0.1234567  # a value whose mean is not exact in binary
    batch[:, 4] = 0.0
    out = precalc(batch, PrecalcConfig(ALL_MOMENTS)).reshape(6, -1)
    assert torch.isfinite(out).all()
    for column in (2, 4):
        assert (out[column, [ALL_MOMENTS.index(m) for m in ("skew", "kurt")]] == 0).all()
        assert out[column, ALL_MOMENTS.index("std")] < 1e-6


def test_rejects_bad_config_and_shape():
    with pytest.raises(ValueError):
        PrecalcConfig(("mean", "entropy"))
    with pytest.raises(ValueError):
        PrecalcConfig(p=0.7)
    with pytest.raises(ValueError):
        precalc(torch.zeros(0, 4))
