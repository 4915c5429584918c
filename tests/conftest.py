"""Shared pytest fixtures. Coordinate: append new fixtures, do not rewrite others'."""

import os
from pathlib import Path

import pytest

from tests import REPO_ROOT



@pytest.fixture(scope="session")
def autodl_raw_root() -> Path:
    """Root of the read-only raw datasets: env AUTODL_RAW_ROOT, default <repo>/../shared/datasets_raw.

    Fails (never skips) when missing: the tests run on real data or not at all.
    """
    root = Path(os.environ.get("AUTODL_RAW_ROOT", REPO_ROOT.parent / "shared" / "datasets_raw"))
    if not root.is_dir():
        pytest.fail(f"raw dataset root {root} not found; set AUTODL_RAW_ROOT to the shared datasets_raw directory")
    return root


@pytest.fixture(scope="session")
def miniciao_dir(autodl_raw_root: Path) -> Path:
    """The official miniciao sample dataset (miniciao.data/ and miniciao.solution)."""
    path = autodl_raw_root / "autodl_sample_data" / "AutoDL_sample_data" / "miniciao"
    if not path.is_dir():
        pytest.fail(f"miniciao sample dataset not found at {path}")
    return path


@pytest.fixture(scope="session")
def unzipped_submission(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The upload zip of `scripts.package_submission`, built once and unzipped into a folder of its own."""
    import zipfile

    from scripts.package_submission import build_submission_zip

    root = tmp_path_factory.mktemp("submission")
    build_submission_zip(root / "submission.zip")
    code_dir = root / "code"
    zipfile.ZipFile(root / "submission.zip").extractall(code_dir)
    return code_dir
