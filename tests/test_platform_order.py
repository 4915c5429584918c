"""The unzipped upload package under the platform's order of events: TensorFlow imported (and, as on the
platform's TF 1.13, graph mode switched on) before `from model import Model`; see tests/platform_harness.py.

Before autodl_format/frameworks.py this crashed the process (segfault, rc -11) as soon as the model loaded torchvision,
which loads triton after TensorFlow."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from autodl_format.metrics import nauc

HARNESS = Path(__file__).with_name("platform_harness.py")
TIME_BUDGET = 15.0


@pytest.mark.parametrize("mode", ["graph", "eager"])
def test_unzipped_package_runs_after_tensorflow_was_imported(mode: str, unzipped_submission: Path,
                                                             miniciao_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "result.npz"
    command = [sys.executable, str(HARNESS), "--dataset_dir", str(miniciao_dir), "--code_dir",
               str(unzipped_submission), "--time_budget", str(TIME_BUDGET), "--out", str(out)]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(command + (["--eager"] if mode == "eager" else []), cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"rc {result.returncode} (-11 is a segfault): {result.stderr[-3000:]}"
    assert "config choice: rule " in result.stderr, result.stderr[-3000:]  # the meta-classifier chose a config
    run = np.load(out)
    assert bool(run["tensorflow_first"])
    assert all(Path(f).is_relative_to(unzipped_submission) for f in run["modules"]), run["modules"]
    times, predictions = run["times"], run["predictions"]
    assert len(times) >= 2 and times.max() < TIME_BUDGET
    solution = np.loadtxt(miniciao_dir / "miniciao.solution")
    assert nauc(solution, predictions[-1]) > 0.2  # it learned something (about 0.5-0.8 on miniciao)
