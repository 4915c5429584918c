"""Import the submission's `Model` class from `<code_dir>/model.py`."""
from __future__ import annotations

import importlib
import os
import sys
from contextlib import contextmanager
from typing import Iterator

SUBMISSION_SUBDIR = "AutoDL_sample_code_submission"  # the official ingestion also searches this sub-folder


class ModelLoadError(Exception):
    """The code directory has no usable model.py / Model class. One-line message."""


def code_paths(code_dir: str) -> list[str]:
    """Directories to put on the import path, most specific first."""
    paths = [os.path.abspath(code_dir)]
    sub = os.path.join(paths[0], SUBMISSION_SUBDIR)
    if os.path.isdir(sub):
        paths.append(sub)
    return paths


@contextmanager
def submission_on_path(code_dir: str, extra_dirs: tuple[str, ...] = ()) -> Iterator[list[str]]:
    """Put code_dir at the FRONT of sys.path for the duration of the run.

    The official ingestion appends it at the end, so any other module called `model` earlier on the path (for
    example this repository's own model.py when run from the repo root) would shadow the submission (protocol 8).
    `extra_dirs` (the ingestion program dir) go at the end, as officially. On exit the path is restored and the
    modules the run imported from the code directory are dropped from sys.modules, so a later `import model` (or a
    second run with another code directory) in this process is not served this submission from the cache.
    """
    front = code_paths(code_dir)
    previous_model = sys.modules.get("model")
    modules_before = set(sys.modules)
    for p in reversed(front):
        sys.path.insert(0, p)
    added_back = [p for p in map(os.path.abspath, extra_dirs) if p not in sys.path]
    sys.path.extend(added_back)
    try:
        yield front
    finally:
        for p in front + added_back:
            if p in sys.path:
                sys.path.remove(p)  # removes the first occurrence: the one inserted at the front
        for name in set(sys.modules) - modules_before:
            origin = os.path.abspath(getattr(sys.modules[name], "__file__", None) or "")
            if any(origin.startswith(d + os.sep) for d in front):
                del sys.modules[name]
        if previous_model is not None:
            sys.modules["model"] = previous_model


def import_model_class(code_dir: str) -> type:
    """Import `model` afresh from code_dir and return its `Model` class.

    Must run inside `submission_on_path(code_dir)`.
    """
    candidates = [os.path.join(d, name) for d in code_paths(code_dir) for name in ("model.py", "model")]
    if not any(os.path.isfile(c) if c.endswith(".py") else os.path.isdir(c) for c in candidates):
        raise ModelLoadError(f"{os.path.join(os.path.abspath(code_dir), 'model.py')}: no such file "
                             f"(the code directory must contain model.py)")
    sys.modules.pop("model", None)  # a cached `model` (an earlier run, or another module of that name) must not win
    importlib.invalidate_caches()
    module = importlib.import_module("model")
    origin = os.path.abspath(getattr(module, "__file__", "") or "")
    if not any(origin.startswith(d + os.sep) for d in code_paths(code_dir)):
        raise ModelLoadError(f"module 'model' was imported from {origin}, not from {os.path.abspath(code_dir)}")
    model_class = getattr(module, "Model", None)
    if not isinstance(model_class, type):
        raise ModelLoadError(f"{origin}: defines no class named Model")
    return model_class
