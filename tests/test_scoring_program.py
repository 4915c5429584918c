"""End to end: ``python -m scoring`` as a subprocess on hand-built prediction directories (no ingestion needed)."""

import base64
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from autodl_format.files import write_atomic
from autodl_format.metrics import alc, nauc
from tests import REPO_ROOT

START_TIME = 1700000000.5  # epoch values with exact binary differences, so relative times compare exactly


def write_start(prediction_dir: Path, start_time: float, time_budget: float = 1200, pid: int = 0) -> None:
    # pid 0 is never signalled by the scorer (it would address a process group)
    (prediction_dir / "start.txt").write_text(
        f"ingestion_pid: {pid}\ntask_name: miniciao\ntime_budget: {time_budget}\nstart_time: {start_time!r}\n"
    )


def append_timestamp(prediction_dir: Path, k: int, epoch: float) -> None:
    with open(prediction_dir / "start.txt", "a") as start_file:
        start_file.write(f"{k}: {epoch!r}\n")


def write_prediction(prediction_dir: Path, k: int, prediction: np.ndarray) -> None:
    """As ingestion: '{:g}' values, written to a temporary name and renamed."""
    text = "\n".join(" ".join(f"{v:g}" for v in row) for row in prediction) + "\n"
    write_atomic(prediction_dir / f"miniciao.predict_{k}", text)


def write_end(prediction_dir: Path, success: int = 1) -> None:
    (prediction_dir / "end.txt").write_text(f"ingestion_duration: 1.0\ningestion_success: {success}\nend_time: 1.0\n")


def scorer_command(dirs: dict[str, Path], *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "scoring",
        "--solution_dir", str(dirs["solution"]),
        "--prediction_dir", str(dirs["prediction"]),
        "--score_dir", str(dirs["score"]),
        "--poll_interval", "0.05",
        *extra,
    ]  # fmt: skip


