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


TF1_MODEL = '''
"""A 2019-style TensorFlow 1 submission: graph-mode iterators, a tf.Session, TF1 names only (as the kit's models).
Nearest class mean on 8x8 pixels; trains once."""
import numpy as np
import tensorflow as tf


class Model:
    def __init__(self, metadata):
        self.output_dim = metadata.get_output_size()
        self.done_training = False
        self.session = tf.Session(config=tf.ConfigProto(allow_soft_placement=True))
        tf.logging.set_verbosity(tf.logging.INFO)

    def _features(self, iterator):
        example, labels = iterator.get_next()
        small = tf.reshape(tf.image.resize_images(example[0], (8, 8)), [-1])
        rows, targets = [], []
        while True:
            try:
                row, target = self.session.run([small, labels])
            except tf.errors.OutOfRangeError:
                return np.array(rows), np.array(targets)
            rows.append(row)
            targets.append(target)

    def train(self, dataset, remaining_time_budget=None):
        x, y = self._features(dataset.make_one_shot_iterator())
        self.means = (y.T @ x) / np.maximum(y.sum(axis=0)[:, None], 1.0)
        self.done_training = True
        tf.logging.info("trained on %d examples", len(x))

    def test(self, dataset, remaining_time_budget=None):
        iterator = tf.data.Iterator.from_structure(dataset.output_types, dataset.output_shapes)
        self.session.run(iterator.make_initializer(dataset))
        x, _ = self._features(iterator)
        return -((x[:, None, :] - self.means[None]) ** 2).sum(axis=-1)
'''
