"""The data a known dataset's configuration is tuned on: its meta-train images only, split again into train and
test. The meta-test images, which the meta-classifier is evaluated on, never reach the tuning."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from autodl_format.errors import BadInput, DatasetError
from autodl_format.image_set import ImageSet, scale_to_uint8
from meta_classifier.known import load_catalogue
from autodl_format.offline.convert import UsageError, auto_encoding, make_dataset, materialise
from autodl_format.offline.paths import DEFAULT_RAW_ROOT, REPO_ROOT

TUNING_TEST_FRACTION = 0.3
DEFAULT_TUNING_ROOT = REPO_ROOT / "data" / "tune"


class TuningDataError(BadInput, ValueError):
    """A known dataset cannot be prepared for tuning; one line naming the dataset and what is missing."""


def known_dataset_dir(name: str, catalogue: dict | None = None, raw_root: Path = DEFAULT_RAW_ROOT) -> Path:
    """The AutoDL directory of a known dataset (meta-train as train, meta-test as test), as the catalogue says;
    made again from its source, with the catalogue's sizes and seed 0 (build_meta_dataset's), when absent."""
    catalogue = catalogue or load_catalogue()
    entry = next((d for d in catalogue["datasets"] if d["name"] == name), None)
    if entry is None:
        known = ", ".join(d["name"] for d in catalogue["datasets"])
        raise TuningDataError(f"{name}: not a known dataset (known: {known})")
    path = Path(entry["autodl_dir"])
    path = path if path.is_absolute() else REPO_ROOT / path
    if not path.is_dir():
        try:
            _, path, _ = materialise(entry["source"], raw_root, path.parent, catalogue["max_images"],
                                     catalogue["test_fraction"], seed=0)
        except (DatasetError, UsageError) as error:
            raise TuningDataError(f"{name}: {path} is missing and cannot be made again ({error})") from None
    return path


def _train_images(dataset_dir: Path) -> ImageSet:
    from autodl_format.reader import AutoDLDataset, find_data_dir

    images, labels = [], []
    for example, label in AutoDLDataset(find_data_dir(dataset_dir) / "train").iter_numpy():
        pixels = scale_to_uint8(example, 0.0, 1.0)
        images.append(pixels[0] if pixels.shape[0] == 1 else pixels)  # single frames are images
        labels.append(label)
    return ImageSet(dataset_dir.name, images, np.asarray(labels).round().astype(np.uint8))


def ensure_tuning_dataset(name: str, root: Path = DEFAULT_TUNING_ROOT, catalogue: dict | None = None) -> Path:
    """root/NAME: the known dataset's meta-train images split stratified into train and test (made once; the
    known dataset as `catalogue` says, the shipped one by default). Images are stored as PNG (lossless: what the
    known dataset decodes to), a video set's frames as JPEG, as the converter's --encoding auto stores videos and
    so as a Model gets them."""
    target = Path(root) / name
    if target.is_dir():
        return target
    images = _train_images(known_dataset_dir(name, catalogue))
    return make_dataset(images, Path(root), name, TUNING_TEST_FRACTION, auto_encoding(images), seed=0)
