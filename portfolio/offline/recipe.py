"""Tune the shared fine-tuning recipe: one BOHB search over a few recipe knobs whose objective is the mean ALC over
several known datasets, each run with its own portfolio entry's per-dataset knobs and the sampled recipe, and
write the best as a section of portfolio/fine_tuning.json (learner.config: how a run applies it).

    python -m portfolio.offline.recipe run --datasets cifar10_jpg_2k gtsrb_32px_43cls hurricane_damage_sat \\
        intel_scenes_6cls --workers 2 --min_budget 120 --max_budget 120 --n_iterations 30
    python -m portfolio.offline.recipe status
    python -m portfolio.offline.recipe recheck --seed 1  # the best and the standing recipe again, at a fresh seed
    python -m portfolio.offline.recipe write          # the best so far -> portfolio/fine_tuning.json, section "all"

BOHB's budget is the time budget T of every run: an evaluation runs model.py on each dataset's tuning split at T,
one after the other, and its loss is 1 - their mean ALC. With min_budget = max_budget (the default, 120 s) every
iteration is one evaluation at T, and BOHB reduces to its model-based sampling (a third of its draws at random): a
shorter rung would rank recipes by the first seconds, which the per-dataset heads decide. The best of many noisy
evaluations is flattered by its own seed: `recheck` runs it and the recipe standing in portfolio/fine_tuning.json
(before `write`) on the same datasets at another learner seed, so the two compare on fresh noise. The same command again resumes the search
(portfolio/recipe_search/SECTION, hpo.logs). `--section BACKBONE` searches a backbone's own section, on datasets
whose entries use that backbone; the default section, "all", is every backbone's.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from autodl_format.cli import command, print_error
from autodl_format.errors import BadInput
from autodl_format.offline.paths import REPO_ROOT
from hpo.bohb import Objective, best_on_top_budget
from hpo.logs import Evaluation, Settings, completed_iterations, load_evaluations, planned_iterations
from learner.config import PORTFOLIO_DIR, RECIPE_ALL, RECIPE_FILE, TUNING_RECORD, LearnerConfig, read_recipe
from learner.knobs import recipe_fields, search_space
from portfolio.entries import portfolio_configs
from portfolio.offline.objective import evaluate_config
from portfolio.offline.space import to_learner_config
from portfolio.offline.tune import refuse_other_settings, run_local_search
from portfolio.offline.tuning_data import DEFAULT_TUNING_ROOT, ensure_tuning_dataset

SEARCHES_DIR = PORTFOLIO_DIR / "recipe_search"
DEFAULT_WORK_DIR = REPO_ROOT / "runs" / "recipe"
SEARCH_FILE = "recipe.json"  # a search's section, datasets and knobs, which a resumed run must keep
# What decides a fine-tuning run that starts from the ridge head on a small dataset: the step size, which layers
# move at all, whether BatchNorm statistics follow the new images, and the one regulariser of the new classifier.
# Four knobs, so that the 30 evaluations of the long run here (docs/portfolio.md) give 7.5 per knob.
DEFAULT_KNOBS = ("lr", "freeze_fraction", "adapt_batchnorm", "dropout")


class RecipeSearchError(BadInput, ValueError):
    """A recipe search cannot run or resume as asked; one line naming the file or dataset."""


def recipe_space(knobs: list[str], seed: int = 0):
    """ConfigSpace space over the named recipe knobs (their declared search ranges)."""
    return search_space(LearnerConfig, seed, recipe=True, only=knobs)


def entry_fields(name: str, portfolio_dir: Path) -> dict:
    """The per-dataset knobs of the tuned portfolio entry of `name`; RecipeSearchError when there is none, or when it
    holds recipe knobs (load_config would refuse it)."""
    fields = portfolio_configs(portfolio_dir).get(name)
    if fields is None:
        raise RecipeSearchError(f"{portfolio_dir / (name + '.json')}: no tuned portfolio entry for dataset {name}")
    in_entry = sorted(set(fields) & recipe_fields(LearnerConfig))
    if in_entry:
        raise RecipeSearchError(f"{portfolio_dir / (name + '.json')}: {in_entry[0]} is a recipe knob")
    return fields


def make_recipe_objective(dataset_dirs: str, portfolio_dir: str, work_dir: str, threads: str = "1") -> Objective:
    """objective(sampled recipe knobs, T) -> (1 - mean ALC, info), for `python -m hpo.worker --objective`: runs
    model.py at T on each of `dataset_dirs` (comma-separated tuning splits, named as their datasets) with that
    dataset's portfolio entry, the recipe file of `portfolio_dir` beneath it and the sample on top."""
    dirs = [Path(path) for path in dataset_dirs.split(",")]
    entries = {path.name: entry_fields(path.name, Path(portfolio_dir)) for path in dirs}

    def objective(config: dict[str, Any], budget: float) -> tuple[float, dict[str, Any]]:
        digest = hashlib.sha1(json.dumps(config, sort_keys=True).encode()).hexdigest()[:10]
        runs = {}
        for path in dirs:
            run_dir = Path(work_dir) / f"{digest}_T{budget:g}_{path.name}_{os.getpid()}_{time.time_ns() % 10**9}"
            _, runs[path.name] = evaluate_config({**entries[path.name], **config}, path, budget, run_dir,
                                                 int(threads), recipe_file=Path(portfolio_dir) / RECIPE_FILE)
        mean_alc = sum(run["alc"] for run in runs.values()) / len(runs)
        return 1.0 - mean_alc, {"alc": mean_alc, "datasets": runs}

    return objective


