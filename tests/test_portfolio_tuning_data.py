"""The tuning split of a known dataset (portfolio.offline.tuning_data) on real data: it holds the known dataset's meta-train
examples only, and it stores them as a Model would get them: a video set's frames as JPEG (as the converter's
--encoding auto does), an image set's images as PNG."""
from __future__ import annotations

import numpy as np
import pytest

from autodl_format.reader import load_task
from portfolio.offline.tuning_data import ensure_tuning_dataset
from scripts.build_meta_dataset import materialise
from tests import compressed_frames

MAGIC = {"jpeg": b"\xff\xd8", "png": b"\x89PNG"}


def _known(source: str, raw_root, tmp_path, max_images: int = 24) -> tuple[str, dict]:
    """A small known dataset made as build_meta_dataset makes it, and a catalogue naming it."""
    if not (raw_root / source.partition(":")[2]).is_dir():
        pytest.skip(f"{source} not in {raw_root}")
    name, known_dir, info = materialise(source, raw_root, tmp_path / "known", max_images, 0.3, seed=0)
    entry = {"name": name, "source": info["source"], "autodl_dir": str(known_dir)}
    return name, {"datasets": [entry], "max_images": max_images, "test_fraction": 0.3}


@pytest.mark.parametrize("source, encoding, shape", [
    ("raw:gtsrb_track_clips_video", "jpeg", (30, 32, 32, 3)),  # 30-frame clips: every frame kept, as JPEG
    ("raw:yale_faces", "png", (1, 32, 32, 1)),
])
def test_tuning_split_holds_the_meta_train_examples_in_the_converters_encoding(source, encoding, shape,
                                                                               autodl_raw_root, tmp_path):
    name, catalogue = _known(source, autodl_raw_root, tmp_path)
    known = load_task(tmp_path / "known" / name)
    tuning_dir = ensure_tuning_dataset(name, tmp_path / "tune", catalogue=catalogue)
    frames = compressed_frames(tuning_dir)
    assert frames and all(frame[:4].startswith(MAGIC[encoding]) for frame in frames)
    task = load_task(tuning_dir)
    meta = task.train.get_metadata()
    assert meta.get_tensor_shape() == shape
    assert meta.metadata_.is_sequence == (shape[0] > 1)
    n_train, n_test = meta.size(), task.test.get_metadata().size()
    assert n_train + n_test == known.train.get_metadata().size()  # meta-train only: meta-test never reaches tuning
    assert n_train > n_test > 0
    # every tuning example is one of the known dataset's meta-train examples (within JPEG's loss for video frames)
    known_examples = np.stack([example for example, _ in known.train.iter_numpy()])
    for example, _ in task.train.iter_numpy():
        error = np.abs(known_examples - example).mean(axis=tuple(range(1, example.ndim + 1))).min()
        assert error < (0.02 if encoding == "jpeg" else 1e-6)
