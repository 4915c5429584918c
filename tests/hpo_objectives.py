"""Cheap objectives and spaces for the tests of the BOHB runner (hpo), loadable by `python -m hpo.worker`."""
from __future__ import annotations

import os
import time

import ConfigSpace as CS


def quadratic_space():
    space = CS.ConfigurationSpace(seed=0)
    space.add(CS.UniformFloatHyperparameter("x", 0.0, 1.0))
    return space


def make_slow_quadratic(seconds: str = "0.3"):
    """(x - 0.3)^2 + 1 / budget after sleeping `seconds`: slow enough to kill a worker or master mid-run."""

    def objective(config: dict, budget: float) -> tuple[float, dict]:
        time.sleep(float(seconds))
        return (config["x"] - 0.3) ** 2 + 1.0 / budget, {"pid": os.getpid()}

    return objective
