"""The lookup table of the cheap BOHB objective (portfolio.offline.estimate): measured seconds per training step, per
(backbone, side, batch size), and seconds per inferred image, per (backbone, side), on one machine.

    python -m portfolio.offline.lookup --out portfolio/lookup_table_cpu.csv
    python -m portfolio.offline.lookup --out portfolio/lookup_table_gpu.csv --sides 32 64 128 224 --threads 4  # on a GPU

Measured with the learner's own pieces, as a BOHB worker runs them (one torch thread): Classifier + NetRunner
(warmed up, channels_last) + StepTrainer with the default config at that batch size (Adam, 30 % frozen,
augmentation level 1), on random uint8 images stored at the side itself. A step is one `train_until` call that
runs exactly one step: the median of TIMED_STEPS after an untimed one (optimizer state, kernel selection), or the
first one alone when that took SINGLE_STEP_SECONDS or more on the CPU (the large cells: the grid must take minutes).
On a GPU the first step at a new (side, batch size) takes 3-6 s (cuDNN picks and builds its kernels, on the CPU)
and the next ones milliseconds: there it is always set aside, and printed beside the steady figure.
Inference is `NetRunner.predict` over INFER_IMAGES images, the fastest of two passes; it does not depend on the
training batch size, so every batch-size row of a (backbone, side) carries the same figure. `--update` measures
some backbones into an existing table of the same machine (one backbone per run keeps each run short).

File: CSV with `# key: value` lines first naming the machine (CPU model, cores, torch threads, torch version,
device, date), then columns backbone, side, batch_size, step_seconds, infer_seconds_per_image. Lookups between the
measured sides and batch sizes interpolate log-linearly (log time against log side, then log batch size), and
extrapolate along the end segments: costs grow about as a power of the pixel count.
"""
from __future__ import annotations

import argparse
import csv
import datetime
import logging
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from autodl_format.cli import command
from autodl_format.errors import BadInput
from portfolio.speed import log_interp

SIDES = (32, 48, 64, 96, 128, 160, 224)
BATCH_SIZES = (16, 32, 64, 128)
INFER_IMAGES = 64  # a quarter of NetRunner's INFER_BATCH: enough for a stable per-image figure, cheap at 224 px
NUM_CLASSES = 10
TIMED_STEPS = 2
SINGLE_STEP_SECONDS = 1.0
COLUMNS = ("backbone", "side", "batch_size", "step_seconds", "infer_seconds_per_image")


class MissingTimings(BadInput, LookupError):
    """The table has no figures for a backbone."""


@dataclass(frozen=True)
class LookupTable:
    step: dict[tuple[str, int, int], float]  # (backbone, side, batch size) -> seconds per training step
    infer: dict[tuple[str, int], float]      # (backbone, side) -> seconds per inferred image
    machine: dict[str, str] = field(default_factory=dict)

    @property
    def backbones(self) -> set[str]:
        return {key[0] for key in self.infer}

    def _check(self, backbone: str) -> None:
        if backbone not in self.backbones:
            raise MissingTimings(f"no timings for backbone {backbone!r} (the table has {sorted(self.backbones)})")

    def step_seconds(self, backbone: str, side: float, batch_size: float) -> float:
        self._check(backbone)
        sides = sorted({s for b, s, _ in self.step if b == backbone})
        at_sides = []
        for s in sides:
            batches = sorted(n for b, s2, n in self.step if b == backbone and s2 == s)
            at_sides.append(log_interp(batch_size, batches, [self.step[backbone, s, n] for n in batches]))
        return log_interp(side, sides, at_sides)

    def infer_seconds(self, backbone: str, side: float) -> float:
        """Seconds per image of one inference pass (frames count as images)."""
        self._check(backbone)
        sides = sorted(s for b, s in self.infer if b == backbone)
        return log_interp(side, sides, [self.infer[backbone, s] for s in sides])

    def save(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="") as out:
            out.write("# portfolio.offline.lookup: seconds per training step and per inferred image\n")
            for key, value in self.machine.items():
                out.write(f"# {key}: {value}\n")
            writer = csv.writer(out)
            writer.writerow(COLUMNS)
            for (backbone, side, batch), seconds in sorted(self.step.items()):
                writer.writerow([backbone, side, batch, f"{seconds:.6g}", f"{self.infer[backbone, side]:.6g}"])

    def updated_with(self, newer: "LookupTable") -> "LookupTable":
        """This table with `newer`'s backbones replaced or added; both must come from the same machine."""
        if self.machine.get("machine") != newer.machine.get("machine"):
            raise ValueError(f"measured on another machine: {self.machine.get('machine')!r} vs "
                             f"{newer.machine.get('machine')!r}")
        step = {k: v for k, v in self.step.items() if k[0] not in newer.backbones} | newer.step
        infer = {k: v for k, v in self.infer.items() if k[0] not in newer.backbones} | newer.infer
        return LookupTable(step, infer, newer.machine)

    @classmethod
    def load(cls, path: Path) -> "LookupTable":
        machine, rows = {}, []
        for line in Path(path).read_text().splitlines():
            if line.startswith("#"):
                key, sep, value = line[1:].partition(":")
                if sep and not key.strip().startswith("portfolio.offline.lookup"):
                    machine[key.strip()] = value.strip()
            elif line.strip():
                rows.append(line)
        step, infer = {}, {}
        for row in csv.DictReader(rows):
            backbone, side, batch = row["backbone"], int(row["side"]), int(row["batch_size"])
            step[backbone, side, batch] = float(row["step_seconds"])
            infer[backbone, side] = float(row["infer_seconds_per_image"])
        return cls(step, infer, machine)


