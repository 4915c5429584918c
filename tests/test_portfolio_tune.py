"""The one-command portfolio tuning, for real and tiny: BOHB with a name server and two worker processes runs the
real model.py on the tuning split of the bundled digits set, logs every evaluation, writes a loadable portfolio
entry, reports its state, and a second run resumes instead of starting over."""
from __future__ import annotations

import json
import math
import subprocess
import sys

from hpo.logs import completed_iterations, load_evaluations
from learner.config import TUNING_RECORD, load_config
from tests import REPO_ROOT


def _tune(tmp_path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "portfolio.offline.tune", *extra, "--searches", str(tmp_path / "searches")]
        + (["--work_dir", str(tmp_path / "runs"), "--tuning_root", str(tmp_path / "tune"),
            "--portfolio_dir", str(tmp_path)] if extra[0] == "run" else []),
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)


def test_tiny_two_worker_run_writes_a_portfolio_entry_and_resumes(tmp_path):
    args = ("run", "--datasets", "digits", "--workers", "2", "--min_budget", "3", "--max_budget", "9",
            "--n_iterations", "2")
    first = _tune(tmp_path, *args)
    assert first.returncode == 0, first.stdout + first.stderr
    log_dir = tmp_path / "searches" / "digits"
    evaluations = load_evaluations(log_dir)
    assert completed_iterations(log_dir) == 2 and len(evaluations) == 4 + 2  # brackets of 3+1 and 2 evaluations
    assert {e.budget for e in evaluations} == {3.0, 9.0}
    assert all(math.isfinite(e.loss) and 0.0 < 1.0 - e.loss <= 1.0 for e in evaluations)
    assert len({e.info["log"][0] for e in evaluations}) >= 1 and all(e.info["prediction_times"] for e in evaluations)
    entry = json.loads((tmp_path / "digits.json").read_text())
    best_alc = max(1 - e.loss for e in evaluations if e.budget == 9.0)
    assert entry[TUNING_RECORD]["alc"] == round(best_alc, 4) and entry[TUNING_RECORD]["budget_s"] == 9.0
    load_config(str(tmp_path / "digits.json"))  # a valid learner config

    again = _tune(tmp_path, *args)  # finished: nothing is run again
    assert again.returncode == 0 and len(load_evaluations(log_dir)) == 6
    status = _tune(tmp_path, "status")
    assert status.returncode == 0 and "digits" in status.stdout and "2 / 2" in status.stdout


def test_other_budgets_on_a_logged_search_are_refused(tmp_path):
    (tmp_path / "searches" / "digits" / "part_000").mkdir(parents=True)
    (tmp_path / "searches" / "digits" / "part_000" / "part.json").write_text(
        json.dumps({"min_budget": 5, "max_budget": 15, "eta": 3, "first_iteration": 0, "n_iterations": 2}))
    refused = _tune(tmp_path, "run", "--datasets", "digits", "--min_budget", "3", "--max_budget", "9")
    assert refused.returncode == 1 and "budgets 5-15" in refused.stderr
