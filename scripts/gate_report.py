"""How often the prediction gate was right: every replacement of a standing prediction in finished runs, scored
on test.

    python -m scripts.gate_report docs/benchmark_recipe_T120 portfolio/recipe_search/all

A run is an ingestion.log beside its scores.txt (what scripts.benchmark and the scoring program leave), or an
evaluation in an hpo search log (results.json: the learner's log lines and the test NAUC of every prediction, as
portfolio.offline.objective keeps them). A replacement is a learner prediction after the run's first one
(`prediction k (source)`); it was right when its test NAUC is above the standing prediction's. The table counts
them by kind (pixels -> features, features -> network, network -> network; "after switch" once the meta-learned
Model has switched configs) and, where the log gives the gate's numbers (learner.best.Verdict: gain, SE,
margin), by the validation gain in standard errors.
"""
from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from autodl_format.cli import command
from autodl_format.errors import BadInput

LEARNER_PREDICTION = re.compile(r"\[learner\] prediction \d+ \((\w+)\) at")
INGESTED = re.compile(r"^ingestion: prediction (\d+): t=")
HEAD = re.compile(r"\[learner\] (pixels|features) head: .*\| validation NAUC")
PASSED_NETWORK = re.compile(r"\[learner\] validation NAUC \S+ loss \S+ at \S+ elapsed: improved")
GATE_NUMBERS = re.compile(r"gain ([+-][\d.]+), SE ([\d.]+), margin ([\d.]+)")
SWITCHED = "switched to config"
SE_BANDS = ((0.0, 1.0, "gain <= 1 SE"), (1.0, 2.0, "1-2 SE"), (2.0, float("inf"), "> 2 SE"))


class GateReportError(BadInput, ValueError):
    """A run's files cannot be read; the message names the file."""


@dataclass(frozen=True)
class Replacement:
    kind: str               # "features -> network", ...; prefixed "after switch: " once the config switched
    test_gain: float        # test NAUC of the new prediction minus the standing one's
    se_ratio: float | None  # the validation gain in standard errors, when the log gives it


def replacements(lines: list[str], test_naucs: list[float]) -> Iterator[Replacement]:
    """The replacements of one run, from its log lines (learner and ingestion, in order) and the test NAUC of each
    ingestion prediction."""
    previous_source, pending, gate_line, switched = None, None, "", False
    for line in lines:
        if SWITCHED in line:
            switched = True
        elif (HEAD.search(line) and "(not better" not in line) or PASSED_NETWORK.search(line):
            gate_line = line  # a candidate the gate let through: its numbers, if the prediction follows
        elif match := LEARNER_PREDICTION.search(line):
            pending = match[1]
        elif (match := INGESTED.search(line)) and pending is not None:
            index, source = int(match[1]), pending
            pending = None
            if previous_source is not None and 0 < index < len(test_naucs):
                numbers = GATE_NUMBERS.search(gate_line)
                ratio = None
                if numbers and float(numbers[2]) > 0:
                    ratio = float(numbers[1]) / float(numbers[2])
                kind = f"{'after switch: ' if switched else ''}{previous_source} -> {source}"
                yield Replacement(kind, test_naucs[index] - test_naucs[index - 1], ratio)
            previous_source = source


def _scores_file_naucs(path: Path) -> list[float]:
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("nauc_scores:"):
            return [float(value) for value in ast.literal_eval(line.split(":", 1)[1].strip())]
    raise GateReportError(f"{path}: no nauc_scores line")


def _search_runs(path: Path) -> Iterator[tuple[list[str], list[float]]]:
    for number, text in enumerate(path.read_text().splitlines(), 1):
        try:
            info = json.loads(text)[3]["info"]
        except (ValueError, IndexError, KeyError, TypeError) as error:
            raise GateReportError(f"{path}:{number}: not an hpo result record ({error})") from None
        if not isinstance(info, dict):  # a crashed evaluation records no info
            continue
        for run in info.get("datasets", {"": info}).values():
            if "log" in run and "prediction_naucs" in run:
                yield run["log"], run["prediction_naucs"]


def collect(paths: list[Path]) -> list[Replacement]:
    """Every replacement of every run found under `paths` (folders searched recursively, or files)."""
    found = []
    for root in paths:
        if not root.exists():
            raise GateReportError(f"{root}: no such file or folder")
        files = [root] if root.is_file() else sorted(root.rglob("*"))
        for path in files:
            if path.name == "ingestion.log" and (path.parent / "scores.txt").is_file():
                lines = path.read_text(errors="replace").splitlines()
                found += replacements(lines, _scores_file_naucs(path.parent / "scores.txt"))
            elif path.name == "results.json":
                for lines, naucs in _search_runs(path):
                    found += replacements(lines, naucs)
    return found


def _row(label: str, group: list[Replacement]) -> str:
    raised = sum(r.test_gain > 0 for r in group)
    lowered = sum(r.test_gain < 0 for r in group)
    mean = sum(r.test_gain for r in group) / len(group)
    return f"| {label} | {len(group)} | {raised} ({raised / len(group):.0%}) | {lowered} | {mean:+.4f} |"


def report(found: list[Replacement]) -> str:
    """Markdown table: replacements, how many raised and lowered the test NAUC, the mean test gain; by kind, then
    by the validation gain in SEs where logged."""
    lines = ["| replacement | n | raised test NAUC | lowered | mean test gain |", "|---|---|---|---|---|"]
    for kind in sorted({r.kind for r in found}):
        lines.append(_row(kind, [r for r in found if r.kind == kind]))
    if found:
        lines.append(_row("**all**", found))
    for low, high, label in SE_BANDS:
        group = [r for r in found if r.se_ratio is not None and low < r.se_ratio <= high]
        if group:
            lines.append(_row(f"validation {label}", group))
    return "\n".join(lines)


@command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="benchmark output folders, run folders or hpo logs")
    args = parser.parse_args(argv)
    found = collect(args.paths)
    if not found:
        raise GateReportError(f"{', '.join(map(str, args.paths))}: no replacement in any run found there")
    print(report(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
