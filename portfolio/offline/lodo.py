"""Leave-one-dataset-out (LODO) proof of the config choice, read from the performance matrix.

    python -m portfolio.offline.lodo                             # table + calibration -> docs/benchmark_meta/
    python -m portfolio.offline.lodo --runs B/results.csv        # with the outside baselines and real meta_RULE runs
    python -m portfolio.offline.lodo --write-choice              # also portfolio/choice.json: the winning rule, calibrated
    python -m portfolio.offline.lodo --budget 120 --out docs/benchmark_meta/T120   # the matrices read at T = 120 s

For every known dataset d with a complete matrix column: a precalc meta-classifier with the shipped config is
trained on the other datasets' meta-train fingerprints (saved under runs/lodo/<d>/, reused when there) and shown
batches of 64 of d's meta-test fingerprints (64 is what the Model fingerprints). Each rule chooses among the
configs without d's own (portfolio.choice, `exclude`), and a choice scores its matrix cell [choice, d]; the
mean over the batches is the rule's ALC on d. Cells are means over the seeds run; when some columns have more
seeds than others, the rules are also summed up on those alone. Beside them the matrix gives the generalist, a
random member, the average member and the best member in hindsight (members: the tuned configs except d's own).
The outside baselines (ridge on pixels, frozen features + logistic regression) come from real runs on the same
tuning splits at the matrix budget:
`python -m scripts.benchmark --datasets data/tune/* --variants linear_pixels frozen_logreg`.

Calibration of the `calibrated` rule, on LODO: the temperature minimises the negative log-likelihood of "the
dataset whose config does best on d" under the sharpened probabilities; the threshold then maximises the rule's
mean ALC. The table's `calibrated` column is nested: d's row is fitted on the other datasets only (with d's config
and column also left out). The shipped choice.json is fitted on all of them.

`--matrix` (the default) reads one matrix file as it is. `--budget T` reads the matrices beside it the way a run
does at an effective budget T (portfolio.entries.BudgetMatrices: found by their sidecars, interpolated in log T);
the portfolio is then the configs measured there, and every rule, `nearest` too, chooses among them, since a choice
needs a cell to be scored. A run's `nearest` chooses among the whole portfolio at any budget, so where the matrix
at T holds a reduced portfolio the table's `nearest` is that of the reduced portfolio.
"""
from __future__ import annotations

import argparse
import csv
import errno
import json
import os
import re
import sys
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from autodl_format.cli import command, print_error
from autodl_format.files import write_atomic
from learner.config import DEFAULT_CONFIG, PORTFOLIO_DIR
from portfolio.offline.analysis import as_array
from portfolio.choice import CHOICE_FILE, RULES, Chooser, ChoiceSettings, load_settings
from portfolio.entries import (MATRIX_FILE, SIDECAR_SUFFIX, BudgetMatrices, Matrix, portfolio_configs, read_cells,
                               read_matrix, seed_files)
from autodl_format.offline.paths import REPO_ROOT

LODO_DIR = REPO_ROOT / "runs" / "lodo"            # per left-out dataset: its classifier and probabilities
DOCS_DIR = REPO_ROOT / "docs" / "benchmark_meta"
BATCH = 64
N_BATCHES = 20
TEMPERATURES = np.geomspace(0.1, 30.0, 61)
SEED_SUFFIX = re.compile(r"_seed\d+$")  # scripts.benchmark --seed: meta_RULE_seedN
Probabilities = dict[str, list[dict[str, float]]]  # left-out dataset -> one probability dict per batch


