"""`python -m ingestion --hard_stop` in a subprocess, with models that never return (real miniciao)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

from tests import REPO_ROOT
from tests.ingestion_models import write_model

BUDGET, GRACE = 5.0, 2.0

HANGS_IN_THIRD_TRAIN = """
class Model(FrequencyModel):
    done_training = False

    def train(self, dataset, remaining_time_budget=None):
        super().train(dataset, remaining_time_budget)
        if self.train_calls == 3:
            {hang}
"""
PYTHON_LOOP = "while True:\n                pass"
# One C call that holds the GIL: no Python signal handler and no other thread can run until it returns.
GIL_HOLDING_C_LOOP = "sum(range(10 ** 13))"


def _ingest(miniciao_dir: Path, code: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO_ROOT))
    cmd = [sys.executable, "-m", "ingestion", "--dataset_dir", str(miniciao_dir), "--code_dir", str(code),
           "--output_dir", str(out), "--time_budget", str(BUDGET), "--hard_stop", "--hard_stop_grace", str(GRACE), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, cwd=REPO_ROOT)


def _check_stopped_run(out: Path, code: Path, max_duration: float) -> None:
    start = yaml.safe_load((out / "start.txt").read_text())
    end = yaml.safe_load((out / "end.txt").read_text())
    assert end["ingestion_success"] == 0
    assert BUDGET <= end["end_time"] - start["start_time"] <= max_duration
    assert sorted(k for k in start if isinstance(k, int)) == [0, 1]
    assert all(start[k] <= start["start_time"] + BUDGET for k in (0, 1))
    names = sorted(p.name for p in out.iterdir())
    assert names == ["end.txt", "ingestion.log", "miniciao.predict_0", "miniciao.predict_1", "start.txt"]
    for k in (0, 1):  # the two earlier predictions are intact
        assert np.allclose(np.loadtxt(out / f"miniciao.predict_{k}"), np.load(code / f"returned_{k}.npy"), rtol=1e-5)


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error: ")]


def test_infinite_python_loop_is_interrupted_at_the_deadline(miniciao_dir, tmp_path):
    code = write_model(tmp_path / "code", HANGS_IN_THIRD_TRAIN.format(hang=PYTHON_LOOP))
    out = tmp_path / "out"
    proc = _ingest(miniciao_dir, code, out)
    assert proc.returncode == 1, proc.stderr
    assert _error_lines(proc.stderr) == ["error: hard stop: Model.train (call 3, after 2 predictions) was "
                                         "still running at start + T (5 s); interrupted"]
    assert "summary: 2 prediction(s)" in proc.stderr and "success 0" in proc.stderr
    _check_stopped_run(out, code, max_duration=BUDGET + 1.0)  # the alarm path needs no grace


def test_model_holding_the_gil_is_killed_by_the_watchdog(miniciao_dir, tmp_path):
    code = write_model(tmp_path / "code", HANGS_IN_THIRD_TRAIN.format(hang=GIL_HOLDING_C_LOOP))
    out, score = tmp_path / "out", tmp_path / "score"
    proc = _ingest(miniciao_dir, code, out, "--score_dir", str(score))
    assert proc.returncode == -9, proc.stderr
    [error] = _error_lines(proc.stderr)
    assert error.startswith("error: hard stop: the model did not return by its deadline plus grace; "
                            "ingestion process ") and error.endswith(" killed")
    assert "summary: 2 prediction(s)" in proc.stderr and "killed by the hard-stop watchdog" in proc.stderr
    _check_stopped_run(out, code, max_duration=BUDGET + GRACE + 1.0)
    assert sorted(p.name for p in score.iterdir()) == sorted(p.name for p in out.iterdir())
