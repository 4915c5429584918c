"""The performance matrix: every portfolio config run on every known dataset's tuning split at one budget and one
learner seed (the `seed` knob: validation split, random weights, batch draws), at one or more seeds.

    python -m portfolio.offline.matrix run --budget 60 --workers 2          # fills portfolio/performance_matrix.csv
    python -m portfolio.offline.matrix run --budget 60 --seed 1             # another seed: performance_matrix.seed1.csv
    python -m portfolio.offline.matrix status

Rows are configs named by the dataset they were tuned on (plus `generalist`), columns are datasets, cells are ALCs.
Each seed has its own file; readers (portfolio.entries.read_matrix) take every cell's mean over the seeds run.
The CSV is rewritten whole (atomically) after every finished cell, so a stopped run loses only the cells in
flight and the same command resumes with the empty cells. A config or dataset added later only adds cells.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from autodl_format.cli import command, print_error
from autodl_format.files import atomic_path
from learner.config import PORTFOLIO_DIR
from portfolio.entries import MATRIX_FILE, Matrix, portfolio_configs, read_cells, seed_file, seed_files
from portfolio.offline.objective import evaluate_config
from portfolio.offline.tuning_data import DEFAULT_TUNING_ROOT, TuningDataError, ensure_tuning_dataset
from autodl_format.offline.paths import REPO_ROOT

def write_matrix(matrix: Matrix, path: Path = MATRIX_FILE) -> None:
    datasets = sorted({dataset for row in matrix.values() for dataset in row})
    with atomic_path(path) as temporary:
        with open(temporary, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["config", *datasets])
            for config in sorted(matrix):
                writer.writerow([config, *(f"{matrix[config][d]:.4f}" if d in matrix[config] else ""
                                           for d in datasets)])


def check_budget(path: Path, budget: float) -> None:
    """One matrix, one budget: a sidecar file (JSON; not *.json, which holds configs) records it, and resuming at
    another budget is refused."""
    sidecar = path.with_suffix(".settings")
    if sidecar.is_file():
        recorded = json.loads(sidecar.read_text())["budget_s"]
        if recorded != budget:
            raise ValueError(f"{path}: its cells were run at T = {recorded:g} s, not {budget:g} s; use that budget "
                             "or another --matrix file")
    else:
        sidecar.write_text(json.dumps({"budget_s": budget, "threads_per_cell": 1,
                                       "command": "python -m portfolio.offline.matrix run --budget " + f"{budget:g}"}) + "\n")


def missing_cells(matrix: Matrix, configs: list[str], datasets: list[str]) -> list[tuple[str, str]]:
    return [(c, d) for d in datasets for c in configs if d not in matrix.get(c, {})]


def fill(configs: dict[str, dict], datasets: list[str], budget: float, workers: int, path: Path,
         work_dir: Path, tuning_root: Path, seed: int = 0) -> Matrix:
    """Run the missing cells of `seed`'s file, `workers` at a time (one thread each), writing it after every cell."""
    from tqdm import tqdm

    path = seed_file(path, seed)
    matrix = read_cells(path)
    todo = missing_cells(matrix, list(configs), datasets)
    dataset_dirs = {d: ensure_tuning_dataset(d, tuning_root) for d in datasets}
    lock = threading.Lock()

    def run(cell: tuple[str, str]) -> tuple[str, str, float]:
        config, dataset = cell
        alc, _ = evaluate_config(dict(configs[config], seed=seed), dataset_dirs[dataset], budget,
                                 work_dir / dataset / f"{config}_s{seed}_{time.time_ns() % 10**9}")
        return config, dataset, alc

    with ThreadPoolExecutor(workers) as pool, tqdm(total=len(todo), desc="matrix", unit="cell") as bar:
        for future in as_completed([pool.submit(run, cell) for cell in todo]):
            config, dataset, alc = future.result()
            with lock:
                matrix.setdefault(config, {})[dataset] = alc
                write_matrix(matrix, path)
            bar.update()
            bar.set_postfix_str(f"{config} on {dataset}: {alc:.4f}")
    return matrix


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
        row = matrix.get(config, {})
        if row:
            lines.append(f"  {config:<22} {len(row):>3} cells, mean ALC {sum(row.values()) / len(row):.4f}")
    return "\n".join(lines)


@command
def main(argv: list[str] | None = None) -> int:
    from meta_classifier.known import load_catalogue

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("run", "status"))
    parser.add_argument("--budget", type=float, default=60.0, help="time budget T of every cell, seconds (60)")
    parser.add_argument("--workers", type=int, default=2, help="cells run at once, one thread each (2)")
    parser.add_argument("--seed", type=int, default=0, help="the learner's seed; each seed has its own file (0)")
    parser.add_argument("--datasets", nargs="+", help="known datasets (default: the whole catalogue)")
    parser.add_argument("--matrix", type=Path, default=MATRIX_FILE)
    parser.add_argument("--portfolio_dir", type=Path, default=PORTFOLIO_DIR)
    parser.add_argument("--work_dir", type=Path, default=REPO_ROOT / "runs" / "matrix")
    parser.add_argument("--tuning_root", type=Path, default=DEFAULT_TUNING_ROOT)
    args = parser.parse_args(argv)
    datasets = args.datasets or [d["name"] for d in load_catalogue()["datasets"]]
    configs = portfolio_configs(args.portfolio_dir)
    if args.command == "status":
        print(status(args.matrix, list(configs), datasets))
        return 0
    try:
        check_budget(args.matrix, args.budget)
        fill(configs, datasets, args.budget, args.workers, args.matrix, args.work_dir, args.tuning_root, args.seed)
    except (TuningDataError, ValueError) as error:
        print_error(error)
        return 1
    print(status(args.matrix, list(configs), datasets))
    return 0


if __name__ == "__main__":
    sys.exit(main())
