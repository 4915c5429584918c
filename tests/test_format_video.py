"""Video sources and sequence datasets on the real clips of the shared raw folder: decoding (PyAV), the frame cap,
the class-folder and labels.csv layouts, bad files, the make_dataset CLI, and reading the sequences back."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from autodl_format.errors import DatasetError
from autodl_format.reader import load_task
from autodl_format.offline.sources import from_shared_raw
from autodl_format.offline.sources import from_file_format, from_video_folder
from autodl_format.offline.video import read_video
from scripts import make_dataset
from tests import REPO_ROOT

GTSRB = "gtsrb_track_clips_video"
KTH = Path("autodl_contrib_examples/file_format/mini-kth")
GTSRB_CLASSES = ["keep_right", "no_entry", "priority_road", "speed_limit_30", "stop", "yield"]
KTH_CLASSES = ["boxing", "handclapping", "handwaving", "jogging", "running", "walking"]


def _raw(relative: str | Path) -> Path:
    """A video folder of the shared raw root (found as tests/conftest.py finds it); skipped when absent."""
    root = Path(os.environ.get("AUTODL_RAW_ROOT", REPO_ROOT.parent / "shared" / "datasets_raw"))
    if not (root / relative).is_dir():
        pytest.skip(f"{root / relative} not found (set AUTODL_RAW_ROOT to the shared datasets_raw directory)")
    return root / relative


@pytest.fixture(scope="module")
def gtsrb_dir() -> Path:
    return _raw(GTSRB)


@pytest.fixture(scope="module")
def kth_dir() -> Path:
    return _raw(KTH)


def _first_clip(gtsrb_dir: Path) -> Path:
    return sorted((gtsrb_dir / "stop").glob("*.avi"))[0]


def test_read_video_decodes_every_frame_and_caps_evenly(gtsrb_dir):
    clip = read_video(_first_clip(gtsrb_dir))
    assert clip.shape == (30, 32, 32, 3) and clip.dtype == np.uint8 and clip.std() > 20
    capped = read_video(_first_clip(gtsrb_dir), max_frames=7)
    # 7 of 30 frames, thinned while decoding to every 4th (and the last): near linspace(0, 29, 7), ends included
    np.testing.assert_array_equal(capped, clip[[0, 4, 8, 16, 20, 24, 29]])


def test_long_divx_video_is_thinned_over_its_whole_length(kth_dir):
    path = kth_dir / "person15_walking_d1_uncomp.avi"
    full = read_video(path, max_frames=1000)  # all 741 frames
    capped = read_video(path)
    assert full.shape == (741, 120, 160, 3) and capped.shape == (64, 120, 160, 3)
    np.testing.assert_array_equal(capped[0], full[0])
    later = [int(np.flatnonzero((full == frame).all(axis=(1, 2, 3)))[0]) for frame in capped[-2:]]
    assert later[-1] > 700 and later[0] < later[-1]  # the kept frames reach the end of the video


def test_gtsrb_video_folder(gtsrb_dir):
    clips = from_video_folder(gtsrb_dir)
    assert len(clips) == 150 and clips.label_names == GTSRB_CLASSES and clips.is_video
    assert clips.labels.sum(axis=0).tolist() == [25] * 6
    assert {clip.shape for clip in clips.images} == {(30, 32, 32, 3)}


def test_mini_kth_file_format_is_grey_and_capped(kth_dir, tmp_path):
    clips = from_file_format(kth_dir)
    assert clips.name == "mini-kth" and clips.label_names == KTH_CLASSES
    assert clips.labels.argmax(axis=1).tolist() == list(range(6))  # labels.csv order
    assert {clip.shape for clip in clips.images} == {(64, 120, 160, 1)}  # grey KTH footage, 1 channel
    cut = from_shared_raw("mini_kth", kth_dir.parents[2], max_frames=10, segments=4)
    assert len(cut) == 24 and cut.labels.sum(axis=0).tolist() == [4] * 6
    assert {clip.shape for clip in cut.images} == {(10, 120, 160, 1)}


def test_bad_videos_are_reported_by_name_and_skipped(gtsrb_dir, tmp_path):
    root = tmp_path / "videos"
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        shutil.copy(_first_clip(gtsrb_dir), root / name / "good.avi")
    (root / "a" / "empty.avi").write_bytes(b"")
    # Fixed bytes: about 1 in 75 random draws probes as an audio-only stream ("no video stream") instead.
    (root / "a" / "garbage.mp4").write_bytes(np.random.default_rng(0).bytes(4096))
    (root / "b" / "notes.txt").write_text("not a video: ignored")
    reports: list[str] = []
    clips = from_video_folder(root, report=reports.append)
    assert len(clips) == 2 and clips.labels.argmax(axis=1).tolist() == [0, 1]
    assert len(reports) == 2 and all(line.endswith("; skipped") for line in reports)
    assert any(str(root / "a" / "empty.avi") in line for line in reports)
    assert any(str(root / "a" / "garbage.mp4") in line and "cannot decode video" in line for line in reports)
    (root / "b" / "good.avi").write_bytes(b"\0" * 100)
    with pytest.raises(DatasetError, match="no decodable video left for class.*b"):
        from_video_folder(root, report=reports.append)


def test_file_format_errors_name_the_file(tmp_path, gtsrb_dir):
    folder = tmp_path / "ff"
    folder.mkdir()
    shutil.copy(_first_clip(gtsrb_dir), folder / "x.avi")
    with pytest.raises(DatasetError, match=f"{folder / 'labels.csv'}: missing"):
        from_file_format(folder)
    (folder / "label.name").write_text("one\ntwo\n")
    (folder / "labels.csv").write_text("FileName,Labels\nx.avi,0\ny.avi,1\n")
    with pytest.raises(DatasetError, match=f"{folder / 'y.avi'}: file missing"):
        from_file_format(folder)
    (folder / "labels.csv").write_text("FileName,Labels\nx.avi,2\n")
    with pytest.raises(DatasetError, match="line 2: Labels '2' outside 0..1"):
        from_file_format(folder)


def _first_frames(subset_dir: Path) -> list[bytes]:
    from autodl_format.frameworks import tf

    path = sorted(subset_dir.glob("sample*"))[0]
    record = next(iter(tf.data.TFRecordDataset(str(path)).take(1))).numpy()
    example = tf.train.SequenceExample.FromString(record)
    return [f.bytes_list.value[0] for f in example.feature_lists.feature_list["0_compressed"].feature]


def test_cli_converts_gtsrb_clips_to_jpeg_sequences(gtsrb_dir, tmp_path):
    assert make_dataset.main(["--source", f"video-folder:{gtsrb_dir}", "--out", str(tmp_path)]) == 0
    task = load_task(tmp_path / GTSRB)
    meta = task.train.get_metadata()
    assert meta.get_tensor_shape() == (30, 32, 32, 3) and meta.metadata_.is_sequence is True
    assert task.train.get_metadata().size() + task.test.get_metadata().size() == 150
    frames = _first_frames(task.train.subset_dir)
    assert len(frames) == 30 and all(frame[:2] == b"\xff\xd8" for frame in frames)  # one JPEG per frame
    example, labels = next(task.train.iter_numpy())
    assert example.shape == (30, 32, 32, 3) and example.dtype == np.float32 and 0 <= example.min() < example.max() <= 1
    assert labels.sum() == 1
    test_example, test_labels = next(task.test.iter_numpy())
    assert test_example.shape == (30, 32, 32, 3) and test_labels.sum() == 0
    assert (tmp_path / GTSRB / f"{GTSRB}_public.info").read_text().startswith("domain : video")


def test_cli_converts_mini_kth_with_a_frame_cap(kth_dir, tmp_path):
    args = ["--source", f"file-format:{kth_dir}", "--out", str(tmp_path), "--name", "kth", "--max-frames", "12",
            "--video-segments", "2", "--test-fraction", "0.5"]
    assert make_dataset.main(args) == 0
    task = load_task(tmp_path / "kth")
    assert task.train.get_metadata().get_tensor_shape() == (12, 120, 160, 1)
    shapes = {example.shape for example, _ in task.test.iter_numpy()}
    assert shapes == {(12, 120, 160, 1)} and task.test.get_metadata().size() == 6


def test_variable_length_clips_read_back_with_their_own_lengths(gtsrb_dir, tmp_path, capsys):
    import av

    root = tmp_path / "clips"
    for name in ("long", "short"):
        (root / name).mkdir(parents=True)
        shutil.copy(_first_clip(gtsrb_dir), root / name / "whole.avi")
    frames = read_video(_first_clip(gtsrb_dir))[:5]
    with av.open(str(root / "short" / "five.avi"), "w") as container:  # a real 5-frame MJPEG clip
        stream = container.add_stream("mjpeg", rate=15)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuvj444p"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    args = ["--source", f"video-folder:{root}", "--out", str(tmp_path / "out"), "--test-fraction", "0.34"]
    assert make_dataset.main(args) == 0
    task = load_task(tmp_path / "out" / "clips")
    assert task.train.example_shape() == (None, 32, 32, 3)  # sequence_size -1: variable length
    lengths = sorted(example.shape[0] for subset in (task.train, task.test) for example, _ in subset.iter_numpy())
    assert lengths == [5, 30, 30]


def test_cli_reports_a_missing_folder_in_one_line(tmp_path, capsys):
    assert make_dataset.main(["--source", f"video-folder:{tmp_path / 'nope'}", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'nope'}: video folder does not exist"
