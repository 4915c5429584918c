"""learner.sides: the progressive-resizing ladder, the stored sides and the memory caps."""
import numpy as np
import torch

from learner.backbones import build_backbone
from learner.network import Classifier
from learner.sides import (affordable_samples, cost_ratio, next_side, physical_memory_bytes, resize_examples,
                           side_ladder, side_that_fits)


def test_the_side_grows_by_half_in_multiples_of_eight_up_to_the_top():
    assert side_ladder(64, 160, 1.5) == [64, 96, 144, 160]  # every side the run may train at (GPU warm-up)
    assert side_ladder(64, 64, 1.5) == [64]
    assert next_side(16, 512, 1.5) == 24 and next_side(128, 128, 1.5) is None
    assert cost_ratio(64, 128) == 4.0


def test_kept_examples_shrink_when_they_would_not_fit_in_memory():
    assert affordable_samples(20000, 4096, frames=1, side=128, channels=3) == 20000  # 0.98 GB
    assert affordable_samples(20000, 4096, frames=16, side=128, channels=3) == 4096 * 2**20 // (16 * 128 * 128 * 3)
    assert affordable_samples(20000, 100, frames=1, side=64, channels=1) == 20000
    assert affordable_samples(20000, 16, frames=32, side=512, channels=-1) == 1  # unknown channels count as 3


def test_a_test_set_too_large_for_memory_is_stored_at_a_smaller_side():
    assert side_that_fits(128, 10_000, frames=1, channels=3, memory_bytes=8 * 2**30) == 128
    side = side_that_fits(128, 10_000_000, frames=1, channels=3, memory_bytes=8 * 2**30)
    assert side == 16 and 10_000_000 * side * side * 3 <= 8 * 2**30 < 10_000_000 * (side + 1) ** 2 * 3
    assert side_that_fits(128, None, frames=4, channels=1, memory_bytes=1) == 128  # unknown size: kept
    assert side_that_fits(128, 10**12, frames=1, channels=1, memory_bytes=1) == 8  # never below 8 px
    assert physical_memory_bytes() > 2**30


def test_examples_are_resized_once_like_the_network_input():
    rng = np.random.default_rng(0)
    examples = rng.integers(0, 256, size=(5, 2, 28, 28, 1), dtype=np.uint8)
    assert resize_examples(examples, 28) is examples
    for side in (16, 64):
        resized = resize_examples(examples, side, chunk=2)
        assert resized.shape == (5, 2, side, side, 1) and resized.dtype == np.uint8
        net = Classifier(build_backbone("efficientnet_lite0"), num_classes=2, dropout=0.1, freeze_fraction=0.0)
        direct = net.images(torch.from_numpy(examples), side)
        once = net.images(torch.from_numpy(resized))
        assert (direct - once).abs().max() < 0.02  # only uint8 rounding apart (1/255 / std 0.5)
