"""Read the AutoDL tf.data datasets once into compact uint8 arrays the learner trains and predicts from.

Each example (T, H, W, C) float32 becomes `frames` uint8 (F, R, R, C): F frames sampled evenly over time
(F = 1 for images), each resized in TensorFlow to R x R (a plain resize: the aspect ratio is NOT kept, which lets
variable-size images batch together). Channels stay as stored (1 for grey); `to_float_batch` expands them to 3.
DENSE data is stored "as is" by AutoDL (sometimes 0-255, sometimes [-1, 1]): the value range seen in the first
train batch fixes an affine map into [0, 1] that is then used for train and test alike.

Three dataset kinds are read: an eager TF2 dataset (our ingestion) by plain iteration, a graph-mode TF1 dataset
(the platform's ingestion; TF2 with eager execution off) through a one-shot iterator and a compat.v1 Session, and,
where TensorFlow cannot be imported, autodl_format.examples.NumpyDataset, whose frames are picked and resized here
with Pillow (its bilinear filter widens when shrinking, as tf.image.resize's antialias does), in its decoding
threads.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
from PIL import Image

from autodl_format import frameworks
from autodl_format.errors import DatasetError, first_line
from autodl_format.examples import NumpyDataset, evenly_spaced_indices
from autodl_format.image_set import scale_to_uint8
from autodl_format.reader import evenly_spaced

tf = frameworks.tf if frameworks.tensorflow_available() else None
_TF_READ_ERRORS = (tf.errors.OpError,) if tf is not None else ()  # an empty tuple: an except clause that never matches

READ_BATCH = 32  # small: time boxes and deadlines are checked between batches


class DataReadError(RuntimeError):
    """The dataset given to train/test cannot be read. One-line message."""


@dataclass
class ValueRange:
    """Affine map of raw example values into [0, 1], fixed from the first train batch."""

    low: float = 0.0
    high: float = 1.0

    @classmethod
    def from_batch(cls, batch: np.ndarray) -> "ValueRange":
        low, high = float(batch.min()), float(batch.max())
        if low >= -1e-3 and high <= 1.0 + 1e-3:
            return cls(0.0, 1.0)  # already [0, 1] (all COMPRESSED data, most DENSE data)
        if low >= 0.0 and high <= 255.0:
            return cls(0.0, 255.0)
        return cls(min(low, 0.0), high if high > low else low + 1.0)

    def to_uint8(self, batch: np.ndarray) -> np.ndarray:
        return scale_to_uint8(batch, self.low, self.high)


def _preprocess_fn(frames: int, side: int, letterbox: bool = False):
    """TF function: (T, H, W, C) float32 -> (frames, R, R, C) float32, frames sampled evenly over T. letterbox:
    the aspect ratio kept, the rest zero-padded, centred (as meta_classifier.fingerprint.letterbox does)."""

    def prep(example: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        example = tf.ensure_shape(example, [None, None, None, None])  # a dataset may not declare even the rank
        picked = tf.gather(example, evenly_spaced(tf.shape(example)[0], frames))
        if letterbox:
            return tf.image.resize_with_pad(picked, side, side, antialias=True), labels
        resized = tf.image.resize(picked, (side, side), antialias=True)
        return resized, labels

    return prep


def _resized(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """(H, W, C) float32 -> (height, width, C), bilinear, each channel as a 32-bit float image."""
    return np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(frame[..., c])).resize(
        (width, height), Image.Resampling.BILINEAR)) for c in range(frame.shape[-1])], axis=-1)


def _numpy_prepare(frames: int, side: int, letterbox: bool = False):
    """`_preprocess_fn` for numpy examples: (T, H, W, C) float32 -> (frames, side, side, C) float32."""

    def prep(example: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        picked = example[evenly_spaced_indices(len(example), frames)]
        if not letterbox:
            return np.stack([_resized(frame, side, side) for frame in picked]), labels
        height, width = picked.shape[1:3]
        ratio = max(width / side, height / side)  # tf.image.resize_with_pad's arithmetic, padding included
        new_height, new_width = max(int(height / ratio), 1), max(int(width / ratio), 1)
        top, left = max(int((side - height / ratio) / 2), 0), max(int((side - width / ratio) / 2), 0)
        out = np.zeros((frames, side, side, picked.shape[3]), dtype=np.float32)
        for k, frame in enumerate(picked):
            out[k, top:top + new_height, left:left + new_width] = _resized(frame, new_width, new_height)
        return out, labels

    return prep


def _numpy_batches(dataset: NumpyDataset, frames: int, side: int, batch: int, letterbox: bool
                   ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for pairs in dataset.map_batches(_numpy_prepare(frames, side, letterbox), batch):
        yield np.stack([example for example, _ in pairs]), np.stack([labels for _, labels in pairs])


def _is_graph_dataset(dataset: object) -> bool:
    if tf is None or not isinstance(dataset, tf.data.Dataset):
        raise DataReadError(f"expected a tf.data.Dataset, got {type(dataset).__name__}")
    return tf.is_symbolic_tensor(dataset._variant_tensor)  # built in a graph (TF1 style), not eagerly


def _batches(dataset: tf.data.Dataset, frames: int, side: int, batch: int = READ_BATCH, letterbox: bool = False
             ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (examples (B, F, R, R, C) float32, labels (B, K) float32) numpy batches in dataset order.
    An eager pipeline is built (its functions traced) here and now, but nothing is read before the first next():
    a reader made in the untimed constructor pays no tracing inside the budget."""
    if isinstance(dataset, NumpyDataset):
        return _numpy_batches(dataset, frames, side, batch, letterbox)
    if _is_graph_dataset(dataset):
        return _graph_batches(dataset, frames, side, batch, letterbox)
    pipeline = (dataset.map(_preprocess_fn(frames, side, letterbox), num_parallel_calls=tf.data.AUTOTUNE,
                            deterministic=True).batch(batch).prefetch(2))
    return _pull(pipeline)