def run_scorer(dirs: dict[str, Path], *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(
        scorer_command(dirs, *extra), cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=180
    )


def read_scores(dirs: dict[str, Path]) -> dict:
    text = (dirs["score"] / "scores.txt").read_text()
    assert "np.float64" not in text
    return yaml.safe_load(text)


@pytest.fixture
def solution(miniciao_dir: Path) -> np.ndarray:
    return np.loadtxt(miniciao_dir / "miniciao.solution")


@pytest.fixture
def dirs(tmp_path: Path, miniciao_dir: Path) -> dict[str, Path]:
    paths = {name: tmp_path / name for name in ("solution", "prediction", "score")}
    paths["solution"].mkdir()
    paths["prediction"].mkdir()
    shutil.copy(miniciao_dir / "miniciao.solution", paths["solution"])
    return paths


def protocol_predictions(solution: np.ndarray) -> list[np.ndarray]:
    i, j = np.indices(solution.shape)
    return [np.zeros_like(solution), ((7 * i + 3 * j) % 11) / 10, solution, solution]


def test_scores_a_finished_run(dirs: dict[str, Path], solution: np.ndarray) -> None:
    write_start(dirs["prediction"], START_TIME)
    for k, (t, prediction) in enumerate(zip([5, 30, 100, 400], protocol_predictions(solution))):
        append_timestamp(dirs["prediction"], k, START_TIME + t)
        write_prediction(dirs["prediction"], k, prediction)
    write_end(dirs["prediction"])

    done = run_scorer(dirs)
    assert done.returncode == 0, done.stderr

    scores = read_scores(dirs)
    assert abs(scores["score"] - 0.6413306092165822) < 1e-9  # the official scorer's observed value (protocol 4.8)
    assert scores["Duration"] == 400.0
    assert scores["timestamps"] == [5.0, 30.0, 100.0, 400.0]
    assert np.allclose(scores["nauc_scores"], [0.0, -0.1931781046, 1.0, 1.0], atol=1e-9, rtol=0)
    assert len(scores["accuracy"]) == 4 and scores["accuracy"][0] == 0.0

    lines = done.stdout.strip().splitlines()
    assert lines[-1] == f"ALC: {scores['score']!r}"
    assert lines[1:5] == [
        "prediction 0: t=5.00 s NAUC=0.000000",
        "prediction 1: t=30.00 s NAUC=-0.193178",
        "prediction 2: t=100.00 s NAUC=1.000000",
        "prediction 3: t=400.00 s NAUC=1.000000",
    ]

    png = dirs["score"] / "learning-curve-miniciao.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(png) as image:
        image.verify()
    page = (dirs["score"] / "detailed_results.html").read_text()
    assert f'<img src="data:image/png;base64,{base64.b64encode(png.read_bytes()).decode("ascii")}"' in page
    assert "refresh" not in page  # final page: no auto-refresh


def test_no_prediction_still_writes_zero_score(dirs: dict[str, Path]) -> None:
    write_start(dirs["prediction"], START_TIME)
    write_end(dirs["prediction"], success=0)
    done = run_scorer(dirs)
    assert done.returncode == 0, done.stderr
    assert read_scores(dirs) == {"score": 0.0, "Duration": 0.0, "timestamps": [], "nauc_scores": [], "accuracy": []}
    assert done.stdout.strip().splitlines()[-1] == "ALC: 0.0"
    assert "ingestion_success: 0" in done.stderr
    assert (dirs["score"] / "learning-curve-miniciao.png").is_file()


def test_bad_prediction_files_are_skipped_with_one_line_each(dirs: dict[str, Path], solution: np.ndarray) -> None:
    with_nan = solution.copy()
    with_nan[3, 3] = np.nan
    predictions = {0: 0.5 * solution, 1: solution[:, :9], 2: with_nan, 3: solution}
    write_start(dirs["prediction"], START_TIME)
    for k, t in zip(range(4), [10, 20, 40, 80]):
        append_timestamp(dirs["prediction"], k, START_TIME + t)
        write_prediction(dirs["prediction"], k, predictions[k])
    write_prediction(dirs["prediction"], 4, solution)  # a file whose 'K:' line never came: no place on the curve
    write_end(dirs["prediction"])

    done = run_scorer(dirs)
    assert done.returncode == 0, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 3
    assert "miniciao.predict_4: no timestamp '4:' in start.txt; prediction skipped" in errors[2]
    assert "miniciao.predict_1" in errors[0] and "shape (18, 9)" in errors[0] and "skipped" in errors[0]
    assert "miniciao.predict_2" in errors[1] and "NaN/inf" in errors[1] and "skipped" in errors[1]
    assert "Traceback" not in done.stderr

    scores = read_scores(dirs)
    assert scores["timestamps"] == [10.0, 80.0]
    expected_naucs = [nauc(solution, 0.5 * solution), 1.0]
    assert scores["nauc_scores"] == pytest.approx(expected_naucs, abs=1e-12)
    assert scores["score"] == pytest.approx(alc([10.0, 80.0], expected_naucs, 1200.0), abs=1e-12)


def test_late_prediction_is_clipped_to_the_budget(dirs: dict[str, Path], solution: np.ndarray) -> None:
    write_start(dirs["prediction"], START_TIME)
    append_timestamp(dirs["prediction"], 0, START_TIME + 1300)
    write_prediction(dirs["prediction"], 0, solution)
    write_end(dirs["prediction"])
    done = run_scorer(dirs)
    assert done.returncode == 0, done.stderr
    scores = read_scores(dirs)
    # official unclipped formula: -0.0250853723; ours: the late prediction adds no area
    assert scores["score"] == 0.0
    assert scores["Duration"] == 1300.0 and scores["nauc_scores"] == [1.0]
    assert "prediction 0: t=1300.00 s NAUC=1.000000 (after T: clipped, no area)" in done.stdout


def test_missing_solution_exits_2(dirs: dict[str, Path]) -> None:
    (dirs["solution"] / "miniciao.solution").unlink()
    write_start(dirs["prediction"], START_TIME)
    done = run_scorer(dirs)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: {dirs['solution']}: expected exactly one *.solution file, found 0 (none)"
    ]


