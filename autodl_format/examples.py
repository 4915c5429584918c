"""AutoDL records read without TensorFlow: SequenceExample parsing (protobuf, autodl_format.protos), frames decoded
with Pillow, and `NumpyDataset`, what `AutoDLDataset.get_dataset()` returns when TensorFlow cannot be imported.

The values match the TensorFlow path's (protocol 1.3): float32 (time, row, col, channel) examples, COMPRESSED
frames decoded to `num_channels` channels in [0, 1], DENSE values as stored, labels scattered from the context's
label_index / label_score. JPEG decoders differ by a few levels per pixel (libjpeg-turbo builds and their IDCT).
A reduced decode (`min_side`) uses libjpeg's DCT scaling through Pillow's `draft`, whose rule (the largest of 1/8,
1/4, 1/2 that keeps both sides >= min_side) is the TensorFlow path's.
"""
from __future__ import annotations

import io
import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import numpy as np
from PIL import Image

from autodl_format.errors import DatasetError
from autodl_format.protos import SequenceExample
from autodl_format.tfrecord import iter_tfrecords

_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
_IN_FLIGHT = 2  # batches decoded ahead of the one being consumed
Result = TypeVar("Result")


@dataclass(frozen=True)
class RecordSpec:
    """What a record of one subset holds, from its metadata."""

    compressed: bool
    shape: tuple[int | None, int | None, int | None, int]  # (time, row, col, channel), None where variable
    output_dim: int


def evenly_spaced_indices(length: int, count: int) -> np.ndarray:
    """`count` frame indices spread evenly over 0..length-1, first and last included (repeats when length < count);
    rounding half to even, as the TensorFlow path's tf.round."""
    return np.round(np.linspace(0.0, length - 1, count, dtype=np.float32)).astype(np.int64)


def decode_frame(encoded: bytes, channels: int, min_side: int | None = None) -> np.ndarray:
    """One encoded image (JPEG, PNG, GIF, BMP: what Pillow reads) as float32 (H, W, channels) in [0, 1].
    min_side: a JPEG is decoded at the smallest DCT scale that keeps both sides >= min_side."""
    image = Image.open(io.BytesIO(encoded))
    if min_side is not None and image.format == "JPEG" and channels in (1, 3):
        image.draft(_MODES[channels], (min_side, min_side))
    if channels == 1 and image.mode in ("I;16", "I;16B", "I"):  # 16-bit grey PNG: scaled by 65535, as TF's
        return (np.asarray(image, dtype=np.float32) / 65535.0)[..., np.newaxis]
    pixels = np.asarray(image.convert(_MODES[channels]), dtype=np.float32) / 255.0
    return pixels.reshape(pixels.shape[0], pixels.shape[1], channels)


