"""Anytime guarantees: reduced-size JPEG decoding straight from the files, the fallback to the datasets ingestion
gives when the files are not usable, and real ingestion runs with tiny budgets (no prediction stamped after T,
and one before T when T >= 2 s). Speed itself is measured by scripts/benchmark_budget.py, not asserted here."""
import subprocess
import sys

import numpy as np
import pytest
import yaml

from autodl_format.frameworks import tf
from autodl_format.reader import load_task
from learner.pipeline import get_logger
from learner.records import RecordSource
from model import Model
from tests import REPO_ROOT
from tests.learner_datasets import digits_sets, large_image_sets, metadata_without_files, write


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("anytime")


@pytest.fixture(scope="module")
def photo_task(root):
    """400 x 400 colour JPEGs: big enough for a 1/4-scale decode at 64 px."""
    return load_task(write(large_image_sets(np.random.default_rng(0), 60, 20, side=400), root, "photos",
                           encoding="jpeg"))


def test_reduced_jpeg_decoding_matches_a_full_decode_and_resize(photo_task):
    full = list(photo_task.train.get_dataset().take(5))
    reduced = list(photo_task.train.get_reduced_dataset(64).take(5))
    for (full_image, full_labels), (small_image, small_labels) in zip(full, reduced):
        assert full_image.shape == (1, 400, 400, 3)
        assert small_image.shape == (1, 100, 100, 3)  # 1/4 scale: 1/8 would go below 64 px
        assert small_image.dtype == tf.float32 and float(tf.reduce_max(small_image)) <= 1.0
        np.testing.assert_array_equal(small_labels, full_labels)
        at_64 = [tf.image.resize(image, (64, 64), antialias=True).numpy() for image in (full_image, small_image)]
        assert np.abs(at_64[0] - at_64[1]).mean() < 0.02  # the same picture, up to DCT-scaling error


def test_reduced_decoding_keeps_small_jpegs_and_pngs_at_full_size(photo_task, root):
    assert next(iter(photo_task.train.get_reduced_dataset(400)))[0].shape == (1, 400, 400, 3)  # no room to scale
    digits = load_task(write(digits_sets(30, 10), root, "digits_png"))
    for (a, la), (b, lb) in zip(digits.test.get_dataset(), digits.test.get_reduced_dataset(2)):
        np.testing.assert_array_equal(a, b)  # PNG: decoded as before, whatever the side asked for
        np.testing.assert_array_equal(la, lb)


def test_record_source_reads_the_files_and_falls_back_to_the_given_dataset(photo_task, root):
    source = RecordSource(photo_task.train.get_metadata(), get_logger())
    assert source.has_files("train") and source.has_files("test")
    given = photo_task.train.get_dataset()
    assert source.dataset("train", 64, 1, given) is not given
    blind = RecordSource(metadata_without_files(photo_task, root), get_logger())
    assert not blind.has_files("train") and not blind.has_files("test")
    assert blind.dataset("train", 64, 1, given) is given


def test_without_files_the_learner_reads_the_given_datasets_once(photo_task, root):
    config = root / "small.json"
    config.write_text('{"side": 32, "max_side": 48, "batch_size": 16, "first_fit_samples": 40}')
    model = Model(metadata_without_files(photo_task, root), config=str(config))
    feed = model.learner.run.feed
    assert feed.early_side == feed.store_side == 48  # no small early copy to make
    model.train(photo_task.train.get_dataset(), remaining_time_budget=60)
    prediction = model.test(photo_task.test.get_dataset(), remaining_time_budget=58)
    assert feed.train_early is feed.train_full and feed.test_early is feed.test_full
    assert prediction.shape == (20, 3) and model.learner.predictor.count_ == 1
    assert feed.train_early.store.count == 40


@pytest.mark.parametrize("budget", [1.0, 2.0])
def test_real_ingestion_never_stamps_a_prediction_after_the_budget(photo_task, root, budget):
    out = root / f"out_{budget:g}"
    run = subprocess.run([sys.executable, "-m", "ingestion", "--dataset_dir", str(photo_task.data_dir.parent),
                          "--code_dir", str(REPO_ROOT), "--output_dir", str(out), "--time_budget", str(budget)],
                         cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    start = yaml.safe_load((out / "start.txt").read_text())
    stamps = [start[k] - start["start_time"] for k in range(len(start)) if k in start]
    assert all(t <= budget for t in stamps), stamps
    if budget >= 2:
        assert stamps, run.stderr[-2000:]  # a prediction before the budget runs out
    assert yaml.safe_load((out / "end.txt").read_text())["ingestion_duration"] <= budget
