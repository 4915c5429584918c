"""Benchmark model variants on AutoDL datasets: ingestion (hard stop at the budget) then scoring, per pair.

    .venv/bin/python -m scripts.benchmark --datasets data/digits data/coil20 --budget 60 --out runs/bench
    .venv/bin/python -m scripts.benchmark --datasets data/* --variants generalist --budget 300 --threads 2

Variants: linear_pixels (trivial baseline: ridge on 16x16 raw pixels, scripts/baselines/linear_pixels),
frozen_logreg (outside baseline: frozen pretrained EfficientNet-Lite0 features + logistic regression,
scripts/baselines/frozen_logreg), meta:RULE (model.py choosing its config by the meta-learned RULE, one of
nearest / expected / calibrated; on a dataset folder named like a known dataset, e.g. the tuning splits
data/tune/NAME, it runs leave-one-dataset-out: see portfolio.offline.lodo), generalist (model.py with
portfolio/generalist.json), generalist_late (the same without the early-prediction schedule: one prediction at
the end), or any portfolio name / JSON path (model.py with that config; a path is
labelled by its file name without the suffix).
Datasets are AutoDL dataset directories (make them with `python -m scripts.make_dataset --source raw:NAME`).

Writes to --out: results.md and results.csv (ALC, NAUC of the last prediction, time of the first prediction,
number of predictions, train images/s from the learner's log) and learning_curves.png (all curves), plus each
run's predictions, scores, ingestion log and row.json under OUT/runs/DATASET/VARIANT. --resume takes the runs
whose row.json exists from there instead of running them again; --max-runs N stops after N new runs (so a long
benchmark can run in pieces: repeat the same command with --resume until it has every run). --seed N runs the
meta:RULE variants with learner seed N (the first learner and the chosen config), labelled meta_RULE_seedN.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from autodl_format.cli import command, print_error
from autodl_format.errors import first_line
from learner.config import CONFIG_SUFFIXES, ConfigError, config_path, load_config
from portfolio.choice import CHOICE_FILE_ENV, RULES
from autodl_format.offline.paths import REPO_ROOT
from scoring.task import run_task

BASELINES = {name: REPO_ROOT / "scripts" / "baselines" / name for name in ("linear_pixels", "frozen_logreg")}
DEFAULT_VARIANTS = ("linear_pixels", "generalist", "generalist_late")
META_PREFIX = "meta:"
TRAIN_LINE = re.compile(r"\[learner\] trained \d+ steps in ([0-9.]+)s \(([0-9.]+) images/s")
CHOICE_LINE = re.compile(r"config choice: rule \w+: config ([^\s,]+)")  # "config NAME, expected ALC ..."
COLUMNS = ("dataset", "variant", "alc", "last_nauc", "first_prediction_s", "predictions", "train_images_per_s",
           "chosen_config")


@dataclass
class Row:
    dataset: str
    variant: str
    alc: float
    last_nauc: float | None
    first_prediction_s: float | None
    predictions: int
    train_images_per_s: float | None
    timestamps: list[float]
    naucs: list[float]
    chosen_config: str | None = None  # meta variants: the config the Model chose (its log line)


def variant_setup(variant: str, work: Path, dataset: str, seed: int | None = None) -> tuple[Path, dict[str, str]]:
    """Code directory and extra environment of one variant on the dataset folder named `dataset` (main validates
    config variants before any run); `seed`, meta variants only: the learner seed of the run."""
    if variant.startswith(META_PREFIX):
        from portfolio.offline.lodo import run_settings

        path = work / "choice.json"
        path.write_text(json.dumps(run_settings(variant[len(META_PREFIX):], dataset, seed=seed), indent=1) + "\n")
        return REPO_ROOT, {CHOICE_FILE_ENV: str(path)}
    if variant in BASELINES:
        return BASELINES[variant], {}
    if variant == "generalist_late":
        config = load_config("generalist").to_dict() | {"early_predictions": False}
        path = work / "generalist_late.json"
        path.write_text(json.dumps(config, indent=2))
        return REPO_ROOT, {"AUTODL_LEARNER_CONFIG": str(path)}
    return REPO_ROOT, {"AUTODL_LEARNER_CONFIG": str(config_path(variant).resolve())}


def train_images_per_second(log_text: str) -> float | None:
    """Time-weighted mean of the learner's per-chunk training throughput."""
    chunks = [(float(s), float(rate)) for s, rate in TRAIN_LINE.findall(log_text)]
    seconds = sum(s for s, _ in chunks)
    return sum(s * rate for s, rate in chunks) / seconds if seconds > 0 else None


def label(variant: str, seed: int | None = None) -> str:
    """A variant's name in tables, curves and run folders: a config path by its file name without the suffix; a
    seeded run (--seed) with `_seedN` after it."""
    name = Path(variant).stem if variant.endswith(CONFIG_SUFFIXES) else variant.replace(":", "_")
    return name if seed is None else f"{name}_seed{seed}"


def run_dir(out: Path, dataset_dir: Path, variant: str, seed: int | None = None) -> Path:
    return out / "runs" / dataset_dir.name / label(variant, seed)


