"""The performance matrix: filled by real runs cell by cell and resumed; the reduction and headline numbers."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from learner.config import TUNING_RECORD
from portfolio.offline.analysis import greedy_reduction, headlines, similarity_order
from portfolio.entries import read_cells, read_matrix, seed_file
from portfolio.offline.matrix import missing_cells, write_matrix
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
