"""Small real AutoDL datasets (TFRecords written by autodl_format.offline.writer) for the learner tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

from autodl_format.image_set import ImageSet
from autodl_format.offline.writer import write_dataset


def digits_sets(n_train: int, n_test: int, classes: int = 10) -> tuple[ImageSet, ImageSet]:
    """sklearn digits (8x8 grey, values 0-16 scaled to 0-255), first n_train / next n_test of the chosen classes."""
    digits = load_digits()
    keep = np.flatnonzero(digits.target < classes)
    images = [(digits.images[i] * (255 / 16)).astype(np.uint8)[..., None] for i in keep]
    targets = digits.target[keep]
    train = ImageSet.from_class_indices("digits", images[:n_train], targets[:n_train], classes)
    test = ImageSet.from_class_indices("digits", images[n_train:n_train + n_test],
                                       targets[n_train:n_train + n_test], classes)
    return train, test


def one_per_class_sets(classes: int, n_test: int) -> tuple[ImageSet, ImageSet]:
    """Tiny: one training image per class (digits), a larger test set."""
    digits = load_digits()
    firsts = [int(np.flatnonzero(digits.target == c)[0]) for c in range(classes)]
    rest = [i for i in range(len(digits.target)) if digits.target[i] < classes and i not in firsts][:n_test]
    image = lambda i: (digits.images[i] * (255 / 16)).astype(np.uint8)[..., None]  # noqa: E731
    train = ImageSet.from_class_indices("tiny", [image(i) for i in firsts], list(range(classes)), classes)
    test = ImageSet.from_class_indices("tiny", [image(i) for i in rest], digits.target[rest], classes)
    return train, test


def colour_variable_sets(rng: np.random.Generator, n_train: int, n_test: int) -> tuple[ImageSet, ImageSet]:
    """Colour images of varying sizes whose class is the dominant colour channel (learnable)."""
    def make(n):
        images, classes = [], []
        for _ in range(n):
            c = int(rng.integers(3))
            h, w = int(rng.integers(12, 40)), int(rng.integers(12, 40))
            image = rng.integers(0, 90, size=(h, w, 3))
            image[..., c] += 160
            images.append(image.astype(np.uint8))
            classes.append(c)
        return ImageSet.from_class_indices("colours", images, classes, 3)
    return make(n_train), make(n_test)


def video_sets(rng: np.random.Generator, n_train: int, n_test: int, frames: int = 6) -> tuple[ImageSet, ImageSet]:
    """Grey clips (T, 16, 16, 1): class 0 gets brighter over time, class 1 darker."""
    def make(n):
        clips, classes = [], []
        for _ in range(n):
            c = int(rng.integers(2))
            ramp = np.linspace(40, 220, frames)[:: 1 if c == 0 else -1]
            clip = ramp[:, None, None, None] + rng.normal(0, 10, size=(frames, 16, 16, 1))
            clips.append(np.clip(clip, 0, 255).astype(np.uint8))
            classes.append(c)
        return ImageSet.from_class_indices("clips", clips, classes, 2)
    return make(n_train), make(n_test)


def brightness_clip_sets(rng: np.random.Generator, n_train: int, n_test: int, frames: int = 6
                         ) -> tuple[ImageSet, ImageSet]:
    """Grey clips (T, 20, 20, 1) whose class shows in every frame: class 0 dark, class 1 bright."""
    def make(n):
        classes = rng.integers(2, size=n)
        clips = [np.clip(rng.normal(70 + 110 * c, 25, size=(frames, 20, 20, 1)), 0, 255).astype(np.uint8)
                 for c in classes]
        return ImageSet.from_class_indices("clips", clips, classes, 2)
    return make(n_train), make(n_test)


def multilabel_sets(rng: np.random.Generator, n_train: int, n_test: int) -> tuple[ImageSet, ImageSet]:
    """Colour 24x24 images; label k is on when channel k is bright (any number of labels per image, even none)."""
    def make(n):
        labels = (rng.random((n, 3)) < 0.4).astype(np.uint8)
        images = [np.clip(rng.normal(60, 20, size=(24, 24, 3)) + 150 * row, 0, 255).astype(np.uint8)
                  for row in labels]
        return ImageSet("bright_channels", images, labels)
    return make(n_train), make(n_test)


def large_image_sets(rng: np.random.Generator, n_train: int, n_test: int, side: int = 1000
                     ) -> tuple[ImageSet, ImageSet]:
    """Colour side x side images (smooth, so JPEG keeps them small); the class is the dominant channel."""
    ramp = np.linspace(0, 60, side)[None, :, None]
    def make(n):
        classes = rng.integers(3, size=n)
        images = []
        for c in classes:
            image = np.broadcast_to(ramp, (side, side, 3)) + rng.integers(0, 40, size=3)
            image[..., c] += 150
            images.append(image.astype(np.uint8))
        return ImageSet.from_class_indices("large", images, classes, 3)
    return make(n_train), make(n_test)


def many_class_sets(rng: np.random.Generator, classes: int, per_class: int = 2) -> tuple[ImageSet, ImageSet]:
    """8x8 grey images, one random template per class plus noise: `per_class` train and one test image each."""
    templates = rng.integers(0, 256, size=(classes, 8, 8, 1))
    def make(copies):
        indices = np.repeat(np.arange(classes), copies)
        images = [np.clip(templates[c] + rng.normal(0, 20, size=(8, 8, 1)), 0, 255).astype(np.uint8)
                  for c in indices]
        return ImageSet.from_class_indices("many", images, indices, classes)
    return make(per_class), make(1)


def write(sets: tuple[ImageSet, ImageSet], root: Path, name: str, encoding: str = "png") -> Path:
    return write_dataset(sets[0], sets[1], root, name, encoding=encoding)


def metadata_without_files(task, root: Path):
    """The task's train metadata, naming train/test directories that hold only the metadata files: the learner
    cannot read the records itself and must read the datasets it is given (as with an in-memory dataset)."""
    import shutil

    from autodl_format.metadata import METADATA_FILE, load_metadata

    for subset in (task.train, task.test):
        target = root / f"{task.name}_nofiles.data" / subset.subset_dir.name
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(subset.subset_dir / METADATA_FILE, target / METADATA_FILE)
    return load_metadata(root / f"{task.name}_nofiles.data" / "train")
