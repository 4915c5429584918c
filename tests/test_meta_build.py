"""scripts.build_meta_dataset end to end on small real datasets: AutoDL write/read-back, fingerprints, catalogue,
and the duplicate check on the real case (miniciao holds the same images as mini-cifar)."""
import json

import numpy as np
import pytest

from meta_classifier.known import load_fingerprints
from scripts.build_meta_dataset import MINICIAO, default_sources, main


def test_build_catalogue_and_skip_duplicate(tmp_path, autodl_raw_root):
    out, work = tmp_path / "meta", tmp_path / "known"
    code = main(["--raw-root", str(autodl_raw_root), "--out", str(out), "--work-dir", str(work),
                 "--only", "raw:mini_cifar", "raw:yale_faces", f"autodl:{autodl_raw_root / MINICIAO}",
                 "--max-images", "60", "--variant-images", "12"])
    assert code == 0
    catalogue = json.loads((out / "catalogue.json").read_text())
    assert [e["name"] for e in catalogue["datasets"]] == ["mini_cifar", "yale_faces"]  # miniciao skipped
    assert catalogue["fingerprint_network"]["feature_dim"] > 0
    entry = catalogue["datasets"][1]
    assert entry["classes"] == 15 and entry["image_shape"]["max"] == [32, 32, 1]
    assert (work / "yale_faces" / "yale_faces.data" / "train" / "metadata.textproto").is_file()
    with np.load(out / entry["file"]) as npz:
        assert npz["features"].dtype == np.float16
        counts = np.bincount(npz["variant"])
        assert counts[0] == entry["samples"]["meta_train"] + entry["samples"]["meta_test"] == 60
        assert list(counts[1:]) == [12, 12, 12]
    train = load_fingerprints(out, "train")
    test = load_fingerprints(out, "test")
    assert train.names == test.names == ["mini_cifar", "yale_faces"]
    assert sum(len(g.features) for g in test.groups if g.variant == 0) == sum(
        e["samples"]["meta_test"] for e in catalogue["datasets"])


def test_a_real_video_set_is_fingerprinted_from_its_frames(tmp_path, autodl_raw_root):
    clips = autodl_raw_root / "gtsrb_track_clips_video"
    if not clips.is_dir():
        pytest.skip(f"{clips} not found")
    out = tmp_path / "meta"
    code = main(["--raw-root", str(autodl_raw_root), "--out", str(out), "--work-dir", str(tmp_path / "known"),
                 "--only", "raw:gtsrb_track_clips_video", "--max-images", "24", "--variant-images", "6"])
    assert code == 0
    entry = json.loads((out / "catalogue.json").read_text())["datasets"][0]
    assert entry["classes"] == 6 and entry["image_shape"]["max"] == [8, 32, 32, 3]  # 8 of the 30 frames
    with np.load(out / entry["file"]) as npz:
        assert np.bincount(npz["variant"]).tolist() == [24, 6, 6, 6]
        assert np.isfinite(npz["features"].astype(np.float32)).all()


def test_default_sources_hold_the_video_set_but_not_mini_kth(autodl_raw_root):
    sources = default_sources(autodl_raw_root)
    assert "raw:gtsrb_track_clips_video" in sources and "raw:mini_kth" not in sources
