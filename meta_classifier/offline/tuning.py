"""BOHB search spaces and objective for the three meta-classifiers.

Budget: optimiser steps for the perceptrons; images clustered per dataset for k-means. Objective: the mean
negative log-likelihood of the true dataset on validation batches (images held out of meta-train, never
meta-test) at the test batch sizes we care about; NLL rather than error so that configs that are all 100 % right
at batch 64 are still ranked by how sure they are.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from hpo.bohb import run_bohb
from hpo.logs import Evaluation
from learner.knobs import from_sample, search_space
from meta_classifier.classifiers import CLASSIFIERS, mean_nll
from meta_classifier.known import FingerprintSet


def config_space(kind: str, seed: int = 0):
    """The search space of one classifier kind, from its Config's declarations (ranges from the design paper)."""
    return search_space(CLASSIFIERS[kind].Config, seed)


def to_classifier_config(kind: str, sampled: dict[str, Any]) -> Any:
    """A sampled BOHB config -> the classifier's Config."""
    return from_sample(CLASSIFIERS[kind].Config, sampled)


@dataclass
class TuningResult:
    kind: str
    best_config: Any
    runs: list[Evaluation]
    seconds: float


def tune(kind: str, fit_set: FingerprintSet, val_set: FingerprintSet, min_budget: float, max_budget: float,
         n_iterations: int, eval_batch_sizes: tuple[int, ...] = (16, 64), val_batches_per_dataset: int = 12,
         seed: int = 0) -> TuningResult:
    """BOHB over `config_space(kind)`; each evaluation fits on fit_set and scores NLL on val_set."""
    cls = CLASSIFIERS[kind]

    def objective(sampled: dict[str, Any], budget: float) -> float:
        classifier = cls(to_classifier_config(kind, sampled)).fit(fit_set, budget=budget, seed=seed)
        nll, _ = mean_nll(classifier, val_set, eval_batch_sizes, val_batches_per_dataset, seed=seed + 1)
        return nll

    start = time.perf_counter()
    best, runs = run_bohb(config_space(kind, seed), objective, min_budget, max_budget, n_iterations, seed=seed)
    return TuningResult(kind, to_classifier_config(kind, best), runs, time.perf_counter() - start)
