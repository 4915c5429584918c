"""The main job in one command: convert scikit-learn's digits to the AutoDL format (first use only), run the
ingestion program with this repo's `model.py` for a short budget, score it, and print the ALC.

    .venv/bin/python -m scripts.quickstart [--budget 60] [--workdir runs/quickstart]
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from autodl_format.cli import command, print_error
from autodl_format.offline.convert import ensure_digits_dataset
from autodl_format.offline.paths import REPO_ROOT
from scoring.task import TaskError, run_task


@command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=60.0, help="time budget T in seconds (default 60)")
    parser.add_argument("--data-dir", type=Path, default=REPO_ROOT / "data", help="where converted datasets live")
    parser.add_argument("--workdir", type=Path, default=REPO_ROOT / "runs" / "quickstart",
                        help="predictions, scores and logs of this run (replaced)")
    args = parser.parse_args(argv)

    dataset_dir = ensure_digits_dataset(args.data_dir)
    shutil.rmtree(args.workdir, ignore_errors=True)
    print(f"dataset: {dataset_dir}\nrunning model.py for {args.budget:g} s ...", flush=True)
    try:
        result = run_task(dataset_dir, REPO_ROOT, args.workdir, args.budget)
    except TaskError as error:  # the run failed (not bad input): exit code 1
        print_error(error)
        return 1
    for k, (t, nauc) in enumerate(zip(result.timestamps, result.nauc_scores)):
        print(f"prediction {k}: t={t:7.2f} s  NAUC={nauc:.4f}")
    print(f"learning curve: {next(result.score_dir.glob('learning-curve-*.png'), 'missing')}")
    print(f"ingestion log: {result.ingestion_log}")
    print(f"ALC: {result.alc:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