def _search_record(log_dir: Path) -> dict | None:
    path = log_dir / SEARCH_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def _logged_search(log_dir: Path) -> dict:
    record = _search_record(log_dir)
    if record is None:
        raise RecipeSearchError(f"{log_dir}: no recipe search logged here ({SEARCH_FILE} missing)")
    return record


def _best_values(knobs: list[str], best: Evaluation) -> dict:
    """The best evaluation's sampled recipe knobs as learner values (a conditional knob only when it was active)."""
    config = to_learner_config(best.config)
    return {name: getattr(config, name) for name in knobs if name in best.config}


def run_search(section: str, datasets: list[str], knobs: list[str], workers: int, settings: Settings,
               n_iterations: int, searches: Path, portfolio_dir: Path, work_root: Path, tuning_root: Path,
               seed: int = 0) -> list[Evaluation]:
    """Run (or resume) the recipe search of `section` on this machine; RecipeSearchError (or SearchLogError) when
    its log holds another search (other datasets, knobs or budgets) or a dataset's entry does not fit the
    section."""
    log_dir = searches / section
    record = {"section": section, "datasets": datasets, "knobs": knobs}
    logged = _search_record(log_dir)
    if logged is not None and logged != record:
        raise RecipeSearchError(f"{log_dir}: logged for {json.dumps(logged)}; resume with those datasets and knobs")
    refuse_other_settings(log_dir, settings)
    for name in datasets:
        backbone = entry_fields(name, portfolio_dir).get("backbone", LearnerConfig.backbone)
        if section != RECIPE_ALL and backbone != section:
            raise RecipeSearchError(f"{name}: its entry uses {backbone}, not {section}")
    space = recipe_space(knobs, seed)  # refuses a knob that is not a searchable recipe knob
    read_recipe(portfolio_dir / RECIPE_FILE)  # a malformed recipe fails here, not in every worker
    dirs = [ensure_tuning_dataset(name, tuning_root) for name in datasets]
    log_dir.mkdir(parents=True, exist_ok=True)
    (log_dir / SEARCH_FILE).write_text(json.dumps(record, indent=1) + "\n")
    work_dir = work_root / section
    options = {"dataset_dirs": ",".join(map(str, dirs)), "portfolio_dir": str(portfolio_dir),
               "work_dir": str(work_dir), "threads": "1"}
    return run_local_search(space, log_dir, settings, n_iterations, workers,
                            "portfolio.offline.recipe:make_recipe_objective", options, work_dir,
                            f"recipe-{section}-{uuid.uuid4().hex[:6]}", seed)


