"""Evaluate the shipped meta-classifiers on meta-test fingerprints (images never used in training).

    python -m meta_classifier.offline.evaluate [--json PATH] [--plot PATH] [--no-loo] [--resume] [--max-seconds S]

1. Identification accuracy of precalc / mlp_vote / kmeans_vote against the test batch size 1, 2, 4, ..., 1024:
   per known dataset, batches of b meta-test fingerprints of its original images (--all-variants: also of its
   augmented variants) are drawn; a batch counts as right when the arg-max dataset is the true one. A dataset with
   fewer than b meta-test images is sampled WITH replacement (listed in the output), so large-b numbers for small
   datasets repeat images.
2. Leave-one-dataset-out: for each known dataset, a precalc classifier with the shipped config is trained on the
   other datasets' meta-train fingerprints and shown batches (size --loo-batch) of the removed dataset's meta-test
   fingerprints: which known dataset it picks, how often, and with what mean confidence.

With --json the file is rewritten after part 1 and after every leave-one-out row; --resume keeps what an earlier
run with the same artefacts and settings wrote there (each row is computed on its own, so a resumed table equals
an uninterrupted one), and --max-seconds stops starting leave-one-out fits after that long (exit code 3: re-run
with --resume for the rest), so the evaluation can be done in short sessions on a shared machine.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Callable


from autodl_format.cli import command
from autodl_format.files import write_atomic
from meta_classifier.classifiers import CLASSIFIERS, DEFAULT_ARTIFACTS, PrecalcMLP, PrecalcMLPConfig, load_classifier
from meta_classifier.errors import MetaDataError
from meta_classifier.known import DEFAULT_METADATA_DIR, BatchSampler, FingerprintSet, load_catalogue, \
    load_fingerprints

BATCH_SIZES = [2 ** i for i in range(11)]
KINDS = ("precalc", "mlp_vote", "kmeans_vote")
CHUNK_IMAGES = 1 << 17  # fingerprints per predict call, to bound memory at b = 1024
UNFINISHED = 3  # exit code: --max-seconds ran out before the leave-one-out table was complete


def batches_per_dataset(b: int, scale: float = 1.0) -> int:
    """Fewer batches at large b (each costs b images); at least 10 per dataset."""
    return max(10, int(scale * min(100, 4096 // b)))


def accuracy_by_batch_size(classifiers: dict, test: FingerprintSet, batch_sizes: list[int], scale: float,
                           seed: int) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """{kind: {str(b): accuracy}} and, at each b, {kind: {dataset: accuracy}} for b = 64 (per-dataset detail)."""
    results = {kind: {} for kind in classifiers}
    per_dataset = {kind: {} for kind in classifiers}
    for b in batch_sizes:
        sampler = BatchSampler(test, seed=seed + b)  # the same batches for every classifier
        n = batches_per_dataset(b, scale)
        correct = {kind: 0 for kind in classifiers}
        total = 0
        for k in range(test.n_datasets):
            batches = sampler.sample_dataset(k, n, b)
            step = max(1, CHUNK_IMAGES // b)
            for kind, classifier in classifiers.items():
                hits = sum(int((classifier.predict_proba_many(batches[i:i + step]).argmax(1) == k).sum())
                           for i in range(0, n, step))
                correct[kind] += hits
                if b == 64:
                    per_dataset[kind][test.names[k]] = hits / n
            total += n
        for kind in classifiers:
            results[kind][str(b)] = correct[kind] / total
    return results, per_dataset


def leave_one_out(train: FingerprintSet, test: FingerprintSet, config: PrecalcMLPConfig, batch: int, n_batches: int,
                  steps: int | None, seed: int, skip: frozenset[str] = frozenset(),
                  on_row: Callable[[dict], None] | None = None, deadline: float | None = None) -> list[dict]:
    """One row per known dataset not in `skip`, in catalogue order; `on_row` sees each row as it is made. No fit
    starts after `deadline` (a time.perf_counter() value)."""
    rows = []
    for k, name in enumerate(train.names):
        if name in skip:
            continue
        if deadline is not None and time.perf_counter() > deadline:
            break
        start = time.perf_counter()
        classifier = PrecalcMLP(config).fit(train.without(k), budget=steps, seed=seed)
        batches = BatchSampler(test.alone(k), seed=seed).sample_dataset(0, n_batches, batch)
        probs = classifier.predict_proba_many(batches)
        picks = Counter(probs.argmax(1).tolist())
        chosen, count = picks.most_common(1)[0]
        rows.append({"removed": name, "chosen": classifier.names[chosen], "share": count / n_batches,
                     "mean_confidence": float(probs[probs.argmax(1) == chosen, chosen].mean()),
                     "runner_up": classifier.names[picks.most_common(2)[1][0]] if len(picks) > 1 else None,
                     "seconds": round(time.perf_counter() - start, 1)})
        print(f"  {name:20s} -> {rows[-1]['chosen']:20s} share {rows[-1]['share']:.2f} "
              f"confidence {rows[-1]['mean_confidence']:.3f}", flush=True)
        if on_row is not None:
            on_row(rows[-1])
    return rows


def _earlier_run(path: Path | None, settings: dict) -> dict:
    """What an earlier run with these settings wrote to `path` (--resume), else nothing."""
    if path is None or not path.is_file():
        return {}
    try:
        earlier = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise MetaDataError(f"{path}: not valid JSON ({err}); delete it or run without --resume") from None
    if earlier.get("details", {}).get("settings") != settings:
        print(f"note: {path} was made with other artefacts or settings; starting again")
        return {}
    return earlier


def plot(results: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5))
    for kind, accuracy in results.items():
        sizes = [int(b) for b in accuracy]
        axis.plot(sizes, [accuracy[str(b)] for b in sizes], marker="o", label=kind)
    axis.set_xscale("log", base=2)
    axis.set_xlabel("test batch size (images of one dataset)")
    axis.set_ylabel("identification accuracy")
    axis.set_ylim(0, 1.02)
    axis.grid(alpha=0.3)
    axis.legend()
    axis.set_title(title)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m meta_classifier.offline.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--metadata", type=Path, default=DEFAULT_METADATA_DIR)
    parser.add_argument("--artifacts", type=Path, default=DEFAULT_ARTIFACTS)
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--plot", type=Path, help="write the accuracy plot (PNG) here")
    parser.add_argument("--all-variants", action="store_true", help="also test on augmented variants")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the number of test batches")
    parser.add_argument("--max-batch", type=int, default=1024, help="largest test batch size (1024)")
    parser.add_argument("--no-loo", action="store_true", help="skip the leave-one-dataset-out table")
    parser.add_argument("--loo-batch", type=int, default=64)
    parser.add_argument("--loo-steps", type=int, help="training steps per leave-one-out fit (default: config)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=123)
    parser.add_argument("--resume", action="store_true",
                        help="keep the results --json holds from an earlier run with the same artefacts and settings")
    parser.add_argument("--max-seconds", type=float,
                        help="start no leave-one-out fit after this many seconds (exit code 3 when unfinished)")
    return parser


@command
def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.resume and args.json is None:
        parser.error("--resume needs --json (the file to resume from)")
    import torch

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    identity = load_catalogue(args.metadata)["fingerprint_network"]
    classifiers = {kind: load_classifier(args.artifacts, kind, identity) for kind in KINDS}
    test = load_fingerprints(args.metadata, "test", variants=None if args.all_variants else (0,),
                             datasets=classifiers["precalc"].names)
    batch_sizes = [b for b in BATCH_SIZES if b <= args.max_batch]
    settings = {"names": test.names, "configs": {kind: classifiers[kind].config_dict() for kind in KINDS},
                "batch_sizes": batch_sizes, "scale": args.scale, "all_variants": args.all_variants,
                "seed": args.seed, "loo_batch": args.loo_batch, "loo_steps": args.loo_steps}
    earlier = _earlier_run(args.json, json.loads(json.dumps(settings))) if args.resume else {}
    # batches come from one (dataset, variant) group, so what limits sampling is the smallest group
    sizes = {name: min(len(g.features) for g in test.groups_of(k)) for k, name in enumerate(test.names)}
    print(f"{test.n_datasets} known datasets; meta-test images per dataset"
          + (" (smallest variant group)" if args.all_variants else "") + ": "
          + ", ".join(f"{name} {n}" for name, n in sizes.items()))
    if earlier:
        results = {kind: earlier[kind] for kind in KINDS}
        per_dataset = earlier["details"]["per_dataset_at_64"]
        print(f"\nidentification accuracy on meta-test (kept from {args.json})")
    else:
        start = time.perf_counter()
        results, per_dataset = accuracy_by_batch_size(classifiers, test, batch_sizes, args.scale, args.seed)
        print(f"\nidentification accuracy on meta-test ({time.perf_counter() - start:.0f} s)")
    print(f"{'batch':>6} " + " ".join(f"{kind:>12}" for kind in KINDS))
    for b in batch_sizes:
        print(f"{b:>6} " + " ".join(f"{results[kind][str(b)]:>12.4f}" for kind in KINDS))
    first_short = {name: next(b for b in BATCH_SIZES + [None] if b is None or b > n) for name, n in sizes.items()}
    for b in batch_sizes:
        short = [name for name, first in first_short.items() if first == b]
        if short:
            print(f"fewer meta-test images than b, batches drawn with replacement from b = {b}: {', '.join(short)}")
    if per_dataset["precalc"]:
        weakest = sorted(per_dataset["precalc"].items(), key=lambda item: item[1])[:3]
        print("precalc at b=64, weakest datasets: " + ", ".join(f"{n} {a:.3f}" for n, a in weakest))
    output = {kind: results[kind] for kind in KINDS}
    output["details"] = {"per_dataset_at_64": per_dataset, "meta_test_images": sizes,
                         "variants": "all" if args.all_variants else "original",
                         "batches_per_dataset": {str(b): batches_per_dataset(b, args.scale) for b in batch_sizes},
                         "settings": settings}

    def save() -> None:
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(args.json, json.dumps(output, indent=1) + "\n")

    save()
    if args.plot:
        plot(results, args.plot, f"meta-classifier identification, {test.n_datasets} known datasets")
    if args.no_loo:
        return 0
    rows = earlier.get("leave_one_out", [])
    output["leave_one_out"] = rows
    print(f"\nleave-one-dataset-out (precalc, shipped config, test batch {args.loo_batch})"
          + (f": {len(rows)} rows kept from {args.json}" if rows else ""))
    train = load_fingerprints(args.metadata, "train", datasets=classifiers["precalc"].names)
    deadline = None if args.max_seconds is None else started + args.max_seconds

    def add(row: dict) -> None:
        rows.append(row)
        rows.sort(key=lambda r: test.names.index(r["removed"]))
        save()

    leave_one_out(train, test, classifiers["precalc"].config, args.loo_batch,
                  batches_per_dataset(args.loo_batch, args.scale), args.loo_steps, args.seed,
                  skip=frozenset(r["removed"] for r in rows), on_row=add, deadline=deadline)
    left = test.n_datasets - len(rows)
    if left:
        print(f"leave-one-out: {len(rows)} of {test.n_datasets} done, {left} left; re-run with --resume")
        return UNFINISHED
    return 0


__all__ = ["main", "accuracy_by_batch_size", "leave_one_out", "CLASSIFIERS"]

if __name__ == "__main__":
    sys.exit(main())