def lodo_probabilities(names: list[str], lodo_dir: Path = LODO_DIR, metadata_dir: Path | None = None,
                       artifacts: Path | None = None, seed: int = 0) -> Probabilities:
    """For each name: probabilities over the other known datasets of N_BATCHES meta-test batches, from a
    classifier trained without it (fitted once and kept in lodo_dir/<name>/ with its probabilities)."""
    from meta_classifier.classifiers import DEFAULT_ARTIFACTS, PrecalcMLP, read_header
    from meta_classifier.known import DEFAULT_METADATA_DIR, BatchSampler, load_fingerprints

    metadata_dir, artifacts = metadata_dir or Path(DEFAULT_METADATA_DIR), artifacts or Path(DEFAULT_ARTIFACTS)
    result, train, test = {}, None, None
    config = read_header(artifacts, "precalc")["config"]
    for name in names:
        path = lodo_dir / name / "probabilities.json"
        saved = json.loads(path.read_text()) if path.is_file() else {}
        if saved.get("classifier_config") == config:
            result[name] = saved["batches"]
            continue
        if train is None:  # the original images only: the Model fingerprints a dataset as it comes
            train = load_fingerprints(metadata_dir, "train")
            test = load_fingerprints(metadata_dir, "test", variants=(0,))
        k = train.names.index(name)
        classifier = PrecalcMLP(config).fit(train.without(k), seed=seed)
        classifier.save(lodo_dir / name)
        batches = BatchSampler(test.alone(k), seed=seed).sample_dataset(0, N_BATCHES, BATCH)
        probs = classifier.predict_proba_many(batches)
        result[name] = [dict(zip(classifier.names, map(float, row))) for row in probs]
        write_atomic(path, json.dumps({"classifier_config": config, "batch": BATCH, "batches": result[name]}) + "\n")
        print(f"lodo: {name}: classifier without it trained; picks {Counter(max(p, key=p.get) for p in result[name])}",
              flush=True)
    return result


@dataclass
class Calibration:
    temperature: float
    threshold: float


def best_dataset(matrix: Matrix, configs: list[str], dataset: str) -> str:
    """The known dataset (other than `dataset`) whose tuned config does best on `dataset`: the calibration target."""
    members = [c for c in configs if c not in (dataset, DEFAULT_CONFIG) and dataset in matrix.get(c, {})]
    return max(members, key=lambda c: matrix[c][dataset])


def rule_alc(chooser: Chooser, matrix: Matrix, dataset: str, batches: list[dict[str, float]]) -> tuple[float, str]:
    """Mean matrix ALC on `dataset` of the rule's choices over the batches, and the most frequent choice."""
    choices = [chooser.choose(p).config for p in batches]
    return float(np.mean([matrix[c][dataset] for c in choices])), Counter(choices).most_common(1)[0][0]


def fit_calibration(matrix: Matrix, configs: list[str], probabilities: Probabilities,
                    also_exclude: frozenset[str] = frozenset()) -> Calibration:
    """Temperature by NLL of the best config's dataset, then the threshold with the best mean ALC (the lowest
    such: ties go to the design paper's nearest rule)."""
    datasets = [d for d in probabilities if d not in also_exclude]
    kept = {c: r for c, r in matrix.items() if c not in also_exclude}
    log_probs, targets, nearest_alc, fallback_alc, owner = [], [], [], [], []
    for i, d in enumerate(datasets):
        exclude = frozenset({d}) | also_exclude
        names = [n for n in probabilities[d][0] if n not in exclude]
        target = names.index(best_dataset(kept, configs, d))
        nearest = Chooser(configs, matrix, ChoiceSettings(rule="nearest"), exclude)
        fallback_alc_d = matrix[Chooser(configs, matrix, exclude=exclude).prior().config][d]
        for p in probabilities[d]:
            values = np.array([p[n] for n in names])
            log_probs.append(np.log(np.maximum(values / values.sum(), 1e-12)))
            targets.append(target)
            nearest_alc.append(matrix[nearest.choose(p).config][d])
            fallback_alc.append(fallback_alc_d)
            owner.append(i)
    logs, targets = np.array(log_probs), np.array(targets)

    def sharpened(temperature: float) -> np.ndarray:
        scaled = logs / temperature
        scaled -= scaled.max(axis=1, keepdims=True)
        return scaled - np.log(np.exp(scaled).sum(axis=1, keepdims=True))  # log of the sharpened probabilities

    temperature = float(min(TEMPERATURES, key=lambda t: -sharpened(t)[np.arange(len(targets)), targets].mean()))
    top = np.exp(sharpened(temperature).max(axis=1))
    nearest_alc, fallback_alc, owner = np.array(nearest_alc), np.array(fallback_alc), np.array(owner)
    candidates = np.concatenate([[0.0], np.unique(top), [1.01]])

    def mean_alc(threshold: float) -> float:  # the mean over datasets of the mean over their batches
        alc = np.where(top >= threshold, nearest_alc, fallback_alc)
        return float(np.mean([alc[owner == i].mean() for i in range(len(datasets))]))

    scores = [mean_alc(t) for t in candidates]
    return Calibration(temperature, float(candidates[int(np.argmax(scores))]))


