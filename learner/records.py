"""Where the learner's data comes from: the dataset's own TFRecord files when it can open them, else the
tf.data datasets that ingestion hands to train/test.

The datasets ingestion passes are decoded at full size, one JPEG at a time at about 500-800 images/s for 128 px
photos. The first read and the early heads need a small side only (the
config's `side`, 33-127 px in the tuned configs), so reading the compressed bytes ourselves and decoding them at
a reduced JPEG DCT scale (autodl_format.reader, `get_reduced_dataset`) is several times faster. The files are
found as the winning solutions find the test metadata: get_dataset_name() is the train directory, and the test
directory is the same path with 'train' replaced by 'test' (protocol 1.2). On the platform the files are there
too; when they are not (a dataset built in memory, another layout), every read falls back to the given datasets.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from autodl_format.errors import first_line
from autodl_format.examples import NumpyDataset
from autodl_format.metadata import test_dir_beside
from autodl_format.reader import AutoDLDataset

if TYPE_CHECKING:
    import tensorflow as tf


class RecordSource:
    """The train and test files, opened once (outside the budget: the Model constructor), or None for a subset
    whose files cannot be used. `dataset(subset, side, given)` returns what to read: the files decoded at
    reduced scale for `side`, or `given` (the dataset from ingestion) when the files are unusable. Without
    TensorFlow the files give NumpyDatasets (autodl_format.reader)."""

    def __init__(self, metadata, log: logging.Logger) -> None:
        self.subsets: dict[str, AutoDLDataset | None] = {}
        train = Path(str(metadata.get_dataset_name()))
        for subset, directory in (("train", train), ("test", test_dir_beside(train))):
            self.subsets[subset] = self._open(directory, metadata, log)

    @staticmethod
    def _open(directory: Path, metadata, log: logging.Logger) -> AutoDLDataset | None:
        try:
            # "framing" walks the record headers only (milliseconds); decoding errors surface while reading.
            subset = AutoDLDataset(directory, check="framing")
        except Exception as error:  # noqa: BLE001 - any problem here only means: read the given dataset instead
            log.info("reading the given %s dataset: its files are not usable (%s)", directory.name,
                     first_line(error) or type(error).__name__)
            return None
        if subset.metadata.get_tensor_size() != metadata.get_tensor_size():
            log.info("reading the given %s dataset: %s disagrees with the train metadata", directory.name, directory)
            return None
        return subset

    def has_files(self, subset: str) -> bool:
        return self.subsets.get(subset) is not None

    def dataset(self, subset: str, side: int, frames: int, given: tf.data.Dataset | NumpyDataset | None,
                shuffle_buffer: int | None = None) -> tf.data.Dataset | NumpyDataset:
        """Images, or videos with `frames` frames each (only those decoded) when read from the files;
        shuffle_buffer: from the files, examples drawn at random from a buffer of that many records."""
        files = self.subsets.get(subset)
        if files is None:
            if given is None:
                raise ValueError(f"no {subset} files and no dataset given")
            return given
        return files.get_reduced_dataset(side, frames if files.metadata.get_sequence_size() != 1 else None,
                                         shuffle_buffer=shuffle_buffer)
