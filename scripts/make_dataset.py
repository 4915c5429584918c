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

from autodl_format.cli import BAD_INPUT, command, print_error
from autodl_format.offline.convert import UsageError, auto_encoding, load_source, make_dataset, subsample
from autodl_format.offline.paths import DEFAULT_RAW_ROOT
from autodl_format.offline.sources import RAW_DATASETS
from autodl_format.offline.video import MAX_FRAMES


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


@command
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
    except ValueError as err:  # the split's and the writer's refusals (e.g. a name with "train", an empty test set)
        print_error(err)
        return BAD_INPUT
    print(f"{dataset_dir}: {len(image_set)} examples, {image_set.num_classes} classes, {encoding}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
