"""Video files -> ImageSet of (T, H, W, C) uint8 clips: a class-folder layout (one sub-folder of videos per class)
and the AutoDL "file format" layout (labels.csv with FileName,Labels, plus label.name), as the contrib formatter
takes them. Files holding images in that layout are read as images.

Decoding is PyAV's (FFmpeg inside its wheel: any container and codec FFmpeg reads, e.g. MJPEG .avi and the DivX
MPEG-4 of mini-kth). A clip keeps at most `max_frames` frames (MAX_FRAMES = 64 by default), sampled evenly over the
whole video, so a long video costs bounded memory and a bounded record; shorter clips keep all their frames, so
lengths may vary (the metadata's sequence_size is then -1). A clip is grey (1 channel) when in every frame of every
clip of the set R, G and B differ by at most GREY_TOLERANCE (mini-kth's KTH footage), else RGB.

An undecodable or empty video is reported (one line naming the file and the problem, through `report`) and
skipped; a class left without any clip, or a set without any, is a DatasetError.
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Callable

import numpy as np

from autodl_format.errors import DatasetError, first_line
from autodl_format.image_set import ImageSet

MAX_FRAMES = 64
VIDEO_EXTENSIONS = frozenset({".avi", ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv",
                              ".ogv", ".3gp", ".gif"})
GREY_TOLERANCE = 8  # channel spread still counted as grey: chroma noise of lossy codecs (mini-kth: 3 levels)
Report = Callable[[str], None]


def report_to_stderr(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def is_video_file(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS


def read_video(path: str | Path, max_frames: int = MAX_FRAMES) -> np.ndarray:
    """Decode one video file into uint8 (T, H, W, 3) RGB: all its frames, or max_frames of them spread evenly
    (to within the thinning step below) from the first frame to the last.
    DatasetError naming the file when it cannot be decoded, holds no frame, or changes frame size."""
    import av  # imported on first use: image-only conversions never load FFmpeg

    if max_frames < 1:
        raise ValueError(f"max_frames must be at least 1, got {max_frames}")
    path = Path(path)
    # The length in the header can be missing or wrong, so frames are thinned while decoding: every `step`-th
    # frame is kept, and when 2 * max_frames are kept every second one is dropped and the step doubles. Memory
    # stays under 2 * max_frames frames; the last frame is added at the end, so the choice spans the whole video.
    kept: list[tuple[int, np.ndarray]] = []
    step, last = 1, None
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DatasetError(f"{path}: no video stream")
            for index, frame in enumerate(container.decode(container.streams.video[0])):
                last = (index, frame)
                if index % step == 0:
                    kept.append((index, frame.to_ndarray(format="rgb24")))
                    if len(kept) >= 2 * max_frames:
                        kept, step = kept[::2], step * 2
            if last is not None and kept[-1][0] != last[0]:
                kept.append((last[0], last[1].to_ndarray(format="rgb24")))
    except (av.FFmpegError, OSError, ValueError) as err:
        raise DatasetError(f"{path}: cannot decode video ({first_line(err) or type(err).__name__})") from None
    if not kept:
        raise DatasetError(f"{path}: video holds no frame")
    if len({frame.shape for _, frame in kept}) > 1:
        raise DatasetError(f"{path}: frame size changes within the video")
    # The kept frames nearest to evenly spaced times from the first frame to the last.
    positions = np.array([index for index, _ in kept])
    targets = np.linspace(0, positions[-1], min(max_frames, len(kept)))
    pick = np.unique(np.abs(positions[:, None] - targets[None, :]).argmin(axis=0))
    return np.stack([kept[i][1] for i in pick])


def _decoded(path: Path, max_frames: int, report: Report) -> np.ndarray | None:
    try:
        return read_video(path, max_frames)
    except DatasetError as err:
        report(f"{err}; skipped")
        return None


def _grey_if_all_grey(clips: list[np.ndarray]) -> list[np.ndarray]:
    def spread(clip: np.ndarray) -> int:
        return int((clip.max(axis=-1).astype(np.int16) - clip.min(axis=-1)).max())

    if any(spread(clip) > GREY_TOLERANCE for clip in clips):
        return clips
    return [np.rint(clip.mean(axis=-1, keepdims=True)).astype(np.uint8) for clip in clips]


def _segments(clip: np.ndarray, segments: int) -> list[np.ndarray]:
    """`segments` consecutive parts of equal length (the remainder frames dropped); the clip itself for 1."""
    if segments == 1:
        return [clip]
    length = len(clip) // segments
    if length < 1:
        return []
    return [clip[i * length:(i + 1) * length] for i in range(segments)]


def _build(name: str, paths: list[Path], classes: list[int], label_names: list[str], max_frames: int,
           segments: int, report: Report, where: Path) -> ImageSet:
    clips: list[np.ndarray] = []
    kept_classes: list[int] = []
    for path, label in zip(paths, classes):
        if not path.is_file():
            raise DatasetError(f"{path}: file missing")
        clip = _decoded(path, max_frames * segments, report)
        if clip is None:
            continue
        parts = _segments(clip, segments)
        if not parts:
            report(f"{path}: {len(clip)} frames cannot make {segments} segments; skipped")
        clips += parts
        kept_classes += [label] * len(parts)
    if not clips:
        raise DatasetError(f"{where}: no decodable video")
    missing = sorted(set(range(len(label_names))) - set(kept_classes))
    if missing:
        raise DatasetError(f"{where}: no decodable video left for class(es) "
                           f"{', '.join(label_names[i] for i in missing)}")
    return ImageSet.from_class_indices(name, _grey_if_all_grey(clips), kept_classes, label_names=label_names)


def from_video_folder(root: str | Path, name: str | None = None, max_frames: int = MAX_FRAMES, segments: int = 1,
                      report: Report = report_to_stderr) -> ImageSet:
    """One sub-folder of video files per class (sorted names are the classes); files with a video extension
    (VIDEO_EXTENSIONS) are the examples. `segments` > 1 cuts each video into that many consecutive clips of the
    same class (each sampled to max_frames): more examples from few long videos, but parts of one video are
    alike, so a train/test split of them measures little beyond the pipeline."""
    from autodl_format.sources import safe_name

    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: video folder does not exist")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(class_dirs) < 2:
        raise DatasetError(f"{root}: expected one sub-folder per class (at least 2), found {len(class_dirs)}")
    paths: list[Path] = []
    classes: list[int] = []
    for index, class_dir in enumerate(class_dirs):
        files = sorted(p for p in class_dir.rglob("*") if p.is_file() and not p.name.startswith(".")
                       and is_video_file(p))
        if not files:
            raise DatasetError(f"{class_dir}: class folder holds no video file ({', '.join(sorted(VIDEO_EXTENSIONS))})")
        paths += files
        classes += [index] * len(files)
    return _build(name or safe_name(root.name), paths, classes, [d.name for d in class_dirs], max_frames, segments,
                  report, root)


def from_file_format(folder: str | Path, name: str | None = None, max_frames: int = MAX_FRAMES, segments: int = 1,
                     report: Report = report_to_stderr) -> ImageSet:
    """The AutoDL file-format layout: `labels.csv` (columns FileName, Labels; Labels one class index, or several
    separated by spaces for multilabel) and `label.name` (class names, one per line, in index order) beside the
    files. Video files give clips (see from_video_folder for max_frames and segments); otherwise the files are
    read as images."""
    from autodl_format.sources import from_labelled_images, safe_name

    folder = Path(folder)
    labels_csv, names_file = folder / "labels.csv", folder / "label.name"
    for required in (labels_csv, names_file):
        if not required.is_file():
            raise DatasetError(f"{required}: missing (the file-format layout needs labels.csv and label.name)")
    label_names = names_file.read_text(encoding="utf-8").split()
    with labels_csv.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or not {"FileName", "Labels"} <= set(rows[0]):
        raise DatasetError(f"{labels_csv}: expected a header FileName,Labels and at least one row")
    paths = [folder / row["FileName"] for row in rows]
    labels = np.zeros((len(rows), len(label_names)), dtype=np.uint8)
    for line, row in enumerate(rows, start=2):
        try:
            indices = [int(value) for value in row["Labels"].split()]
        except ValueError:
            raise DatasetError(f"{labels_csv}: line {line}: Labels {row['Labels']!r} is not class indices") from None
        if not indices or min(indices) < 0 or max(indices) >= len(label_names):
            raise DatasetError(f"{labels_csv}: line {line}: Labels {row['Labels']!r} outside 0..{len(label_names) - 1}")
        labels[line - 2, indices] = 1
    name = name or safe_name(folder.name)
    if not all(is_video_file(path) for path in paths):
        return from_labelled_images(name, paths, labels, label_names)
    if (labels.sum(axis=1) != 1).any():
        raise DatasetError(f"{labels_csv}: multilabel rows are only supported for images")
    return _build(name, paths, labels.argmax(axis=1).tolist(), label_names, max_frames, segments, report, folder)
