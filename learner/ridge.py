"""Closed-form ridge regression on frozen pooled features or raw pixels: the heads behind the first, fast
predictions.

Features are centred and scaled with the train statistics; targets are the label matrix (0/1). Solving one
(D x D) or (N x N) system in float64 takes milliseconds at these sizes, far less than one epoch of training.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass
class RidgeHead:
    mean: torch.Tensor
    scale: torch.Tensor
    weight: torch.Tensor  # (D, K)
    bias: torch.Tensor    # (K,)

    def scores(self, features: torch.Tensor) -> torch.Tensor:
        x = (features.double() - self.mean) / self.scale
        return x @ self.weight + self.bias


def fit_ridge(features: torch.Tensor, targets: torch.Tensor, l2: float) -> RidgeHead:
    """Fit scores = standardise(features) @ W + b to `targets` (N, K) with penalty l2 * |W|^2."""
    x = features.double()
    y = targets.double()
    mean = x.mean(dim=0)
    # One scale for all features (not per feature): near-constant features would otherwise get huge weights,
    # which blow up when the head initialises fine-tuning and the features start to move.
    scale = x.std(dim=0, unbiased=False).pow(2).mean().sqrt().clamp_min(1e-6).expand(x.shape[1])
    x = (x - mean) / scale
    y_mean = y.mean(dim=0)
    y = y - y_mean
    n, d = x.shape
    if n < d:  # dual form: solve the smaller (N x N) system
        gram = x @ x.T + l2 * torch.eye(n, dtype=x.dtype)
        weight = x.T @ torch.linalg.solve(gram, y)
    else:
        gram = x.T @ x + l2 * torch.eye(d, dtype=x.dtype)
        weight = torch.linalg.solve(gram, x.T @ y)
    return RidgeHead(mean, scale, weight, y_mean)


def pixel_features(examples: np.ndarray, side: int, batch: int = 256) -> torch.Tensor:
    """Raw pixels of uint8 examples (N, F, R, R, C) averaged down to side x side, flattened (N, side*side*C) in
    [0, 1]; video frames averaged. The inputs of the very first, sub-second head."""
    out = []
    for i in range(0, len(examples), batch):
        frames_mean = torch.from_numpy(examples[i:i + batch]).float().mean(dim=1)  # (B, R, R, C)
        pooled = F.adaptive_avg_pool2d(frames_mean.permute(0, 3, 1, 2), side)
        out.append(pooled.flatten(1) / 255.0)
    return torch.cat(out)
