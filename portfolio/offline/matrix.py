"""The performance matrix: every portfolio config run on every known dataset's tuning split at one budget T and
one learner seed (the `seed` knob: validation split, random weights, batch draws), at one or more seeds.

    python -m portfolio.offline.matrix run --budget 20 --workers 2        # fills portfolio/performance_matrix.csv
    python -m portfolio.offline.matrix run --budget 20 --seed 1           # another seed: performance_matrix.seed1.csv
    python -m portfolio.offline.matrix run --budget 120 --greedy 10       # a reduced portfolio at T = 120 s:
                                                                          #   portfolio/performance_matrix_T120.csv
    python -m portfolio.offline.matrix status --budget 120 --greedy 10

Rows are configs named by the dataset they were tuned on (plus `generalist`), columns are datasets, cells are ALCs.
Each seed has its own file, each budget its own name (matrix_file); readers (portfolio.entries.read_matrix) take
every cell's mean over the seeds run.

Every cell is a job on hpbandster's machinery, the same as BOHB's (hpo.bohb): a worker (`python -m hpo.worker
--objective portfolio.offline.matrix:make_cell_objective`) computes one config x dataset x budget x seed, the
master here hands the missing cells to whichever worker is idle through hpbandster's dispatcher. `--workers N`
runs the name server, N one-thread workers and the master in this process on 127.0.0.1; `--nameserver HOST
--port PORT --run_id R` is the master alone, for workers on other machines (docs/portfolio.md, "The matrix on a
cluster"). The CSV is rewritten whole (atomically) after every finished cell, so a stopped run loses only the cells
in flight and the same command resumes with the empty cells. A config or dataset added later only adds cells.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from autodl_format.cli import command, print_error
from autodl_format.files import atomic_path
from autodl_format.offline.paths import REPO_ROOT
from hpo.bohb import Objective, make_worker, start_dispatcher, start_nameserver, stop_thread_worker
from hpo.transport import LOOPBACK
from learner.config import DEFAULT_CONFIG, PORTFOLIO_DIR
from portfolio.entries import MATRIX_FILE, Matrix, portfolio_configs, read_cells, read_matrix, seed_file, seed_files
from portfolio.offline.objective import evaluate_config
from portfolio.offline.tuning_data import DEFAULT_TUNING_ROOT, TuningDataError, ensure_tuning_dataset

SHIPPED_BUDGET = 20.0  # the budget of portfolio/performance_matrix.csv, which keeps its name
DEFAULT_WORK_DIR = REPO_ROOT / "runs" / "matrix"


def matrix_file(budget: float) -> Path:
    """Seed 0's file of the matrix at time budget `budget`: portfolio/performance_matrix.csv at 20 s,
    portfolio/performance_matrix_T<budget>.csv at any other (seed N's beside it: portfolio.entries.seed_file)."""
    return MATRIX_FILE if budget == SHIPPED_BUDGET else MATRIX_FILE.with_name(f"performance_matrix_T{budget:g}.csv")


def write_matrix(matrix: Matrix, path: Path = MATRIX_FILE) -> None:
    """Write one seed's cells as CSV (configs as rows, datasets as columns, empty where not run), atomically."""
    datasets = sorted({dataset for row in matrix.values() for dataset in row})
    with atomic_path(path) as temporary:
        with open(temporary, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["config", *datasets])
            for config in sorted(matrix):
                writer.writerow([config, *(f"{matrix[config][d]:.4f}" if d in matrix[config] else ""
                                           for d in datasets)])


def check_budget(path: Path, budget: float, command: str) -> None:
    """One matrix, one budget: a sidecar file (JSON; not *.json, which holds configs) records it with the command
    that started the matrix, and resuming at another budget is refused."""
    sidecar = path.with_suffix(".settings")
    if sidecar.is_file():
        recorded = json.loads(sidecar.read_text())["budget_s"]
        if recorded != budget:
            raise ValueError(f"{path}: its cells were run at T = {recorded:g} s, not {budget:g} s; use that budget "
                             "or another --matrix file")
    else:
        sidecar.write_text(json.dumps({"budget_s": budget, "threads_per_cell": 1, "command": command}) + "\n")


def missing_cells(matrix: Matrix, configs: list[str], datasets: list[str]) -> list[tuple[str, str]]:
    """The (config, dataset) cells of `configs` x `datasets` that `matrix` has no ALC for, dataset by dataset."""
    return [(c, d) for d in datasets for c in configs if d not in matrix.get(c, {})]


def reduced_portfolio(configs: list[str], m: int, reference: Path = MATRIX_FILE) -> list[str]:
    """The first `m` configs of the greedy reduction (portfolio.offline.analysis) on the `reference` matrix's
    complete columns (mean over its seeds), restricted to `configs`, plus the generalist."""
    from portfolio.offline.analysis import as_array, greedy_reduction

    names, datasets, alc = as_array({c: row for c, row in read_matrix(reference).items() if c in configs})
    if not datasets:
        raise ValueError(f"{reference}: no complete column to reduce the portfolio on")
    chosen = [name for name, _ in greedy_reduction(names, alc)[:m]]
    return chosen if DEFAULT_CONFIG in chosen else chosen + [DEFAULT_CONFIG]


def make_cell_objective(work_dir: str = str(DEFAULT_WORK_DIR), tuning_root: str = str(DEFAULT_TUNING_ROOT),
                        threads: str = "1") -> Objective:
    """A matrix worker's objective, for `python -m hpo.worker --objective`: `objective(cell, budget)` runs the
    cell {"config": name, "fields": learner fields, "dataset": known dataset, "seed": learner seed} at time
    budget `budget` and returns (1 - ALC, info). The dataset's tuning split must be in `tuning_root` already
    (`python -m portfolio.offline.tune prepare`): workers do not make it, two of them would race."""

    def objective(cell: dict[str, Any], budget: float) -> tuple[float, dict[str, Any]]:
        dataset_dir = Path(tuning_root) / cell["dataset"]
        if not dataset_dir.is_dir():
            raise TuningDataError(f"{dataset_dir}: missing on this worker; python -m portfolio.offline.tune "
                                  f"prepare --datasets {cell['dataset']} --tuning_root {tuning_root}")
        run_dir = Path(work_dir) / cell["dataset"] / f"{cell['config']}_s{cell['seed']}_{time.time_ns() % 10**9}"
        alc, info = evaluate_config(dict(cell["fields"], seed=cell["seed"]), dataset_dir, budget, run_dir,
                                    int(threads))
        return 1.0 - alc, info

    return objective


def fill(configs: dict[str, dict], datasets: list[str], budget: float, path: Path, run_id: str, ns_host: str,
         ns_port: int, host: str = LOOPBACK, seed: int = 0) -> Matrix:
    """The matrix master: the missing cells of `seed`'s file go as jobs through hpbandster's dispatcher to the
    workers of `run_id` (found through the name server at ns_host:ns_port), each finished cell is written at once.
    A cell whose job failed stays empty (reported) for the next run. Shuts the workers down at the end."""
    from tqdm import tqdm

    path = seed_file(path, seed)
    matrix = read_cells(path)
    todo = missing_cells(matrix, list(configs), datasets)
    if not todo:
        return matrix
    lock = threading.Lock()
    done = threading.Event()
    left = {"cells": len(todo), "workers": 0}
    failures: list[BaseException] = []
    bar = tqdm(total=len(todo), desc=path.name, unit="cell")

    def on_workers(count: int) -> None:
        left["workers"] = count
        bar.set_postfix_str(f"{count} workers")

    def on_result(job) -> None:  # hpbandster's Job; called in a Pyro thread, so errors are handed to the master
        config, dataset, _ = job.id
        try:
            with lock:
                if job.result is None:
                    reason = (job.exception or "no result").strip().splitlines()[-1]
                    tqdm.write(f"{config} on {dataset}: failed ({reason}); left empty for the next run")
                else:
                    alc = 1.0 - job.result["loss"]
                    matrix.setdefault(config, {})[dataset] = alc
                    write_matrix(matrix, path)
                    bar.set_postfix_str(f"{left['workers']} workers; {config} on {dataset}: {alc:.4f}")
                bar.update()
                left["cells"] -= 1
        except BaseException as error:
            failures.append(error)
        if left["cells"] == 0 or failures:
            done.set()

    dispatcher, thread = start_dispatcher(on_result, run_id, ns_host, ns_port, host, on_workers)
    try:
        for config, dataset in todo:
            dispatcher.submit_job((config, dataset, seed), budget=budget,
                                  config={"config": config, "fields": configs[config], "dataset": dataset,
                                          "seed": seed})
        done.wait()
    finally:
        bar.close()
        dispatcher.shutdown(shutdown_workers=True)
        thread.join()
    if failures:
        raise failures[0]
    return matrix


def fill_here(configs: dict[str, dict], datasets: list[str], budget: float, workers: int, path: Path,
              work_dir: Path, tuning_root: Path, seed: int = 0) -> Matrix:
    """fill() with the name server and `workers` one-thread workers in this process, all on 127.0.0.1 (as
    hpo.bohb.run_bohb runs BOHB); the tuning splits are made first, here."""
    for dataset in datasets:
        ensure_tuning_dataset(dataset, tuning_root)
    run_id = f"matrix-{uuid.uuid4().hex[:8]}"
    server, ns_host, ns_port = start_nameserver(run_id)
    objective = make_cell_objective(str(work_dir), str(tuning_root))
    started = []
    try:
        for number in range(workers):
            started.append(make_worker(objective, run_id, ns_host, ns_port, number=number))
            started[-1].run(background=True)
        return fill(configs, datasets, budget, path, run_id, ns_host, ns_port, seed=seed)
    finally:
        for worker in started:
            stop_thread_worker(worker)
        server.shutdown()


def status(path: Path, configs: list[str], datasets: list[str]) -> str:
    """Cells done per seed file, and the mean ALC of every config's cells in the first."""
    lines = []
    for file in seed_files(path) or [path]:
        missing = missing_cells(read_cells(file), configs, datasets)
        done = len(configs) * len(datasets) - len(missing)
        lines.append(f"{file}: {done} of {len(configs) * len(datasets)} cells ({len(configs)} configs x "
                     f"{len(datasets)} datasets); {len(missing)} left")
    matrix = read_cells(path)
    for config in configs:
        row = {d: alc for d, alc in matrix.get(config, {}).items() if d in datasets}
        if row:
            lines.append(f"  {config:<22} {len(row):>3} cells, mean ALC {sum(row.values()) / len(row):.4f}")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("run", "status"))
    parser.add_argument("--budget", type=float, default=SHIPPED_BUDGET, help="time budget T of every cell, s (20)")
    parser.add_argument("--seed", type=int, default=0, help="the learner's seed; each seed has its own file (0)")
    parser.add_argument("--datasets", nargs="+", help="known datasets (default: the whole catalogue)")
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument("--configs", nargs="+", help="these portfolio configs only (default: all of them)")
    chosen.add_argument("--greedy", type=int, metavar="M", help="the greedy reduction's first M configs on "
                        "--reference, plus the generalist")
    parser.add_argument("--reference", type=Path, default=MATRIX_FILE, help="matrix the greedy reduction runs on "
                        "(portfolio/performance_matrix.csv, mean over its seeds)")
    parser.add_argument("--matrix", type=Path, help="seed 0's file (default: portfolio/performance_matrix.csv at "
                        "20 s, portfolio/performance_matrix_T<budget>.csv otherwise)")
    parser.add_argument("--portfolio_dir", type=Path, default=PORTFOLIO_DIR)
    here = parser.add_argument_group("this machine (default): name server, workers and master in this process")
    here.add_argument("--workers", type=int, default=2, help="cells run at once, one thread each (2)")
    here.add_argument("--work_dir", type=Path, default=DEFAULT_WORK_DIR, help="runs' files (runs/matrix)")
    here.add_argument("--tuning_root", type=Path, default=DEFAULT_TUNING_ROOT, help="tuning splits (data/tune)")
    cluster = parser.add_argument_group("a cluster: the master alone, for `python -m hpo.worker` processes")
    cluster.add_argument("--nameserver", help="the name server's host (python -m hpo.nameserver)")
    cluster.add_argument("--port", type=int, help="the name server's port")
    cluster.add_argument("--run_id", help="the run id the name server and workers were given")
    cluster.add_argument("--host", default=LOOPBACK, help="address the master listens on (workers must reach it)")
    return parser


