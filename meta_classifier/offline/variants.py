"""Whole-dataset augmentations ("variants") of a known dataset, so the meta-classifier learns what a dataset looks
like rather than its image size or colour format.

Each variant transforms every image of a dataset the same way (a real dataset is homogeneous): a lower
resolution, grey <-> colour, or random crops. Images are float32 (H, W, C) in [0, 1], as the AutoDL reader gives
them; outputs are too. Videos (T, H, W, C) get one draw of the randomness for all their frames (one crop per
clip, as a camera would frame it).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

VARIANTS = ("original", "half_resolution", "colour_swap", "random_crop")


def _resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    tensor = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)[None]
    out = F.interpolate(tensor, size=(height, width), mode="bilinear", align_corners=False, antialias=True)
    return out[0].permute(1, 2, 0).clamp(0.0, 1.0).numpy()


def half_resolution(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Half the side length (at least 8 px): the look of the same data stored smaller."""
    height, width = image.shape[:2]
    return _resize(image, max(8, height // 2), max(8, width // 2))


def colour_swap(image: np.ndarray, rng: np.random.Generator, tint: np.ndarray | None = None) -> np.ndarray:
    """Colour -> grey (luma); grey -> colour by one per-dataset tint (channel gains), so grey digits become
    e.g. bluish digits, as a colour scan of the same material would."""
    if image.shape[2] == 3:
        grey = image @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        return grey[:, :, None].astype(np.float32)
    gains = tint if tint is not None else rng.uniform(0.4, 1.0, size=3).astype(np.float32)
    return np.clip(image[:, :, :1] * gains[None, None, :], 0.0, 1.0).astype(np.float32)


def random_crop(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random crop of 60-90 % of each side (kept at its own, smaller, size)."""
    height, width = image.shape[:2]
    crop_h = max(4, int(round(height * rng.uniform(0.6, 0.9))))
    crop_w = max(4, int(round(width * rng.uniform(0.6, 0.9))))
    top = int(rng.integers(0, height - crop_h + 1))
    left = int(rng.integers(0, width - crop_w + 1))
    return np.ascontiguousarray(image[top:top + crop_h, left:left + crop_w])


Transform = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def _each_frame(transform: Transform, example: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An image transformed; a video's frames all transformed with the same random draw."""
    if example.ndim == 3:
        return transform(example, rng)
    seed = int(rng.integers(2**32))
    return np.stack([transform(frame, np.random.default_rng(seed)) for frame in example])


def make_variant(name: str, images: list[np.ndarray], seed: int) -> list[np.ndarray]:
    """Apply variant `name` to every image (H, W, C) or video (T, H, W, C), float32 in [0, 1]; deterministic
    given seed."""
    rng = np.random.default_rng(seed)
    if name == "original":
        return list(images)
    transforms: dict[str, Transform] = {"half_resolution": half_resolution, "random_crop": random_crop}
    if name == "colour_swap":
        tint = rng.uniform(0.4, 1.0, size=3).astype(np.float32)  # one tint for the whole dataset
        transforms[name] = lambda image, generator: colour_swap(image, generator, tint)
    if name not in transforms:
        raise ValueError(f"unknown variant {name!r}; choose from {', '.join(VARIANTS)}")
    return [_each_frame(transforms[name], image, rng) for image in images]