def recipe_section(log_dir: Path, command: str) -> dict:
    """The best sampled knob values on the top budget (a conditional knob only when it was active) and their
    `tuning` record: datasets, mean and per-dataset ALC, budget, evaluations and evaluations per knob."""
    knobs, evaluations = _logged_search(log_dir)["knobs"], load_evaluations(log_dir)
    best = best_on_top_budget(evaluations)
    section = _best_values(knobs, best)
    runs = best.info["datasets"]
    section[TUNING_RECORD] = {
        "datasets": list(runs), "mean_alc": round(1.0 - best.loss, 4),
        "alc": {name: round(run["alc"], 4) for name, run in runs.items()}, "budget_s": best.budget,
        "knobs": knobs, "evaluations": len(evaluations),
        "evaluations_per_knob": round(len(evaluations) / len(knobs), 1), "command": command}
    return section


def write_recipe(section: str, searches: Path, portfolio_dir: Path, command: str) -> Path:
    """Write the best of the search of `section` into that section of `portfolio_dir`/fine_tuning.json: its values
    and record replace those the section had; the section's other knobs (beneath the search's samples, unless the
    file changed since) and the other sections stay."""
    path = portfolio_dir / RECIPE_FILE
    kept = read_recipe(path).get(section, {})  # also refuses to add to a malformed file
    recipe = json.loads(path.read_text()) if path.exists() else {}
    recipe[section] = {**kept, **recipe_section(searches / section, command)}
    path.write_text(json.dumps(recipe, indent=1) + "\n")
    return path


