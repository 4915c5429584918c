"""Budget benchmark: does the model keep to the time budget, and how soon does its first prediction come?

    .venv/bin/python -m scripts.benchmark_budget --datasets data/bench/* --runs 20 --out docs/budget_benchmark
    .venv/bin/python -m scripts.benchmark_budget --first-prediction --datasets data/bench/* --out runs/first
    .venv/bin/python -m scripts.benchmark_budget --first-prediction --repo ../wt_base --datasets ... --out runs/b

Budget mode: `--runs` runs with budgets T drawn log-uniformly from [--min-budget, --max-budget] (seeded), the
datasets taken in turn, each run through the ingestion program *without* --hard_stop (nothing stops the model
at T: what is measured is the model's own timekeeping), then scored. The runs go in increasing T, so that a
partial benchmark covers the small budgets. Per run: T, the first and last prediction times, the overrun
(last prediction time - T, 0 when none is late), the number of predictions, the ingestion duration and the ALC.

First-prediction mode: one run per dataset at T = 1200 s, stopped as soon as the first prediction's timestamp
appears in start.txt (the rest of the run cannot change that time, so stopping there measures it exactly).

Each finished run is appended to OUT/results.csv at once; a re-run skips the runs already there (resumable).
`--lock FILE` holds an flock on FILE during each run (a shared CPU: one timed thing at a time). `--repo DIR` runs
another checkout's ingestion and model.py (e.g. a `git worktree` of the commit before a change). Writes
OUT/results.md (the table, with per-dataset median and worst first-prediction times) and, in budget mode,
OUT/budget.png.
"""
from __future__ import annotations

import argparse
import csv
import fcntl
import math
import os
import signal
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import yaml

from autodl_format.cli import command, print_error
from autodl_format.offline.paths import REPO_ROOT
FIRST_PREDICTION_BUDGET = 1200.0
KILL_AFTER_S = 120.0  # past T, a run is killed as hung (it then shows as a huge overrun, not as a pass)
BUDGET_COLUMNS = ("run", "dataset", "budget_s", "first_s", "last_s", "overrun_s", "predictions", "duration_s",
                  "alc")
FIRST_COLUMNS = ("dataset", "first_s")


def draw_budgets(runs: int, low: float, high: float, seed: int) -> list[float]:
    """Log-uniform budgets in [low, high], rounded to 0.01 s."""
    rng = np.random.default_rng(seed)
    return [round(float(math.exp(rng.uniform(math.log(low), math.log(high)))), 2) for _ in range(runs)]


def read_start(path: Path) -> tuple[float, list[float]]:
    """start.txt: its start_time and the prediction timestamps (relative to start), in K order."""
    start = yaml.safe_load(path.read_text())
    stamps = sorted((k, v) for k, v in start.items() if isinstance(k, int))
    return float(start["start_time"]), [float(v) - float(start["start_time"]) for _, v in stamps]


@contextmanager
def cpu_lock(path: Path | None) -> Iterator[None]:
    if path is None:
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ingestion_command(repo: Path, dataset: Path, out: Path, budget: float) -> list[str]:
    return [sys.executable, "-m", "ingestion", "--dataset_dir", str(dataset), "--code_dir", str(repo),
            "--output_dir", str(out), "--time_budget", f"{budget:g}"]


