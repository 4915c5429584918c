"""GPU benchmark: what a new input shape costs on CUDA inside a learner-like sequence, with and without the
learner's warm-up of the run's shapes (learner.runner). Needs a CUDA GPU and no TensorFlow (the device machine
has none): it drives the learner's own Classifier, NetRunner and StepTrainer on random uint8 images.

    python -m scripts.benchmark_gpu_shapes unwarmed --out docs/gpu   # warmed at the first side with small batches
    python -m scripts.benchmark_gpu_shapes learner --out docs/gpu    # the learner's warm-up: every ladder side

The sequence: a features pass on 300 examples at 64 px, then at each side of the ladder 64 -> 96 -> 128 three
training steps of batch 64 and two predictions on 500 test examples, then predictions on 100, 101 and 173
examples (remainders of other sizes) and an inference batch at a side outside the ladder (80 px). Every timing
is synchronised. Writes gpu_shapes_MODE.json to --out and prints one line per timing.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch

from autodl_format.cli import command, print_error
from learner.backbones import build_backbone
from learner.config import LearnerConfig
from learner.network import Classifier
from learner.runner import INFER_BATCH, NetRunner
from learner.training import StepTrainer

BACKBONE, BATCH, SIDES, STORED, CLASSES = "efficientnet_lite1", 64, (64, 96, 128), 128, 10


@command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("unwarmed", "learner"))
    parser.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print_error("no CUDA device: this benchmark measures CUDA's per-shape set-up")
        return 1
    log = logging.getLogger("gpu_shapes")
    log.addHandler(logging.StreamHandler(sys.stdout))
    log.setLevel(logging.INFO)
    rows: list[dict] = []

    def timed(what: str, work) -> None:
        torch.cuda.synchronize()
        start = time.monotonic()
        work()
        torch.cuda.synchronize()
        rows.append({"mode": args.mode, "what": what, "seconds": round(time.monotonic() - start, 4)})
        print(f"{args.mode:9} {what:44} {rows[-1]['seconds']:8.3f}", flush=True)

    started = time.monotonic()
    cfg = LearnerConfig(backbone=BACKBONE, batch_size=BATCH)
    net = Classifier(build_backbone(BACKBONE), CLASSES, cfg.dropout, cfg.freeze_fraction, cfg.adapt_batchnorm)
    runner = NetRunner(net, 1, log)
    if args.mode == "learner":
        timed("constructor: warm-up of every ladder side", lambda: runner.warm_up(STORED, SIDES[0], BATCH, SIDES[1:]))
    else:
        timed("constructor: warm-up at the first side, batch 4", lambda: runner.warm_up(STORED, SIDES[0]))
    rng = np.random.default_rng(0)
    examples = rng.integers(0, 256, (500, 1, STORED, STORED, 3), dtype=np.uint8)
    labels = np.eye(CLASSES, dtype=np.float32)[rng.integers(0, CLASSES, len(examples))]
    timed(f"features 300 @{SIDES[0]} (1st)", lambda: runner.features(examples[:300], SIDES[0]))
    timed(f"features 300 @{SIDES[0]} (2nd)", lambda: runner.features(examples[:300], SIDES[0]))
    for side in SIDES:
        trainer = StepTrainer(net, runner, cfg, 1, log)
        trainer.set_data(examples[:256], labels[:256], side, multilabel=False)
        for step in range(3):
            timed(f"train step b{BATCH} @{side} ({step + 1})",
                  lambda: trainer.train_until(0.0, np.inf, side, lambda: 0.0))
        timed(f"predict 500 @{side} (1st)", lambda: runner.predict(examples, side))
        timed(f"predict 500 @{side} (2nd)", lambda: runner.predict(examples, side))
    for count in (100, 101, 173):
        timed(f"predict {count} @{SIDES[-1]}", lambda: runner.predict(examples[:count], SIDES[-1]))
    outside = torch.zeros(INFER_BATCH, 1, STORED, STORED, 3, dtype=torch.uint8, device=runner.device)
    timed("inference batch @80 (a side outside the ladder)", lambda: runner._logits(outside, 80))
    machine = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "cudnn": torch.backends.cudnn.version(),
               "process_seconds": round(time.monotonic() - started, 1)}
    args.out.mkdir(parents=True, exist_ok=True)
    result = json.dumps({"machine": machine, "rows": rows}, indent=1)
    (args.out / f"gpu_shapes_{args.mode}.json").write_text(result + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
