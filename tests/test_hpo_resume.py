"""The BOHB runner (hpo) for real: a name server, worker processes that find it by host and port, a master; a
killed worker loses only its job in flight, a killed master loses nothing logged, and a re-run resumes."""
from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import ConfigSpace as CS
import pytest

from hpo.bohb import run_bohb, run_master, start_nameserver
from hpo.logs import SearchLogError, Settings, completed_iterations, load_evaluations
from tests import REPO_ROOT
from tests.hpo_objectives import make_slow_quadratic, quadratic_space

SETTINGS = Settings(min_budget=1.0, max_budget=9.0, eta=3)  # iterations of 13, 4 and 3 evaluations


def _spawn(module: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", module, *args], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _results(log_dir: Path) -> int:
    return sum(len((part / "results.json").read_text().splitlines())
               for part in log_dir.glob("part_*") if (part / "results.json").exists())


def _wait_for(condition, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def test_bracket_sizes_follow_hyperband():
    assert [SETTINGS.bracket_runs(i) for i in range(4)] == [13, 4, 3, 13]
    assert Settings(20.0, 180.0, 3).rungs == 3 and Settings(20.0, 60.0, 3).rungs == 2


def test_killed_worker_and_master_then_resume(tmp_path):
    run_id = "resume-test"
    server, host, port = start_nameserver(run_id)
    log_dir = tmp_path / "search"
    worker_args = ("--run_id", run_id, "--nameserver", host, "--port", str(port),
                   "--objective", "tests.hpo_objectives:make_slow_quadratic", "--option", "seconds=0.4")
    workers = [_spawn("hpo.worker", *worker_args) for _ in range(2)]
    master = _spawn("hpo.master", "--run_id", run_id, "--nameserver", host, "--port", str(port),
                    "--space", "tests.hpo_objectives:quadratic_space", "--log_dir", str(log_dir),
                    "--min_budget", "1", "--max_budget", "9", "--eta", "3", "--n_iterations", "3",
                    "--min_workers", "2")
    try:
        _wait_for(lambda: _results(log_dir) >= 2)
        workers[0].send_signal(signal.SIGKILL)  # mid-job: that job is lost, the search goes on
        _wait_for(lambda: _results(log_dir) >= 9)
        master.send_signal(signal.SIGKILL)
        master.wait()
        first_part = load_evaluations(log_dir)
        assert completed_iterations(log_dir) == 0  # the first iteration (13 evaluations) was cut short
        # A worker whose master died mid-job stays busy for good (hpbandster cannot hand its result back): workers
        # are started again with the master. The re-run: warm start, the cut iteration again, then the others.
        workers[1].kill()
        workers.append(_spawn("hpo.worker", *worker_args))
        evaluations = run_master(quadratic_space(), run_id, host, port, log_dir, SETTINGS, n_iterations=3)
    finally:
        for process in workers + [master]:
            if process.poll() is None:
                process.kill()
        server.shutdown()
    assert [e.config for e in evaluations[:len(first_part)]] == [e.config for e in first_part]  # nothing lost
    assert completed_iterations(log_dir) == 3
    second_part = [e for e in evaluations if e.part == 1]
    assert len(second_part) == 13 + 4 + 3
    assert {e.iteration for e in second_part} == {0, 1, 2}
    crashed = [e for e in evaluations if not math.isfinite(e.loss)]
    assert all("died" in e.error for e in crashed)  # at most the killed worker's job in flight
    assert len(crashed) <= 1
    assert {e.info["pid"] for e in second_part} == {workers[2].pid}


def test_resume_refuses_other_budgets(tmp_path):
    run_bohb(quadratic_space(), make_slow_quadratic("0"), 1, 3, n_iterations=1, log_dir=tmp_path)
    with pytest.raises(SearchLogError, match="budgets 1-3"):
        run_bohb(quadratic_space(), make_slow_quadratic("0"), 1, 9, n_iterations=2, log_dir=tmp_path)


def test_finished_search_is_not_rerun(tmp_path):
    _, first = run_bohb(quadratic_space(), make_slow_quadratic("0"), 1, 3, n_iterations=2, log_dir=tmp_path)
    best, again = run_bohb(quadratic_space(), make_slow_quadratic("0"), 1, 3, n_iterations=2, log_dir=tmp_path)
    assert len(again) == len(first) and len(list(tmp_path.glob("part_*"))) == 1
    assert 0.0 <= best["x"] <= 1.0


def test_a_search_resumes_after_a_knob_joined_the_space(tmp_path):
    run_bohb(quadratic_space(), make_slow_quadratic("0"), 1, 3, n_iterations=1, log_dir=tmp_path)
    wider = quadratic_space()
    wider.add(CS.CategoricalHyperparameter("mode", ["a", "b"], default_value="b"))  # logged configs ran without it
    _, evaluations = run_bohb(wider, make_slow_quadratic("0"), 1, 3, n_iterations=2, log_dir=tmp_path)
    assert completed_iterations(tmp_path) == 2 and {e.part for e in evaluations} == {0, 1}
    assert all("mode" in e.config for e in evaluations if e.part == 1)