def test_two_solutions_exit_2(dirs: dict[str, Path]) -> None:
    shutil.copy(dirs["solution"] / "miniciao.solution", dirs["solution"] / "other.solution")
    done = run_scorer(dirs)
    assert done.returncode == 2
    assert "found 2 (miniciao.solution, other.solution)" in done.stderr


def test_no_start_file_exits_2(dirs: dict[str, Path]) -> None:
    done = run_scorer(dirs, "--start_timeout", "0.3")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: {dirs['prediction'] / 'start.txt'}: not found after 0.3 s (ingestion never started)"
    ]


def wait_for(condition, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def scored_count(dirs: dict[str, Path]) -> int:
    path = dirs["score"] / "scores.txt"
    return len(yaml.safe_load(path.read_text())["nauc_scores"]) if path.is_file() else -1


def test_live_run_polls_new_predictions(dirs: dict[str, Path], solution: np.ndarray) -> None:
    scorer = subprocess.Popen(
        scorer_command(dirs, "--start_timeout", "120"),
        cwd=REPO_ROOT, env=dict(os.environ, OMP_NUM_THREADS="1"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        time.sleep(0.5)  # the scorer is already waiting for start.txt
        start_time = time.time()
        write_start(dirs["prediction"], start_time)
        append_timestamp(dirs["prediction"], 0, time.time())
        write_prediction(dirs["prediction"], 0, 0.5 * solution)
        wait_for(lambda: scored_count(dirs) == 1, "the first prediction to be scored")
        assert '<meta http-equiv="refresh" content="5">' in (dirs["score"] / "detailed_results.html").read_text()

        append_timestamp(dirs["prediction"], 1, time.time())  # timestamp first, file a few polls later
        time.sleep(0.3)
        assert scorer.poll() is None and scored_count(dirs) == 1
        write_prediction(dirs["prediction"], 1, solution)
        wait_for(lambda: scored_count(dirs) == 2, "the second prediction to be scored")
        write_end(dirs["prediction"])
        stdout, stderr = scorer.communicate(timeout=60)
    finally:
        if scorer.poll() is None:
            scorer.kill()
            scorer.wait()
    assert scorer.returncode == 0, stderr
    scores = read_scores(dirs)
    assert len(scores["timestamps"]) == 2 and 0 < scores["timestamps"][0] <= scores["timestamps"][1] < 120
    assert scores["nauc_scores"][1] == 1.0
    assert scores["score"] == pytest.approx(alc(scores["timestamps"], scores["nauc_scores"], 1200.0), abs=1e-12)
    assert "refresh" not in (dirs["score"] / "detailed_results.html").read_text()
    assert stdout.strip().splitlines()[-1].startswith("ALC: ")


def test_time_budget_exceeded_terminates_ingestion(dirs: dict[str, Path], solution: np.ndarray) -> None:
    ingestion = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])  # stands in for ingestion
    try:
        start_time = time.time()
        write_start(dirs["prediction"], start_time, time_budget=2, pid=ingestion.pid)
        append_timestamp(dirs["prediction"], 0, start_time + 0.25)
        write_prediction(dirs["prediction"], 0, solution)
        done = run_scorer(dirs)  # no end.txt: only the budget can stop it
        assert ingestion.wait(timeout=30) == -signal.SIGTERM
    finally:
        if ingestion.poll() is None:
            ingestion.kill()
            ingestion.wait()
    assert done.returncode == 0, done.stderr
    assert f"sent SIGTERM to ingestion (pid {ingestion.pid})" in done.stderr
    assert "no end.txt" in done.stderr
    scores = read_scores(dirs)
    assert scores["timestamps"] == [0.25] and scores["nauc_scores"] == [1.0]
