"""The learner on real video clips (GTSRB sign tracks, mini-kth converted with the project's converter): few frames
early and more for fine-tuning, the temporal convolution model, and mini-kth through ingestion and scoring."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from autodl_format.reader import load_task
from learner.backbones import PYPI_BACKBONES, build_first_available
from learner.network import Classifier
from learner.validation import nauc
from model import Model
from scripts import make_dataset
from scoring.task import run_task
from tests import REPO_ROOT
from tests.test_learner_model import run_like_ingestion

SMALL_VIDEO = {"side": 32, "max_side": 32, "min_prediction_gap_s": 0.5}


def _raw(relative: str) -> Path:
    root = Path(os.environ.get("AUTODL_RAW_ROOT", REPO_ROOT.parent / "shared" / "datasets_raw"))
    if not (root / relative).is_dir():
        pytest.skip(f"{root / relative} not found (set AUTODL_RAW_ROOT to the shared datasets_raw directory)")
    return root / relative


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("video_learner")


@pytest.fixture(scope="module")
def gtsrb_task(data_root):
    clips = _raw("gtsrb_track_clips_video")
    assert make_dataset.main(["--source", f"video-folder:{clips}", "--out", str(data_root), "--name", "signs"]) == 0
    return load_task(data_root / "signs")


def _config(root: Path, name: str, **changes) -> str:
    path = root / f"{name}.json"
    path.write_text(json.dumps({**SMALL_VIDEO, **changes}))
    return str(path)


def test_few_frames_first_more_for_fine_tuning_with_the_temporal_model(gtsrb_task, data_root):
    model = Model(gtsrb_task.train.get_metadata(), config=_config(data_root, "conv", temporal_model="conv"))
    predictions, latest_return = run_like_ingestion(model, gtsrb_task, 20.0)
    run = model.learner.run
    assert predictions[0][0] < 2.0  # the first prediction comes from 2-frame copies, within about a second
    assert run.feed.train_early.store.arrays()[0].shape[1:] == (2, 32, 32, 3)
    assert run.feed.train_full.store.arrays()[0].shape[1:] == (8, 32, 32, 3)
    assert model.learner.fine_tuning.val_x.shape[1] == 8  # the network is validated on 8-frame clips
    assert run.net.temporal is not None and latest_return < 20.0 and model.failed_train_calls == 0
    solution = np.loadtxt(gtsrb_task.solution_path)
    assert nauc(solution, predictions[-1][1]) > 0.5  # signs are easy to tell apart: far above chance (0)


@torch.no_grad()
def test_temporal_conv_starts_as_the_mean_and_then_sees_frame_order(gtsrb_task):
    clips = torch.from_numpy(np.stack([(example[::4] * 255).round().astype(np.uint8)
                                       for example, _ in list(gtsrb_task.train.iter_numpy())[:3]]))  # (3, 8, ...)
    backbone = build_first_available(list(PYPI_BACKBONES))[0]
    mean = Classifier(backbone, 6, dropout=0.1, freeze_fraction=0.3).eval()
    conv = Classifier(backbone, 6, dropout=0.1, freeze_fraction=0.3, temporal_model="conv").eval()
    conv.head.load_state_dict(mean.head.state_dict())
    images, reversed_images = conv.images(clips, 32), conv.images(clips.flip(1), 32)
    torch.testing.assert_close(conv(images, 8), mean(images, 8), atol=1e-5, rtol=1e-4)  # zero-initialised block
    torch.testing.assert_close(mean(reversed_images, 8), mean(images, 8), atol=1e-5, rtol=1e-4)
    torch.nn.init.normal_(conv.temporal.out.weight, std=0.05)  # as after training
    assert (conv(reversed_images, 8) - conv(images, 8)).abs().max() > 1e-3  # order now matters


def test_mini_kth_runs_through_ingestion_and_scoring(data_root):
    kth = _raw("autodl_contrib_examples/file_format/mini-kth")
    args = ["--source", f"file-format:{kth}", "--out", str(data_root), "--name", "kth", "--video-segments", "4",
            "--test-fraction", "0.25"]
    assert make_dataset.main(args) == 0
    env = dict(os.environ, OMP_NUM_THREADS="2", PYTHONPATH=str(REPO_ROOT),
               AUTODL_LEARNER_CONFIG=_config(data_root, "kth_conv", temporal_model="conv"))
    result = run_task(data_root / "kth", REPO_ROOT, data_root / "kth_run", 20.0, env=env)
    assert result.timestamps and max(result.timestamps) < 20.0 and len(result.nauc_scores) == len(result.timestamps)
    assert np.isfinite(result.alc)
    log = result.ingestion_log.read_text()
    assert "(64, 120, 160, 1) -> 8 frame(s) stored at 32 px" in log and "temporal model conv" in log
