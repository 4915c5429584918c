"""The submission's Model (AutoDL Model API): Model(metadata), train(...), test(...), done_training.

All the work is in `learner/` (learner/pipeline.py lists the stages). This file adds the config choice and the
safety net: an exception inside train or test is logged in one line and the last good prediction is returned,
so an error late in the run never costs the predictions already made.

Config: the constructor keyword `config` (a portfolio name such as "generalist", or a JSON path), else the env
var AUTODL_LEARNER_CONFIG; with neither, the config is meta-learned (portfolio.selection): the run starts with
the portfolio config of best mean ALC over the known datasets (the generalist when the choice is unavailable),
and after its pixel and features heads a random batch of train examples is fingerprinted and the portfolio config
the choice rule (portfolio/choice.json or the file the env var AUTODL_CHOICE_FILE names; the env var
AUTODL_CHOICE_RULE overrides its rule) picks takes over.
"""
from __future__ import annotations

import dataclasses
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:  # learner/ beside this file, wherever it runs (ingestion usually put it there already)
    sys.path.insert(0, _HERE)

import autodl_format.frameworks  # noqa: E402,F401 - first: torch and TensorFlow safe in either import order

from autodl_format.errors import first_line  # noqa: E402
from learner.config import CONFIG_ENV, load_config  # noqa: E402
from learner.pipeline import Learner, get_logger  # noqa: E402
from learner.runtime import tune_allocator  # noqa: E402
from portfolio.choice import settings_from_environment  # noqa: E402
from portfolio.selection import ConfigSelection  # noqa: E402

MAX_FAILED_TRAIN_CALLS = 2


class Model:
    def __init__(self, metadata, config: str | None = None) -> None:
        self.log = get_logger()
        if getattr(metadata, "is_sparse", lambda: False)():
            raise ValueError(f"{metadata.get_dataset_name()}: SPARSE (tabular/text) data is not supported by this "
                             f"image/video model")
        fixed = config or os.environ.get(CONFIG_ENV)
        settings = None if fixed else settings_from_environment()
        tune_allocator()
        self.selection = None if fixed else ConfigSelection.prepare(metadata, self.log, settings)
        self.config = load_config(fixed or (self.selection.starting_config() if self.selection else None))
        if settings is not None and settings.seed is not None:  # the run's seed, the starting config's included
            self.config = dataclasses.replace(self.config, seed=settings.seed)
        self.learner = Learner(metadata, self.config)
        self.done_training = False
        self.failed_train_calls = 0

    def train(self, dataset, remaining_time_budget: float | None = None) -> None:
        if self.done_training:
            return
        # Once, after the starting config's pixel and features heads (it does not fine-tune before): its features
        # head is out before the switch rather than the chosen config's own, which comes seconds later.
        if self.selection is not None and self.learner.features_tried:
            selection, self.selection = self.selection, None
            self.learner = selection.choose(self.learner, remaining_time_budget)
        try:
            self.learner.train(dataset, remaining_time_budget=remaining_time_budget,
                               heads_only=self.selection is not None)
        except Exception as error:  # noqa: BLE001 - keep the predictions made so far
            self.failed_train_calls += 1
            self.log.info("train failed (%s: %s); keeping the last good prediction", type(error).__name__,
                          first_line(error))
            if self.failed_train_calls >= MAX_FAILED_TRAIN_CALLS:
                self.learner.stop_training()
        self.done_training = self.learner.done_training

    def test(self, dataset, remaining_time_budget: float | None = None):
        try:
            return self.learner.test(dataset, remaining_time_budget=remaining_time_budget)
        except Exception as error:  # noqa: BLE001 - keep the predictions made so far
            self.log.info("test failed (%s: %s); returning the last good prediction", type(error).__name__,
                          first_line(error))
            self.learner.test_failed()
            return self.learner.last_good_prediction()
