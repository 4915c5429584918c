"""Files written whole or not at all: a temporary name in the same directory, then an atomic rename.

Standard library only, so the hard-stop watchdog process (ingestion.watchdog) can use it without importing numpy
or TensorFlow.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

TMP_PREFIX = ".tmp-"  # hidden temporary names: a reader globbing NAME.predict_* never sees a half-written file


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path` to write to; on success it replaces `path`, on error it is removed."""
    target = Path(path).absolute()
    tmp = target.with_name(f"{TMP_PREFIX}{os.getpid()}-{os.urandom(4).hex()}-{target.name}")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` whole or not at all."""
    with atomic_path(path) as tmp, open(tmp, "x", encoding="utf-8") as handle:  # usual umask permissions
        handle.write(text)