def seed_range(seeds: dict[str, int]) -> str:
    """'2' when every column has two seeds, '1-2' when some have one."""
    low, high = min(seeds.values()), max(seeds.values())
    return str(low) if low == high else f"{low}-{high}"


def column_seeds(paths: list[Path], configs: list[str], datasets: list[str]) -> dict[str, int]:
    """How many seeds' files have every config's cell of each dataset (the matrix cells are their means); for a
    reading between two budgets (several matrices) the fewest of them."""
    counts = []
    for path in paths:
        complete = [set(complete_datasets(read_cells(file), configs)) for file in seed_files(path)]
        counts.append({d: sum(d in names for names in complete) for d in datasets})
    return {d: min(count[d] for count in counts) for d in datasets}


def subset_report(rows: list[dict], seeds: dict[str, int]) -> str:
    """The rules on the datasets whose column has the most seeds (less noise in both the choice's score and the
    best member in hindsight), when not all have as many."""
    most = max(seeds.values())
    subset = [row for row in rows if seeds[row["dataset"]] == most]
    if most < 2 or len(subset) == len(rows):
        return ""
    means = summary(subset)
    return "".join(f"- on the {len(subset)} datasets with {most} seeds per cell: {rule} {means[rule]:.4f}, closes "
                   f"{gap_closed(means, rule):+.0%} of the gap ({means['average_member']:.4f} to "
                   f"{means['best_in_hindsight']:.4f})\n" for rule in (*RULES, "best_mean_config"))


def complete_datasets(matrix: Matrix, configs: list[str]) -> list[str]:
    """Datasets whose matrix column has every config's cell (none while a config has no row yet)."""
    if not set(configs) <= set(matrix):
        return []
    return as_array({config: matrix[config] for config in configs})[1]


BASELINES = ("linear_pixels", "frozen_logreg")


def read_runs(paths: list[Path]) -> list[dict]:
    """The rows of scripts.benchmark results.csv files (baselines and meta_RULE runs on the tuning splits)."""
    rows = []
    for path in paths:
        with open(path, newline="") as handle:
            rows += list(csv.DictReader(handle))
    return rows


def baselines_of(runs: list[dict]) -> dict[str, dict[str, float]]:
    """variant -> dataset -> ALC of the outside baselines among the runs."""
    baselines: dict[str, dict[str, float]] = {}
    for row in runs:
        if row["variant"] in BASELINES:
            baselines.setdefault(row["variant"], {})[row["dataset"]] = float(row["alc"])
    return baselines


def real_runs_report(runs: list[dict], matrix: Matrix, rows: list[dict]) -> str:
    """The real model.py runs (meta_RULE variants) beside what the matrix predicted for the same choice and the
    reference strategies on the same dataset."""
    by_dataset = {row["dataset"]: row for row in rows}
    meta = [r for r in runs if r["variant"].startswith("meta_") and r["dataset"] in by_dataset]
    if not meta:
        return ""
    lines = ["| dataset | rule | chosen config | ALC (real run) | ALC of that config in the matrix | generalist | "
             "average member | best in hindsight | " + " | ".join(BASELINES) + " |", "|---|" + "---|" * 9]
    for run in sorted(meta, key=lambda r: (r["dataset"], r["variant"])):
        ref, chosen = by_dataset[run["dataset"]], run.get("chosen_config") or "-"
        predicted = matrix.get(chosen, {}).get(run["dataset"])
        cells = [run["dataset"], run["variant"][len("meta_"):], chosen, f"{float(run['alc']):.4f}",
                 "-" if predicted is None else f"{predicted:.4f}", f"{ref['generalist']:.4f}",
                 f"{ref['average_member']:.4f}", f"{ref['best_in_hindsight']:.4f}"]
        cells += ["-" if ref.get(b) is None else f"{ref[b]:.4f}" for b in BASELINES]
        lines.append("| " + " | ".join(cells) + " |")
    for variant in sorted({r["variant"] for r in meta}):
        mine = [r for r in meta if r["variant"] == variant]
        real = np.mean([float(r["alc"]) for r in mine])
        ref = {key: np.mean([by_dataset[r["dataset"]][key] for r in mine])
               for key in ("generalist", "average_member", "best_in_hindsight")}
        lines.append(f"\n{variant} over its {len(mine)} real runs: mean ALC {real:.4f}; on the same datasets the "
                     f"generalist {ref['generalist']:.4f}, the average member {ref['average_member']:.4f}, the best "
                     f"member in hindsight {ref['best_in_hindsight']:.4f}; it closes "
                     f"{gap_closed({**ref, 'real': real}, 'real'):+.0%} of the gap between "
                     f"those two")
    lines += seed_mean_lines(meta, by_dataset)
    return "\n".join(lines) + "\n"