def run_one(dataset_dir: Path, variant: str, budget: float, out: Path, threads: int | None,
            seed: int | None = None) -> Row:
    work = run_dir(out, dataset_dir, variant, seed)
    work.mkdir(parents=True, exist_ok=True)
    code_dir, extra = variant_setup(variant, work, dataset_dir.name, seed)
    env = dict(os.environ, **extra)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    result = run_task(dataset_dir, code_dir, work, budget, env=env)
    log_text = result.ingestion_log.read_text(errors="replace")
    choice = CHOICE_LINE.search(log_text)
    row = Row(dataset_dir.name, label(variant, seed), result.alc,
              result.nauc_scores[-1] if result.nauc_scores else None,
              result.timestamps[0] if result.timestamps else None, len(result.timestamps),
              train_images_per_second(log_text), result.timestamps, result.nauc_scores,
              choice.group(1) if choice else None)
    (work / "row.json").write_text(json.dumps({"budget": budget, "row": dataclasses.asdict(row)}) + "\n")
    return row


def earlier_row(dataset_dir: Path, variant: str, budget: float, out: Path, seed: int | None = None) -> Row | None:
    """The row of a run already made with this budget (its row.json), else None."""
    path = run_dir(out, dataset_dir, variant, seed) / "row.json"
    if not path.is_file():
        return None
    saved = json.loads(path.read_text())
    return Row(**saved["row"]) if saved["budget"] == budget else None


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def write_tables(rows: list[Row], out: Path, budget: float) -> None:
    with open(out / "results.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([getattr(row, c) for c in COLUMNS])
    lines = [f"Budget {budget:g} s per run.", "", "| " + " | ".join(COLUMNS) + " |",
             "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_fmt(getattr(row, c)) for c in COLUMNS) + " |" for row in rows]
    (out / "results.md").write_text("\n".join(lines) + "\n")


def plot_curves(rows: list[Row], out: Path, budget: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from autodl_format.metrics import transform_time

    datasets = list(dict.fromkeys(row.dataset for row in rows))
    figure, axes = plt.subplots(1, len(datasets), figsize=(5 * len(datasets), 4), squeeze=False)
    for axis, name in zip(axes[0], datasets):
        for row in (r for r in rows if r.dataset == name):
            times = [0.0] + [min(t, budget) for t in row.timestamps] + [budget]
            values = [0.0] + row.naucs + ([row.naucs[-1]] if row.naucs else [0.0])
            axis.step(transform_time(times, budget), values, where="post", label=f"{row.variant} ALC={row.alc:.3f}")
        axis.set(title=name, xlabel=f"transformed time (T={budget:g} s, t0=60)", ylabel="NAUC (2*AUC-1)",
                 xlim=(0, 1), ylim=(-0.01, 1))
        axis.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure.savefig(out / "learning_curves.png", dpi=100)
    plt.close(figure)


@command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", type=Path, required=True, help="AutoDL dataset directories")
    parser.add_argument("--variants", nargs="+", default=list(DEFAULT_VARIANTS),
                        help=f"default: {' '.join(DEFAULT_VARIANTS)}")
    parser.add_argument("--budget", type=float, default=300.0, help="time budget T per run, seconds (300)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "runs" / "benchmark")
    parser.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS for the runs")
    parser.add_argument("--resume", action="store_true", help="reuse the runs already in --out (same budget)")
    parser.add_argument("--max-runs", type=int, default=None, help="stop after this many new runs")
    parser.add_argument("--seed", type=int, default=None,
                        help="meta:RULE variants only: the learner seed of every run (default: the configs' own, 0); "
                             "the variant is labelled meta_RULE_seedN")
    args = parser.parse_args(argv)
    missing = [str(d) for d in args.datasets if not d.is_dir()]
    if missing:
        print_error(f"dataset directory not found: {', '.join(missing)}")
        return 2
    try:
        for variant in args.variants:  # a bad config name must fail now, not after hours of other runs
            if variant.startswith(META_PREFIX):
                if variant[len(META_PREFIX):] not in RULES:
                    raise ConfigError(f"{variant}: the rule must be one of {', '.join(RULES)}")
            elif variant not in (*BASELINES, "generalist_late"):
                load_config(variant)
    except ConfigError as error:
        print_error(f"variant: {first_line(error)}")
        return 2
    unseeded = [v for v in args.variants if not v.startswith(META_PREFIX)]
    if args.seed is not None and (unseeded or args.seed < 0):
        print_error(f"--seed {args.seed}: only for meta:RULE variants, and not negative"
                    f"{' (not ' + ', '.join(unseeded) + ')' if unseeded else ''}")
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    rows, new_runs = [], 0
    for dataset_dir in args.datasets:
        for variant in args.variants:
            row = earlier_row(dataset_dir, variant, args.budget, args.out.resolve(), args.seed) if args.resume else None
            if row is None:
                if args.max_runs is not None and new_runs >= args.max_runs:
                    continue
                print(f"benchmark: {dataset_dir.name} / {label(variant, args.seed)} ({args.budget:g} s) ...",
                      flush=True)
                row = run_one(dataset_dir.resolve(), variant, args.budget, args.out.resolve(), args.threads,
                              args.seed)
                new_runs += 1
                print(f"benchmark: {dataset_dir.name} / {row.variant}: ALC {row.alc:.4f}, {row.predictions} "
                      f"predictions, first at {_fmt(row.first_prediction_s)} s", flush=True)
            rows.append(row)
            write_tables(rows, args.out, args.budget)  # after every run: partial results survive an interrupt
    plot_curves(rows, args.out, args.budget)
    print((args.out / "results.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
