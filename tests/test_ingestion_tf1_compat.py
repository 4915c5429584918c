"""--tf1_compat: a TensorFlow 1 submission (tests/ingestion_models.TF1_MODEL) runs unchanged; without the flag it
fails with one line that points at the flag. Each run is a subprocess: graph mode is switched on for good."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

from autodl_format.metrics import nauc
from tests import REPO_ROOT
from tests.ingestion_models import TF1_MODEL


def _ingest(miniciao_dir: Path, code_dir: Path, out: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ingestion", "--dataset_dir", str(miniciao_dir), "--code_dir",
                           str(code_dir), "--output_dir", str(out), "--time_budget", "60", *flags],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)


def _tf1_submission(tmp_path: Path) -> Path:
    code = tmp_path / "tf1"
    code.mkdir()
    (code / "model.py").write_text(TF1_MODEL)
    return code


def test_tf1_submission_runs_unchanged_under_tf1_compat(miniciao_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _ingest(miniciao_dir, _tf1_submission(tmp_path), out, "--tf1_compat")
    assert result.returncode == 0, result.stderr[-3000:]
    assert yaml.safe_load((out / "end.txt").read_text())["ingestion_success"] == 1
    prediction = np.loadtxt(out / "miniciao.predict_0")
    assert not (out / "miniciao.predict_1").exists()  # done_training after one train call
    assert nauc(np.loadtxt(miniciao_dir / "miniciao.solution"), prediction) > 0  # nearest class mean learns a bit


def test_tf1_submission_without_the_flag_fails_with_one_line_naming_it(miniciao_dir: Path, tmp_path: Path) -> None:
    result = _ingest(miniciao_dir, _tf1_submission(tmp_path), tmp_path / "out")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].endswith("run it with --tf1_compat)"), result.stderr[-2000:]
    assert "Session" in errors[0]
    assert "Traceback" not in result.stderr


def test_our_model_runs_under_tf1_compat(miniciao_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "ingestion", "--dataset_dir", str(miniciao_dir), "--code_dir",
                             str(REPO_ROOT), "--output_dir", str(out), "--time_budget", "8", "--tf1_compat"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(list(out.glob("miniciao.predict_*"))) >= 2
