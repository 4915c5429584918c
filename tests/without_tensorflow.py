"""Run our code in a process where TensorFlow cannot be imported, as on a GPU box without it:
`sys.modules["tensorflow"] = None` makes every `import tensorflow` raise ImportError.

    python tests/without_tensorflow.py module ingestion --dataset_dir ...   # any `python -m` module
    python tests/without_tensorflow.py --also=scipy,matplotlib module ...   # more missing packages, as on a GPU box
    python tests/without_tensorflow.py snapshot OUT_DIR DATASET_DIR...     # what the readers give: OUT_DIR/NAME.npz

Run as a file (not `-m tests.…`), so that nothing is imported before TensorFlow is blocked.
"""
from __future__ import annotations

import runpy
import sys
from pathlib import Path

SIDE, MIN_SIDE, FRAMES = 24, 8, 3  # the learner's read side, a reduced JPEG decode, frames of a video read


def snapshot(dataset_dir: Path, out: Path) -> None:
    """Every example and label of both subsets (full decode), the reduced decode, and the learner's uint8 read at
    SIDE (and its letterboxed shuffle-free read) into one .npz, under the reading path this process has."""
    import numpy as np

    from autodl_format.reader import load_task
    from learner.data import StreamReader

    task = load_task(dataset_dir)
    arrays: dict[str, np.ndarray] = {}
    for subset in (task.train, task.test):
        name = subset.subset_dir.name
        for i, (example, labels) in enumerate(subset.iter_numpy()):
            arrays[f"{name}/full/{i}"], arrays[f"{name}/labels/{i}"] = example, labels
        video = subset.metadata.get_sequence_size() != 1
        reduced = subset.get_reduced_dataset(MIN_SIDE, FRAMES if video else None)
        pairs = reduced.as_numpy_iterator() if hasattr(reduced, "as_numpy_iterator") else reduced  # tf.data or not
        for i, (example, _) in enumerate(pairs):
            arrays[f"{name}/reduced/{i}"] = example
        frames = FRAMES if video else 1
        for letterbox in (False, True):
            reader = StreamReader(subset.get_dataset(), frames, SIDE, cap=10**9, letterbox=letterbox)
            reader.read()
            arrays[f"{name}/read/{letterbox}"], arrays[f"{name}/read_labels/{letterbox}"] = reader.store.arrays()
    np.savez(out, **arrays)


def main() -> None:
    arguments = sys.argv[1:]
    also = arguments.pop(0)[len("--also="):].split(",") if arguments[0].startswith("--also=") else []
    for name in ("tensorflow", *also):  # before anything of ours is imported
        sys.modules[name] = None
    sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the checkout, not tests/
    what, *rest = arguments
    if what == "snapshot":
        for dataset_dir in rest[1:]:
            snapshot(Path(dataset_dir), Path(rest[0]) / f"{Path(dataset_dir).name}.npz")
    elif what == "module":
        sys.argv = [rest[0], *rest[1:]]
        runpy.run_module(rest[0], run_name="__main__", alter_sys=True)
    else:
        raise SystemExit(f"unknown command {what!r}: snapshot or module")


if __name__ == "__main__":
    main()
