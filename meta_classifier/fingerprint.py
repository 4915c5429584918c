"""The fingerprint network: a frozen ImageNet backbone mapping each image to one feature vector.

Images of any size, grey or colour, uint8 in [0, 255] or float in [0, 1], (H, W, C) or video (T, H, W, C), are
resized so the long side equals `input_size` keeping the aspect ratio, padded to a square (never stretched), grey
is repeated to 3 channels, and the backbone's own normalisation is applied. A video is fingerprinted from its
frames: up to VIDEO_FRAMES of them, evenly spaced, each through the network, their features averaged (a video set
then looks like what its frames show over time, not like one chosen still). Output: (n, feature_dim) float32.
"""
from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from learner.backbones import Backbone, build_first_available

DEFAULT_BACKBONES = ("resnet18", "efficientnet_lite0")
DEFAULT_INPUT_SIZE = 96
VIDEO_FRAMES = 8  # frames per video that are fingerprinted (their features averaged)


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def frames_of(example: np.ndarray, count: int = VIDEO_FRAMES) -> list[np.ndarray]:
    """The frames to fingerprint: an image (H, W[, C]) is one; a video (T, H, W, C) gives up to `count` frames
    spread evenly from the first to the last."""
    example = np.asarray(example)
    if example.ndim == 2:
        return [example[:, :, None]]
    if example.ndim == 3:
        return [example]
    if example.ndim == 4 and len(example):
        return [example[i] for i in np.unique(np.round(np.linspace(0, len(example) - 1, count)).astype(int))]
    raise ValueError(f"expected an image (H,W,C) or video (T,H,W,C), got shape {example.shape}")


def letterbox(image: np.ndarray, size: int) -> torch.Tensor:
    """One image (H, W, C) -> float tensor (3, size, size) in [0, 1]: aspect kept, zero-padded, grey -> RGB."""
    image = np.asarray(image)
    tensor = torch.from_numpy(np.array(image)).permute(2, 0, 1).float()  # a copy: inputs may be read-only
    if image.dtype == np.uint8:
        tensor = tensor / 255.0
    channels, height, width = tensor.shape
    if channels == 1:
        tensor = tensor.expand(3, height, width)
    elif channels != 3:
        tensor = tensor[:3] if channels > 3 else tensor[:1].expand(3, height, width)
    scale = size / max(height, width)
    new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
    resized = F.interpolate(tensor[None], size=(new_h, new_w), mode="bilinear", align_corners=False,
                            antialias=scale < 1.0)[0].clamp_(0.0, 1.0)
    out = torch.zeros(3, size, size)
    top, left = (size - new_h) // 2, (size - new_w) // 2
    out[:, top:top + new_h, left:left + new_w] = resized
    return out


class FingerprintNet:
    """Frozen backbone + letterbox preprocessing; `identity` names exactly which network made a fingerprint."""

    def __init__(self, backbones: Sequence[str] = DEFAULT_BACKBONES, input_size: int = DEFAULT_INPUT_SIZE,
                 batch_size: int = 64, backbone: Backbone | None = None) -> None:
        if backbone is None:
            backbone, self.skipped = build_first_available(list(backbones))
        else:
            self.skipped = []
        self.backbone = backbone
        self.input_size = int(input_size)
        self.batch_size = int(batch_size)
        self.model = backbone.features.eval().to(memory_format=torch.channels_last)
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)
        self._identity: dict | None = None

    @property
    def feature_dim(self) -> int:
        return self.backbone.feature_dim

    @property
    def identity(self) -> dict:
        """Backbone name, weights file name and SHA-256, input size: classifiers trained on one fingerprint
        network are only valid for exactly that network."""
        if self._identity is None:
            self._identity = {
                "backbone": self.backbone.name,
                "weights_file": Path(self.backbone.weights_path).name,
                "weights_sha256": file_sha256(self.backbone.weights_path),
                "input_size": self.input_size,
                "feature_dim": self.feature_dim,
            }
        return self._identity

    def preprocess(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        batch = torch.stack([letterbox(image, self.input_size) for image in images])
        return self.backbone.normalize(batch).contiguous(memory_format=torch.channels_last)

    def __call__(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Images or videos -> (n, feature_dim) float32 fingerprints (a video's: the mean over its frames)."""
        frames: list[np.ndarray] = []
        owners: list[int] = []
        for index, example in enumerate(images):
            picked = frames_of(example)
            frames += picked
            owners += [index] * len(picked)
        chunks = []
        with torch.inference_mode():
            for start in range(0, len(frames), self.batch_size):
                chunk = self.preprocess(frames[start:start + self.batch_size])
                chunks.append(self.model(chunk).float().numpy())
        if not chunks:
            return np.zeros((0, self.feature_dim), dtype=np.float32)
        features = np.concatenate(chunks).astype(np.float32, copy=False)
        if len(features) == len(images):  # one frame each: nothing to average
            return features
        sums = np.zeros((len(images), self.feature_dim), dtype=np.float64)
        np.add.at(sums, np.asarray(owners), features)
        return (sums / np.bincount(owners, minlength=len(images))[:, None]).astype(np.float32)


def benchmark(net: FingerprintNet, n_images: int = 256, image_shape: tuple[int, int, int] = (32, 32, 3),
              seed: int = 0) -> dict:
    """Milliseconds per image (preprocessing + forward) on random uint8 images, after one warm-up batch."""
    rng = np.random.default_rng(seed)
    images = list(rng.integers(0, 256, size=(n_images, *image_shape), dtype=np.uint8))
    net(images[: net.batch_size])
    start = time.perf_counter()
    net(images)
    seconds = time.perf_counter() - start
    return {"backbone": net.backbone.name, "input_size": net.input_size, "batch_size": net.batch_size,
            "image_shape": list(image_shape), "n_images": n_images, "threads": torch.get_num_threads(),
            "ms_per_image": 1000.0 * seconds / n_images}
