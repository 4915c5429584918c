"""BOHB's objective for the portfolio: 1 - ALC of the real model.py with a sampled config on a tuning dataset,
run the way the platform runs it (learner.config file, ingestion with its timing rules -- the constructor is not
charged, every prediction is timed, hard stop at the budget -- then our scoring program). The budget is the time
budget T in seconds. A run that predicts nothing scores ALC 0. The fine-tuning recipe (learner.config.RECIPE_FILE)
lies beneath the config as it does beneath a portfolio entry at run time, so what is tuned and measured is what
runs.

The evaluation's info keeps what the ALC estimate and the reports need: the ALC, the prediction times and NAUCs,
and the learner's own log lines (validation NAUC against training steps; learner.* logs them).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from hpo.bohb import Objective
from learner.config import CONFIG_ENV, PORTFOLIO_DIR, RECIPE_FILE, read_recipe, recipe_beneath
from portfolio.offline.space import to_learner_config
from autodl_format.offline.paths import REPO_ROOT
from scoring.task import TaskError, run_task

LOG_PREFIXES = ("[learner]", "ingestion: prediction", "ingestion: summary", "ingestion: task")


def learner_lines(log_text: str) -> list[str]:
    """The lines of an ingestion log that describe the learner's run (no library chatter)."""
    return [line for line in log_text.splitlines() if line.startswith(LOG_PREFIXES)]


def evaluate_config(config: dict[str, Any], dataset_dir: Path, budget: float, run_dir: Path,
                    threads: int = 1, keep_predictions: bool = False,
                    recipe_file: Path = PORTFOLIO_DIR / RECIPE_FILE) -> tuple[float, dict[str, Any]]:
    """(ALC, info) of model.py with `config` (sampled or portfolio fields, on top of the recipe in `recipe_file`)
    on `dataset_dir` at time budget `budget`; the run's files go to `run_dir`."""
    learner_config = to_learner_config(recipe_beneath(config, read_recipe(recipe_file)))
    run_dir.mkdir(parents=True, exist_ok=True)
    config_file = run_dir / "config.json"
    config_file.write_text(json.dumps(learner_config.to_dict(), indent=1, sort_keys=True) + "\n")
    env = dict(os.environ, **{CONFIG_ENV: str(config_file), "OMP_NUM_THREADS": str(threads),
                              "MKL_NUM_THREADS": str(threads)})
    started = time.monotonic()
    try:
        result = run_task(dataset_dir, REPO_ROOT, run_dir, budget, env=env)
        alc, times, naucs, error = result.alc, result.timestamps, result.nauc_scores, ""
    except TaskError as failure:
        alc, times, naucs, error = 0.0, [], [], str(failure)
    log_file = run_dir / "ingestion.log"
    info = {"alc": alc, "prediction_times": times, "prediction_naucs": naucs,
            "wall_seconds": round(time.monotonic() - started, 2), "dataset": Path(dataset_dir).name,
            "log": learner_lines(log_file.read_text(errors="replace")) if log_file.exists() else []}
    if error:
        info["error"] = error
    if not keep_predictions:
        shutil.rmtree(run_dir / "predictions", ignore_errors=True)
    return alc, info


def make_objective(dataset_dir: str, work_dir: str, threads: str = "1") -> Objective:
    """objective(config, budget) -> (1 - ALC, info), for `python -m hpo.worker --objective`; each evaluation runs in
    its own folder under work_dir."""

    def objective(config: dict[str, Any], budget: float) -> tuple[float, dict[str, Any]]:
        digest = hashlib.sha1(json.dumps(config, sort_keys=True).encode()).hexdigest()[:10]
        run_dir = Path(work_dir) / f"{digest}_T{budget:g}_{os.getpid()}_{time.time_ns() % 10**9}"
        alc, info = evaluate_config(config, Path(dataset_dir), budget, run_dir, int(threads))
        return 1.0 - alc, info

    return objective
