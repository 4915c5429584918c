"""scripts.build_meta_dataset end to end on small real datasets: AutoDL write/read-back, fingerprints, catalogue,
and the duplicate check on the real case (miniciao holds the same images as mini-cifar)."""
import json

import numpy as np

from meta_classifier.known import load_fingerprints
from scripts.build_meta_dataset import MINICIAO, main


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
