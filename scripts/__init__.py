"""Command-line tools (dataset converter, quickstart, benchmarks, offline meta-learning pipeline, packager)."""
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent  # the scripts run from a checkout of the repo
