"""Time the meta-learned Model's config choice on AutoDL datasets: the real model.py with no config given, its first
train and test calls (first read + pixel head, first prediction), then the choice (stage 4 of the learner, as a later train call
runs it) (a random train batch read through the shuffle buffer, fingerprinted and classified, a portfolio config
chosen) and the switch to it (the chosen learner is built, not trained).

    python -m scripts.benchmark_choice --datasets data/bench/* --out docs/benchmark_choice [--threads 2]

Prints a table and writes OUT/results.csv and OUT/results.md. The constructor is not timed (the budget does not
charge it); the issue's target is fingerprint + choice under 3 s on this CPU for any dataset.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

from autodl_format.cli import command, print_error

COLUMNS = ("dataset", "examples", "shape", "read_s", "choice_s", "switch_s", "config", "top1", "top1_p")


def time_choice(dataset_dir: Path) -> dict:
    import autodl_format.frameworks  # noqa: F401 - torch before TensorFlow
    from autodl_format.reader import load_task
    from model import Model

    task = load_task(dataset_dir, check="framing")
    model = Model(task.train.get_metadata())
    selection = model.learner.config_choice
    if selection is None:
        raise RuntimeError("no config choice available (see the log)")
    model.train(task.train.get_dataset(), remaining_time_budget=1200.0)  # first read + pixel head
    model.test(task.test.get_dataset(), remaining_time_budget=1199.0)
    model.learner.run.clock.update(1198.0)
    model.learner.choose_config()  # stage 4, as the next train call would run it after the heads
    if selection.choice is None:
        raise RuntimeError("the choice was not made (see the log)")
    name, probability = selection.choice.top[0]
    switch = model.learner.switch_seconds
    return {"dataset": dataset_dir.name, "examples": task.train.metadata.size(),
            "shape": "x".join(map(str, task.train.metadata.get_tensor_shape())),
            "read_s": round(selection.timings["read"], 3), "choice_s": round(selection.timings["choice"], 3),
            "switch_s": "-" if switch is None else round(switch, 3), "config": selection.choice.config,
            "top1": name, "top1_p": round(probability, 3)}


def markdown(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(row[c]) for c in COLUMNS) + " |" for row in rows]
    choice = sorted(row["choice_s"] for row in rows)
    lines.append(f"\nfingerprint + choice: median {choice[len(choice) // 2]:.2f}s, worst {choice[-1]:.2f}s "
                 f"over {len(rows)} datasets")
    return "\n".join(lines)


@command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.benchmark_choice", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=Path, nargs="+", required=True, help="AutoDL dataset directories")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (OMP_NUM_THREADS)")
    args = parser.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    for variable in ("AUTODL_LEARNER_CONFIG", "AUTODL_CHOICE_RULE"):  # the shipped default choice
        os.environ.pop(variable, None)
    rows = []
    for dataset_dir in args.datasets:
        try:
            rows.append(time_choice(dataset_dir))
        except Exception as error:  # noqa: BLE001 - one dataset's problem is reported, the others still run
            print_error(f"{dataset_dir}: {type(error).__name__}: {error}")
            continue
        print(rows[-1], flush=True)
    if not rows:
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "results.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    table = markdown(rows)
    (args.out / "results.md").write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
