"""Scorer file formats (solution, prediction, start.txt, end.txt, scores.txt), the curve PNG and the HTML page."""

import base64
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from scoring.html_report import write_detailed_results
from scoring.learning_curve import plot_learning_curve, seconds_ticks
from autodl_format.metrics import ScoringError
from scoring.score import (
    ScoreResult,
    read_end_file,
    read_prediction,
    read_solution,
    read_start_file,
    write_scores_file,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

START_HEADER = "ingestion_pid: 4242\ntask_name: miniciao\ntime_budget: 1200\nstart_time: 1700000000.25\n"


def test_read_solution_is_whitespace_tolerant(tmp_path: Path) -> None:
    path = tmp_path / "a.solution"
    path.write_text("1 0 0 \n0\t1  0\n\n0 0 1\n")  # trailing space (as mini1), a tab, a blank line
    assert read_solution(path).tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]


def test_read_solution_single_column_is_n_by_1(tmp_path: Path) -> None:
    path = tmp_path / "b.solution"
    path.write_text("1\n0\n1\n")
    assert read_solution(path).shape == (3, 1)


def test_read_solution_real_miniciao(miniciao_dir: Path) -> None:
    solution = read_solution(miniciao_dir / "miniciao.solution")
    assert solution.shape == (18, 10) and (solution.sum(axis=1) == 1).all()


@pytest.mark.parametrize(
    "text, problem",
    [("1 0\n0 1 0\n", "cannot read solution"), ("1 0\n0 2\n", "only 0/1"), ("", "empty"), ("1 x\n", "cannot read")],
)
def test_read_solution_errors_name_the_file(text: str, problem: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.solution"
    path.write_text(text)
    with pytest.raises(ScoringError, match=f"bad.solution: .*{problem}"):
        read_solution(path)


def test_read_prediction_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScoringError, match=r"t\.predict_0: prediction file not found"):
        read_prediction(tmp_path / "t.predict_0")


def test_read_prediction_keeps_nan_for_the_metric_to_reject(tmp_path: Path) -> None:
    path = tmp_path / "t.predict_0"
    path.write_text("0.5 nan\n1e-05 0.25\n")  # '{:g}' writes NaN as 'nan' and small values in e-notation
    prediction = read_prediction(path)
    assert np.isnan(prediction[0, 1]) and prediction[1, 0] == 1e-05


def test_read_start_file_pairs_timestamps_by_index(tmp_path: Path) -> None:
    path = tmp_path / "start.txt"
    path.write_text(START_HEADER + "0: 1700000005.25\n1: 1700000030.5\n")
    start = read_start_file(path)
    assert (start.ingestion_pid, start.task_name, start.time_budget, start.start_time) == (
        4242,
        "miniciao",
        1200.0,
        1700000000.25,
    )
    assert start.timestamps == {0: 1700000005.25, 1: 1700000030.5}


def test_read_start_file_ignores_a_half_written_last_line(tmp_path: Path) -> None:
    path = tmp_path / "start.txt"
    path.write_text(START_HEADER + "0: 1700000005.25\n1")  # ingestion caught mid-append
    assert read_start_file(path).timestamps == {0: 1700000005.25}


def test_read_start_file_missing_key_is_named(tmp_path: Path) -> None:
    path = tmp_path / "start.txt"
    path.write_text("ingestion_pid: 1\ntask_name: x\nstart_time: 5.0\n")
    with pytest.raises(ScoringError, match=r"start\.txt: missing key\(s\) time_budget"):
        read_start_file(path)


def test_read_end_file(tmp_path: Path) -> None:
    path = tmp_path / "end.txt"
    path.write_text("ingestion_duration: 12.5\ningestion_success: 0\nend_time: 1700000012.75\n")
    end = read_end_file(path)
    assert (end.ingestion_duration, end.ingestion_success, end.end_time) == (12.5, False, 1700000012.75)


def test_scores_file_has_plain_floats_and_accuracy_only_when_given(tmp_path: Path) -> None:
    result = ScoreResult(
        alc=np.float64(0.25), nauc=[np.float64(0.5)], timestamps=[3.0], accuracy=[np.float64(0.75)], duration=3.0
    )
    write_scores_file(tmp_path / "scores.txt", result)
    text = (tmp_path / "scores.txt").read_text()
    assert "np.float64" not in text
    assert yaml.safe_load(text) == {
        "score": 0.25,
        "Duration": 3.0,
        "timestamps": [3.0],
        "nauc_scores": [0.5],
        "accuracy": [0.75],
    }
    write_scores_file(tmp_path / "scores.txt", ScoreResult(0.0, [], [], None, 0.0))
    assert yaml.safe_load((tmp_path / "scores.txt").read_text()) == {
        "score": 0.0,
        "Duration": 0.0,
        "timestamps": [],
        "nauc_scores": [],
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.txt"]  # no temporary file left behind


def test_seconds_ticks() -> None:
    assert seconds_ticks(1200) == [10, 60, 300, 600, 1200]
    assert seconds_ticks(7200) == [10, 60, 300, 600, 1200, 1800, 3600, 5400, 7200]
    assert seconds_ticks(100) == [10, 60]


@pytest.mark.parametrize(
    "timestamps, scores", [([5.0, 30.0, 100.0, 400.0], [0.0, -0.19, 1.0, 1.0]), ([], []), ([60.0, 1300.0], [0.4, 0.8])]
)
def test_learning_curve_png(timestamps: list, scores: list, tmp_path: Path) -> None:
    path = tmp_path / "learning-curve-task.png"
    plot_learning_curve(timestamps, scores, 1200.0, 0.5, path, "task")
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.size == (700, 707)  # 7 x 7.07 in at 100 dpi
    assert [p.name for p in tmp_path.iterdir()] == ["learning-curve-task.png"]


def test_detailed_results_embeds_every_png(tmp_path: Path) -> None:
    for name in ("learning-curve-a.png", "learning-curve-b.png"):
        plot_learning_curve([10.0], [0.5], 1200.0, 0.3, tmp_path / name, name)
    running = write_detailed_results(tmp_path, refresh=True).read_text()
    assert '<meta http-equiv="refresh" content="5">' in running
    for name in ("learning-curve-a.png", "learning-curve-b.png"):
        encoded = base64.b64encode((tmp_path / name).read_bytes()).decode("ascii")
        assert f'<img src="data:image/png;base64,{encoded}"' in running
    final = write_detailed_results(tmp_path, refresh=False).read_text()
    assert "refresh" not in final and final.count("<img ") == 2
