"""Video files -> ImageSet of (T, H, W, C) uint8 clips (the layouts that list them, a class folder of videos or the
AutoDL file-format layout, are read in autodl_format.offline.sources).

Decoding is PyAV's (FFmpeg inside its wheel: any container and codec FFmpeg reads, e.g. MJPEG .avi and the DivX
MPEG-4 of mini-kth). A clip keeps at most `max_frames` frames (MAX_FRAMES = 64 by default), sampled evenly over the
whole video, so a long video costs bounded memory and a bounded record; shorter clips keep all their frames, so
lengths may vary (the metadata's sequence_size is then -1). A clip is grey (1 channel) when in every frame of every
clip of the set R, G and B differ by at most GREY_TOLERANCE (mini-kth's KTH footage), else RGB.

An undecodable or empty video is reported (one line naming the file and the problem, through `report`) and
skipped; a class left without any clip, or a set without any, is a DatasetError.
"""
from __future__ import annotations

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


def build_clip_set(name: str, paths: list[Path], classes: list[int], label_names: list[str], max_frames: int,
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
