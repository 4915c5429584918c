"""The TFRecord reader on the real miniciao dataset, and its errors on broken copies of it."""
import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

from autodl_format.errors import DatasetError
from autodl_format.reader import AutoDLDataset, count_tfrecords, find_data_dir, load_task
from autodl_format.frameworks import tf


@pytest.fixture(scope="module")
def miniciao_task(miniciao_dir):
    return load_task(miniciao_dir)


@pytest.fixture(scope="module")
def mini_cifar_by_pixels(autodl_raw_root):
    """The 100 source PNGs of miniciao (contrib mini-cifar), keyed by their pixel bytes, with labels.csv labels."""
    from PIL import Image

    folder = autodl_raw_root / "autodl_contrib_examples" / "file_format" / "mini-cifar"
    with (folder / "labels.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    return {np.asarray(Image.open(folder / r["FileName"]).convert("RGB")).tobytes(): int(r["Labels"]) for r in rows}


def _as_uint8(example: np.ndarray) -> np.ndarray:
    return np.rint(example[0] * 255).astype(np.uint8)


def test_task_layout(miniciao_task, miniciao_dir):
    assert miniciao_task.name == "miniciao"
    assert miniciao_task.data_dir == miniciao_dir / "miniciao.data"
    assert miniciao_task.solution_path == miniciao_dir / "miniciao.solution"
    assert miniciao_task.train.get_metadata().size() == 82 and miniciao_task.test.get_metadata().size() == 18


def test_train_elements(miniciao_task, mini_cifar_by_pixels):
    dataset = miniciao_task.train.get_dataset()
    example_spec, label_spec = dataset.element_spec
    assert example_spec.shape.as_list() == [1, 32, 32, 3] and example_spec.dtype == tf.float32
    assert label_spec.shape.as_list() == [10] and label_spec.dtype == tf.float32
    elements = [(e.numpy(), l.numpy()) for e, l in dataset]
    assert len(elements) == 82
    labels = np.stack([l for _, l in elements])
    assert set(np.unique(labels)) == {0.0, 1.0} and (labels.sum(axis=1) == 1).all()
    # train label counts of protocol 5.1
    assert labels.sum(axis=0).astype(int).tolist() == [8, 8, 11, 6, 9, 6, 7, 9, 8, 10]
    for example, label in elements:
        assert example.dtype == np.float32 and 0.0 <= example.min() and example.max() <= 1.0
        # decoding is exact: each example is one of the source PNGs, with that file's label
        assert mini_cifar_by_pixels[_as_uint8(example).tobytes()] == label.argmax()


def test_test_elements_follow_the_solution_order(miniciao_task, mini_cifar_by_pixels):
    solution = np.loadtxt(miniciao_task.solution_path)
    elements = list(miniciao_task.test.iter_numpy())
    assert len(elements) == 18 == len(solution)
    for row, (example, labels) in enumerate(elements):
        assert not labels.any()  # test labels are erased
        assert mini_cifar_by_pixels[_as_uint8(example).tobytes()] == solution[row].argmax()


def test_variable_size_static_shape_is_none(tmp_path, miniciao_dir):
    data = _copy(miniciao_dir, tmp_path)
    meta = data / "miniciao.data" / "test" / "metadata.textproto"
    meta.write_text(meta.read_text().replace("col_count: 32", "col_count: -1").replace("row_count: 32",
                                                                                       "row_count: -1"))
    dataset = AutoDLDataset(data / "miniciao.data" / "test")
    assert dataset.example_shape() == (1, None, None, 3)
    assert dataset.get_dataset().element_spec[0].shape.as_list() == [1, None, None, 3]
    assert next(dataset.iter_numpy())[0].shape == (1, 32, 32, 3)


def _copy(miniciao_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(miniciao_dir, target)
    for path in target.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)  # the shared original is read-only
    return target


def test_find_data_dir_needs_exactly_one(tmp_path):
    with pytest.raises(DatasetError, match=rf"{tmp_path}: expected exactly one \*\.data directory, found 0"):
        find_data_dir(tmp_path)
    (tmp_path / "a.data").mkdir()
    assert find_data_dir(tmp_path) == tmp_path / "a.data"
    (tmp_path / "b.data").mkdir()
    with pytest.raises(DatasetError, match=r"found 2 \(a\.data, b\.data\)"):
        find_data_dir(tmp_path)
    with pytest.raises(DatasetError, match="does not exist"):
        find_data_dir(tmp_path / "nope")


def test_missing_metadata_names_the_file(tmp_path, miniciao_dir):
    data = _copy(miniciao_dir, tmp_path)
    meta = data / "miniciao.data" / "test" / "metadata.textproto"
    meta.unlink()
    with pytest.raises(DatasetError, match=f"{meta}: metadata file missing"):
        load_task(data)


def test_no_sample_files(tmp_path, miniciao_dir):
    data = _copy(miniciao_dir, tmp_path)
    test_dir = data / "miniciao.data" / "test"
    (test_dir / "sample-miniciao-test.tfrecord").rename(test_dir / "miniciao-test.tfrecord")  # not "sample*"
    with pytest.raises(DatasetError, match=rf"{test_dir}: no data file \(expected files named sample\*\)"):
        AutoDLDataset(test_dir)


def test_truncated_file(tmp_path, miniciao_dir):
    data = _copy(miniciao_dir, tmp_path)
    path = data / "miniciao.data" / "test" / "sample-miniciao-test.tfrecord"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DatasetError, match=f"{path}: truncated or corrupt TFRecord: record 17"):
        load_task(data)
    path.write_bytes(path.read_bytes()[:5])
    with pytest.raises(DatasetError, match=f"{path}: truncated TFRecord: 5 stray bytes after record 0"):
        AutoDLDataset(path.parent)


