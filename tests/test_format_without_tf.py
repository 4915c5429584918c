"""Reading AutoDL files with and without TensorFlow gives the same examples and labels (issue 27).

Each dataset is read twice: in this process (TensorFlow's tf.data) and in a subprocess where TensorFlow cannot be
imported (tests/without_tensorflow.py: protobuf records, Pillow decoding). Real data: the official miniciao files,
and sets written from ../shared/datasets_raw (a JPEG photo set, a PNG grey set, the video set), plus dense and
variable-size sets. JPEG decoders may differ by a few levels (measured: 1-2 on average, at most 19 on 32 px video frames; reduced DCT
decodes agree exactly); PNG and dense values must agree exactly, and the learner's uint8 reads within the
difference of the two bilinear resizers.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from autodl_format.errors import DatasetError
from autodl_format.offline.convert import make_dataset, subsample
from autodl_format.offline.sources import from_shared_raw
from autodl_format.reader import AutoDLDataset, load_task
from scripts.gpu_benchmark import read_scores, summarise
from tests import REPO_ROOT
from tests.learner_datasets import colour_variable_sets, digits_sets, write
from tests.without_tensorflow import snapshot

HELPER = REPO_ROOT / "tests" / "without_tensorflow.py"
JPEG_SETS = {"hurricane_damage_sat", "gtsrb_track_clips_video"}


def _without_tf(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(HELPER), *map(str, args)], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=600)


@pytest.fixture(scope="module")
def datasets(tmp_path_factory, autodl_raw_root, miniciao_dir) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sets")
    found = {"miniciao": miniciao_dir}
    for name, count, encoding in (("hurricane_damage_sat", 40, "jpeg"), ("quickdraw_6cls_28px", 240, "png"),
                                  ("gtsrb_track_clips_video", 12, "jpeg")):
        image_set = subsample(from_shared_raw(name, autodl_raw_root), count, seed=0)
        found[name] = make_dataset(image_set, root, name, 0.25, encoding, seed=0)
    found["digits_dense"] = write(digits_sets(24, 8, classes=4), root, "digits_dense", encoding="dense")
    found["variable"] = write(colour_variable_sets(np.random.default_rng(0), 12, 6), root, "variable", "jpeg")
    return found


@pytest.fixture(scope="module")
def both_ways(datasets, tmp_path_factory) -> dict[str, tuple[dict, dict]]:
    out = tmp_path_factory.mktemp("snapshots")
    (out / "tf").mkdir()
    (out / "no_tf").mkdir()
    done = _without_tf("snapshot", out / "no_tf", *datasets.values())
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.count("TensorFlow cannot be imported") == 1  # the path is chosen and logged once
    pairs = {}
    for name, path in datasets.items():
        snapshot(path, out / "tf" / f"{path.name}.npz")
        pairs[name] = (dict(np.load(out / "tf" / f"{path.name}.npz")), dict(np.load(out / "no_tf" / f"{path.name}.npz")))
    return pairs


@pytest.mark.parametrize("name", ["miniciao", "hurricane_damage_sat", "quickdraw_6cls_28px",
                                  "gtsrb_track_clips_video", "digits_dense", "variable"])
def test_same_examples_and_labels_both_ways(both_ways, name):
    with_tf, without_tf = both_ways[name]
    assert sorted(with_tf) == sorted(without_tf)
    jpeg = name in JPEG_SETS or name == "variable"
    for key, expected in with_tf.items():
        got = without_tf[key]
        assert got.shape == expected.shape and got.dtype == expected.dtype, key
        if "labels" in key:
            np.testing.assert_array_equal(got, expected, err_msg=key)
        elif "/read/" in key:  # the learner's uint8 read: decode + resize, Pillow's bilinear against TF's
            difference = np.abs(got.astype(np.int16) - expected.astype(np.int16))
            assert difference.mean() < 2.5 and np.percentile(difference, 99) <= 10, (key, difference.mean())
        elif jpeg:  # TF decodes with libjpeg's fast integer IDCT, Pillow with the accurate one: 1-2 levels apart
            difference = np.abs(got - expected) * 255
            assert difference.mean() < 3 and np.percentile(difference, 99) <= 10 and difference.max() < 32, key
        else:
            np.testing.assert_allclose(got, expected, atol=1e-6, err_msg=key)


def test_variable_sizes_and_sequences_keep_their_shapes(both_ways):
    with_tf, without_tf = both_ways["variable"]
    sizes = {without_tf[key].shape for key in without_tf if "/full/" in key}
    assert len(sizes) > 1  # really variable: the shapes compared above differ between examples
    _, video = both_ways["gtsrb_track_clips_video"]
    assert video["train/full/0"].shape == (30, 32, 32, 3) and video["train/reduced/0"].shape[0] == 3


def _corrupt_payload(dataset_dir: Path, tmp_path: Path) -> Path:
    broken = tmp_path / dataset_dir.name
    shutil.copytree(dataset_dir, broken)
    path = next((broken / f"{dataset_dir.name}.data" / "test").glob("sample*"))
    data = bytearray(path.read_bytes())
    data[3000] ^= 0xFF
    path.write_bytes(bytes(data))
    return broken


def _error_without_tf(dataset_dir: Path) -> str:
    done = _without_tf("module", "ingestion", "--dataset_dir", dataset_dir, "--code_dir", REPO_ROOT,
                       "--output_dir", dataset_dir.parent / "out", "--time_budget", 5)
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    return lines[0][len("error: "):]


def test_a_corrupt_record_gives_the_same_one_line_error_both_ways(miniciao_dir, tmp_path):
    broken = _corrupt_payload(miniciao_dir, tmp_path)
    with pytest.raises(DatasetError) as caught:
        load_task(broken)
    assert str(caught.value) == _error_without_tf(broken)
    assert "corrupt TFRecord (corrupted record at" in str(caught.value) and "sample-miniciao-test" in str(caught.value)


def test_an_undecodable_image_names_the_file_and_record_both_ways(miniciao_dir, tmp_path):
    # A PNG damaged inside a record whose checksums are rewritten: framing and CRC pass, decoding fails.
    from autodl_format.protos import SequenceExample
    from autodl_format.tfrecord import iter_tfrecords, masked_crc

    broken = tmp_path / "miniciao"
    shutil.copytree(miniciao_dir, broken)
    path = next((broken / "miniciao.data" / "train").glob("sample*"))
    records = list(iter_tfrecords(path))
    example = SequenceExample.FromString(records[5])
    frame = example.feature_lists.feature_list["0_compressed"].feature[0].bytes_list
    frame.value[0] = frame.value[0][:40]  # a PNG cut after its header
    records[5] = example.SerializeToString()
    with path.open("wb") as handle:
        for payload in records:
            length = len(payload).to_bytes(8, "little")
            handle.write(length + masked_crc(length).to_bytes(4, "little") + payload
                         + masked_crc(payload).to_bytes(4, "little"))
    prefix = f"{path}: record 5 of train cannot be decoded ("
    with pytest.raises(DatasetError) as caught:
        AutoDLDataset(path.parent, check="framing").check_all_records()
    assert str(caught.value).startswith(prefix)
    done = _without_tf("snapshot", tmp_path, broken)
    assert done.returncode != 0 and prefix in done.stderr.splitlines()[-1]


def test_ingestion_and_scoring_run_model_py_without_tensorflow(datasets, tmp_path):
    # As on a GPU box with torch and protobuf only: no TensorFlow, scipy or matplotlib either.
    dataset = datasets["quickdraw_6cls_28px"]
    missing = "--also=scipy,matplotlib"
    ingestion = _without_tf(missing, "module", "ingestion", "--dataset_dir", dataset, "--code_dir", REPO_ROOT,
                            "--output_dir", tmp_path / "predictions", "--time_budget", 20, "--hard_stop")
    assert ingestion.returncode == 0, ingestion.stderr[-3000:]
    assert ingestion.stderr.count("TensorFlow cannot be imported") == 1
    scoring = _without_tf(missing, "module", "scoring", "--solution_dir", dataset, "--prediction_dir",
                          tmp_path / "predictions", "--score_dir", tmp_path / "scores")
    assert scoring.returncode == 0, scoring.stderr[-3000:]
    assert "matplotlib is not installed" in scoring.stderr
    scores = yaml.safe_load((tmp_path / "scores" / "scores.txt").read_text())
    assert scores["timestamps"] and scores["score"] > 0.3, scores  # chance is 0; the pixel head alone gets ~0.8
    # The GPU benchmark's row from this run's log and scores.txt (scripts/gpu_benchmark.py reads them alike).
    row = summarise("quickdraw", 20.0, ingestion.stderr, read_scores(tmp_path / "scores" / "scores.txt"))
    assert row["alc"] == pytest.approx(scores["score"]) and row["predictions"] == len(scores["timestamps"])
    assert row["first_prediction_s"] == round(scores["timestamps"][0], 2) and row["init_s"] > 0
    assert row["backbones"].startswith("efficientnet_lite") and row["device"] == "cpu"
    assert any("starting config" in line for line in row["configs"])
