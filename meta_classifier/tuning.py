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

from meta_classifier.bohb import BohbRun, run_bohb
from meta_classifier.classifiers import CLASSIFIERS, mean_nll
from meta_classifier.known import FingerprintSet
from meta_classifier.precalc import ALL_MOMENTS

# hpbandster's BOHB rejects ordinal hyperparameters, so powers of two are searched as integer exponents
# ("log2_batch_size" = 6 means 64) and turned back into values by to_classifier_config.


def config_space(kind: str, seed: int = 0):
    """The search space of one classifier kind (ranges from the design paper)."""
    import ConfigSpace as CS

    space = CS.ConfigurationSpace(seed=seed)
    if kind == "kmeans_vote":
        space.add(CS.UniformIntegerHyperparameter("clusters", 5, 40),
                  CS.UniformIntegerHyperparameter("inits", 10, 30),
                  CS.UniformIntegerHyperparameter("iterations", 100, 500))
        return space
    if kind not in ("mlp_vote", "precalc"):
        raise ValueError(f"unknown classifier kind {kind!r}")
    space.add(CS.UniformIntegerHyperparameter("log2_batch_size", 0, 10, default_value=6),  # 1 .. 1024
              CS.UniformIntegerHyperparameter("log2_neurons", 4, 10, default_value=8),  # 16 .. 1024
              CS.UniformFloatHyperparameter("lr", 1e-5, 1e-2, log=True, default_value=1e-3),
              CS.UniformFloatHyperparameter("dropout", 0.0, 0.8, default_value=0.2))
    if kind == "precalc":
        space.add(CS.UniformFloatHyperparameter("p", 0.0, 0.4, default_value=0.1),
                  CS.CategoricalHyperparameter("trim", [False, True], default_value=False),
                  CS.UniformIntegerHyperparameter("log2_batch_spread", 0, 6, default_value=0),  # 1 .. 64
                  *[CS.CategoricalHyperparameter(f"use_{m}", [True, False], default_value=True)
                    for m in ALL_MOMENTS])
    return space


def to_classifier_config(kind: str, sampled: dict[str, Any]) -> dict[str, Any]:
    """A sampled BOHB config -> the classifier's config dict (moment switches -> a moment list)."""
    config = {}
    for key, value in sampled.items():
        if key.startswith("log2_"):
            config[key[len("log2_"):]] = 2 ** int(value)
        elif not key.startswith("use_"):
            config[key] = value
    if kind == "precalc":
        moments = [m for m in ALL_MOMENTS if sampled.get(f"use_{m}", True)]
        config["moments"] = moments or ["mean"]  # all switched off: the mean alone keeps the net meaningful
    return config


@dataclass
class TuningResult:
    kind: str
    best_config: dict[str, Any]
    runs: list[BohbRun]
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
