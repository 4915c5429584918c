"""Real model.py sources for the ingestion tests: tiny numpy models that read the TF dataset they are given.

`write_model(dir, variant)` writes FREQUENCY_BASE + a `Model` variant into dir/model.py. Every model appends one
JSON line per call to dir/calls.jsonl and saves what test returned to dir/returned_K.npy, so tests can check what
ingestion did from the model's side.
"""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

FREQUENCY_BASE = '''
import json
import os
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


class FrequencyModel:
    """Per-class label frequencies of the training set, plus a little noise."""

    def __init__(self, metadata):
        self.output_dim = metadata.get_output_size()
        self.train_calls = 0
        self.test_calls = 0
        self.rng = np.random.default_rng(0)
        self.freq = np.zeros(self.output_dim)

    def train(self, dataset, remaining_time_budget=None):
        self.train_calls += 1
        self.record("train", remaining_time_budget)
        counts = np.zeros(self.output_dim)
        for _, labels in dataset:
            counts += labels.numpy()
        self.freq = counts / max(counts.sum(), 1.0)

    def test(self, dataset, remaining_time_budget=None):
        self.test_calls += 1
        self.record("test", remaining_time_budget)
        n = sum(1 for _ in dataset)
        pred = self.freq + 1e-3 * self.rng.random((n, self.output_dim))
        np.save(os.path.join(HERE, f"returned_{self.test_calls - 1}.npy"), pred)
        return pred

    def record(self, method, remaining):
        with open(os.path.join(HERE, "calls.jsonl"), "a") as f:
            f.write(json.dumps([method, remaining, time.time()]) + "\\n")
'''


def write_model(code_dir: Path, variant: str) -> Path:
    """Write FREQUENCY_BASE + `variant` (which defines class Model) to code_dir/model.py; returns code_dir."""
    code_dir.mkdir(parents=True, exist_ok=True)
    (code_dir / "model.py").write_text(FREQUENCY_BASE + "\n\n" + textwrap.dedent(variant))
    return code_dir


def read_calls(code_dir: Path) -> list[tuple[str, float, float]]:
    """(method, remaining_time_budget, epoch) per call the model received, in order."""
    path = code_dir / "calls.jsonl"
    if not path.exists():
        return []
    return [tuple(json.loads(line)) for line in path.read_text().splitlines()]