def machine_description(device: str) -> dict[str, str]:
    import torch

    cpu = "unknown CPU"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or cpu
    description = {"machine": f"{cpu} | {os.cpu_count()} cores | {torch.get_num_threads()} torch thread(s) | "
                              f"torch {torch.__version__} | device {device} | {platform.system()} {platform.release()}",
                   "measured": datetime.datetime.now().astimezone().isoformat(timespec="minutes")}
    if device == "cuda":
        description["gpu"] = torch.cuda.get_device_name()
    return description


def _one_step(trainer, side: int) -> None:
    """Exactly one optimisation step of the learner's own loop: its soft stop has already passed."""
    trainer.train_until(0.0, np.inf, side, lambda: 0.0)


def _timed(work, device: str) -> float:
    import torch

    start = time.monotonic()
    work()
    if device == "cuda":
        torch.cuda.synchronize()  # GPU work is asynchronous: wait for it before reading the clock
    return time.monotonic() - start


def _step_seconds(one_step, device: str) -> tuple[float, float]:
    """(seconds per step, seconds of the first step). The first step is warm-up (Adam's state, kernel selection
    for the batch shape) and the median of TIMED_STEPS more is taken. On the CPU a long first step is kept as it
    is: its one-off set-up is small next to it, and the whole grid must be measured in minutes. On a GPU the first
    step at a new shape takes seconds (cuDNN builds its kernels) and the steady steps milliseconds, so it is
    always set aside."""
    first = _timed(one_step, device)
    if first >= SINGLE_STEP_SECONDS and device != "cuda":
        return first, first
    return float(np.median([_timed(one_step, device) for _ in range(TIMED_STEPS)])), first


def measure(backbones: tuple[str, ...], sides: tuple[int, ...], batch_sizes: tuple[int, ...]) -> LookupTable:
    """Time one training step and one inference pass per cell with the learner's own code (see the docstring)."""
    from learner.backbones import build_backbone
    from learner.config import LearnerConfig
    from learner.network import Classifier
    from learner.runner import NetRunner
    from learner.training import StepTrainer

    log = logging.getLogger("portfolio.offline.lookup")
    log.addHandler(logging.NullHandler())
    log.propagate = False  # the trainer's per-call "trained 1 steps" lines are noise here
    rng = np.random.default_rng(0)
    step, infer = {}, {}
    device = "cpu"
    for name in backbones:
        config = LearnerConfig(backbone=name)
        net = Classifier(build_backbone(name), NUM_CLASSES, config.dropout, config.freeze_fraction,
                         config.adapt_batchnorm)
        runner = NetRunner(net, 1, log)
        device = runner.device.type
        for side in sides:
            runner.warm_up(side, side)
            images = rng.integers(0, 256, (INFER_IMAGES, 1, side, side, 3), dtype=np.uint8)
            passes = [_timed(lambda: runner.predict(images, side), device) for _ in range(2)]
            infer[name, side] = min(passes) / INFER_IMAGES
            first_step = {}  # batch size -> seconds of its first step (printed only)
            for batch in batch_sizes:
                trainer = StepTrainer(net, runner, LearnerConfig(backbone=name, batch_size=batch), 1, log)
                examples = rng.integers(0, 256, (2 * batch, 1, side, side, 3), dtype=np.uint8)
                labels = np.eye(NUM_CLASSES, dtype=np.float32)[rng.integers(0, NUM_CLASSES, 2 * batch)]
                trainer.set_data(examples, labels, side, multilabel=False)
                step[name, side, batch], first_step[batch] = _step_seconds(lambda: _one_step(trainer, side),
                                                                           device)
            print(f"{name} {side:3d} px: infer {1000 * infer[name, side]:.2f} ms/image, step "
                  + ", ".join(f"b{b} {step[name, side, b]:.4f}s (first {first_step[b]:.2f}s)" for b in batch_sizes),
                  flush=True)
    return LookupTable(step, infer, machine_description(device))


@command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=PORTFOLIO_DIR / "lookup_table_cpu.csv")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: as a BOHB worker on the CPU)")
    parser.add_argument("--backbones", nargs="+", default=None, help="default: the PyPI EfficientNet-Lites")
    parser.add_argument("--sides", nargs="+", type=int, default=list(SIDES))
    parser.add_argument("--batch_sizes", nargs="+", type=int, default=list(BATCH_SIZES))
    parser.add_argument("--update", action="store_true", help="keep the other backbones of an existing --out")
    args = parser.parse_args(argv)
    import torch

    from learner.backbones import PYPI_BACKBONES

    torch.set_num_threads(args.threads)
    started = time.monotonic()
    table = measure(tuple(args.backbones or PYPI_BACKBONES), tuple(args.sides), tuple(args.batch_sizes))
    if args.update and args.out.exists():
        table = LookupTable.load(args.out).updated_with(table)
    table.save(args.out)
    print(f"wrote {args.out} ({len(table.step)} step cells), measured in {time.monotonic() - started:.0f}s: "
          f"{table.machine['machine']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
