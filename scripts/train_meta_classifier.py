"""Tune the meta-classifiers with BOHB on meta-train fingerprints, fit the best configs, ship them.

    python -m scripts.train_meta_classifier                       # all three kinds, into meta_classifier/artifacts
    python -m scripts.train_meta_classifier --kinds precalc --iterations 2

For BOHB a validation share of every meta-train group is held out (meta-test is never touched here); the final
fit uses all meta-train images with the best config at the largest budget. Writes KIND.json + KIND.pt per kind and
training_summary.json (best configs, BOHB runs, times).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

from autodl_format.cli import command
from autodl_format.files import write_atomic
from meta_classifier.classifiers import CLASSIFIERS, DEFAULT_ARTIFACTS, mean_nll
from meta_classifier.known import DEFAULT_METADATA_DIR, load_fingerprints
from meta_classifier.offline.tuning import tune

# (min budget, max budget): optimiser steps for the perceptrons, images per dataset for k-means
BUDGETS = {"precalc": (50, 450), "mlp_vote": (50, 450), "kmeans_vote": (40, 360)}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scripts.train_meta_classifier", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--metadata", type=Path, default=DEFAULT_METADATA_DIR, help="metadata directory")
    parser.add_argument("--out", type=Path, default=DEFAULT_ARTIFACTS, help="artefact directory")
    parser.add_argument("--kinds", nargs="+", default=list(CLASSIFIERS), choices=list(CLASSIFIERS))
    parser.add_argument("--iterations", type=int, default=4, help="BOHB iterations per kind (4)")
    parser.add_argument("--val-fraction", type=float, default=0.2, help="meta-train share held out for BOHB")
    parser.add_argument("--target-batch", type=int, default=64,
                        help="test batch size the search optimises for (also scored at a quarter of it)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1; the machine is shared)")
    parser.add_argument("--seed", type=int, default=0)
    return parser


@command
def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    train = load_fingerprints(args.metadata, "train")
    fit_set, val_set = train.split_images(args.val_fraction, seed=args.seed)
    eval_sizes = (max(1, args.target_batch // 4), args.target_batch)
    summary = {"metadata": str(args.metadata), "datasets": train.names, "fingerprint_network": train.identity,
               "objective": f"mean NLL of the true dataset on held-out meta-train batches of size {eval_sizes}",
               "kinds": {}}
    summary_path = args.out / "training_summary.json"
    if summary_path.is_file():  # keep what other kinds' earlier runs recorded
        summary["kinds"] = json.loads(summary_path.read_text(encoding="utf-8")).get("kinds", {})
    for kind in args.kinds:
        low, high = BUDGETS[kind]
        print(f"{kind}: BOHB, {args.iterations} iterations, budget {low}..{high}", flush=True)
        result = tune(kind, fit_set, val_set, low, high, args.iterations, eval_sizes, seed=args.seed)
        best_runs = sorted((r for r in result.runs if r.budget == high), key=lambda r: r.loss)[:3]
        print(f"{kind}: {len(result.runs)} evaluations in {result.seconds:.0f} s; best {result.best_config} "
              f"(val NLL {best_runs[0].loss:.4f})", flush=True)
        start = time.perf_counter()
        config = result.best_config if kind == "kmeans_vote" else dataclasses.replace(result.best_config, steps=high)
        classifier = CLASSIFIERS[kind](config).fit(train, budget=None, seed=args.seed)  # all meta-train
        fit_seconds = time.perf_counter() - start
        val_nll, val_acc = mean_nll(classifier, val_set, eval_sizes, 12, seed=args.seed + 1)
        files = classifier.save(args.out)
        summary["kinds"][kind] = {
            "config": classifier.config_dict(), "final_fit_seconds": round(fit_seconds, 1),
            "bohb": {"iterations": args.iterations, "budgets": [low, high], "evaluations": len(result.runs),
                     "seconds": round(result.seconds, 1),
                     "top_runs": [{"config": r.config, "budget": r.budget, "loss": r.loss} for r in best_runs]},
            "files": {f.name: f.stat().st_size for f in files},
            "note": "validation images were part of the final fit; see python -m meta_classifier.offline.evaluate",
            "val_nll_after_final_fit": round(val_nll, 4), "val_accuracy_after_final_fit": round(val_acc, 4),
        }
        args.out.mkdir(parents=True, exist_ok=True)
        write_atomic(summary_path, json.dumps(summary, indent=1) + "\n")
        print(f"{kind}: final fit {fit_seconds:.0f} s -> {', '.join(str(f) for f in files)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
