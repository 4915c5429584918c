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


def read_matrix(path: Path = MATRIX_FILE) -> Matrix:
    """The matrix as config -> dataset -> ALC (empty cells left out); {} when there is no file."""
    if not path.is_file():
        return {}
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {row["config"]: {key: float(value) for key, value in row.items() if key != "config" and value}
            for row in rows}
