"""`ImageSet`: an in-memory labelled image (or video) collection, the common currency of sources and writer."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


def scale_to_uint8(array: np.ndarray, low: float, high: float) -> np.ndarray:
    """Map pixel values in [low, high] linearly onto 0..255 (rounded, clipped), in the array's own float type."""
    scaled = (array - low) * (255.0 / (high - low))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


@dataclass(repr=False)
class ImageSet:
    """N examples with multi-hot labels.

    images: uint8 arrays, each (H, W, C) for images or (T, H, W, C) for videos; sizes may differ between
        examples, but rank and channel count may not.
    labels: (N, num_classes) array of 0/1.
    label_names: class names in index order, or None when unknown.
    jpeg_files: per image, the bytes of the JPEG file it was decoded from when those decode to exactly this
        image's mode (so a writer may store them unchanged instead of re-encoding), else None; None for the whole
        set when no image came from such a file.
    """

    name: str
    images: list[np.ndarray]
    labels: np.ndarray
    label_names: list[str] | None = None
    jpeg_files: list[bytes | None] | None = None

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels)
        if self.labels.ndim != 2:
            raise ValueError(f"{self.name}: labels must be (N, num_classes), got shape {self.labels.shape}")
        if len(self.images) != self.labels.shape[0]:
            raise ValueError(f"{self.name}: {len(self.images)} images but {self.labels.shape[0]} label rows")
        if not np.isin(self.labels, (0, 1)).all():
            raise ValueError(f"{self.name}: labels must be 0/1")
        self.labels = self.labels.astype(np.uint8)
        if self.label_names is not None and len(self.label_names) != self.num_classes:
            raise ValueError(f"{self.name}: {len(self.label_names)} label names for {self.num_classes} classes")
        if self.jpeg_files is not None and len(self.jpeg_files) != len(self.images):
            raise ValueError(f"{self.name}: {len(self.jpeg_files)} JPEG file entries for {len(self.images)} images")
        shapes = {(image.ndim, image.shape[-1]) for image in self.images}
        if len(shapes) > 1:
            raise ValueError(f"{self.name}: images differ in rank or channel count: {sorted(shapes)}")
        for index, image in enumerate(self.images):
            if image.dtype != np.uint8 or image.ndim not in (3, 4):
                raise ValueError(f"{self.name}: image {index} must be uint8 (H,W,C) or (T,H,W,C), "
                                 f"got {image.dtype} {image.shape}")

    def __repr__(self) -> str:
        shapes = {image.shape for image in self.images}
        shape = shapes.pop() if len(shapes) == 1 else f"{len(shapes)} different shapes"
        return f"ImageSet({self.name!r}, {len(self)} examples, {self.num_classes} classes, {shape})"

    def __len__(self) -> int:
        return len(self.images)

    @property
    def num_classes(self) -> int:
        return self.labels.shape[1]

    @property
    def num_channels(self) -> int:
        return self.images[0].shape[-1] if self.images else 0

    @property
    def is_video(self) -> bool:
        return bool(self.images) and self.images[0].ndim == 4

    @property
    def preferred_encoding(self) -> str:
        """'jpeg' when most images carry their original JPEG file (stored unchanged then), else 'png'."""
        kept = sum(file is not None for file in self.jpeg_files or ())
        return "jpeg" if 2 * kept > len(self) else "png"

    @classmethod
    def from_class_indices(cls, name: str, images: Sequence[np.ndarray], class_indices: Sequence[int],
                           num_classes: int | None = None, label_names: list[str] | None = None,
                           jpeg_files: list[bytes | None] | None = None) -> ImageSet:
        """Single-label construction: one class index per image (0-based)."""
        indices = np.asarray(class_indices, dtype=np.int64).reshape(-1)
        if num_classes is None:
            num_classes = len(label_names) if label_names is not None else int(indices.max()) + 1
        if indices.size and (indices.min() < 0 or indices.max() >= num_classes):
            raise ValueError(f"{name}: class indices must lie in [0, {num_classes}), got "
                             f"[{indices.min()}, {indices.max()}]")
        labels = np.zeros((len(indices), num_classes), dtype=np.uint8)
        labels[np.arange(len(indices)), indices] = 1
        return cls(name, list(images), labels, label_names, jpeg_files)

    def subset(self, indices: Sequence[int], name: str | None = None) -> ImageSet:
        """The examples at `indices`, in that order."""
        picked = np.asarray(indices, dtype=np.int64)
        files = None if self.jpeg_files is None else [self.jpeg_files[i] for i in picked]
        return ImageSet(name or self.name, [self.images[i] for i in picked], self.labels[picked], self.label_names,
                        files)


def stratified_split(image_set: ImageSet, test_fraction: float, seed: int = 0) -> tuple[ImageSet, ImageSet]:
    """Split per class (an example's class is its first positive label) into (train, test), deterministically.

    Each class puts round(n * test_fraction) examples into test, but at least one into train when it has two or
    more, and its only example into train when it has one. Both parts are shuffled (the AutoDL reader hands
    examples over in file order, so a class-sorted file would hurt learners that read without shuffling).
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if len(image_set) < 2:
        raise ValueError(f"{image_set.name}: need at least 2 examples to split, got {len(image_set)}")
    rng = np.random.default_rng(seed)
    has_label = image_set.labels.any(axis=1)
    groups = np.where(has_label, image_set.labels.argmax(axis=1), -1)
    train_idx: list[int] = []
    test_idx: list[int] = []
    for group in np.unique(groups):
        members = rng.permutation(np.flatnonzero(groups == group))
        n_test = min(int(round(len(members) * test_fraction)), len(members) - 1)
        test_idx += members[:n_test].tolist()
        train_idx += members[n_test:].tolist()
    if not test_idx:  # tiny sets: move one example of the largest class so test is not empty
        counts = {g: int((groups[train_idx] == g).sum()) for g in np.unique(groups)}
        largest = max(counts, key=counts.get)
        moved = next(i for i in train_idx if groups[i] == largest)
        train_idx.remove(moved)
        test_idx.append(moved)
    return image_set.subset(rng.permutation(train_idx)), image_set.subset(rng.permutation(test_idx))
