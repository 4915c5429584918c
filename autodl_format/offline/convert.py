"""Turn a source of labelled images or videos (scikit-learn's digits, a shared raw set, an image or video folder,
the AutoDL file-format layout, a TensorFlow Datasets builder) into an AutoDL dataset, split stratified into train
and test. The library behind `python -m scripts.make_dataset` and the offline pipelines that convert known sets."""
from __future__ import annotations

from pathlib import Path

from autodl_format.errors import BadInput, DatasetError
from autodl_format.image_set import ImageSet, stratified_split
from autodl_format.offline.paths import DEFAULT_RAW_ROOT
from autodl_format.offline.sources import (from_file_format, from_image_folder, from_shared_raw, from_tfds, from_video_folder,
                                          sklearn_digits)
from autodl_format.offline.video import MAX_FRAMES

DIGITS_NAME = "digits"
DIGITS_TEST_FRACTION = 0.2
MOCK_EXAMPLES = 20


class UsageError(BadInput):
    """A source that names no readable source (a bad --source value)."""


def check_source(source: str) -> tuple[str, str]:
    """(kind, argument) of a --source value (`digits`, `raw:NAME`, ...); UsageError when it names no kind of
    source."""
    kind, _, argument = source.partition(":")
    if kind == "digits" and not argument:
        return kind, argument
    if not argument:
        raise UsageError(f"source {source!r}: expected digits, raw:NAME, folder:PATH, video-folder:PATH, "
                         f"file-format:PATH, tfds:BUILDER or mock-tfds:BUILDER")
    if kind not in ("raw", "folder", "video-folder", "file-format", "tfds", "mock-tfds"):
        raise UsageError(f"source {source!r}: unknown kind {kind!r} (digits, raw, folder, video-folder, "
                         f"file-format, tfds, mock-tfds)")
    return kind, argument


def load_source(source: str, raw_root: Path | None, max_samples: int | None, tfds_data_dir: Path | None,
                max_frames: int = MAX_FRAMES, segments: int = 1) -> ImageSet:
    """Turn a --source value into an ImageSet (tfds sources stop reading at max_samples; video sources keep at
    most max_frames frames per clip and cut each video into `segments` clips)."""
    kind, argument = check_source(source)
    if kind == "digits":
        return sklearn_digits()
    if kind == "raw":
        if raw_root is None:
            raise UsageError(f"source {source!r}: no raw dataset root ({DEFAULT_RAW_ROOT} does not exist); "
                             f"pass --raw-root")
        return from_shared_raw(argument, raw_root, max_frames, segments)
    if kind == "folder":
        return from_image_folder(Path(argument).expanduser())
    if kind == "video-folder":
        return from_video_folder(Path(argument).expanduser(), max_frames=max_frames, segments=segments)
    if kind == "file-format":
        return from_file_format(Path(argument).expanduser(), max_frames=max_frames, segments=segments)
    if kind == "tfds":
        return from_tfds(argument, data_dir=tfds_data_dir, max_samples=max_samples)
    # mock-tfds, the one kind left
    from autodl_format.frameworks import tf  # noqa: F401  (triton kept out, TF quiet, then tfds)
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=max_samples or MOCK_EXAMPLES):
        return from_tfds(argument, max_samples=max_samples)


def subsample(image_set: ImageSet, max_samples: int | None, seed: int) -> ImageSet:
    """About max_samples examples, drawn per class so every class keeps its share."""
    if max_samples is None or len(image_set) <= max_samples:
        return image_set
    return stratified_split(image_set, max_samples / len(image_set), seed)[1]


def auto_encoding(image_set: ImageSet) -> str:
    """What --encoding auto stores: a video's frames as JPEG (as video codecs are lossy, PNG frames would only be
    larger), an image set's original JPEG files unchanged when most images have one, otherwise PNG."""
    return "jpeg" if image_set.is_video else image_set.preferred_encoding


def make_dataset(image_set: ImageSet, out: Path, name: str, test_fraction: float, encoding: str, seed: int,
                 overwrite: bool = False) -> Path:
    """Split stratified and write; returns OUT/NAME."""
    from autodl_format.offline.writer import write_dataset  # imports TensorFlow: only when something is written

    train, test = stratified_split(image_set, test_fraction, seed)
    return write_dataset(train, test, out, name, encoding=encoding, overwrite=overwrite)


def ensure_digits_dataset(root: str | Path) -> Path:
    """root/digits as an AutoDL dataset: converted from scikit-learn's digits on first use, reused afterwards
    (rewritten when the existing copy does not load)."""
    from autodl_format.reader import load_task

    dataset_dir = Path(root) / DIGITS_NAME
    if dataset_dir.exists():
        try:
            load_task(dataset_dir, check="framing")
            return dataset_dir
        except DatasetError:
            pass
    return make_dataset(sklearn_digits(), Path(root), DIGITS_NAME, DIGITS_TEST_FRACTION, "png", seed=0,
                        overwrite=True)


def check_materialisable(source: str) -> None:
    """UsageError unless materialise reads this source: one of check_source's or autodl:PATH (so that a command
    refuses a misspelt source before any work)."""
    if source.partition(":")[0] != "autodl":
        check_source(source)


def materialise(source: str, raw_root: Path | None, work_dir: Path, max_images: int, test_fraction: float,
                seed: int, tfds_data_dir: Path | None = None) -> tuple[str, Path, dict]:
    """Make (or find, for AutoDL sources) the AutoDL dataset of one source; returns (name, dir, catalogue info)."""
    kind, _, argument = source.partition(":")
    if kind == "autodl":  # already in AutoDL format: used as it is
        dataset_dir = Path(argument)
        return dataset_dir.name, dataset_dir, {"source": f"autodl:{dataset_dir.name}"}
    image_set = load_source(source, raw_root, max_images if kind == "tfds" else None, tfds_data_dir)
    used = subsample(image_set, max_images, seed)
    name = image_set.name.replace(".", "_")
    dataset_dir = make_dataset(used, work_dir, name, test_fraction, auto_encoding(used), seed, overwrite=True)
    return name, dataset_dir, {"source": source, "source_samples": len(image_set)}
