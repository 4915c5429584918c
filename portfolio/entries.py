"""Reading the portfolio as a run uses it: its configs by name and the performance matrix (no tuning code here:
model.py imports this inside the upload zip)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

from learner.config import DEFAULT_CONFIG, PORTFOLIO_DIR, TUNING_RECORD

MATRIX_FILE = PORTFOLIO_DIR / "performance_matrix.csv"
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
