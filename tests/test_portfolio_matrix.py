"""The performance matrix: filled by real runs cell by cell and resumed, in one process or as hpbandster jobs for
worker processes; the reduced portfolio, the file names per budget, the reduction and headline numbers."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from learner.config import TUNING_RECORD
from portfolio.offline.analysis import greedy_reduction, headlines, similarity_order
from portfolio.entries import read_cells, read_matrix, seed_file
from portfolio.offline.matrix import matrix_file, missing_cells, reduced_portfolio, write_matrix
from tests import REPO_ROOT


def test_matrix_file_round_trip_and_missing_cells(tmp_path):
    matrix = {"generalist": {"a": 0.5, "b": 0.25}, "a": {"a": 0.75}}
    write_matrix(matrix, tmp_path / "m.csv")
    assert read_matrix(tmp_path / "m.csv") == matrix
    assert missing_cells(matrix, ["generalist", "a"], ["a", "b"]) == [("a", "b")]


def test_matrix_cells_are_the_mean_over_seeds(tmp_path):
    path = tmp_path / "m.csv"
    write_matrix({"generalist": {"a": 0.5, "b": 0.25}}, path)
    write_matrix({"generalist": {"a": 0.75}}, seed_file(path, 1))
    write_matrix({"generalist": {"a": 1.0}}, seed_file(path, 12))
    assert seed_file(path, 1).name == "m.seed1.csv" and read_cells(path) == {"generalist": {"a": 0.5, "b": 0.25}}
    assert read_matrix(path) == {"generalist": {"a": 0.75, "b": 0.25}}  # b: seed 0 alone


def test_greedy_reduction_and_headlines():
    configs = ["a", "b", "c", "generalist"]
    alc = np.array([[0.9, 0.1, 0.5],    # a: best on dataset 0
                    [0.2, 0.8, 0.5],    # b: best on dataset 1
                    [0.6, 0.6, 0.6],    # c: the best single config
                    [0.5, 0.5, 0.9]])   # generalist
    steps = greedy_reduction(configs, alc)
    assert steps[0][0] == "generalist" and np.isclose(steps[0][1], alc[3].mean())  # best mean alone
    assert steps[1][0] == "a"  # then what covers the generalist's weakest dataset best
    assert [round(score, 4) for _, score in steps][-1] == round(alc.max(axis=0).mean(), 4)
    assert all(later >= earlier for (_, earlier), (_, later) in zip(steps, steps[1:]))
    numbers = headlines(configs, alc)
    assert numbers["average member (mean)"] == alc[:3].mean()
    assert numbers["best member in hindsight (mean)"] == alc[:3].max(axis=0).mean()


def test_similarity_order_keeps_every_dataset():
    names = ["coil20", "orl_faces", "yale_faces", "mnist_test", "usps_test", "not_a_dataset"]
    order = similarity_order(names)
    assert sorted(order) == sorted(names) and order[-1] == "not_a_dataset"


def test_real_cells_are_written_and_resumed(tmp_path):
    portfolio = tmp_path / "portfolio"
    portfolio.mkdir()
    (portfolio / "generalist.json").write_text("{}")
    (portfolio / "tiny.json").write_text(json.dumps({"side": 32, "max_side": 32, TUNING_RECORD: {"dataset": "x"}}))
    command = [sys.executable, "-m", "portfolio.offline.matrix", "run", "--budget", "4", "--datasets", "digits",
               "--matrix", str(tmp_path / "matrix.csv"), "--portfolio_dir", str(portfolio),
               "--work_dir", str(tmp_path / "runs"), "--tuning_root", str(tmp_path / "tune")]
    first = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    matrix = read_matrix(tmp_path / "matrix.csv")
    assert set(matrix) == {"generalist", "tiny"} and all(0 < row["digits"] <= 1 for row in matrix.values())
    again = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "2 of 2 cells" in again.stdout and "tiny on digits" not in again.stderr
    other = subprocess.run(command[:5] + ["9"] + command[6:], cwd=REPO_ROOT, capture_output=True, text=True)
    assert other.returncode == 1 and "T = 4 s" in other.stderr
    seeded = subprocess.run(command + ["--seed", "1"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert seeded.returncode == 0, seeded.stderr
    assert "matrix.seed1.csv: 2 of 2 cells" in seeded.stdout and read_cells(tmp_path / "matrix.csv") == matrix
    second = read_cells(tmp_path / "matrix.seed1.csv")
    assert read_matrix(tmp_path / "matrix.csv")["tiny"]["digits"] == (matrix["tiny"]["digits"]
                                                                        + second["tiny"]["digits"]) / 2


def test_matrix_files_per_budget_and_the_reduced_portfolio(tmp_path):
    assert matrix_file(20).name == "performance_matrix.csv"
    assert matrix_file(120).name == "performance_matrix_T120.csv"
    assert seed_file(matrix_file(120), 1).name == "performance_matrix_T120.seed1.csv"
    reference = tmp_path / "m.csv"
    write_matrix({"a": {"x": 0.9, "y": 0.1}, "b": {"x": 0.2, "y": 0.8}, "c": {"x": 0.6, "y": 0.6},
                  "generalist": {"x": 0.5, "y": 0.5}, "retired": {"x": 1.0, "y": 1.0}}, reference)
    assert reduced_portfolio(["a", "b", "c", "generalist"], 1, reference) == ["c", "generalist"]
    assert reduced_portfolio(["a", "b", "c", "generalist"], 2, reference) == ["c", "a", "generalist"]
    assert reduced_portfolio(["b", "generalist"], 5, reference) == ["b", "generalist"]


def _spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", *args], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _run_dirs(work_dir: Path) -> set[str]:
    return {path.name for path in (work_dir / "digits").glob("*_s0_*")}


def test_cells_are_hpbandster_jobs_for_worker_processes_and_resume(tmp_path):
    """A name server, worker processes and the matrix master, each its own process on 127.0.0.1, as on a cluster:
    the master is killed after its first cell, and the same command with new workers runs only the empty cells."""
    portfolio = tmp_path / "portfolio"
    portfolio.mkdir()
    (portfolio / "generalist.json").write_text("{}")
    (portfolio / "tiny.json").write_text(json.dumps({"side": 32, "max_side": 32, TUNING_RECORD: {"dataset": "x"}}))
    tune, work, matrix = tmp_path / "tune", tmp_path / "runs", tmp_path / "matrix.csv"
    prepared = subprocess.run([sys.executable, "-m", "portfolio.offline.tune", "prepare", "--datasets", "digits",
                               "--tuning_root", str(tune)], cwd=REPO_ROOT, capture_output=True, text=True)
    assert prepared.returncode == 0, prepared.stderr
    nameserver = _spawn("hpo.nameserver", "--run_id", "matrix-test")
    processes = [nameserver]
    try:
        address = nameserver.stdout.readline().split()[-1]  # "name server of run R at HOST:PORT"
        host, port = address.rsplit(":", 1)
        worker = ("hpo.worker", "--run_id", "matrix-test", "--nameserver", host, "--port", port,
                  "--objective", "portfolio.offline.matrix:make_cell_objective", "--option", f"work_dir={work}",
                  "--option", f"tuning_root={tune}")
        master = ("portfolio.offline.matrix", "run", "--budget", "3", "--datasets", "digits", "--portfolio_dir",
                  str(portfolio), "--matrix", str(matrix), "--nameserver", host, "--port", port,
                  "--run_id", "matrix-test")
        processes += [_spawn(*worker), _spawn(*master)]
        end = time.monotonic() + 90
        while not read_cells(matrix):
            assert time.monotonic() < end and processes[2].poll() is None, "no cell written"
            time.sleep(0.1)
        for process in processes[1:]:
            process.send_signal(signal.SIGKILL)  # the master stops hard; the job in flight is lost
            process.wait()
        first, first_dirs = read_cells(matrix), _run_dirs(work)
        missing = {config for config, _ in missing_cells(first, ["generalist", "tiny"], ["digits"])}
        assert len(missing) == 1  # one worker: its second cell was in flight

        workers = [_spawn(*worker) for _ in range(2)]
        processes += workers
        again = subprocess.run([sys.executable, "-m", *master], cwd=REPO_ROOT, capture_output=True, text=True,
                               timeout=120)
        assert again.returncode == 0, again.stderr
        assert "2 of 2 cells" in again.stdout and f"0/{len(missing)} [" in again.stderr  # progress: empty cells
        cells = read_cells(matrix)
        assert all(cells[config] == first[config] for config in first)  # done cells are kept, not run again
        assert all(0 < row["digits"] <= 1 for row in cells.values())
        assert {name.split("_s0_")[0] for name in _run_dirs(work) - first_dirs} == missing
        assert [w.wait(timeout=30) for w in workers] == [0, 0]  # the master shut its workers down
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
