"""Run one AutoDL task the way the platform does: the ingestion program, then the scoring program.

Both run as subprocesses (a fresh interpreter per model, as on the platform); ingestion is hard-stopped at the
budget. Used by the quickstart and the benchmark.
"""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from autodl_format.offline.paths import REPO_ROOT



class TaskError(Exception):
    """A run produced nothing to score; the message points at the ingestion log."""


@dataclass
class TaskResult:
    alc: float
    timestamps: list[float]
    nauc_scores: list[float]
    prediction_dir: Path
    score_dir: Path
    ingestion_log: Path


def read_scores(score_dir: Path) -> dict:
    """The fields of `scores.txt` written by the scoring program."""
    return yaml.safe_load((score_dir / "scores.txt").read_text())


def run_task(
    dataset_dir: Path,
    code_dir: Path,
    output_dir: Path,
    time_budget: float,
    env: dict[str, str] | None = None,
) -> TaskResult:
    """Ingest `dataset_dir` with the Model in `code_dir` for `time_budget` seconds, score it, return the ALC."""
    prediction_dir = output_dir / "predictions"
    score_dir = output_dir / "scores"
    output_dir.mkdir(parents=True, exist_ok=True)
    ingestion_log = output_dir / "ingestion.log"
    with open(ingestion_log, "w") as log:
        subprocess.run(
            [sys.executable, "-m", "ingestion", "--dataset_dir", str(dataset_dir), "--code_dir", str(code_dir),
             "--output_dir", str(prediction_dir), "--time_budget", str(time_budget), "--hard_stop"],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, check=False,
        )
    scoring = subprocess.run(
        [sys.executable, "-m", "scoring", "--solution_dir", str(dataset_dir), "--prediction_dir", str(prediction_dir),
         "--score_dir", str(score_dir), "--start_timeout", "10"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, check=False,
    )
    if scoring.returncode != 0:
        raise TaskError(f"{dataset_dir}: scoring found nothing to score (exit {scoring.returncode}); "
                        f"see {ingestion_log}")
    scores = read_scores(score_dir)
    return TaskResult(
        alc=float(scores["score"]),
        timestamps=[float(t) for t in scores.get("timestamps") or []],
        nauc_scores=[float(s) for s in scores.get("nauc_scores") or []],
        prediction_dir=prediction_dir,
        score_dir=score_dir,
        ingestion_log=ingestion_log,
    )
