"""Ingestion then scoring, both as the command-line programs, with a small learning model on the real miniciao."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import yaml

from tests import REPO_ROOT

BUDGET = 20.0

# Logistic regression on 8x8 average-pooled pixels, refitted on a growing share of the training set: a real,
# if weak, learner (NAUC about 0.1-0.2 on miniciao's 18 test examples).
LOGISTIC_MODEL = '''
import numpy as np
from sklearn.linear_model import LogisticRegression


def pooled(dataset):
    features, labels = [], []
    for example, label in dataset:
        frame = example.numpy()[0]  # (32, 32, 3)
        features.append(frame.reshape(8, 4, 8, 4, 3).mean(axis=(1, 3)).ravel())
        labels.append(label.numpy())
    return np.array(features), np.array(labels)


class Model:
    def __init__(self, metadata):
        self.output_dim = metadata.get_output_size()
        self.done_training = False
        self.sizes = [20, 40, metadata.size()]
        self.round = 0
        self.x_train = None

    def train(self, dataset, remaining_time_budget=None):
        if self.x_train is None:
            self.x_train, y = pooled(dataset)
            self.y_train = y.argmax(axis=1)
        n = self.sizes[self.round]
        self.classifier = LogisticRegression(C=1.0, max_iter=200).fit(self.x_train[:n], self.y_train[:n])
        self.round += 1
        self.done_training = self.round == len(self.sizes)

    def test(self, dataset, remaining_time_budget=None):
        x_test, _ = pooled(dataset)
        scores = np.zeros((len(x_test), self.output_dim))
        scores[:, self.classifier.classes_] = self.classifier.predict_proba(x_test)
        return scores
'''


def _run(args: list[str]) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO_ROOT))
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=180, env=env,
                          cwd=REPO_ROOT)


def test_ingestion_then_scoring_gives_a_positive_alc(miniciao_dir, tmp_path):
    code, predictions, scores = tmp_path / "code", tmp_path / "predictions", tmp_path / "scores"
    code.mkdir()
    (code / "model.py").write_text(textwrap.dedent(LOGISTIC_MODEL))

    ingestion = _run(["ingestion", "--dataset_dir", str(miniciao_dir), "--code_dir", str(code),
                      "--output_dir", str(predictions), "--time_budget", str(BUDGET), "--hard_stop"])
    assert ingestion.returncode == 0, ingestion.stderr
    assert "summary: 3 prediction(s)" in ingestion.stderr and "stopped: done_training" in ingestion.stderr

    scoring = _run(["scoring", "--solution_dir", str(miniciao_dir), "--prediction_dir", str(predictions),
                    "--score_dir", str(scores), "--start_timeout", "10"])
    assert scoring.returncode == 0, scoring.stderr
    last_line = scoring.stdout.strip().splitlines()[-1]
    assert last_line.startswith("ALC: ")
    alc = float(last_line.split()[1])
    assert alc > 0

    fields = yaml.safe_load((scores / "scores.txt").read_text())
    assert {"score", "Duration", "timestamps", "nauc_scores", "accuracy"} <= set(fields)
    assert abs(float(fields["score"]) - alc) < 1e-6
    assert len(fields["timestamps"]) == len(fields["nauc_scores"]) == 3
    assert all(0 < t < BUDGET for t in fields["timestamps"])
    assert float(fields["nauc_scores"][-1]) > 0
    curve = scores / "learning-curve-miniciao.png"
    assert curve.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
