"""How well the cheap objective ranks configs: for every logged BOHB evaluation at one budget T, the ALC that
portfolio.offline.estimate gives from the run's validation curve and the lookup table, against the ALC measured with the
test labels; Spearman rank correlation over all of them and per dataset.

    python -m portfolio.offline.estimate_report --searches portfolio/searches --budget 60
    python -m portfolio.offline.estimate_report --searches portfolio/searches --budget 60 --from_budget 180

`--from_budget B` estimates the ALC at T from the same config's run at budget B (successive halving promotes
configs, so the larger budget holds some of the same configs): the cheap variant's use, one long run per config
read at any T. A second estimate with the run's measured times (no table) separates what the validation NAUC
costs from what the table's times cost. Writes a markdown report (default docs/portfolio_alc_estimate_T<T>.md).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

from autodl_format.cli import command
from hpo.logs import Evaluation, load_evaluations, part_dirs
from portfolio.offline.estimate import LogError, estimate_alc, parse_log
from portfolio.offline.lookup import LookupTable, MissingTimings

from autodl_format.offline.paths import REPO_ROOT
DEFAULT_TABLE = REPO_ROOT / "portfolio" / "lookup_table_cpu.csv"
DOCS_DIR = REPO_ROOT / "docs"
MIN_CONFIGS = 30  # what the issue asks the rank correlation to cover


@dataclass
class Row:
    dataset: str
    config_id: str
    config: dict
    measured: float       # ALC on the test labels, at T
    estimated: float      # from the validation curve and the table's times
    validation_only: float  # from the validation curve at the run's measured times


def search_dirs(paths: list[Path]) -> list[Path]:
    """Search folders (hpo.logs format) among `paths` and their subfolders."""
    found = []
    for path in paths:
        found += [path] if part_dirs(path) else sorted(p for p in path.iterdir() if p.is_dir() and part_dirs(p))
    return found


def config_id(config: dict) -> str:
    return hashlib.sha1(json.dumps(config, sort_keys=True).encode()).hexdigest()[:8]


def collect(searches: list[Path], table: LookupTable, budget: float,
            from_budget: float | None) -> tuple[list[Row], list[str]]:
    """The report's rows, and one line per evaluation left out (and why)."""
    rows, skipped = [], []
    for search in search_dirs(searches):
        evaluations = [e for e in load_evaluations(search) if math.isfinite(e.loss)]
        sources: dict[str, Evaluation] = {}
        for evaluation in evaluations:
            if evaluation.budget == (from_budget or budget):
                sources[config_id(evaluation.config)] = evaluation
        for evaluation in evaluations:
            if evaluation.budget != budget:
                continue
            key = config_id(evaluation.config)
            source = sources.get(key)
            where = f"{search.name} {key}"
            if source is None:
                skipped.append(f"{where}: no run at budget {from_budget:g}")
                continue
            try:
                curve = parse_log(source.info.get("log", []))
                row = Row(evaluation.info.get("dataset", search.name), key, evaluation.config,
                          1.0 - evaluation.loss, estimate_alc(curve, table, budget), estimate_alc(curve, None, budget))
            except (LogError, MissingTimings) as error:
                skipped.append(f"{where}: {error}")
                continue
            rows.append(row)
    return rows, skipped


def spearman(rows: list[Row], field: str = "estimated") -> float:
    """Spearman's rho of an estimate against the measured ALC; NaN below 3 rows or for a constant column."""
    from scipy.stats import spearmanr

    values = [getattr(row, field) for row in rows]
    measured = [row.measured for row in rows]
    if len(rows) < 3 or len(set(values)) < 2 or len(set(measured)) < 2:
        return math.nan
    return float(spearmanr(measured, values).statistic)


def _shown(path: Path) -> Path:
    """A path as the report shows it: relative to the repository when inside it."""
    path = path.resolve()
    return path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path


def _rho(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:+.3f}"


def render(rows: list[Row], skipped: list[str], table: LookupTable, table_path: Path, budget: float,
           from_budget: float | None, command: str) -> str:
    datasets = sorted({row.dataset for row in rows})
    source = f"the same config's run at T = {from_budget:g} s" if from_budget else "the run itself"
    lines = [f"# Cheap BOHB objective: estimated vs measured ALC at T = {budget:g} s", "",
             f"`{command}`", "",
             f"Estimate (portfolio.offline.estimate) from {source}: its validation NAUC curve, with the step and inference "
             f"times of `{_shown(table_path)}` (machine: {table.machine.get('machine', '?')}, measured "
             f"{table.machine.get('measured', '?')}). *Validation only*: the same curve at the run's own measured "
             "times. Measured: the ALC on the test labels (the BOHB objective).", ""]
    if len(rows) < MIN_CONFIGS:
        lines += [f"**Only {len(rows)} evaluations (the issue asks for at least {MIN_CONFIGS}).**", ""]
    lines += ["| | evaluations | Spearman (estimate) | Spearman (validation only) |", "|---|---|---|---|",
              f"| all | {len(rows)} | {_rho(spearman(rows))} | {_rho(spearman(rows, 'validation_only'))} |"]
    for dataset in datasets:
        subset = [row for row in rows if row.dataset == dataset]
        lines.append(f"| {dataset} | {len(subset)} | {_rho(spearman(subset))} | "
                     f"{_rho(spearman(subset, 'validation_only'))} |")
    lines += ["", "| dataset | config | backbone | side / max | batch | measured ALC | estimated | validation only |",
              "|---|---|---|---|---|---|---|---|"]
    for row in sorted(rows, key=lambda r: (r.dataset, -r.measured)):
        c = row.config
        lines.append(f"| {row.dataset} | {row.config_id} | {c.get('backbone', '-')} | {c.get('side', '-')} / "
                     f"{c.get('max_side', '-')} | {c.get('batch_size', '-')} | {row.measured:.4f} | "
                     f"{row.estimated:.4f} | {row.validation_only:.4f} |")
    if skipped:
        lines += ["", f"Left out ({len(skipped)}):", ""] + [f"- {line}" for line in skipped]
    return "\n".join(lines) + "\n"


@command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--searches", type=Path, nargs="+", required=True,
                        help="search folders, or folders holding them (portfolio/searches)")
    parser.add_argument("--budget", type=float, required=True, help="T: evaluations at this budget are compared")
    parser.add_argument("--from_budget", type=float, default=None, help="estimate from the runs at this budget")
    parser.add_argument("--table", type=Path, default=DEFAULT_TABLE)
    parser.add_argument("--out", type=Path, default=None, help="markdown report (default docs/...)")
    args = parser.parse_args(argv)
    table = LookupTable.load(args.table)
    rows, skipped = collect(args.searches, table, args.budget, args.from_budget)
    command = "python -m portfolio.offline.estimate_report " + " ".join(
        [f"--searches {' '.join(str(_shown(p)) for p in args.searches)}", f"--budget {args.budget:g}"]
        + ([f"--from_budget {args.from_budget:g}"] if args.from_budget else [])
        + ([f"--table {_shown(args.table)}"] if args.table.resolve() != DEFAULT_TABLE else []))
    report = render(rows, skipped, table, args.table, args.budget, args.from_budget, command)
    suffix = f"_from{args.from_budget:g}" if args.from_budget else ""
    out = args.out or DOCS_DIR / f"portfolio_alc_estimate_T{args.budget:g}{suffix}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    print(report + f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