def seed_mean_lines(meta: list[dict], by_dataset: dict[str, dict]) -> list[str]:
    """A rule run with more than one seed (scripts.benchmark --seed labels them meta_RULE_seedN): its mean ALC
    over the datasets every seed ran, each dataset the mean over its seeds."""
    runs: dict[str, dict[str, list[float]]] = {}
    for run in meta:
        rule = SEED_SUFFIX.sub("", run["variant"])
        runs.setdefault(rule, {}).setdefault(run["dataset"], []).append(float(run["alc"]))
    lines = []
    for rule, per_dataset in sorted(runs.items()):
        seeds = max(len(alcs) for alcs in per_dataset.values())
        datasets = [d for d, alcs in per_dataset.items() if len(alcs) == seeds]
        if seeds < 2:
            continue
        means = {"real": float(np.mean([np.mean(per_dataset[d]) for d in datasets]))}
        means |= {key: float(np.mean([by_dataset[d][key] for d in datasets]))
                  for key in ("average_member", "best_in_hindsight")}
        lines.append(f"\n{rule}, the mean of {seeds} seeds on each of {len(datasets)} datasets: mean ALC "
                     f"{means['real']:.4f}; it closes {gap_closed(means, 'real'):+.0%} of the gap between the "
                     f"average member ({means['average_member']:.4f}) and the best member in hindsight "
                     f"({means['best_in_hindsight']:.4f})")
    return lines


def selection_table(matrix: Matrix, configs: list[str], probabilities: Probabilities,
                    baselines: dict[str, dict[str, float]], top_k: int = 3, seed: int = 0) -> list[dict]:
    """One row per left-out dataset: every rule's ALC (calibrated: nested) and the reference strategies."""
    rng = np.random.default_rng(seed)
    rows = []
    for d in probabilities:
        members = [c for c in configs if c not in (d, DEFAULT_CONFIG)]
        alcs = {c: matrix[c][d] for c in members}
        row: dict = {"dataset": d}
        for rule in RULES:
            if rule == "calibrated":
                cal = fit_calibration(matrix, configs, {e: p for e, p in probabilities.items() if e != d},
                                      also_exclude=frozenset({d}))
                settings = ChoiceSettings(rule=rule, top_k=top_k, temperature=cal.temperature, threshold=cal.threshold)
            else:
                settings = ChoiceSettings(rule=rule, top_k=top_k)
            row[rule], row[f"{rule}_choice"] = rule_alc(Chooser(configs, matrix, settings, frozenset({d})), matrix, d,
                                                        probabilities[d])
        top = Counter(max(p, key=p.get) for p in probabilities[d]).most_common(1)[0][0]
        best_mean = Chooser(configs, matrix, exclude=frozenset({d})).prior().config  # fingerprint-free
        row.update({"generalist": matrix[DEFAULT_CONFIG][d], "best_mean_config": matrix[best_mean][d],
                    "random_member": alcs[members[rng.integers(len(members))]],
                    "average_member": float(np.mean(list(alcs.values()))), "best_in_hindsight": max(alcs.values()),
                    "best_member": max(alcs, key=alcs.get), "own_config": matrix.get(d, {}).get(d),
                    "nearest_dataset": top,
                    "nearest_probability": float(np.mean([p[top] for p in probabilities[d]]))})
        for variant, by_dataset in baselines.items():
            row[variant] = by_dataset.get(d)
        rows.append(row)
    return rows


