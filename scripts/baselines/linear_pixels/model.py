"""Trivial baseline for the benchmark: a linear classifier (ridge, closed form) on raw pixels downscaled to
16x16 (first frame of videos). One train call reads all train data and fits; one prediction; then done.

Run it as a code directory: python -m ingestion --code_dir scripts/baselines/linear_pixels ...
"""
from __future__ import annotations

import numpy as np

from autodl_format.frameworks import tf

SIDE = 16
L2 = 1.0


def _pixels(dataset: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """(N, SIDE*SIDE*C) float32 pixels and (N, K) labels, read once in dataset order."""
    resized = dataset.map(lambda x, y: (tf.image.resize(x[0], (SIDE, SIDE)), y)).batch(256)
    xs, ys = [], []
    for x, y in resized:
        xs.append(x.numpy().reshape(len(x), -1))
        ys.append(y.numpy())
    return np.concatenate(xs), np.concatenate(ys)


class Model:
    def __init__(self, metadata) -> None:
        self.metadata = metadata
        self.done_training = False
        self.weights: np.ndarray | None = None

    def train(self, dataset, remaining_time_budget: float | None = None) -> None:
        x, y = _pixels(dataset)
        self.mean = x.mean(axis=0)
        x = np.hstack([x - self.mean, np.ones((len(x), 1), dtype=np.float32)])
        gram = x.T @ x + L2 * np.eye(x.shape[1], dtype=np.float32)
        self.weights = np.linalg.solve(gram.astype(np.float64), (x.T @ y).astype(np.float64))
        self.done_training = True

    def test(self, dataset, remaining_time_budget: float | None = None) -> np.ndarray:
        x, _ = _pixels(dataset)
        x = np.hstack([x - self.mean, np.ones((len(x), 1), dtype=np.float32)])
        return x @ self.weights
