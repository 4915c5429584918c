"""learner.data and learner.validation on real TFRecords written by autodl_format.offline.writer."""
import numpy as np
import pytest

from autodl_format.reader import load_task
from autodl_format.frameworks import tf
from learner.data import StreamReader, ValueRange, is_multilabel
from learner.validation import improves, nauc, split_validation
from autodl_format.metrics import nauc as scorer_nauc
from tests.learner_datasets import colour_variable_sets, digits_sets, video_sets, write


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return tmp_path_factory.mktemp("learner_data")


def test_grey_digits_become_uint8_frames_in_file_order(data_root):
    sets = digits_sets(300, 50)
    task = load_task(write(sets, data_root, "greydigits"))
    reader = StreamReader(task.train.get_dataset(), frames=1, side=24, cap=10_000)
    assert reader.read(limit=100) == 100 and not reader.exhausted
    assert reader.read() == 200 and reader.exhausted  # the iterator resumed where it stopped
    examples, labels = reader.store.arrays()
    assert examples.shape == (300, 1, 24, 24, 1) and examples.dtype == np.uint8
    np.testing.assert_array_equal(labels, sets[0].labels)
    assert examples.max() > 200 and examples.min() == 0
    assert not is_multilabel(labels)


def test_sample_cap_stops_reading(data_root):
    task = load_task(write(digits_sets(200, 20), data_root, "capped"))
    reader = StreamReader(task.train.get_dataset(), frames=1, side=16, cap=130)
    reader.read()
    assert reader.store.count == 130 and reader.exhausted


def test_variable_size_colour_images_are_resized_to_one_shape(data_root):
    sets = colour_variable_sets(np.random.default_rng(0), 40, 10)
    task = load_task(write(sets, data_root, "colours"))
    assert task.train.example_shape() == (1, None, None, 3)
    reader = StreamReader(task.train.get_dataset(), frames=1, side=32, cap=1000)
    reader.read()
    examples, labels = reader.store.arrays()
    assert examples.shape == (40, 1, 32, 32, 3)
    # The dominant channel survives the resize.
    assert (examples.mean(axis=(1, 2, 3)).argmax(axis=1) == labels.argmax(axis=1)).all()


def test_video_frames_are_sampled_evenly(data_root):
    sets = video_sets(np.random.default_rng(1), 12, 4, frames=6)
    task = load_task(write(sets, data_root, "clips"))
    reader = StreamReader(task.train.get_dataset(), frames=3, side=16, cap=1000)
    reader.read()
    examples, labels = reader.store.arrays()
    assert examples.shape == (12, 3, 16, 16, 1)
    brightness = examples.mean(axis=(2, 3, 4))  # (N, frames)
    rising = brightness[:, -1] > brightness[:, 0]
    assert (rising == (labels.argmax(axis=1) == 0)).all()


def test_dense_values_are_mapped_into_unit_range():
    raw = np.array([[0.0, 127.5, 255.0]])
    np.testing.assert_array_equal(ValueRange.from_batch(raw).to_uint8(raw), [[0, 128, 255]])
    signed = np.array([[-1.0, 0.0, 1.0]])
    np.testing.assert_array_equal(ValueRange.from_batch(signed).to_uint8(signed), [[0, 128, 255]])
    unit = np.array([[0.0, 0.5, 1.0]])
    np.testing.assert_array_equal(ValueRange.from_batch(unit).to_uint8(unit), [[0, 128, 255]])


def test_graph_mode_dataset_is_read_through_a_session(data_root):
    task = load_task(write(digits_sets(60, 10), data_root, "graphmode"))
    with tf.Graph().as_default():  # how a TF1-style ingestion builds its datasets
        dataset = task.train.get_dataset()
    assert tf.is_symbolic_tensor(dataset._variant_tensor)
    reader = StreamReader(dataset, frames=1, side=16, cap=1000)
    reader.read()
    examples, labels = reader.store.arrays()
    assert examples.shape == (60, 1, 16, 16, 1) and labels.sum() == 60


def test_validation_split_keeps_every_class_and_skips_tiny_sets():
    rng = np.random.default_rng(0)
    one_each = np.eye(10)
    assert len(split_validation(one_each, 0.1, 256, False, rng)) == 0
    classes = np.concatenate([np.repeat(np.arange(5), 30), [5, 6, 7]])  # three classes with a single example
    labels = np.eye(8)[classes]
    chosen = split_validation(labels, 0.2, 256, False, rng)
    assert len(chosen) == 30
    left = np.delete(classes, chosen)
    assert set(left) == set(range(8))
    assert not {5, 6, 7} & set(classes[chosen])
    assert len(split_validation(labels, 0.9, 12, False, rng)) == 12


def test_validation_score_matches_the_scorer_and_ties_use_the_loss():
    rng = np.random.default_rng(3)
    labels = np.eye(4)[rng.integers(0, 4, 50)]
    scores = rng.normal(size=(50, 4)) + labels
    assert nauc(labels, scores) == pytest.approx(scorer_nauc(labels, scores))
    assert improves(0.90, 1.0, 0.80, 0.5)
    assert improves(0.80, 0.4, 0.80, 0.5) and not improves(0.80, 0.6, 0.80, 0.5)
    assert not improves(0.70, 0.1, 0.80, 0.5)