def run_budget(repo: Path, dataset: Path, out: Path, budget: float) -> dict:
    """One ingestion run without hard stop, then its timestamps and ALC."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "console.log", "w") as console:
        try:
            subprocess.run(ingestion_command(repo, dataset, out / "predictions", budget), cwd=repo, stdout=console,
                           stderr=subprocess.STDOUT, timeout=budget + KILL_AFTER_S + 60, check=False)
        except subprocess.TimeoutExpired:
            console.write(f"benchmark_budget: killed {KILL_AFTER_S:g} s after the budget\n")
    start_file = out / "predictions" / "start.txt"
    stamps = read_start(start_file)[1] if start_file.is_file() else []
    end_file = out / "predictions" / "end.txt"
    duration = yaml.safe_load(end_file.read_text())["ingestion_duration"] if end_file.is_file() else None
    return {"first_s": stamps[0] if stamps else None, "last_s": stamps[-1] if stamps else None,
            "overrun_s": max(0.0, stamps[-1] - budget) if stamps else 0.0, "predictions": len(stamps),
            "duration_s": duration, "alc": score_run(dataset, out / "predictions", stamps, budget)}


def score_run(dataset: Path, prediction_dir: Path, stamps: list[float], budget: float) -> float | None:
    from scoring.score import read_prediction, read_solution, score_predictions

    solutions = sorted(dataset.glob("*.solution"))
    if not solutions:
        return None
    name = solutions[0].name[: -len(".solution")]
    pairs = [(t, read_prediction(prediction_dir / f"{name}.predict_{k}")) for k, t in enumerate(stamps)
             if (prediction_dir / f"{name}.predict_{k}").is_file()]
    return score_predictions(read_solution(solutions[0]), pairs, budget).alc


def run_first_prediction(repo: Path, dataset: Path, out: Path) -> float | None:
    """Run at T = 1200 s until the first prediction's timestamp is written, then stop the run."""
    out.mkdir(parents=True, exist_ok=True)
    start_file = out / "predictions" / "start.txt"
    with open(out / "console.log", "w") as console:
        process = subprocess.Popen(ingestion_command(repo, dataset, out / "predictions", FIRST_PREDICTION_BUDGET),
                                   cwd=repo, stdout=console, stderr=subprocess.STDOUT, start_new_session=True)
        first = None
        try:
            while process.poll() is None and first is None:
                time.sleep(0.02)
                if start_file.is_file():
                    stamps = read_start(start_file)[1] if "\n0:" in start_file.read_text() else []
                    first = stamps[0] if stamps else None
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return first


