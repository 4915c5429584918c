"""The precalculation layer: a batch of fingerprints (b, f) -> per-feature statistics across the batch (f * m,).

Statistics (the "moments"; which ones is a hyperparameter): mean, median, std, var, skew, kurt, q_low, q_high,
where q_low / q_high are the p- and (1-p)-quantiles (numpy's default linear interpolation). With `trim=True` the
moments are computed, as in the paper's code, on the batch with a fraction p cut off each end of every feature's
sorted values (at least one value is kept).

Conventions (those of numpy/scipy defaults, so tests can compare): std and var are population values (ddof=0);
skew is scipy.stats.skew(bias=True); kurt is Fisher's excess kurtosis, scipy.stats.kurtosis(bias=True). Where the
variance is zero (b = 1, or a constant feature) scipy answers NaN; here skew and kurt are 0 there, so the output
never holds NaN or inf for finite input.

Works on (b, f) or batched (n, b, f) torch tensors; output layout is feature-major: [f0.m0, f0.m1, ..., f1.m0, ...].
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

ALL_MOMENTS = ("mean", "median", "std", "var", "skew", "kurt", "q_low", "q_high")

# Relative variance threshold below which a feature counts as constant: rounding in (x - mean) leaves
# variance ~ (eps * |x|)^2 even when every value is equal, and skew/kurt divided by that would be noise.
_CONSTANT_RTOL = {torch.float16: 1e-3, torch.bfloat16: 1e-2, torch.float32: 1e-6, torch.float64: 1e-12}


def quantile_sorted(sorted_values: torch.Tensor, q: float) -> torch.Tensor:
    """Quantile q along the last dim of already sorted values, linear interpolation (numpy 'linear')."""
    b = sorted_values.shape[-1]
    position = q * (b - 1)
    lower = int(position)
    upper = min(lower + 1, b - 1)
    weight = position - lower
    low_values = sorted_values[..., lower]
    if weight == 0.0 or upper == lower:
        return low_values
    return low_values + weight * (sorted_values[..., upper] - low_values)


def trimmed(sorted_values: torch.Tensor, p: float) -> torch.Tensor:
    """Drop floor(p * b) values from each end of sorted values along the last dim, keeping at least one."""
    b = sorted_values.shape[-1]
    cut = min(int(p * b), (b - 1) // 2)
    return sorted_values[..., cut:b - cut]


def sort_per_feature(batch: torch.Tensor) -> torch.Tensor:
    """(..., b, f) -> (..., f, b) sorted along the last dim. On CPU numpy's vectorised sort is ~15x faster than
    torch.sort here (measured: 6.6 vs 100 ms for 32 x 64 x 1280 float32), and nothing is differentiated."""
    by_feature = batch.transpose(-1, -2)
    if by_feature.device.type == "cpu" and not by_feature.requires_grad:
        return torch.from_numpy(np.sort(by_feature.contiguous().numpy(), axis=-1))
    return torch.sort(by_feature, dim=-1).values


@dataclass(frozen=True)
class PrecalcConfig:
    moments: tuple[str, ...] = ALL_MOMENTS
    p: float = 0.1
    trim: bool = False

    def __post_init__(self) -> None:
        unknown = [m for m in self.moments if m not in ALL_MOMENTS]
        if unknown or not self.moments:
            raise ValueError(f"moments must be a non-empty subset of {ALL_MOMENTS}, got {self.moments}")
        if not 0.0 <= self.p <= 0.5:
            raise ValueError(f"p must lie in [0, 0.5], got {self.p}")
        # keep a canonical order so the output layout depends only on the set
        object.__setattr__(self, "moments", tuple(m for m in ALL_MOMENTS if m in self.moments))

    @property
    def n_moments(self) -> int:
        return len(self.moments)

    def to_dict(self) -> dict:
        return {"moments": list(self.moments), "p": self.p, "trim": self.trim}


def precalc(batch: torch.Tensor, config: PrecalcConfig | None = None) -> torch.Tensor:
    """(b, f) -> (f * m,) or (n, b, f) -> (n, f * m): per-feature statistics across the batch (dim -2)."""
    config = config or PrecalcConfig()
    if batch.ndim not in (2, 3) or batch.shape[-2] < 1:
        raise ValueError(f"precalc expects (b, f) or (n, b, f) with b >= 1, got shape {tuple(batch.shape)}")
    values = sort_per_feature(batch)  # (..., f, b): reductions below run along the last, contiguous dim
    if config.trim:
        values = trimmed(values, config.p)
    stats: dict[str, torch.Tensor] = {}
    mean = values.mean(dim=-1)
    stats["mean"] = mean
    if "median" in config.moments:
        stats["median"] = quantile_sorted(values, 0.5)
    if "q_low" in config.moments:
        stats["q_low"] = quantile_sorted(values, config.p)
    if "q_high" in config.moments:
        stats["q_high"] = quantile_sorted(values, 1.0 - config.p)
    centred = values - mean.unsqueeze(-1)
    squared = centred * centred
    m2 = squared.mean(dim=-1)
    stats["var"] = m2
    stats["std"] = m2.sqrt()
    if "skew" in config.moments or "kurt" in config.moments:
        scale = values.abs().amax(dim=-1)
        constant = m2 <= (_CONSTANT_RTOL.get(batch.dtype, 1e-6) * scale) ** 2
        safe_m2 = torch.where(constant, torch.ones_like(m2), m2)
        zero = torch.zeros_like(m2)
        if "skew" in config.moments:
            m3 = (squared * centred).mean(dim=-1)
            stats["skew"] = torch.where(constant, zero, m3 / safe_m2.pow(1.5))
        if "kurt" in config.moments:
            m4 = (squared * squared).mean(dim=-1)
            stats["kurt"] = torch.where(constant, zero, m4 / (safe_m2 * safe_m2) - 3.0)
    return torch.stack([stats[m] for m in config.moments], dim=-1).flatten(start_dim=-2)


def output_dim(feature_dim: int, config: PrecalcConfig) -> int:
    return feature_dim * config.n_moments
