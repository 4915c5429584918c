"""Where the offline tools read and write: they run from a checkout of the repo (never from the upload zip)."""
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_RAW_ROOT = REPO_ROOT.parent / "shared" / "datasets_raw"  # the shared raw datasets beside the checkout