def load_rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def append_row(path: Path, columns: tuple[str, ...], row: dict) -> None:
    new = not path.is_file()
    with open(path, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        if new:
            writer.writeheader()
        writer.writerow({c: row.get(c) for c in columns})


def _number(value: object) -> float | None:
    return None if value in (None, "", "None") else float(value)


def _fmt(value: object, digits: int = 2) -> str:
    number = _number(value)
    return "-" if number is None else f"{number:.{digits}f}"


def first_prediction_summary(rows: list[dict]) -> list[str]:
    """Per dataset: median and worst first-prediction time (a run without any prediction counts as worst)."""
    lines = ["| dataset | runs | median first prediction (s) | worst (s) |", "|---|---|---|---|"]
    for name in sorted({row["dataset"] for row in rows}):
        times = [_number(row["first_s"]) for row in rows if row["dataset"] == name]
        known = [t for t in times if t is not None]
        worst = "none" if None in times else _fmt(max(known))
        lines.append(f"| {name} | {len(times)} | {_fmt(statistics.median(known)) if known else '-'} | {worst} |")
    return lines


def write_budget_report(rows: list[dict], out: Path) -> None:
    lines = ["| run | dataset | T (s) | first prediction (s) | last prediction (s) | overrun (s) | predictions | "
             "ALC |", "|---|---|---|---|---|---|---|---|"]
    for row in sorted(rows, key=lambda r: float(r["budget_s"])):
        lines.append(f"| {row['run']} | {row['dataset']} | {_fmt(row['budget_s'])} | {_fmt(row['first_s'])} | "
                     f"{_fmt(row['last_s'])} | {_fmt(row['overrun_s'])} | {row['predictions']} | "
                     f"{_fmt(row['alc'], 4)} |")
    overruns = sum(1 for row in rows if float(row["overrun_s"]) > 0)
    missing = sum(1 for row in rows if float(row["budget_s"]) >= 2 and int(row["predictions"]) == 0)
    lines += ["", f"{len(rows)} runs: {overruns} with a prediction after T, {missing} with T >= 2 s and no "
              f"prediction.", ""] + first_prediction_summary(rows)
    (out / "results.md").write_text("\n".join(lines) + "\n")
    plot_budget(rows, out)


def plot_budget(rows: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    budgets = np.array([float(r["budget_s"]) for r in rows])
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for column, marker, label in (("first_s", "o", "first prediction"), ("last_s", "x", "last prediction")):
        points = [(b, _number(r[column])) for b, r in zip(budgets, rows) if _number(r[column]) is not None]
        if points:
            axis.scatter(*zip(*points), marker=marker, label=label)
    line = np.array([budgets.min(), budgets.max()]) if len(budgets) else np.array([1.0, 1200.0])
    axis.plot(line, line, "k--", linewidth=1, label="t = T")
    axis.set(xscale="log", yscale="log", xlabel="time budget T (s)", ylabel="prediction time (s)",
             title="predictions against the budget (no hard stop)")
    axis.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    figure.savefig(out / "budget.png", dpi=100)
    plt.close(figure)


@command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", type=Path, required=True, help="AutoDL dataset directories")
    parser.add_argument("--out", type=Path, required=True, help="results folder (resumable)")
    parser.add_argument("--first-prediction", action="store_true", help="first-prediction mode (T = 1200 s)")
    parser.add_argument("--runs", type=int, default=20, help="budget mode: number of runs (20)")
    parser.add_argument("--min-budget", type=float, default=1.0)
    parser.add_argument("--max-budget", type=float, default=1200.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repo", type=Path, default=REPO_ROOT, help="checkout whose ingestion and model.py run")
    parser.add_argument("--lock", type=Path, default=None, help="flock this file during each run")
    args = parser.parse_args(argv)
    missing = [str(d) for d in args.datasets if not d.is_dir()]
    if missing:
        print_error(f"dataset directory not found: {', '.join(missing)}")
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    datasets = [d.resolve() for d in args.datasets]
    repo = args.repo.resolve()
    results = args.out / "results.csv"
    done = {row["run"] if "run" in row else row["dataset"] for row in load_rows(results)}
    if args.first_prediction:
        for dataset in datasets:
            if dataset.name in done:
                continue
            with cpu_lock(args.lock):
                first = run_first_prediction(repo, dataset, args.out / "runs" / dataset.name)
            print(f"benchmark_budget: {dataset.name}: first prediction at {_fmt(first)} s", flush=True)
            append_row(results, FIRST_COLUMNS, {"dataset": dataset.name, "first_s": first})
        rows = load_rows(results)
        (args.out / "results.md").write_text("\n".join(first_prediction_summary(rows)) + "\n")
        print((args.out / "results.md").read_text())
        return 0
    budgets = draw_budgets(args.runs, args.min_budget, args.max_budget, args.seed)
    plan = sorted((budget, i, datasets[i % len(datasets)]) for i, budget in enumerate(budgets))
    for budget, i, dataset in plan:
        run_id = f"{i:02d}_{dataset.name}"
        if run_id in done:
            continue
        print(f"benchmark_budget: run {run_id}, T = {budget:g} s ...", flush=True)
        with cpu_lock(args.lock):
            row = run_budget(repo, dataset, args.out / "runs" / run_id, budget)
        row.update(run=run_id, dataset=dataset.name, budget_s=budget)
        print(f"benchmark_budget: run {run_id}: first {_fmt(row['first_s'])} s, last {_fmt(row['last_s'])} s, "
              f"overrun {_fmt(row['overrun_s'])} s, ALC {_fmt(row['alc'], 4)}", flush=True)
        append_row(results, BUDGET_COLUMNS, row)
        write_budget_report(load_rows(results), args.out)
    print((args.out / "results.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
