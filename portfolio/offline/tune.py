"""Tune the portfolio: BOHB per known dataset on its tuning split, with a name server and N worker processes, and
write the winner as portfolio/<dataset>.json. Resumable: the same command again continues where it stopped.

    python -m portfolio.offline.tune run --datasets coil20 orl_faces --workers 2 --min_budget 20 --max_budget 60 --eta 3 \\
        --n_iterations 2
    python -m portfolio.offline.tune status
    python -m portfolio.offline.tune prepare --datasets coil20     # the tuning split alone, for workers started by hand

`run` starts everything on this machine (name server on 127.0.0.1, workers as separate processes that find it by
host and port, the master here). On a cluster, start the same parts by hand with hpo.nameserver, hpo.worker
(`--objective portfolio.offline.objective:make_objective --option dataset_dir=... --option work_dir=...`) and hpo.master
(`--space portfolio.offline.space:learner_space --log_dir portfolio/searches/NAME`), then `write` the entries
(README, "Tuning the portfolio").
"""
from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import threading
import time
import uuid
import zlib
from pathlib import Path

from autodl_format.cli import command, print_error
from hpo.bohb import best_on_top_budget, run_master, start_nameserver
from hpo.logs import (Evaluation, SearchLogError, Settings, completed_iterations, load_evaluations, part_dirs,
                      planned_iterations, settings_of)
from learner.config import PORTFOLIO_DIR, TUNING_RECORD
from meta_classifier.known import load_catalogue
from portfolio.offline.space import learner_space, per_dataset_fields, to_learner_config
from portfolio.offline.tuning_data import DEFAULT_TUNING_ROOT, TuningDataError, ensure_tuning_dataset
from autodl_format.offline.paths import REPO_ROOT

SEARCHES_DIR = PORTFOLIO_DIR / "searches"
DEFAULT_WORK_DIR = REPO_ROOT / "runs" / "tune"


def _spawn_worker(run_id: str, host: str, port: int, objective: str, options: dict[str, str], log_file: Path):
    command = [sys.executable, "-m", "hpo.worker", "--run_id", run_id, "--nameserver", host, "--port", str(port),
               "--objective", objective]
    for key, value in options.items():
        command += ["--option", f"{key}={value}"]
    return subprocess.Popen(command, cwd=REPO_ROOT, stdout=open(log_file, "a"), stderr=subprocess.STDOUT)


def _progress(log_dir: Path, settings: Settings, n_iterations: int, stop: threading.Event) -> None:
    """Print done / left / ETA and the best ALC so far as evaluations land in the log."""
    from tqdm import tqdm

    done_before = completed_iterations(log_dir)
    total = sum(settings.bracket_runs(i) for i in range(done_before, n_iterations))
    start_count = len(load_evaluations(log_dir))
    with tqdm(total=total, desc=log_dir.name, unit="eval", file=sys.stdout, mininterval=5) as bar:
        while not stop.wait(5.0):
            evaluations = load_evaluations(log_dir)
            bar.n = min(total, len(evaluations) - start_count)
            finite = [e for e in evaluations if math.isfinite(e.loss)]
            if finite:
                bar.set_postfix_str(f"best ALC {1 - min(e.loss for e in finite):.4f}")
            bar.refresh()


def run_local_search(space, log_dir: Path, settings: Settings, n_iterations: int, workers: int, objective: str,
                     options: dict[str, str], work_dir: Path, run_id: str, seed: int = 0) -> list[Evaluation]:
    """Run (or resume) the BOHB search logged in `log_dir` on this machine: name server on 127.0.0.1, `workers`
    hpo.worker processes with `objective` (MODULE:FACTORY) and `options` (one thread each; logs in `work_dir`),
    the master here, a progress bar. Returns every evaluation of the search."""
    log_dir.mkdir(parents=True, exist_ok=True)
    if completed_iterations(log_dir) >= n_iterations:
        return load_evaluations(log_dir)
    server, host, port = start_nameserver(run_id)
    work_dir.mkdir(parents=True, exist_ok=True)
    processes = [_spawn_worker(run_id, host, port, objective, options, work_dir / f"worker{i}.log")
                 for i in range(workers)]
    stop = threading.Event()
    progress = threading.Thread(target=_progress, args=(log_dir, settings, n_iterations, stop), daemon=True)
    progress.start()
    try:
        return run_master(space, run_id, host, port, log_dir, settings, n_iterations, min_n_workers=workers,
                          seed=seed)
    finally:
        stop.set()
        progress.join()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        server.shutdown()


def refuse_other_settings(log_dir: Path, settings: Settings) -> None:
    """SearchLogError when the search in `log_dir` was logged with other budgets or eta (BOHB cannot resume it)."""
    logged = settings_of(log_dir)
    if logged is not None and logged != settings:
        raise SearchLogError(f"{log_dir}: logged with budgets {logged.min_budget:g}-{logged.max_budget:g} and eta "
                             f"{logged.eta}; resume with those")


def tune_dataset(name: str, workers: int, settings: Settings, n_iterations: int, searches: Path, work_root: Path,
                 tuning_root: Path, seed: int = 0) -> list[Evaluation]:
    """BOHB on one known dataset's tuning split: name server here, `workers` worker processes, master here."""
    dataset_dir = ensure_tuning_dataset(name, tuning_root)
    work_dir = work_root / name
    options = {"dataset_dir": str(dataset_dir), "work_dir": str(work_dir), "threads": "1"}
    return run_local_search(learner_space(seed), searches / name, settings, n_iterations, workers,
                            "portfolio.offline.objective:make_objective", options, work_dir,
                            f"portfolio-{name}-{uuid.uuid4().hex[:6]}", seed)


