"""Reading the portfolio as a run uses it: its configs by name and the performance matrices, one per measured
budget, read at any budget (no tuning code here: model.py imports this inside the upload zip)."""
from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

from learner.config import DEFAULT_CONFIG, PORTFOLIO_DIR, TUNING_RECORD

MATRIX_FILE = PORTFOLIO_DIR / "performance_matrix.csv"  # the T = 20 s matrix; those of other budgets beside it
SIDECAR_SUFFIX = ".settings"  # a matrix's budget, beside its file (not .json: those are configs)
Matrix = dict[str, dict[str, float]]  # config -> dataset -> ALC


def portfolio_configs(portfolio_dir: Path = PORTFOLIO_DIR) -> dict[str, dict]:
    """The generalist and every tuned entry (a portfolio file with a tuning record), by name, as learner fields."""
    configs = {}
    for path in sorted(portfolio_dir.glob("*.json")):
        raw = json.loads(path.read_text())
        if path.stem == DEFAULT_CONFIG or TUNING_RECORD in raw:
            configs[path.stem] = {key: value for key, value in raw.items() if key != TUNING_RECORD}
    return configs


def seed_file(path: Path, seed: int) -> Path:
    """The file of one seed's cells: `path` itself for seed 0, `<stem>.seed<N>.csv` beside it for the others."""
    return path if seed == 0 else path.with_name(f"{path.stem}.seed{seed}{path.suffix}")


def seed_files(path: Path = MATRIX_FILE) -> list[Path]:
    """`path` (seed 0) and the other seeds' files beside it, when they exist."""
    others = sorted(path.parent.glob(f"{path.stem}.seed*{path.suffix}"), key=lambda p: int(p.stem.rsplit("seed")[-1]))
    return ([path] if path.is_file() else []) + others


def read_cells(path: Path) -> Matrix:
    """One file's cells as config -> dataset -> ALC (empty cells left out); {} when there is no file."""
    if not path.is_file():
        return {}
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {row["config"]: {key: float(value) for key, value in row.items() if key != "config" and value}
            for row in rows}


def read_matrix(path: Path = MATRIX_FILE) -> Matrix:
    """The matrix: every cell the mean of its ALCs over the seeds run (`path` and its seed files); {} when none.
    One seed's ALC on a small set moves by a few hundredths from seed to seed, so more seeds mean truer cells."""
    runs: dict[str, dict[str, list[float]]] = {}
    for file in seed_files(path):
        for config, row in read_cells(file).items():
            for dataset, alc in row.items():
                runs.setdefault(config, {}).setdefault(dataset, []).append(alc)
    return {config: {dataset: sum(alcs) / len(alcs) for dataset, alcs in row.items()} for config, row in runs.items()}


@dataclass(frozen=True)
class BudgetMatrices:
    """The performance matrices measured at different budgets T (seconds of the matrix machine: one torch thread
    of the CPU that `lookup_table_cpu.csv` describes), each the mean over its seed files, read at any T by `at`.

    A matrix is found by its sidecar (`performance_matrix*.settings`, JSON, `budget_s`: the budget is what the
    sidecar says, not the file name) with its cells in the `.csv` beside it."""
    matrices: dict[float, Matrix]  # budget -> matrix, by ascending budget
    paths: dict[float, Path]       # budget -> its seed-0 file

    @classmethod
    def load(cls, portfolio_dir: Path = PORTFOLIO_DIR) -> BudgetMatrices:
        """Every matrix in `portfolio_dir` that has cells; two at the same budget are refused (which one counts?)."""
        matrices: dict[float, Matrix] = {}
        paths: dict[float, Path] = {}
        for sidecar in sorted(portfolio_dir.glob(f"{MATRIX_FILE.stem}*{SIDECAR_SUFFIX}")):
            budget = float(json.loads(sidecar.read_text())["budget_s"])
            if budget in paths:
                raise ValueError(f"{sidecar}: a second matrix at T = {budget:g} s beside {paths[budget]}")
            matrix = read_matrix(sidecar.with_suffix(MATRIX_FILE.suffix))
            if matrix:  # portfolio.offline.matrix writes the sidecar before the first cell
                matrices[budget], paths[budget] = matrix, sidecar.with_suffix(MATRIX_FILE.suffix)
        order = sorted(matrices)
        return cls({b: matrices[b] for b in order}, {b: paths[b] for b in order})

    @property
    def budgets(self) -> list[float]:
        return list(self.matrices)

    def used(self, budget: float) -> list[float]:
        """The measured budgets the matrix at `budget` is read from: that one when measured, the smallest below
        it, the largest beyond it, else the two around it; [] without a matrix."""
        budgets = self.budgets
        if not budgets:
            return []
        if budget in self.matrices:
            return [budget]
        if budget < budgets[0]:
            return budgets[:1]
        if budget > budgets[-1]:
            return budgets[-1:]
        upper = next(i for i, measured in enumerate(budgets) if measured > budget)
        return budgets[upper - 1:upper + 1]

    def at(self, budget: float) -> Matrix:
        """The matrix at `budget`: a measured one as it is; between two measured budgets T1 < T < T2 every cell
        linear in log T between its two measured ALCs, with only the configs and cells measured at both (an ALC
        grows with T, so a cell from one end alone would not compare with the others); below the smallest the
        smallest, beyond the largest the largest; {} without a matrix."""
        used = self.used(budget)
        if len(used) < 2:
            return self.matrices[used[0]] if used else {}
        (low, high), (t1, t2) = (self.matrices[t] for t in used), used
        weight = math.log(budget / t1) / math.log(t2 / t1)
        interpolated = {config: {dataset: (1 - weight) * low[config][dataset] + weight * high[config][dataset]
                                 for dataset in sorted(low[config].keys() & high[config].keys())}
                        for config in sorted(low.keys() & high.keys())}
        return {config: row for config, row in interpolated.items() if row}

    def describe(self, budget: float) -> str:
        """Which measured matrices the reading at `budget` comes from, for the log."""
        used = self.used(budget)
        if not used:
            return "no matrix"
        if len(used) == 2:
            return f"matrices at {used[0]:g} and {used[1]:g} s, interpolated"
        return f"matrix at {used[0]:g} s"