def parse_record(payload: bytes, spec: RecordSpec, min_side: int | None = None, frames: int | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """One serialized SequenceExample as (example float32 (T, H, W, C), labels float32 (output_dim,)).
    frames: only that many frames, evenly spaced, are decoded. Raises ValueError when the record does not fit."""
    record = SequenceExample.FromString(payload)
    key = "0_compressed" if spec.compressed else "0_dense_input"
    if key not in record.feature_lists.feature_list:
        raise ValueError(f"feature list {key} missing")
    stored = record.feature_lists.feature_list[key].feature
    picked = range(len(stored)) if frames is None else evenly_spaced_indices(len(stored), frames)
    rows, cols, channels = spec.shape[1:]
    if spec.compressed:
        example = np.stack([decode_frame(stored[int(i)].bytes_list.value[0], channels, min_side) for i in picked])
    else:
        values = [stored[int(i)].float_list.value for i in picked]
        if any(len(v) != rows * cols * channels for v in values):
            raise ValueError(f"a dense frame does not hold {rows}*{cols}*{channels} values")
        example = np.asarray(values, dtype=np.float32).reshape(-1, rows, cols, channels)
    want = spec.shape if frames is None else (frames, *spec.shape[1:])
    if min_side is not None and spec.compressed:  # a reduced decode changes the frame size
        want = (want[0], None, None, want[3])
    if len(example) == 0 or any(w is not None and w != d for w, d in zip(want, example.shape)):
        raise ValueError(f"example shape {example.shape} does not match the metadata's {want}")
    context = record.context.feature
    index = np.asarray(context["label_index"].int64_list.value, dtype=np.int64)
    score = np.asarray(context["label_score"].float_list.value, dtype=np.float32)
    if len(index) != len(score) or np.any((index < 0) | (index >= spec.output_dim)):
        raise ValueError("label_index and label_score disagree or point outside output_dim")
    labels = np.zeros(spec.output_dim, dtype=np.float32)
    np.add.at(labels, index, score)  # duplicates add up, as tf.scatter_nd's do
    return example, labels


class NumpyDataset:
    """A single pass over a subset's files, in file order, yielding numpy (example, labels): the TensorFlow-free
    counterpart of the tf.data dataset. Iterable again and again (each pass reads the files anew).

    min_side, frames: a reduced read (see AutoDLDataset.get_reduced_dataset). shuffle_buffer: records drawn at
    random from a buffer of that many (only the records drawn are decoded), with `seed`.
    Errors: a file that is not valid TFRecord, or a record that does not decode, raises DatasetError naming the
    file (and the record).
    """

    def __init__(self, files: list[Path], spec: RecordSpec, subset_name: str, min_side: int | None = None,
                 frames: int | None = None, shuffle_buffer: int | None = None, seed: int = 0) -> None:
        self.files, self.spec, self.subset_name = list(files), spec, subset_name
        self.min_side, self.frames = min_side, frames
        self.shuffle_buffer, self.seed = shuffle_buffer, seed

    def _payloads(self) -> Iterator[tuple[Path, int, bytes]]:
        records = ((path, index, payload) for path in self.files
                   for index, payload in enumerate(iter_tfrecords(path)))
        if not self.shuffle_buffer:
            yield from records
            return
        rng, buffer = np.random.default_rng(self.seed), []
        for item in records:  # tf.data's shuffle: fill the buffer, then each new record replaces the one drawn
            buffer.append(item)
            if len(buffer) >= self.shuffle_buffer:
                pick = int(rng.integers(len(buffer)))
                buffer[pick], buffer[-1] = buffer[-1], buffer[pick]
                yield buffer.pop()
        while buffer:
            pick = int(rng.integers(len(buffer)))
            buffer[pick], buffer[-1] = buffer[-1], buffer[pick]
            yield buffer.pop()

    def _decode(self, path: Path, index: int, payload: bytes) -> tuple[np.ndarray, np.ndarray]:
        try:
            return parse_record(payload, self.spec, self.min_side, self.frames)
        except Exception as error:  # noqa: BLE001 - protobuf, Pillow and shape errors all mean: this record is bad
            detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise DatasetError(f"{path}: record {index} of {self.subset_name} cannot be decoded ({detail})"
                               ) from None

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for batch in self.map_batches(lambda example, labels: (example, labels), 32):
            yield from batch

    def map_batches(self, fn: Callable[[np.ndarray, np.ndarray], Result], size: int,
                    workers: int | None = None) -> Iterator[list[Result]]:
        """Lists of `fn(example, labels)` for `size` records at a time, in order: decoding and `fn` run in a pool
        of threads (Pillow and numpy release the GIL), a few batches ahead of the consumer."""
        pool = ThreadPoolExecutor(workers or os.cpu_count() or 1, thread_name_prefix="autodl-decode")

        def job(path: Path, index: int, payload: bytes) -> Result:
            return fn(*self._decode(path, index, payload))

        pending: deque[list[Future]] = deque()
        try:
            chunk: list[Future] = []
            for item in self._payloads():
                chunk.append(pool.submit(job, *item))
                if len(chunk) == size:
                    pending.append(chunk)
                    chunk = []
                    if len(pending) > _IN_FLIGHT:
                        yield [future.result() for future in pending.popleft()]
            if chunk:
                pending.append(chunk)
            while pending:
                yield [future.result() for future in pending.popleft()]
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def __repr__(self) -> str:
        return f"NumpyDataset({self.subset_name}, files={len(self.files)}, min_side={self.min_side})"
