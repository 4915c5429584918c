"""Build the known-dataset catalogue and cached fingerprints for the meta-classifier (metadata/).

For every known dataset: load it (shared raw folder, scikit-learn digits, the official miniciao sample, or a TFDS
builder with --tfds NAME for users with internet), keep at most --max-images (stratified), split it stratified into
meta-train / meta-test, write that as an AutoDL dataset into --work-dir (gitignored) with the project's writer
(as the converter's --encoding auto: a source of JPEG files keeps them unchanged, videos are stored as JPEG
frames, others as PNG), read it back with the project's reader (so fingerprints see exactly what a Model sees), add
whole-dataset augmented variants of up to --variant-images images each, fingerprint everything and save OUT/fingerprints/NAME.npz (float16) plus OUT/catalogue.json.

    python -m scripts.build_meta_dataset --raw-root ../shared/datasets_raw --out metadata/
    python -m scripts.build_meta_dataset --out metadata/ --tfds cifar10 --tfds eurosat   # adds to the catalogue

An existing catalogue made by the same fingerprint network is extended (entries of rebuilt datasets replaced).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

from autodl_format.cli import command, print_error
from autodl_format.errors import BadInput, first_line
from autodl_format.files import atomic_path, write_atomic
from autodl_format.offline.convert import check_materialisable, materialise
from meta_classifier.fingerprint import DEFAULT_BACKBONES, DEFAULT_INPUT_SIZE, FingerprintNet, frames_of
from meta_classifier.known import CATALOGUE_FILE
from meta_classifier.offline.variants import VARIANTS, make_variant
from autodl_format.offline.paths import REPO_ROOT

MINICIAO = Path("autodl_sample_data/AutoDL_sample_data/miniciao")
TOO_SMALL = ("mini_kth",)  # six clips, one per class: no meta-train/meta-test split of one dataset's look


def read_subset(subset_dir: Path) -> list[np.ndarray]:
    """All examples of one AutoDL subset as float32 in [0, 1]: images (H, W, C), videos (T, H, W, C) with at most
    the frames the fingerprint network uses."""
    from autodl_format.reader import AutoDLDataset

    images = []
    for example, _ in AutoDLDataset(subset_dir).iter_numpy():
        images.append(example[0] if len(example) == 1 else np.stack(frames_of(example)))
    return images


def autodl_splits(dataset_dir: Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    from autodl_format.reader import find_data_dir

    data_dir = find_data_dir(dataset_dir)
    return read_subset(data_dir / "train"), read_subset(data_dir / "test")


def image_shapes(images: list[np.ndarray]) -> dict:
    shapes = np.array([image.shape for image in images])
    return {"min": shapes.min(0).tolist(), "max": shapes.max(0).tolist()}


def fingerprint_dataset(net: FingerprintNet, name: str, train: list[np.ndarray], test: list[np.ndarray],
                        variant_images: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Fingerprints of the originals and of each variant (meta-train/meta-test kept apart per variant)."""
    rng = np.random.default_rng(seed)
    features, splits, variants, counts = [], [], [], {}
    n_train_var = int(round(variant_images * len(train) / (len(train) + len(test))))
    for v, variant in enumerate(VARIANTS):
        if v == 0:
            parts = (train, test)
        else:  # the same share of meta-train / meta-test as the originals, capped at variant_images
            pick_train = rng.permutation(len(train))[:max(1, n_train_var)]
            pick_test = rng.permutation(len(test))[:max(1, variant_images - n_train_var)]
            parts = ([train[i] for i in pick_train], [test[i] for i in pick_test])
        for split, images in enumerate(parts):
            transformed = make_variant(variant, images, seed=_stable_seed(name, v, split, seed))
            features.append(net(transformed))
            splits.append(np.full(len(images), split, dtype=np.uint8))
            variants.append(np.full(len(images), v, dtype=np.uint8))
        counts[variant] = {"meta_train": len(parts[0]), "meta_test": len(parts[1])}
    return np.concatenate(features), np.concatenate(splits), np.concatenate(variants), counts


def duplicate_of(originals: np.ndarray, out: Path, entries: dict[str, dict], name: str) -> str | None:
    """The known dataset most of whose images these are (identical fingerprints), or None. Two copies of one
    dataset (e.g. the raw mini-cifar PNGs and the official miniciao sample hold the same 100 CIFAR images) are one
    dataset to a meta-classifier; keeping both would ask it to tell a dataset from itself."""
    mine = originals.astype(np.float16).astype(np.float32)
    for other, entry in entries.items():
        if other == name:
            continue
        with np.load(out / entry["file"]) as npz:
            theirs = npz["features"][npz["variant"] == 0].astype(np.float32)
        squared = (mine ** 2).sum(1)[:, None] + (theirs ** 2).sum(1)[None, :] - 2.0 * mine @ theirs.T
        nearest = squared.min(1)
        if (nearest <= 1e-4 * np.median(squared)).mean() > 0.5:
            return other
    return None