def test_flipped_payload_bytes_fail_the_crc(tmp_path, miniciao_dir):
    data = _copy(miniciao_dir, tmp_path)
    path = data / "miniciao.data" / "test" / "sample-miniciao-test.tfrecord"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # inside some record's payload: framing intact, checksum wrong
    path.write_bytes(bytes(raw))
    assert count_tfrecords(path) == 18
    with pytest.raises(DatasetError, match=f"{path}: corrupt TFRecord"):
        AutoDLDataset(path.parent)
    # Without the CRC pass, the damage surfaces while iterating, still as a DatasetError naming the file.
    dataset = AutoDLDataset(path.parent, check="framing")
    with pytest.raises(DatasetError, match=f"{path}: record \\d+ of test cannot be decoded"):
        dataset.check_all_records()


def test_flipped_length_field(tmp_path, miniciao_dir):
    data = _copy(miniciao_dir, tmp_path)
    path = data / "miniciao.data" / "test" / "sample-miniciao-test.tfrecord"
    raw = bytearray(path.read_bytes())
    raw[5] ^= 0x40  # a high byte of the first record's length
    path.write_bytes(bytes(raw))
    with pytest.raises(DatasetError, match=f"{path}: truncated or corrupt TFRecord: record 0 at byte 0"):
        AutoDLDataset(path.parent)


def test_sample_count_mismatch(tmp_path, miniciao_dir):
    data = _copy(miniciao_dir, tmp_path)
    meta = data / "miniciao.data" / "test" / "metadata.textproto"
    meta.write_text(meta.read_text().replace("sample_count: 18", "sample_count: 19"))
    with pytest.raises(DatasetError, match=f"{meta}: sample_count is 19 but the data files hold 18 records"):
        load_task(data)


def test_record_that_is_not_a_sequence_example(tmp_path, miniciao_dir):
    data = _copy(miniciao_dir, tmp_path)
    path = data / "miniciao.data" / "test" / "sample-miniciao-test.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as writer:
        for _ in range(18):
            writer.write(b"definitely not a protobuf")
    with pytest.raises(DatasetError, match=f"{path}: record 0 is not a valid AutoDL SequenceExample"):
        AutoDLDataset(path.parent)


def test_metadata_shape_disagreeing_with_images(tmp_path, miniciao_dir):
    data = _copy(miniciao_dir, tmp_path)
    meta = data / "miniciao.data" / "test" / "metadata.textproto"
    meta.write_text(meta.read_text().replace("row_count: 32", "row_count: 30"))
    with pytest.raises(DatasetError, match="record 0 is not a valid AutoDL SequenceExample"):
        AutoDLDataset(meta.parent)


def test_parent_named_train_warns(tmp_path, miniciao_dir):
    target = tmp_path / "pretrained_sets"
    target.mkdir()
    data = _copy(miniciao_dir, target)
    with pytest.warns(UserWarning, match="get_dataset_name"):
        load_task(data)


def test_dataset_name_with_a_dot_warns(tmp_path, miniciao_dir):
    data = _copy(miniciao_dir, tmp_path)
    (data / "miniciao.data").rename(data / "mini.ciao.data")
    with pytest.warns(UserWarning, match="scoring program takes the task name up to the first dot"):
        assert load_task(data).name == "mini.ciao"


def test_several_sample_files_read_in_name_order(tmp_path, miniciao_dir, miniciao_task):
    data = _copy(miniciao_dir, tmp_path)
    test_dir = data / "miniciao.data" / "test"
    original = test_dir / "sample-miniciao-test.tfrecord"
    records = [r.numpy() for r in tf.data.TFRecordDataset(str(original))]
    original.unlink()
    for file_name, part in (("sample-b", records[10:]), ("sample-a.tfrecord", records[:10])):
        with tf.io.TFRecordWriter(str(test_dir / file_name)) as writer:  # any extension, or none
            for record in part:
                writer.write(record)
    (test_dir / "README.txt").write_text("not a sample file: ignored")
    split = AutoDLDataset(test_dir)
    assert [p.name for p in split.files] == ["sample-a.tfrecord", "sample-b"]
    expected = [e for e, _ in miniciao_task.test.iter_numpy()]
    got = [e for e, _ in split.iter_numpy()]
    assert len(got) == 18 and all(np.array_equal(a, b) for a, b in zip(got, expected))