def _pull(pipeline: tf.data.Dataset) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for examples, labels in pipeline:
        yield examples.numpy(), labels.numpy()


def _graph_batches(dataset: tf.data.Dataset, frames: int, side: int, batch: int, letterbox: bool
                   ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    # Graph mode (TF1 semantics): build the pipeline in the dataset's own graph and pull with a Session.
    graph = getattr(dataset, "_graph", None) or tf.compat.v1.get_default_graph()
    with graph.as_default():
        pipeline = dataset.map(_preprocess_fn(frames, side, letterbox)).batch(batch)
        next_batch = tf.compat.v1.data.make_one_shot_iterator(pipeline).get_next()
        session = tf.compat.v1.Session(graph=graph)
    with session:
        while True:
            try:
                examples, labels = session.run(next_batch)
            except tf.errors.OutOfRangeError:
                return
            yield examples, labels


@dataclass
class ExampleStore:
    """Examples read so far, as uint8 (N, F, R, R, C), and their labels (N, K) float32."""

    frames: int
    side: int
    examples: list[np.ndarray] = field(default_factory=list)
    labels: list[np.ndarray] = field(default_factory=list)
    count: int = 0

    def add(self, examples: np.ndarray, labels: np.ndarray) -> None:
        self.examples.append(examples)
        self.labels.append(labels)
        self.count += len(examples)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """All examples and labels as two arrays (concatenated once, then kept as one block)."""
        if len(self.examples) > 1:
            self.examples = [np.concatenate(self.examples)]
            self.labels = [np.concatenate(self.labels)]
        if not self.examples:
            raise DataReadError("no example has been read")
        return self.examples[0], self.labels[0]


class StreamReader:
    """Reads one dataset incrementally (the iterator survives between calls), at most `cap` examples.

    `read(limit, deadline)` stops after `limit` more examples, at `deadline` (time.monotonic()), or at the end.
    """

    def __init__(self, dataset: tf.data.Dataset | NumpyDataset, frames: int, side: int, cap: int,
                 value_range: ValueRange | None = None, batch: int = READ_BATCH, letterbox: bool = False) -> None:
        self.store = ExampleStore(frames, side)
        self.cap = cap
        self.value_range = value_range
        self.exhausted = False
        self.seconds = 0.0
        self._steady = [0.0, 0]  # seconds, examples: all batches but the first (which carries the start-up)
        self._batches = _batches(dataset, frames, side, batch, letterbox)
        self._pending: tuple[np.ndarray, np.ndarray] | None = None

    def read(self, limit: int | None = None, deadline: float | None = None) -> int:
        """Read more examples; returns how many were added."""
        start, added = time.monotonic(), 0
        want = self.cap - self.store.count if limit is None else min(limit, self.cap - self.store.count)
        while added < want and not self.exhausted:
            batch_start = time.monotonic()
            if deadline is not None and batch_start > deadline:
                break
            batch = self._next_batch()
            if batch is None:
                break
            examples, labels = batch
            if len(examples) > want - added:  # keep the rest for the next call
                self._pending = (examples[want - added:], labels[want - added:])
                examples, labels = examples[: want - added], labels[: want - added]
            if self.value_range is None:
                self.value_range = ValueRange.from_batch(examples)
            if self.store.count:
                self._steady[0] += time.monotonic() - batch_start
                self._steady[1] += len(examples)
            self.store.add(self.value_range.to_uint8(examples), labels.astype(np.float32))
            added += len(examples)
        if self.store.count >= self.cap:
            self.exhausted = True
        self.seconds += time.monotonic() - start
        return added

    def seconds_per_example(self) -> float | None:
        """Measured reading cost (decode + resize) per example, after the first batch when there is more: the
        first one also pays the pipeline's start-up (0.1 s, tens of times one batch of small images)."""
        if self._steady[1]:
            return self._steady[0] / self._steady[1]
        return self.seconds / self.store.count if self.store.count else None

    def _next_batch(self) -> tuple[np.ndarray, np.ndarray] | None:
        if self._pending is not None:
            batch, self._pending = self._pending, None
            return batch
        try:
            return next(self._batches)
        except StopIteration:
            self.exhausted = True
            return None
        except (DatasetError, *_TF_READ_ERRORS) as error:
            message = first_line(error)
            raise DataReadError(f"dataset cannot be decoded after {self.store.count} examples: {message}") from None


def is_multilabel(labels: np.ndarray) -> bool:
    """Multilabel when any train row does not hold exactly one positive (softmax needs exactly one)."""
    return bool(np.any((labels > 0).sum(axis=1) != 1))