def _display_path(path: Path) -> str:
    """Relative to the repository when inside it, so the catalogue does not record this machine's layout."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _stable_seed(*parts: object) -> int:
    # Python's hash() of strings changes between processes; this does not
    return int.from_bytes(hashlib.sha256("/".join(map(str, parts)).encode()).digest()[:4], "little")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def default_sources(raw_root: Path | None) -> list[str]:
    from autodl_format.offline.sources import RAW_DATASETS

    sources = ["digits"]
    if raw_root is not None:
        sources += [f"raw:{name}" for name in RAW_DATASETS if name not in TOO_SMALL]
        if (raw_root / MINICIAO).is_dir():
            sources.append(f"autodl:{raw_root / MINICIAO}")
    return sources


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scripts.build_meta_dataset", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--raw-root", type=Path, help="the shared raw datasets folder (adds all of its datasets)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "metadata", help="metadata directory (metadata/)")
    parser.add_argument("--work-dir", type=Path, default=REPO_ROOT / "data" / "known",
                        help="where the AutoDL copies of the known datasets go (data/known, gitignored)")
    parser.add_argument("--tfds", action="append", default=[], metavar="NAME",
                        help="also add TFDS builder NAME (needs internet or a prepared TFDS data dir); repeatable")
    parser.add_argument("--tfds-data-dir", type=Path, help="TFDS data directory with prepared builders "
                        "(default: TFDS's own; without internet, unprepared builders cannot load)")
    parser.add_argument("--only", nargs="*", help="restrict to these sources (e.g. digits raw:coil20)")
    parser.add_argument("--no-defaults", action="store_true", help="only the --tfds / --only sources")
    parser.add_argument("--max-images", type=int, default=600, help="images kept per dataset (600)")
    parser.add_argument("--variant-images", type=int, default=160, help="images per augmented variant (160)")
    parser.add_argument("--test-fraction", type=float, default=0.3, help="meta-test share per class (0.3)")
    parser.add_argument("--input-size", type=int, default=DEFAULT_INPUT_SIZE, help="fingerprint input side (96)")
    parser.add_argument("--backbones", default=",".join(DEFAULT_BACKBONES),
                        help="fingerprint backbone preference order (resnet18,efficientnet_lite0)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1; the machine is shared)")
    parser.add_argument("--seed", type=int, default=0)
    return parser


@command
def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    if args.only:
        sources = list(args.only)
    else:
        sources = [] if args.no_defaults else default_sources(args.raw_root)
    sources += [f"tfds:{name}" for name in args.tfds]
    if not sources:
        print_error("no sources (give --raw-root, --tfds NAME or --only SOURCE ...)")
        return 2
    for source in sources:  # a misspelt source fails now, not after the fingerprint network is built
        check_materialisable(source)
    net = FingerprintNet(args.backbones.split(","), input_size=args.input_size)
    for reason in net.skipped:
        print(f"note: {reason}; using {net.backbone.name}")
    out = args.out
    (out / "fingerprints").mkdir(parents=True, exist_ok=True)
    catalogue_path = out / CATALOGUE_FILE
    entries: dict[str, dict] = {}
    if catalogue_path.is_file():
        old = json.loads(catalogue_path.read_text(encoding="utf-8"))
        if old.get("fingerprint_network") == net.identity:
            entries = {entry["name"]: entry for entry in old["datasets"]}
        else:
            print(f"note: {catalogue_path} was made by another fingerprint network; starting a new catalogue")
    failures = 0
    for source in sources:
        start = time.perf_counter()
        try:
            name, dataset_dir, info = materialise(source, args.raw_root, args.work_dir, args.max_images,
                                                  args.test_fraction, args.seed, args.tfds_data_dir)
            train, test = autodl_splits(dataset_dir)
        except (BadInput, OSError, ValueError) as err:  # one source's problem: reported, the others still run
            print_error(f"{source}: {first_line(err)}")
            failures += 1
            continue
        features, splits, variants, counts = fingerprint_dataset(net, name, train, test, args.variant_images,
                                                                 args.seed)
        file = Path("fingerprints") / f"{name}.npz"
        twin = duplicate_of(features[variants == 0], out, entries, name)
        if twin is not None:
            print(f"skipped {name}: most of its images are those of known dataset {twin}", flush=True)
            entries.pop(name, None)
            (out / file).unlink(missing_ok=True)
            continue
        with atomic_path(out / file) as tmp:  # the temporary name ends in .npz too: savez keeps it
            np.savez_compressed(tmp, features=features.astype(np.float16), split=splits, variant=variants)
        from autodl_format.metadata import load_metadata
        from autodl_format.reader import find_data_dir

        entries[name] = {
            "name": name, **info, "classes": load_metadata(find_data_dir(dataset_dir) / "train").get_output_size(),
            "image_shape": image_shapes(train + test), "autodl_dir": _display_path(dataset_dir),
            "samples": {"meta_train": len(train), "meta_test": len(test)}, "fingerprints": counts,
            "file": str(file), "sha256": sha256(out / file),
        }
        print(f"{name}: {len(train)} meta-train + {len(test)} meta-test images, {len(features)} fingerprints "
              f"({time.perf_counter() - start:.1f} s)", flush=True)
    catalogue = {"fingerprint_network": net.identity, "variants": list(VARIANTS),
                 "built_with": "python -m scripts.build_meta_dataset", "max_images": args.max_images,
                 "variant_images": args.variant_images, "test_fraction": args.test_fraction,
                 "datasets": sorted(entries.values(), key=lambda e: e["name"])}
    write_atomic(catalogue_path, json.dumps(catalogue, indent=1) + "\n")
    total = sum((out / e["file"]).stat().st_size for e in catalogue["datasets"])
    print(f"catalogue: {len(catalogue['datasets'])} datasets, fingerprints {total / 1e6:.1f} MB in {out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