STRATEGIES = ("nearest", "expected", "calibrated", "generalist", "best_mean_config", "random_member",
              "average_member", "best_in_hindsight", "linear_pixels", "frozen_logreg")


def summary(rows: list[dict]) -> dict[str, float]:
    """Mean ALC over the left-out datasets of every strategy present in all rows."""
    return {s: float(np.mean([r[s] for r in rows])) for s in STRATEGIES
            if rows and all(r.get(s) is not None for r in rows)}


def gap_closed(means: dict[str, float], rule: str) -> float:
    """The share of the gap between the average member and the best member in hindsight that a rule closes."""
    gap = means["best_in_hindsight"] - means["average_member"]
    return (means[rule] - means["average_member"]) / gap if gap > 0 else float("nan")


def verdict(row: dict, rule: str) -> str:
    alc, generalist, best = row[rule], row["generalist"], row["best_in_hindsight"]
    against = "beats" if alc > generalist + 0.005 else "loses to" if alc < generalist - 0.005 else "ties"
    return (f"{against} the generalist ({alc:.3f} vs {generalist:.3f}), {best - alc:.3f} below the best member "
            f"({row['best_member']}); picked {row[f'{rule}_choice']} via {row['nearest_dataset']} "
            f"(p {row['nearest_probability']:.2f})")


def report(rows: list[dict], means: dict[str, float], default: str, budget: float | None) -> str:
    shown = [s for s in STRATEGIES if s in means]
    lines = [f"Leave-one-dataset-out over {len(rows)} known datasets; ALC read from the performance matrix"
             + (f" (T = {budget:g} s)" if budget else "") + "; calibrated rule fitted without the left-out dataset.",
             "", "| dataset | " + " | ".join(shown) + " | verdict (" + default + ") |",
             "|---|" + "---|" * (len(shown) + 1)]
    lines += ["| " + row["dataset"] + " | " + " | ".join(f"{row[s]:.4f}" for s in shown) + " | "
              + verdict(row, default) + " |" for row in rows]
    lines += ["| **mean** | " + " | ".join(f"**{means[s]:.4f}**" for s in shown) + " | |", ""]
    lines += [f"- {rule}: mean {means[rule]:.4f}, closes {gap_closed(means, rule):+.0%} of the gap between the "
              f"average member ({means['average_member']:.4f}) and the best member in hindsight "
              f"({means['best_in_hindsight']:.4f})" for rule in RULES]
    lines.append(f"- default rule (best mean): **{default}**")
    return "\n".join(lines) + "\n"


def run_settings(rule: str, dataset: str, matrix_path: Path = MATRIX_FILE, lodo_dir: Path = LODO_DIR,
                 seed: int | None = None) -> dict:
    """The choice settings file of a benchmark run of model.py with `rule` on a dataset folder named `dataset`:
    for a known dataset, leave-one-dataset-out (its classifier, its config and column excluded, and for the
    calibrated rule a calibration fitted without it); for any other dataset, the shipped settings with `rule`.
    `seed`: the learner seed of the run (None: the configs' own)."""
    from meta_classifier.known import load_catalogue

    if dataset not in {entry["name"] for entry in load_catalogue()["datasets"]}:
        return asdict(load_settings(CHOICE_FILE, rule=rule)) | {"exclude": [], "seed": seed}  # as JSON writes it
    settings = {"rule": rule, "top_k": 3, "exclude": [dataset], "classifier_dir": str(lodo_dir / dataset),
                "seed": seed}
    if rule == "calibrated":
        matrix, configs = read_matrix(matrix_path), sorted(portfolio_configs())
        others = [d for d in complete_datasets(matrix, configs) if d != dataset]
        if not others:
            raise ValueError(f"{matrix_path}: no complete column to calibrate on")
        calibration = fit_calibration(matrix, configs, lodo_probabilities(others, lodo_dir),
                                      also_exclude=frozenset({dataset}))
        settings |= asdict(calibration)
    lodo_probabilities([dataset], lodo_dir)  # the classifier without it, fitted once
    return settings


