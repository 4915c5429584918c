"""learner.resolution: the progressive-resizing ladder and the memory cap on kept train examples."""
from learner.resolution import affordable_samples, cost_ratio, next_resolution


def test_the_side_grows_by_half_in_multiples_of_eight_up_to_the_top():
    ladder, side = [64], 64
    while (side := next_resolution(side, 160)) is not None:
        ladder.append(side)
    assert ladder == [64, 96, 144, 160]
    assert next_resolution(16, 512) == 24 and next_resolution(128, 128) is None
    assert cost_ratio(64, 128) == 4.0


def test_kept_examples_shrink_when_they_would_not_fit_in_memory():
    assert affordable_samples(20000, 4096, frames=1, side=128, channels=3) == 20000  # 0.98 GB
    assert affordable_samples(20000, 4096, frames=16, side=128, channels=3) == 4096 * 2**20 // (16 * 128 * 128 * 3)
    assert affordable_samples(20000, 100, frames=1, side=64, channels=1) == 20000
    assert affordable_samples(20000, 16, frames=32, side=512, channels=-1) == 1  # unknown channels count as 3
