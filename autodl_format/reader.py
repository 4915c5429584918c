"""Read an AutoDL dataset (`NAME.data/{train,test}`) into TF2 `tf.data` datasets, as the official loader does.

Each element is `(example, labels)`: example float32 (time, row, col, channel), labels float32 multi-hot of
length output_dim (all zeros on test data). See the protocol doc, sections 1.3 and 2.

Errors: everything that can be checked up front is checked in `AutoDLDataset.__init__` (metadata, data files,
TFRecord framing and CRCs, record count against sample_count, and a parse of the first record) and raised as a
DatasetError naming the file. A record that frames and checksums correctly but does not decode (e.g. a damaged
image inside a valid record) can only surface while iterating: through `get_dataset()` it is a
`tf.errors.OpError`; `iter_numpy()` and `check_all_records()` turn it into a DatasetError naming the file.

Without TensorFlow (autodl_format.frameworks.tensorflow_available() is False) the same class reads the files with
autodl_format.tfrecord (framing, CRC-32C) and autodl_format.examples (protobuf records, Pillow decoding):
`get_dataset()` and `get_reduced_dataset()` then return a NumpyDataset of numpy pairs, and every check and error
message is the same.
"""
from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from autodl_format import frameworks
from autodl_format.errors import DatasetError, first_line
from autodl_format.examples import NumpyDataset, RecordSpec, parse_record
from autodl_format.metadata import METADATA_FILE, AutoDLMetadata, load_metadata, test_dir_beside
from autodl_format.tfrecord import count_tfrecords, iter_tfrecords, verify_checksums

tf = frameworks.tf if frameworks.tensorflow_available() else None  # None: the files are read without TensorFlow

DATA_FILE_GLOB = "sample*"
# TensorFlow wraps op errors in "{{function_node …}} message [Op:Name] name:": the message alone is what the
# TensorFlow-free path says too.
_TF_OP_CONTEXT = re.compile(r"^\{\{function_node [^}]*\}\}\s*|\s*\[Op:[^\]]*\].*$")


def _tf_error_line(error: BaseException) -> str:
    return _TF_OP_CONTEXT.sub("", first_line(error))


def find_data_dir(dataset_dir: str | Path) -> Path:
    """The single `*.data` directory inside `dataset_dir`; DatasetError when there is none or more than one."""
    root = Path(dataset_dir)
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset directory does not exist")
    found = sorted(p for p in root.glob("*.data") if p.is_dir())
    if len(found) != 1:
        what = ", ".join(p.name for p in found) if found else "none"
        raise DatasetError(f"{root}: expected exactly one *.data directory, found {len(found)} ({what})")
    return found[0]


def _verify_checksums(path: Path) -> int:
    """One pass of a record reader that checks both CRC-32C of every record. Returns the record count."""
    if tf is None:
        return verify_checksums(path)
    try:
        records = tf.data.TFRecordDataset(str(path))
        return int(records.reduce(np.int64(0), lambda count, _: count + 1))
    except tf.errors.OpError as err:
        raise DatasetError(f"{path}: corrupt TFRecord ({_tf_error_line(err)})") from None


def train_test_compat_problem(train_dir: str | Path, test_dir: str | Path) -> str | None:
    """Winning solutions find the test metadata as get_dataset_name().replace('train', 'test') (protocol 1.2).
    Returns why that would fail for these directories, or None when it works."""
    guessed = test_dir_beside(train_dir) / METADATA_FILE
    actual = Path(test_dir) / METADATA_FILE
    if not guessed.is_file() or not os.path.samefile(guessed, actual):
        return (f"replacing 'train' by 'test' in {train_dir} gives {guessed.parent}, not the test directory "
                f"{Path(test_dir)} (a parent directory name contains 'train'?)")
    return None


