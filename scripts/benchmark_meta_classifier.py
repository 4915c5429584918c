"""Time the meta-classifier's parts on this machine: fingerprinting (ms/image), loading the shipped artefacts,
and one prediction.

    python -m scripts.benchmark_meta_classifier [--threads 1] [--images 256] [--input-size 96] [--json PATH]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from autodl_format.cli import command
from meta_classifier.classifiers import DEFAULT_ARTIFACTS, load_classifier
from meta_classifier.fingerprint import DEFAULT_INPUT_SIZE, FingerprintNet, benchmark



@command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.benchmark_meta_classifier", description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--input-size", type=int, default=DEFAULT_INPUT_SIZE)
    parser.add_argument("--artifacts", type=Path, default=DEFAULT_ARTIFACTS)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    net = FingerprintNet(input_size=args.input_size)
    report = {"build_fingerprint_net_s": time.perf_counter() - start}
    start = time.perf_counter()
    identity = net.identity
    report["hash_weights_s"] = time.perf_counter() - start
    for shape in ((28, 28, 1), (32, 32, 3), (128, 128, 3)):
        result = benchmark(net, args.images, shape)
        report[f"ms_per_image_{'x'.join(map(str, shape))}"] = result["ms_per_image"]
    report.update(backbone=identity["backbone"], input_size=args.input_size, threads=args.threads)
    start = time.perf_counter()
    classifier = load_classifier(args.artifacts, "precalc", expected_identity=identity)
    report["load_precalc_s"] = time.perf_counter() - start
    rng = np.random.default_rng(0)
    batch = rng.random((64, identity["feature_dim"]), dtype=np.float32)
    start = time.perf_counter()
    classifier.predict_proba(batch)
    report["predict_b64_ms"] = 1000 * (time.perf_counter() - start)
    report["artifact_bytes"] = {p.name: p.stat().st_size for p in sorted(args.artifacts.iterdir()) if p.is_file()}
    for key, value in report.items():
        print(f"{key}: {round(value, 3) if isinstance(value, float) else value}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
