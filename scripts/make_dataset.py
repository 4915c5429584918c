"""Convert labelled images into an AutoDL dataset (NAME.data/{{train,test}}, NAME.solution, ...), split
stratified into train and test.

Sources:
  digits             the 1797 8x8 digits bundled with scikit-learn
  raw:NAME           a dataset of the shared raw folder (--raw-root), NAME one of: {raw_names}
  folder:PATH        one sub-folder per class, any images PIL reads, any sizes
  video-folder:PATH  one sub-folder per class, video files (any container/codec FFmpeg reads, via PyAV)
  file-format:PATH   the AutoDL file-format layout: labels.csv (FileName,Labels) and label.name beside the
                     files, images or videos (e.g. autodl_contrib_examples/file_format/mini-kth)
  tfds:BUILDER       a TensorFlow Datasets builder (downloads unless already in --tfds-data-dir)
  mock-tfds:BUILDER  the same builder filled with generated examples, offline (tfds.testing.mock_data)

Examples:
  python -m scripts.make_dataset --source digits --out data
  python -m scripts.make_dataset --source raw:coil20 --out data --test-fraction 0.3
  python -m scripts.make_dataset --source folder:~/photos/pets --out data --name pets
  python -m scripts.make_dataset --source tfds:cifar10 --out data --max-samples 5000
  python -m scripts.make_dataset --source video-folder:../shared/datasets_raw/gtsrb_track_clips_video --out data
  python -m scripts.make_dataset --source mock-tfds:mnist --out /tmp/mock --max-samples 40

Frames are stored as PNG, or with --encoding auto (the default) as the source's own JPEG files, byte for byte,
when most of its images come from JPEG files (raw:NAME class-folder sets, folder:PATH of photos).
The result is OUT/NAME; give that directory to ingestion as --dataset_dir. Neither the name nor the output
path may contain "train" (see the protocol doc, section 1.2).

Videos become AutoDL sequences: one JPEG per frame (unless --encoding says otherwise), at most --max-frames
frames per clip ({max_frames} by default) sampled evenly over the whole video, shorter clips kept whole (variable
length: sequence_size -1). An undecodable or empty video is reported with its file name and skipped.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autodl_format.errors import DatasetError
from autodl_format.image_set import ImageSet, stratified_split
from autodl_format.sources import RAW_DATASETS, from_image_folder, from_shared_raw, from_tfds, sklearn_digits
from autodl_format.video import MAX_FRAMES, from_file_format, from_video_folder
from scripts import REPO_ROOT

DEFAULT_RAW_ROOT = REPO_ROOT.parent / "shared" / "datasets_raw"
DIGITS_NAME = "digits"
DIGITS_TEST_FRACTION = 0.2
MOCK_EXAMPLES = 20


class UsageError(Exception):
    """A bad command-line argument."""


def load_source(source: str, raw_root: Path | None, max_samples: int | None, tfds_data_dir: Path | None,
                max_frames: int = MAX_FRAMES, segments: int = 1) -> ImageSet:
    """Turn a --source value into an ImageSet (tfds sources stop reading at max_samples; video sources keep at
    most max_frames frames per clip and cut each video into `segments` clips)."""
    kind, _, argument = source.partition(":")
    if kind == "digits" and not argument:
        return sklearn_digits()
    if not argument:
        raise UsageError(f"--source {source!r}: expected digits, raw:NAME, folder:PATH, video-folder:PATH, "
                         f"file-format:PATH, tfds:BUILDER or mock-tfds:BUILDER")
    if kind == "raw":
        if raw_root is None:
            raise UsageError(f"--source {source}: no raw dataset root ({DEFAULT_RAW_ROOT} does not exist); "
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
    if kind == "mock-tfds":
        from autodl_format.frameworks import tf  # noqa: F401  (triton kept out, TF quiet, then tfds)
        import tensorflow_datasets as tfds

        with tfds.testing.mock_data(num_examples=max_samples or MOCK_EXAMPLES):
            return from_tfds(argument, max_samples=max_samples)
    raise UsageError(f"--source {source!r}: unknown kind {kind!r} (digits, raw, folder, video-folder, file-format, "
                     f"tfds, mock-tfds)")


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
    from autodl_format.writer import write_dataset  # imports TensorFlow: only when something is written

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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scripts.make_dataset",
                                     description=__doc__.format(raw_names=", ".join(RAW_DATASETS),
                                                                 max_frames=MAX_FRAMES),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", required=True, help="digits | raw:NAME | folder:PATH | video-folder:PATH | "
                                                        "file-format:PATH | tfds:BUILDER | mock-tfds:BUILDER")
    parser.add_argument("--out", type=Path, required=True, help="output directory; the dataset goes to OUT/NAME")
    parser.add_argument("--name", help="dataset name (default: from the source); letters, digits, _ and -")
    parser.add_argument("--raw-root", type=Path, default=DEFAULT_RAW_ROOT if DEFAULT_RAW_ROOT.is_dir() else None,
                        help=f"shared raw datasets folder (default {DEFAULT_RAW_ROOT} when it exists)")
    parser.add_argument("--test-fraction", type=float, default=0.2, help="share of each class in test (0.2)")
    parser.add_argument("--max-samples", type=int, help="keep about this many examples (stratified; tfds: the "
                                                        "first ones read; mock-tfds: examples generated)")
    parser.add_argument("--encoding", choices=("auto", "png", "jpeg", "dense"), default="auto",
                        help="frame storage: auto (default: jpeg for videos; for images the source's JPEG files "
                             "unchanged when most images are JPEG files, else png), png (lossless), jpeg (original "
                             "JPEG files kept, other frames compressed at quality 95), dense (float32)")
    parser.add_argument("--max-frames", type=int, default=MAX_FRAMES,
                        help=f"videos: frames kept per clip, sampled evenly ({MAX_FRAMES})")
    parser.add_argument("--video-segments", type=int, default=1,
                        help="videos: cut each video into this many consecutive clips of its class (1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split and subsampling (0)")
    parser.add_argument("--tfds-data-dir", type=Path, help="TFDS data directory (default: TFDS's own)")
    parser.add_argument("--overwrite", action="store_true", help="replace OUT/NAME if it exists")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.max_samples is not None and args.max_samples < 2:
            raise UsageError("--max-samples must be at least 2")
        if args.max_frames < 1 or args.video_segments < 1:
            raise UsageError("--max-frames and --video-segments must be at least 1")
        image_set = load_source(args.source, args.raw_root, args.max_samples, args.tfds_data_dir, args.max_frames,
                                args.video_segments)
        image_set = subsample(image_set, args.max_samples, args.seed)
        name = args.name or image_set.name
        encoding = args.encoding
        if encoding == "auto":
            encoding = auto_encoding(image_set)
        dataset_dir = make_dataset(image_set, args.out, name, args.test_fraction, encoding, args.seed,
                                   args.overwrite)
    except (UsageError, DatasetError, ValueError, FileExistsError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{dataset_dir}: {len(image_set)} examples, {image_set.num_classes} classes, {encoding}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