def plot_table(rows: list[dict], default: str, path: Path) -> None:
    """Per left-out dataset, the default rule's ALC against the generalist, the average member and the best
    member in hindsight (a dot plot, datasets sorted by the rule's gain over the generalist)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted(rows, key=lambda r: r[default] - r["generalist"])
    figure, axis = plt.subplots(figsize=(7, 0.3 * len(rows) + 1.5))
    y = np.arange(len(rows))
    for key, marker in (("average_member", "|"), ("generalist", "s"), ("best_in_hindsight", "^"), (default, "o")):
        axis.scatter([r[key] for r in rows], y, marker=marker, label=key if key != default else f"{default} (rule)")
    axis.set_yticks(y, [r["dataset"] for r in rows], fontsize=8)
    axis.set_xlabel("ALC on the left-out dataset (performance matrix)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, loc="lower left")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


@command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--matrix", type=Path, default=MATRIX_FILE, help="one matrix file, as it is (the default)")
    source.add_argument("--budget", type=float, help="T, seconds: the matrices in --matrices_dir read at T as a run "
                        "reads them (interpolated in log T); the portfolio is the configs they measured")
    parser.add_argument("--matrices_dir", type=Path, default=PORTFOLIO_DIR,
                        help="where --budget finds the matrices (by their .settings sidecars)")
    parser.add_argument("--runs", type=Path, nargs="*", default=[],
                        help="results.csv files of scripts.benchmark on the tuning splits: the outside baselines "
                             "and the real meta_RULE runs")
    parser.add_argument("--lodo_dir", type=Path, default=LODO_DIR)
    parser.add_argument("--out", type=Path, default=DOCS_DIR)
    parser.add_argument("--write-choice", action="store_true", help=f"write the winning rule to {CHOICE_FILE}")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    if args.budget is None:
        if not seed_files(args.matrix):  # read_matrix reads no file as an empty matrix, lodo needs one
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(args.matrix))
        matrix, configs, files = read_matrix(args.matrix), sorted(portfolio_configs()), [args.matrix]
        sidecar = args.matrix.with_suffix(SIDECAR_SUFFIX)
        budget = json.loads(sidecar.read_text())["budget_s"] if sidecar.is_file() else None
        source = str(args.matrix)
    else:
        matrices = BudgetMatrices.load(args.matrices_dir)
        matrix, budget = matrices.at(args.budget), args.budget
        configs = [config for config in sorted(portfolio_configs()) if config in matrix]
        files = [matrices.paths[measured] for measured in matrices.used(args.budget)]
        source = f"{args.matrices_dir}, {matrices.describe(args.budget)}"
    datasets = complete_datasets(matrix, configs) if configs else []
    if not datasets:
        print_error(f"{source}: no dataset has a cell for every portfolio config (python -m "
                    "portfolio.offline.matrix status)")
        return 1
    probabilities = lodo_probabilities(datasets, args.lodo_dir)
    runs = read_runs(args.runs)
    rows = selection_table(matrix, configs, probabilities, baselines_of(runs))
    means = summary(rows)
    default = max(RULES, key=means.get)
    calibration = fit_calibration(matrix, configs, probabilities)
    seeds = column_seeds(files, configs, datasets)
    text = report(rows, means, default, budget) + (
        f"- calibration on all {len(datasets)}: temperature {calibration.temperature:.3g}, threshold "
        f"{calibration.threshold:.3f}\n- matrix: {source}, {len(configs)} configs\n- matrix cells: the mean over "
        f"{seed_range(seeds)} seeds\n") + subset_report(rows, seeds)
    real = real_runs_report(runs, matrix, rows)
    if real:
        text += "\n## Real runs of model.py, leave-one-dataset-out\n\n" + real
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "selection.md").write_text(text)
    plot_table(rows, default, args.out / "selection.png")
    write_atomic(args.out / "selection.json", json.dumps({"rows": rows, "means": means, "default": default,
                                                          "calibration": asdict(calibration)}, indent=1) + "\n")
    if args.write_choice:
        write_atomic(CHOICE_FILE, json.dumps({
            "rule": default, "top_k": 3, "temperature": calibration.temperature, "threshold": calibration.threshold,
            "fitted_with": f"python -m portfolio.offline.lodo --write-choice: {len(datasets)} datasets, matrix T = {budget}, "
                           f"cells the mean over {seed_range(seeds)} seeds"},
            indent=1) + "\n")
        print(f"wrote {CHOICE_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
