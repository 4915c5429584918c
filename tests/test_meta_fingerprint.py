"""Fingerprint network: letterbox preprocessing and real backbone features on real images."""
import numpy as np
import pytest
import torch

from meta_classifier.fingerprint import FingerprintNet, benchmark, frames_of, letterbox
from meta_classifier.offline.variants import VARIANTS, make_variant


def test_letterbox_keeps_aspect_ratio_and_pads():
    image = np.full((10, 20, 1), 255, dtype=np.uint8)  # wide white grey image
    out = letterbox(image, 32)
    assert out.shape == (3, 32, 32)
    rows = out[0].sum(1) > 0
    assert rows.sum() == 16 and out[:, :8].abs().sum() == 0 and out[:, 24:].abs().sum() == 0
    assert torch.allclose(out[:, 8:24], torch.ones(3, 16, 32))


def test_letterbox_float_input_and_colour_channels_kept():
    rng = np.random.default_rng(0)
    image = rng.random((32, 32, 3)).astype(np.float32)
    out = letterbox(image, 32)
    assert torch.allclose(out, torch.from_numpy(image).permute(2, 0, 1), atol=1e-6)


def test_videos_give_evenly_spaced_frames():
    video = np.stack([np.full((4, 4, 1), v, dtype=np.uint8) for v in range(20)])
    assert [int(frame[0, 0, 0]) for frame in frames_of(video)] == [0, 3, 5, 8, 11, 14, 16, 19]
    assert len(frames_of(video[:3])) == 3 and len(frames_of(video[0])) == 1  # an image is its own frame


@pytest.fixture(scope="module")
def mnist_images(autodl_raw_root):
    from autodl_format.offline.sources import from_shared_raw

    return from_shared_raw("mnist_test", autodl_raw_root).images[:16]


@pytest.fixture(scope="module")
def net():
    torch.set_num_threads(1)
    return FingerprintNet(batch_size=8)


def test_real_backbone_features(net, mnist_images):
    features = net(mnist_images[:12])
    assert features.shape == (12, net.feature_dim) and features.dtype == np.float32
    assert np.isfinite(features).all() and features.std(0).mean() > 0
    again = FingerprintNet(backbone=net.backbone, batch_size=5)(mnist_images[:12])  # other chunking
    assert np.allclose(features, again, atol=1e-4)
    identity = net.identity
    assert identity["input_size"] == 96 and len(identity["weights_sha256"]) == 64


def test_a_video_is_fingerprinted_by_the_mean_over_its_frames(net, mnist_images):
    video = np.stack(mnist_images[:12])  # 12 different digits as the frames of one clip
    np.testing.assert_allclose(net([video])[0], net(frames_of(video)).mean(axis=0), atol=1e-4)
    still = np.stack([mnist_images[0]] * 5)
    np.testing.assert_allclose(net([still, mnist_images[1]]), net(mnist_images[:2]), atol=1e-4)


def test_video_variants_treat_all_frames_alike(mnist_images):
    frame = mnist_images[0].astype(np.float32) / 255
    video = np.stack([frame] * 4)
    for name in VARIANTS:
        out = make_variant(name, [video], seed=2)[0]
        assert out.ndim == 4 and len(out) == 4
        assert all(np.array_equal(out[0], other) for other in out[1:])  # one crop, one tint for the whole clip
    assert make_variant("colour_swap", [video], seed=2)[0].shape == (4, 28, 28, 3)


def test_variants_change_the_look(mnist_images):
    floats = [image.astype(np.float32) / 255 for image in mnist_images[:4]]
    for name in VARIANTS:
        out = make_variant(name, floats, seed=1)
        assert len(out) == 4 and all(o.dtype == np.float32 and 0 <= o.min() and o.max() <= 1 for o in out)
    assert make_variant("half_resolution", floats, 1)[0].shape == (14, 14, 1)
    assert make_variant("colour_swap", floats, 1)[0].shape == (28, 28, 3)


def test_benchmark_reports_ms_per_image(net):
    report = benchmark(net, n_images=16)
    assert report["ms_per_image"] > 0 and report["backbone"] == net.backbone.name
