"""Input sides: the progressive-resizing ladder, and which side and how many examples fit in memory.

Data is decoded once at the top side (`max_side`, or the native side when that is smaller and fixed) and kept as
uint8; the network sees it resized on the device to the current side. Training starts at `side`. On a validation
plateau the side grows by `side_growth` (rounded to a multiple of ROUND_TO, by ROUND_TO at least) up to the top
(learner.schedule decides when).
"""
from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F

# Grown sides are rounded to multiples of this: shapes that convolution kernels (GPU tensor cores above all) suit.
ROUND_TO = 8
# The smallest side a test set is stored at to fit memory: smaller images hold almost nothing to learn from.
MIN_STORED_SIDE = 8


def next_side(current: int, maximum: int, growth: float) -> int | None:
    """The side after `current`: x growth rounded to a multiple of ROUND_TO, at least ROUND_TO more, at most
    `maximum` (which need not be a multiple); None at the top."""
    if current >= maximum:
        return None
    grown = int(round(current * growth / ROUND_TO)) * ROUND_TO
    return min(maximum, max(grown, current + ROUND_TO))


def side_ladder(start: int, maximum: int, growth: float) -> list[int]:
    """Every side progressive resizing may train at, from `start` up."""
    sides = [start]
    while (following := next_side(sides[-1], maximum, growth)) is not None:
        sides.append(following)
    return sides


def cost_ratio(old: int, new: int) -> float:
    """How much more a forward/backward pass costs at side `new` than at `old` (pixels)."""
    return (new / old) ** 2


def side_that_fits(side: int, count: int | None, frames: int, channels: int, memory_bytes: int) -> int:
    """The largest side <= `side` (at least MIN_STORED_SIDE) at which `count` uint8 (F, side, side, C) examples
    fit in `memory_bytes`: the whole test set is kept, so a huge one is stored smaller instead of exhausting
    memory mid-run. `count` None (unknown) keeps `side`."""
    if not count:
        return side
    per_pixel = count * frames * (channels if channels > 0 else 3)
    return max(MIN_STORED_SIDE, min(side, int((memory_bytes / per_pixel) ** 0.5)))


def physical_memory_bytes() -> int:
    """RAM of this machine (Linux/macOS sysconf); 16 GiB when it cannot be read."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 16 * 2**30


def affordable_samples(max_samples: int, memory_mb: int, frames: int, side: int, channels: int) -> int:
    """Train examples to keep: `max_samples`, or fewer when they would not fit in `memory_mb` as uint8
    (F, side, side, C) arrays; channels <= 0 (unknown in the metadata) counts as 3."""
    per_example = frames * side * side * (channels if channels > 0 else 3)
    return max(1, min(max_samples, memory_mb * 2**20 // per_example))


def resize_examples(examples: np.ndarray, side: int, chunk: int = 512) -> np.ndarray:
    """uint8 (N, F, R, R, C) -> uint8 (N, F, side, side, C): the same bilinear resize as Classifier.images
    (antialiased when shrinking), done once, in chunks, so that memory stays bounded."""
    count, frames, stored, _, channels = examples.shape
    if stored == side:
        return examples
    out = np.empty((count, frames, side, side, channels), dtype=np.uint8)
    for i in range(0, count, chunk):
        x = torch.from_numpy(examples[i:i + chunk]).reshape(-1, stored, stored, channels).permute(0, 3, 1, 2)
        x = F.interpolate(x.float(), size=(side, side), mode="bilinear", antialias=side < stored, align_corners=False)
        x = x.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
        out[i:i + chunk] = x.reshape(-1, frames, side, side, channels).numpy()
    return out
