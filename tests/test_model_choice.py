"""The meta-learned Model end to end: the real model.py through our ingestion (hard stop), no config given, on a
real dataset the portfolio has an entry for: the run starts with the best mean config of the matrix, its pixel and
features heads give the first predictions, then a random train batch is fingerprinted, the dataset's own config is
chosen and takes over, and the predictions go on without a gap and within the budget."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from learner.config import CONFIG_ENV
from portfolio.choice import CHOICE_FILE_ENV, RULE_ENV
from portfolio.offline.lodo import run_settings
from scripts import make_dataset
from tests import REPO_ROOT

BUDGET = 25.0


def converted(name: str, raw_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp(name)
    assert make_dataset.main(["--source", f"raw:{name}", "--out", str(out), "--raw-root", str(raw_root)]) == 0
    return out / name


@pytest.fixture(scope="module")
def orl_faces_dir(autodl_raw_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return converted("orl_faces", autodl_raw_root, tmp_path_factory)  # its config is the matrix's best mean


@pytest.fixture(scope="module")
def yale_faces_dir(autodl_raw_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return converted("yale_faces", autodl_raw_root, tmp_path_factory)


def run_ingestion(dataset_dir: Path, out: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in (CONFIG_ENV, RULE_ENV, CHOICE_FILE_ENV)} | env
    return subprocess.run([sys.executable, "-m", "ingestion", "--dataset_dir", str(dataset_dir), "--code_dir",
                           str(REPO_ROOT), "--output_dir", str(out), "--time_budget", str(BUDGET), "--hard_stop"],
                          cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=300)


def prediction_numbers(log: str) -> list[int]:
    return [int(n) for n in re.findall(r"prediction (\d+) \((?:pixels|features|network)\)", log)]


def prediction_times(log: str) -> list[float]:
    return [float(t) for t in re.findall(r"prediction \d+ \(\w+\) at ([\d.]+)s elapsed", log)]


def test_the_chosen_config_takes_over_without_losing_a_prediction(yale_faces_dir: Path, tmp_path: Path) -> None:
    result = run_ingestion(yale_faces_dir, tmp_path / "predictions", **{RULE_ENV: "nearest"})  # the design's rule
    log = result.stderr
    assert result.returncode == 0, log[-3000:]
    assert "starting config: rule nearest: config orl_faces" in log, log[-3000:]
    choice = re.search(r"config choice: rule nearest: config (\S+) \| nearest known datasets: (\S+) ([\d.]+)", log)
    assert choice, log[-3000:]
    assert choice.group(1) == choice.group(2) == "yale_faces", choice.group(0)
    assert "switched to config yale_faces" in log
    first, switch = log.index("prediction 1 (pixels)"), log.index("switched to config")
    assert first < switch  # the first prediction did not wait for the choice
    assert "features head" in log[first:switch]  # nor did the starting config's features head
    assert not re.search(r"trained \d+ steps", log[first:switch])  # but it did not fine-tune first
    before, after = prediction_numbers(log[:switch]), prediction_numbers(log[switch:])
    # The chosen config's heads and network must beat the standing prediction's validation result, on the same
    # examples, to be predicted. Numbering goes on from the starting config's: nothing was lost.
    assert before and (not after or after[0] == before[-1] + 1), (before, after)
    assert after or "(not better: no prediction" in log[switch:], log[switch:][-3000:]
    elapsed = prediction_times(log)
    assert len(elapsed) >= 2 and max(elapsed) < BUDGET


def test_a_choice_of_the_starting_config_lets_it_go_on(orl_faces_dir: Path, tmp_path: Path) -> None:
    result = run_ingestion(orl_faces_dir, tmp_path / "predictions", **{RULE_ENV: "nearest"})
    log = result.stderr
    assert result.returncode == 0, log[-3000:]
    assert "starting config: rule nearest: config orl_faces" in log, log[-3000:]
    assert "config choice: rule nearest: config orl_faces | nearest known datasets: orl_faces" in log, log[-3000:]
    assert "switched to" not in log and len(re.findall(r"\[learner\] config \{", log)) == 1  # one learner
    choice = log.index("config choice")
    assert re.search(r"trained \d+ steps", log[choice:])  # it fine-tunes after the choice
    elapsed = prediction_times(log)
    assert len(elapsed) >= 2 and max(elapsed) < BUDGET


def test_a_fixed_config_makes_no_choice(orl_faces_dir: Path, tmp_path: Path) -> None:
    result = run_ingestion(orl_faces_dir, tmp_path / "predictions", **{CONFIG_ENV: "generalist"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "config choice" not in result.stderr


def test_left_out_the_dataset_is_not_chosen_and_its_config_not_run(orl_faces_dir: Path, tmp_path: Path) -> None:
    # What the leave-one-dataset-out benchmark does: a classifier trained without orl_faces, its config excluded;
    # here with seed 3 (benchmark --seed) for the whole run.
    settings = tmp_path / "choice.json"
    settings.write_text(json.dumps(run_settings("nearest", "orl_faces", lodo_dir=tmp_path / "lodo", seed=3)))
    result = run_ingestion(orl_faces_dir, tmp_path / "predictions", **{CHOICE_FILE_ENV: str(settings)})
    assert result.returncode == 0, result.stderr[-3000:]
    choice = re.search(r"config choice: rule nearest: config (\S+) \| nearest known datasets: ([^|]+)", result.stderr)
    assert choice, result.stderr[-3000:]
    assert choice.group(1) != "orl_faces" and "orl_faces" not in choice.group(2), choice.group(0)
    start = re.search(r"starting config: rule nearest: config (\S+), expected ALC [\d.]+ \| before the fingerprint",
                      result.stderr)
    assert start and start.group(1) != "orl_faces", result.stderr[-3000:]  # the prior, also without orl_faces
    configs = re.findall(r"\[learner\] config (\{.*?\}) \|", result.stderr)
    switched = start.group(1) != choice.group(1)
    assert len(configs) == 1 + switched and all("'seed': 3" in c for c in configs), configs  # starting, chosen


def test_a_rule_that_cannot_run_is_refused_in_one_line(orl_faces_dir: Path, tmp_path: Path) -> None:
    # The calibrated rule needs a temperature and threshold fitted on leave-one-dataset-out.
    settings = tmp_path / "choice.json"
    settings.write_text(json.dumps({"rule": "nearest"}))
    result = run_ingestion(orl_faces_dir, tmp_path / "predictions",
                           **{CHOICE_FILE_ENV: str(settings), RULE_ENV: "calibrated"})
    assert "the calibrated rule needs temperature and threshold" in result.stderr, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
