"""Fingerprint network: letterbox preprocessing and real backbone features on real images."""
import numpy as np
import pytest
import torch

from meta_classifier.fingerprint import FingerprintNet, benchmark, letterbox, single_frame
from meta_classifier.variants import VARIANTS, make_variant


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


def test_video_uses_middle_frame():
    video = np.stack([np.full((4, 4, 1), v, dtype=np.uint8) for v in (0, 100, 200)])
    assert single_frame(video)[0, 0, 0] == 100


@pytest.fixture(scope="module")
def mnist_images(autodl_raw_root):
    from autodl_format.sources import from_shared_raw

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