def recheck(section: str, searches: Path, portfolio_dir: Path, work_root: Path, tuning_root: Path, seed: int,
            workers: int) -> dict:
    """Mean and per-dataset ALC of the search's best recipe ("searched") and of the section standing in
    portfolio_dir/fine_tuning.json ("standing"), on the search's datasets at its top budget, with learner seed
    `seed`; `workers` runs at a time (one thread each). Written to the search's log folder as
    recheck_seed<seed>.json."""
    log_dir = searches / section
    record = _logged_search(log_dir)
    best = best_on_top_budget(load_evaluations(log_dir))
    recipes = {"searched": _best_values(record["knobs"], best), "standing": {}}
    recipe_file = portfolio_dir / RECIPE_FILE
    read_recipe(recipe_file)  # a malformed recipe fails here, not in every run
    dirs = [ensure_tuning_dataset(name, tuning_root) for name in record["datasets"]]
    jobs = [(label, path) for label in recipes for path in dirs]

    def run(job: tuple[str, Path]) -> float:
        label, path = job
        config = {**entry_fields(path.name, portfolio_dir), **recipes[label], "seed": seed}
        run_dir = work_root / section / f"recheck_seed{seed}_{label}_{path.name}"
        return evaluate_config(config, path, best.budget, run_dir, 1, recipe_file=recipe_file)[0]

    with ThreadPoolExecutor(max_workers=workers) as pool:  # each run is its own ingestion process
        alcs = list(pool.map(run, jobs))
    result = {"seed": seed, "budget_s": best.budget, "search_mean_alc": round(1.0 - best.loss, 4)}
    for label, recipe in recipes.items():
        per_dataset = {path.name: round(alc, 4) for (other, path), alc in zip(jobs, alcs) if other == label}
        result[label] = {"recipe": recipe, "mean_alc": round(sum(per_dataset.values()) / len(per_dataset), 4),
                         "alc": per_dataset}
    (log_dir / f"recheck_seed{seed}.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


def status(searches: Path) -> str:
    """Per section searched: its datasets and knobs, iterations, evaluations (per knob), the best mean ALC."""
    lines = []
    for log_dir in sorted(p for p in searches.iterdir() if (p / SEARCH_FILE).is_file()) if searches.is_dir() else []:
        record, evaluations = _search_record(log_dir), load_evaluations(log_dir)
        knobs = record["knobs"]
        crashed = sum(not math.isfinite(e.loss) for e in evaluations)
        lines += [f"section {log_dir.name}: datasets {', '.join(record['datasets'])}; knobs {', '.join(knobs)}",
                  f"  iterations {completed_iterations(log_dir)} / {planned_iterations(log_dir)}, evaluations "
                  f"{len(evaluations)} ({crashed} crashed), {len(evaluations) / len(knobs):.1f} per searched knob"]
        try:
            best = best_on_top_budget(evaluations)
        except RuntimeError:
            continue
        values = {name: best.config[name] for name in knobs if name in best.config}
        top = sum(e.budget == best.budget for e in evaluations)
        lines.append(f"  best mean ALC {1 - best.loss:.4f} at T = {best.budget:g} s ({top} evaluations there): "
                     f"{json.dumps(values, sort_keys=True)}")
    return "\n".join(lines) or f"no recipe search in {searches}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="search the recipe on this machine (resumes)")
    write = commands.add_parser("write", help=f"write the best recipe to portfolio/{RECIPE_FILE}")
    again = commands.add_parser("recheck", help="the best and the standing recipe again, at another seed")
    again.add_argument("--seed", type=int, default=1, help="learner seed of the runs (1; the search ran seed 0)")
    again.add_argument("--workers", type=int, default=2, help="runs at a time, one thread each (2)")
    again.add_argument("--work_dir", type=Path, default=DEFAULT_WORK_DIR, help="runs' files (runs/recipe)")
    again.add_argument("--tuning_root", type=Path, default=DEFAULT_TUNING_ROOT, help="tuning splits (data/tune)")
    run.add_argument("--datasets", nargs="+", required=True, help="known datasets with a tuned portfolio entry")
    run.add_argument("--knobs", nargs="+", default=list(DEFAULT_KNOBS),
                     help=f"recipe knobs searched ({' '.join(DEFAULT_KNOBS)})")
    run.add_argument("--workers", type=int, default=2, help="worker processes, one thread each (2)")
    run.add_argument("--min_budget", type=float, default=120.0, help="smallest time budget T of a run, seconds (120)")
    run.add_argument("--max_budget", type=float, default=120.0, help="largest time budget T of a run, seconds (120)")
    run.add_argument("--eta", type=int, default=3)
    run.add_argument("--n_iterations", type=int, default=30, help="BOHB iterations in all, earlier runs included")
    run.add_argument("--seed", type=int, default=0, help="BOHB's seed")
    run.add_argument("--work_dir", type=Path, default=DEFAULT_WORK_DIR, help="runs' files (runs/recipe)")
    run.add_argument("--tuning_root", type=Path, default=DEFAULT_TUNING_ROOT, help="tuning splits (data/tune)")
    for sub in (run, write, again):
        sub.add_argument("--section", default=RECIPE_ALL, help=f"recipe section: {RECIPE_ALL} or a backbone")
        sub.add_argument("--portfolio_dir", type=Path, default=PORTFOLIO_DIR,
                         help=f"entries and {RECIPE_FILE} (portfolio/)")
    for sub in (run, write, again, commands.add_parser("status", help="evaluations, per knob, and the best so far")):
        sub.add_argument("--searches", type=Path, default=SEARCHES_DIR, help="search logs (portfolio/recipe_search)")
    return parser


@command
def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = "python -m portfolio.offline.recipe " + " ".join(sys.argv[1:] if argv is None else argv)
    try:
        if args.command == "status":
            print(status(args.searches))
            return 0
        if args.command == "recheck":
            result = recheck(args.section, args.searches, args.portfolio_dir, args.work_dir, args.tuning_root,
                             args.seed, args.workers)
            print(f"section {args.section}, seed {args.seed}, T = {result['budget_s']:g} s: searched recipe "
                  f"{result['searched']['mean_alc']:.4f} (the search's seed: {result['search_mean_alc']:.4f}), "
                  f"standing recipe {result['standing']['mean_alc']:.4f}")
            for label in ("searched", "standing"):
                print(f"  {label}: {json.dumps(result[label]['alc'])}")
            return 0
        if args.command == "run":
            started = time.monotonic()
            run_search(args.section, args.datasets, args.knobs, args.workers,
                       Settings(args.min_budget, args.max_budget, args.eta), args.n_iterations, args.searches,
                       args.portfolio_dir, args.work_dir, args.tuning_root, args.seed)
            print(f"section {args.section}: search done ({time.monotonic() - started:.0f} s); see `status`, then "
                  "`write`", flush=True)
        else:
            print(f"section {args.section}: {write_recipe(args.section, args.searches, args.portfolio_dir, command)} "
                  "written")
    except RuntimeError as error:  # not one evaluation succeeded
        print_error(error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