class AutoDLDataset:
    """One subset directory (…/NAME.data/train or …/test), official-compatible: get_dataset(), get_metadata().

    check: "crc" (default) walks the framing, verifies every record's CRC (TF's reader, or autodl_format.tfrecord
    without TensorFlow) and compares the
    record count with the metadata's sample_count; "framing" skips the CRC pass (reads no payloads).
    Both parse the first record.
    """

    def __init__(self, subset_dir: str | Path, check: str = "crc") -> None:
        if check not in ("crc", "framing"):
            raise ValueError(f"check must be 'crc' or 'framing', not {check!r}")
        self.subset_dir = Path(subset_dir)
        if not self.subset_dir.is_dir():
            raise DatasetError(f"{self.subset_dir}: subset directory does not exist")
        self.metadata = load_metadata(self.subset_dir)
        self.files = sorted(p for p in self.subset_dir.glob(DATA_FILE_GLOB) if p.is_file())
        if not self.files:
            raise DatasetError(f"{self.subset_dir}: no data file (expected files named {DATA_FILE_GLOB})")
        self._check_spec()
        counts = [count_tfrecords(path) for path in self.files]
        if check == "crc":
            counts = [_verify_checksums(path) for path in self.files]
        self._counts = counts
        if sum(counts) != self.metadata.size():
            per_file = ", ".join(f"{p.name}: {c}" for p, c in zip(self.files, counts))
            raise DatasetError(f"{self.subset_dir / METADATA_FILE}: sample_count is {self.metadata.size()} but the "
                               f"data files hold {sum(counts)} records ({per_file})")
        self._check_first_record()

    def _check_spec(self) -> None:
        meta, where = self.metadata, self.subset_dir / METADATA_FILE
        if meta.is_sparse():
            raise DatasetError(f"{where}: SPARSE format (tabular/text) is not supported by this reader")
        if not meta.is_compressed() and -1 in meta.get_matrix_size():
            raise DatasetError(f"{where}: DENSE format needs a fixed row_count and col_count, got "
                               f"{meta.get_matrix_size()}")
        if meta.get_num_channels() not in (1, 2, 3, 4) and meta.is_compressed():
            raise DatasetError(f"{where}: COMPRESSED images need 1-4 channels, got {meta.get_num_channels()}")

    def _check_first_record(self) -> None:
        path = next(p for p, count in zip(self.files, self._counts) if count)  # sample_count > 0: one exists
        if tf is None:
            try:
                parse_record(next(iter_tfrecords(path, verify=False)), self._record_spec())
            except Exception as err:  # noqa: BLE001 - protobuf, Pillow and shape errors alike: a bad record
                raise DatasetError(f"{path}: record 0 is not a valid AutoDL SequenceExample "
                                   f"({first_line(err) or type(err).__name__})") from None
            return
        first = next(iter(tf.data.TFRecordDataset(str(path)).take(1)))
        try:
            self._parse(first)
        except (tf.errors.OpError, ValueError) as err:
            raise DatasetError(f"{path}: record 0 is not a valid AutoDL SequenceExample ({_tf_error_line(err)})"
                               ) from None

    def _record_spec(self) -> RecordSpec:
        return RecordSpec(self.metadata.is_compressed(), self.example_shape(), self.metadata.get_output_size())

    def get_metadata(self) -> AutoDLMetadata:
        return self.metadata

    def example_shape(self) -> tuple[int | None, ...]:
        """Static shape of every example: (time, row, col, channel), None where the metadata says -1."""
        return tuple(None if d == -1 else d for d in self.metadata.get_tensor_shape())

    def _parse(self, record: tf.Tensor, min_side: int | None = None, frames: int | None = None
               ) -> tuple[tf.Tensor, tf.Tensor]:
        meta = self.metadata
        rows, cols, channels = meta.get_tensor_size()
        if meta.is_compressed():
            sequence_features = {"0_compressed": tf.io.FixedLenSequenceFeature([], tf.string)}
        else:
            sequence_features = {"0_dense_input": tf.io.FixedLenSequenceFeature([rows * cols * channels], tf.float32)}
        context, sequences = tf.io.parse_single_sequence_example(
            record,
            context_features={"label_index": tf.io.VarLenFeature(tf.int64),
                              "label_score": tf.io.VarLenFeature(tf.float32)},
            sequence_features=sequence_features,
        )
        shape = self.example_shape()
        key = "0_compressed" if meta.is_compressed() else "0_dense_input"
        stored = sequences[key]
        if frames is not None:  # only the frames wanted are decoded
            stored = tf.gather(stored, evenly_spaced(tf.shape(stored)[0], frames))
            shape = (frames, *shape[1:])
        if meta.is_compressed():
            example = self._decode_frames(stored, channels, min_side)
            if min_side is not None:  # a reduced JPEG decode changes the frame size
                shape = (shape[0], None, None, shape[3])
        else:
            example = tf.reshape(stored, [-1, rows, cols, channels])
        example = tf.ensure_shape(example, shape)
        labels = tf.scatter_nd(tf.expand_dims(context["label_index"].values, 1), context["label_score"].values,
                               [meta.get_output_size()])
        return example, labels

    def _decode_frames(self, frames: tf.Tensor, channels: int, min_side: int | None = None) -> tf.Tensor:
        def decode(encoded: tf.Tensor) -> tf.Tensor:
            if min_side is not None and channels in (1, 3):  # decode_jpeg knows no 2- or 4-channel output
                return tf.cond(tf.io.is_jpeg(encoded), lambda: _decode_jpeg_reduced(encoded, channels, min_side),
                               lambda: _decode_full(encoded, channels))
            return _decode_full(encoded, channels)

        if self.metadata.get_sequence_size() == 1:  # images: skip map_fn's per-frame loop
            return tf.expand_dims(decode(frames[0]), 0)
        return tf.map_fn(decode, frames, fn_output_signature=tf.TensorSpec([None, None, channels], tf.float32))

    def get_reduced_dataset(self, min_side: int, frames: int | None = None,
                            shuffle_buffer: int | None = None, seed: int = 0) -> tf.data.Dataset | NumpyDataset:
        """As get_dataset(), but each JPEG frame is decoded at the smallest DCT scale (1/8, 1/4, 1/2, 1) that keeps
        both its sides >= min_side: libjpeg then skips most of the work (several times faster on large photos).
        Other formats are decoded at full size. Frame sizes may then differ from the metadata's. `frames`: only
        that many frames of each example are decoded, evenly spaced (`evenly_spaced`), the others skipped.
        `shuffle_buffer`: records drawn at random from a buffer of that many, before decoding (only the records
        drawn are decoded; filling the buffer reads their bytes only). Without TensorFlow: a NumpyDataset."""
        if tf is None:
            return NumpyDataset(self.files, self._record_spec(), self.subset_dir.name, min_side, frames,
                                shuffle_buffer, seed)
        records = tf.data.TFRecordDataset([str(p) for p in self.files])
        if shuffle_buffer:
            records = records.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=False)
        return records.map(lambda record: self._parse(record, min_side, frames), num_parallel_calls=tf.data.AUTOTUNE,
                           deterministic=True)

    def get_dataset(self, tf1: bool = False) -> tf.data.Dataset | NumpyDataset:
        """A single-pass tf.data.Dataset of (example, labels) in file order (files sorted by name, each read in
        order; the official loader interleaves several files, which no known dataset has). tf1: a TF1 dataset
        (`make_one_shot_iterator()` and the other TF1 methods), as the platform's TF 1.13 ingestion gave; built
        in graph mode when eager execution is off. Without TensorFlow: a NumpyDataset of the same pairs."""
        if tf is None:
            if tf1:
                raise RuntimeError("TF1 datasets need TensorFlow, which cannot be imported here")
            return NumpyDataset(self.files, self._record_spec(), self.subset_dir.name)
        data = tf.compat.v1.data if tf1 else tf.data
        records = data.TFRecordDataset([str(p) for p in self.files])
        return records.map(self._parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    def iter_numpy(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(example, labels) numpy pairs in file order; a record that fails to decode raises DatasetError."""
        if tf is None:
            yield from self.get_dataset()
            return
        iterator = iter(self.get_dataset())
        index = 0
        while True:
            try:
                example, labels = next(iterator)
            except StopIteration:
                return
            except tf.errors.OpError as err:
                path, record = self._locate(index)
                raise DatasetError(f"{path}: record {record} of {self.subset_dir.name} cannot be decoded "
                                   f"({_tf_error_line(err)})") from None
            yield example.numpy(), labels.numpy()
            index += 1

    def _locate(self, index: int) -> tuple[Path, int]:
        # The file holding the index-th record of the concatenation, and the record's index in it.
        for path, count in zip(self.files, self._counts):
            if index < count:
                return path, index
            index -= count
        return self.files[-1], index

    def check_all_records(self) -> None:
        """Decode every record once (cost: one full pass); DatasetError naming the file on the first bad one."""
        for _ in self.iter_numpy():
            pass

    def __repr__(self) -> str:
        return f"AutoDLDataset({str(self.subset_dir)!r}, samples={self.metadata.size()}, shape={self.example_shape()})"


def evenly_spaced(length: tf.Tensor, count: int) -> tf.Tensor:
    """`count` frame indices spread evenly over 0..length-1, first and last included (repeats when length < count)."""
    return tf.cast(tf.round(tf.linspace(0.0, tf.cast(length - 1, tf.float32), count)), tf.int32)


def _decode_full(encoded: tf.Tensor, channels: int) -> tf.Tensor:
    image = tf.io.decode_image(encoded, channels=channels, expand_animations=False)
    return tf.image.convert_image_dtype(image, tf.float32)  # uint8 or uint16 -> [0, 1]


def _decode_jpeg_reduced(encoded: tf.Tensor, channels: int, min_side: int) -> tf.Tensor:
    """A JPEG decoded at 1/8, 1/4 or 1/2 scale when the header's size allows it (ratio must be a constant, hence
    one branch per ratio), float32 in [0, 1]."""
    size = tf.io.extract_jpeg_shape(encoded)
    short = tf.minimum(size[0], size[1])

    def at(ratio: int):
        return lambda: tf.image.convert_image_dtype(tf.io.decode_jpeg(encoded, channels=channels, ratio=ratio),
                                                    tf.float32)

    return tf.case([(short >= min_side * ratio, at(ratio)) for ratio in (8, 4, 2)], default=at(1))


@dataclass
class Task:
    """A dataset directory as ingestion sees it: NAME.data/{train,test} plus NAME.solution when present."""

    name: str
    data_dir: Path
    train: AutoDLDataset
    test: AutoDLDataset
    solution_path: Path | None


def load_task(dataset_dir: str | Path, check: str = "crc") -> Task:
    """Open `dataset_dir` (which holds one NAME.data directory). Warns when the train/test path trick of the
    winning solutions would not find the test metadata (a parent directory name contains 'train')."""
    data_dir = find_data_dir(dataset_dir)
    name = data_dir.name[: -len(".data")]
    train = AutoDLDataset(data_dir / "train", check=check)
    test = AutoDLDataset(data_dir / "test", check=check)
    train_meta, test_meta = train.get_metadata(), test.get_metadata()
    if train_meta.get_output_size() != test_meta.get_output_size():
        raise DatasetError(f"{data_dir}: train and test metadata disagree on output_dim "
                           f"({train_meta.get_output_size()} vs {test_meta.get_output_size()})")
    if train.example_shape()[1:] != test.example_shape()[1:]:
        raise DatasetError(f"{data_dir}: train and test metadata disagree on the frame shape "
                           f"({train.example_shape()} vs {test.example_shape()})")
    if "." in name:
        warnings.warn(f"{data_dir}: the official scoring program takes the task name up to the first dot "
                      f"({name.split('.')[0]!r}) while ingestion names predictions {name!r}: rename the dataset "
                      f"without dots to run it on the platform", stacklevel=2)
    problem = train_test_compat_problem(train.subset_dir, test.subset_dir)
    if problem:
        warnings.warn(f"{data_dir}: models that locate the test set from get_dataset_name() will fail: {problem}",
                      stacklevel=2)
    solution = Path(dataset_dir) / f"{name}.solution"
    return Task(name=name, data_dir=data_dir, train=train, test=test,
                solution_path=solution if solution.is_file() else None)