def portfolio_entry(name: str, evaluations: list[Evaluation], command: str) -> dict:
    """The per-dataset fields of the best config on the top budget that differ from the defaults, plus its tuning
    record."""
    best = best_on_top_budget(evaluations)
    fingerprint = load_catalogue()["fingerprint_network"]
    entry = per_dataset_fields(to_learner_config(best.config))
    entry[TUNING_RECORD] = {
        "dataset": name, "alc": round(1.0 - best.loss, 4), "budget_s": best.budget,
        "evaluations": len(evaluations), "fingerprint_network": fingerprint["backbone"],
        "fingerprint_weights_sha256": fingerprint["weights_sha256"], "command": command}
    return entry


def write_entry(name: str, searches: Path, command: str, portfolio_dir: Path = PORTFOLIO_DIR) -> Path:
    path = portfolio_dir / f"{name}.json"
    entry = portfolio_entry(name, load_evaluations(searches / name), command)
    path.write_text(json.dumps(entry, indent=1) + "\n")
    return path


def status(searches: Path) -> str:
    """One line per search: iterations complete / planned, evaluations (crashed), best ALC at the top budget."""
    lines = [f"{'dataset':<22} {'iterations':>10} {'evals':>6} {'crashed':>7} {'top T':>6} {'best ALC':>8}  "
             "best config"]
    for log_dir in sorted(p for p in searches.iterdir() if p.is_dir() and part_dirs(p)) if searches.is_dir() else []:
        evaluations = load_evaluations(log_dir)
        crashed = sum(not math.isfinite(e.loss) for e in evaluations)
        try:
            best = best_on_top_budget(evaluations)
            summary = (f"{best.budget:>6g} {1 - best.loss:>8.4f}  "
                       f"{json.dumps(to_learner_config(best.config).to_dict(), sort_keys=True)[:70]}")
        except RuntimeError:
            summary = f"{'-':>6} {'-':>8}"
        lines.append(f"{log_dir.name:<22} {completed_iterations(log_dir):>4} / {planned_iterations(log_dir):<3} "
                     f"{len(evaluations):>6} {crashed:>7} {summary}")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="tune the given known datasets on this machine (resumes)")
    run.add_argument("--datasets", nargs="+", required=True, help="known dataset names (metadata/catalogue.json)")
    run.add_argument("--workers", type=int, default=2, help="worker processes, one thread each (2)")
    run.add_argument("--min_budget", type=float, default=20.0, help="smallest time budget T, seconds (20)")
    run.add_argument("--max_budget", type=float, default=60.0, help="largest time budget T, seconds (60)")
    run.add_argument("--eta", type=int, default=3)
    run.add_argument("--n_iterations", type=int, default=2, help="BOHB iterations in all, earlier runs included")
    run.add_argument("--seed", type=int, default=0, help="added to a seed drawn from each dataset's name")
    for sub in (run, commands.add_parser("write", help="(re)write portfolio/<dataset>.json from the logs"),
                commands.add_parser("status", help="what is finished, what is left, the best so far")):
        sub.add_argument("--searches", type=Path, default=SEARCHES_DIR, help="search logs (portfolio/searches)")
    run.add_argument("--work_dir", type=Path, default=DEFAULT_WORK_DIR, help="runs' files (runs/tune)")
    run.add_argument("--tuning_root", type=Path, default=DEFAULT_TUNING_ROOT, help="tuning splits (data/tune)")
    prepare = commands.add_parser("prepare", help="make the tuning splits (for workers started by hand)")
    prepare.add_argument("--datasets", nargs="+", required=True)
    prepare.add_argument("--tuning_root", type=Path, default=DEFAULT_TUNING_ROOT, help="tuning splits (data/tune)")
    commands.choices["write"].add_argument("--datasets", nargs="+", required=True)
    for sub in (run, commands.choices["write"]):
        sub.add_argument("--portfolio_dir", type=Path, default=PORTFOLIO_DIR, help="where entries go (portfolio/)")
    return parser


@command
def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = "python -m portfolio.offline.tune " + " ".join(sys.argv[1:] if argv is None else argv)
    try:
        if args.command == "status":
            print(status(args.searches))
            return 0
        if args.command == "prepare":
            for name in args.datasets:
                print(f"{name}: {ensure_tuning_dataset(name, args.tuning_root)}")
            return 0
        if args.command == "run":
            settings = Settings(args.min_budget, args.max_budget, args.eta)
            for name in args.datasets:
                refuse_other_settings(args.searches / name, settings)
            for name in args.datasets:
                started = time.monotonic()
                # A seed per dataset: with one seed for all, every search would start from the same random configs.
                tune_dataset(name, args.workers, settings, args.n_iterations, args.searches, args.work_dir,
                             args.tuning_root, args.seed + zlib.crc32(name.encode()) % 100_000)
                path = write_entry(name, args.searches, command, args.portfolio_dir)
                print(f"{name}: {path} written ({time.monotonic() - started:.0f} s)", flush=True)
        else:
            for name in args.datasets:
                print(f"{name}: {write_entry(name, args.searches, command, args.portfolio_dir)} written")
    except (TuningDataError, SearchLogError, RuntimeError) as error:
        print_error(error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
