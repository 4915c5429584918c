"""The learner's data: train and test examples read into memory, at two sides.

The early heads read at a small side (`early_side`) straight from the dataset's files (learner.records: JPEGs
decoded at reduced DCT scale), and videos with few frames (`early_frames`, the others not decoded); fine-tuning
and the network's predictions read at the stored side (`store_side`) with more frames (`frames`). When sides and
frame counts agree, or the files cannot be used, one reader serves both. Readers are incremental: each call
reads a little more, within the deadline it is given. Decoding rates are measured as they read, and give the
time estimates of what is still unread.
"""
from __future__ import annotations

import logging
import sys
import time
from typing import Callable

import numpy as np

from learner.data import READ_BATCH, StreamReader
from learner.records import RecordSource

SHUFFLE_BUFFER = 4096  # records a random sample is drawn from: their bytes are read, only the drawn ones decoded


class DataFeed:
    def __init__(self, metadata, store_side: int, early_side: int, train_cap: int, frames: int, early_frames: int,
                 expected_test: int | None, log: logging.Logger) -> None:
        """early_side, early_frames: what the early heads want; without usable train files the given dataset is
        read once, at the stored side and with all `frames`, and the early readers are the full ones."""
        self.store_side, self.train_cap, self.frames = store_side, train_cap, frames
        self.expected_test, self.log = expected_test, log
        self.records = RecordSource(metadata, log)
        files = self.records.has_files("train")
        self.early_side = early_side if files else store_side
        self.early_frames = early_frames if files else frames
        self.shared = (self.early_side, self.early_frames) == (store_side, frames)  # one reader serves both
        self.given_train = self.given_test = None  # the datasets of the last train / test call
        # Built here when the files are usable, so that their pipelines are traced outside the budget (nothing is
        # read before the first train call); else on first use, from the given datasets.
        self.train_early = self._file_reader("train", self.early_side, train_cap)
        self.test_early = self._file_reader("test", self.early_side, sys.maxsize)
        self.train_full: StreamReader | None = None  # at the stored side, for fine-tuning
        self.test_full: StreamReader | None = None

    def _file_reader(self, subset: str, side: int, cap: int) -> StreamReader | None:
        if not self.records.has_files(subset):
            return None
        return StreamReader(self.records.dataset(subset, side, self.early_frames, None), self.early_frames, side, cap)

    def _reader(self, subset: str, side: int, frames: int, cap: int) -> StreamReader:
        """A reader of the files at `side` when they are usable, else of the dataset given to the last call."""
        given = self.given_train if subset == "train" else self.given_test
        value_range = self.train_early.value_range if self.train_early is not None else None
        return StreamReader(self.records.dataset(subset, side, frames, given), frames, side, cap, value_range)

    # ------------------------------------------------------------------ train
    def read_first(self, limit: int, box: float, least: int, fits: Callable[[], bool]) -> float:
        """The first train examples, at the early side: up to `limit`, stopping after `box` seconds once `least`
        are read, and once `fits()` says the first prediction would no longer fit. Returns the seconds spent."""
        if self.train_early is None:
            self.train_early = self._reader("train", self.early_side, self.early_frames, self.train_cap)
        reader = self.train_early
        if self.shared:
            self.train_full = reader
        start = time.monotonic()
        while reader.store.count < limit and not reader.exhausted:
            if reader.store.count >= least and time.monotonic() - start > box:
                break
            # Two batches are read whatever the time: without training data there is nothing to predict from, and
            # the first batch's time is mostly the pipeline's start-up, no measure of the decoding rate.
            if reader.store.count > READ_BATCH and not fits():
                break
            reader.read(limit=min(READ_BATCH, limit - reader.store.count))
        return time.monotonic() - start

    def read_more_train(self, deadline: float) -> bool:
        """Read more train data at the stored side until `deadline`; True when the stored rows changed."""
        if self.train_full is None:  # the early rows are read again, at the stored side and with all frames
            self.train_full = self._reader("train", self.store_side, self.frames, self.train_cap)
        reader = self.train_full
        if reader.exhausted:
            return False
        before = reader.store.count
        reader.read(deadline=deadline)
        if reader.store.count != before:
            self.log.info("train data: %d examples in memory at %d px (%s) after %.1fs of reading",
                          reader.store.count, reader.store.side, "all read" if reader.exhausted else "more left",
                          reader.seconds)
        return reader.store.count != before

    def random_train_sample(self, count: int, side: int, frames: int, deadline: float) -> np.ndarray:
        """Up to `count` train examples drawn at random (not the first in file order, often one class or one
        session), letterboxed to side x side (aspect kept), uint8 (N, F, side, side, C): from the files through a
        shuffle buffer; without usable files, random rows of what the first read holds (already square).
        At least one batch is read whatever the deadline."""
        value_range = self.train_early.value_range if self.train_early is not None else None
        if self.records.has_files("train"):
            dataset = self.records.dataset("train", side, frames, None, shuffle_buffer=SHUFFLE_BUFFER)
            reader = StreamReader(dataset, frames, side, count, value_range, letterbox=True)
            reader.read(limit=count, deadline=deadline)
            if reader.store.count:
                return reader.store.arrays()[0]
        examples = self.train_early.store.arrays()[0]
        return examples[np.random.default_rng(0).permutation(len(examples))[:count]]

    def prior(self, num_classes: int) -> np.ndarray:
        """The train class frequencies read so far (uniform before any): a prediction with no information."""
        if self.train_early is not None and self.train_early.store.count:
            return self.train_early.store.arrays()[1].mean(axis=0).astype(np.float64)
        return np.full(num_classes, 1.0 / num_classes)

    # ------------------------------------------------------------------ test
    def test_reader(self, network: bool) -> StreamReader:
        """The test reader a prediction needs: at the stored side for the network, at the early side for the
        ridge heads (one reader when the sides agree); made on first use, decoding nothing yet."""
        if self.test_early is None:
            self.test_early = self._reader("test", self.early_side, self.early_frames, sys.maxsize)
        if self.shared:
            self.test_full = self.test_early
        if network and self.test_full is None:
            self.test_full = self._reader("test", self.store_side, self.frames, sys.maxsize)
        reader = self.test_full if network else self.test_early
        if reader.value_range is None:  # test values are mapped as the train values were
            reader.value_range = self.train_early.value_range
        return reader

    def test_count(self) -> int:
        for reader in (self.test_early, self.test_full):
            if reader is not None and reader.exhausted:
                return reader.store.count
        if self.expected_test is not None:
            return self.expected_test
        return self.train_early.store.count if self.train_early is not None else 1000

    def unread_test_seconds(self, network: bool) -> float:
        """Seconds to decode what the test reader of that side (perhaps not made yet) still lacks, at its own
        measured rate, else at the rate measured on the train data of that side (the early side's until the
        stored side is measured)."""
        reader = self.test_full if network else self.test_early
        train = self.train_early
        if network and self.train_full is not None and self.train_full.seconds_per_example() is not None:
            train = self.train_full
        if reader is not None and reader.exhausted:
            return 0.0
        rate = (reader.seconds_per_example() if reader is not None else None) or (
            train.seconds_per_example() if train is not None else None) or 0.0
        return rate * max(self.test_count() - (reader.store.count if reader is not None else 0), 0)