@command
def main(argv: list[str] | None = None) -> int:
    from meta_classifier.known import load_catalogue

    parser = _parser()
    args = parser.parse_args(argv)
    if args.nameserver and (args.port is None or args.run_id is None):
        parser.error("--nameserver needs --port and --run_id")
    datasets = args.datasets or [d["name"] for d in load_catalogue()["datasets"]]
    matrix = args.matrix or matrix_file(args.budget)
    every = portfolio_configs(args.portfolio_dir)
    try:
        names = (reduced_portfolio(list(every), args.greedy, args.reference) if args.greedy is not None
                 else args.configs or list(every))
        unknown = [name for name in names if name not in every]
        if unknown:
            raise ValueError(f"--configs {unknown[0]}: not in {args.portfolio_dir} (known: {', '.join(every)})")
        configs = {name: every[name] for name in names}
        if args.command == "run":
            print(f"{matrix.name}: {len(configs)} configs x {len(datasets)} datasets at T = {args.budget:g} s, seed "
                  f"{args.seed}; configs: {' '.join(configs)}", flush=True)
            check_budget(matrix, args.budget, "python -m portfolio.offline.matrix " + " ".join(
                sys.argv[1:] if argv is None else argv))
            if args.nameserver:
                fill(configs, datasets, args.budget, matrix, args.run_id, args.nameserver, args.port, args.host,
                     args.seed)
            else:
                fill_here(configs, datasets, args.budget, args.workers, matrix, args.work_dir, args.tuning_root,
                          args.seed)
    except (TuningDataError, ValueError, RuntimeError) as error:
        print_error(error)
        return 1
    print(status(matrix, list(configs), datasets))
    return 0


if __name__ == "__main__":
    sys.exit(main())
