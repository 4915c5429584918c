"""The submission's Model (AutoDL Model API, protocol 1.1): Model(metadata), train(...), test(...), done_training.

The ingestion program builds one Model from the train set's metadata, then loops: it reads `done_training`, calls
`train`, calls `test`, and writes what `test` returns as the next prediction, until `done_training` is true, `test`
returns None, or the time budget is spent. The learning is the learner's (learner/pipeline.py lists its stages,
the config choice among them); this file picks the config and adds the safety net: an exception inside train or
test is logged in one line and the last good prediction is returned, so an error late in the run never costs the
predictions already made.

Config: the constructor keyword `config` (a portfolio name such as "generalist", or a JSON/YAML path), else the env
var AUTODL_LEARNER_CONFIG; with neither, the config is meta-learned (portfolio.selection): the run starts with the
portfolio config of best mean ALC over the known datasets (the generalist when the choice is unavailable), and
after its pixel and features heads the learner fingerprints a random batch of train examples and goes on with the
portfolio config the choice rule picks (portfolio/choice.json or the file the env var AUTODL_CHOICE_FILE names;
the env var AUTODL_CHOICE_RULE overrides its rule).
"""
from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:  # learner/ beside this file, wherever it runs (ingestion usually put it there already)
    sys.path.insert(0, _HERE)

import autodl_format.frameworks  # noqa: E402,F401 - first: torch and TensorFlow safe in either import order

import numpy as np  # noqa: E402

from autodl_format.errors import first_line  # noqa: E402
from learner.config import CONFIG_ENV, load_config  # noqa: E402
from learner.pipeline import Learner, get_logger  # noqa: E402
from learner.runtime import tune_allocator  # noqa: E402
from portfolio.selection import meta_learned_start  # noqa: E402

MAX_FAILED_TRAIN_CALLS = 2  # a train call that fails twice will fail again: stop training, keep predicting


class Model:
    """An image/video classifier that learns within the time budget and predicts while it learns."""

    def __init__(self, metadata, config: str | None = None) -> None:
        """`metadata`: the train set's AutoDLMetadata. Builds everything that can be built before the budget
        starts (ingestion does not charge the constructor): the pretrained networks, warmed up, and the config
        choice. `config`: a fixed config instead of the meta-learned one (see the module docstring). SPARSE
        (tabular/text) data is refused with a ValueError."""
        self.log = get_logger()
        if getattr(metadata, "is_sparse", lambda: False)():
            raise ValueError(f"{metadata.get_dataset_name()}: SPARSE (tabular/text) data is not supported by this "
                             f"image/video model")
        tune_allocator()
        fixed = config or os.environ.get(CONFIG_ENV)
        self.config, choice = (load_config(fixed), None) if fixed else meta_learned_start(self.log)
        self.learner = Learner(metadata, self.config, choice)
        self.done_training = False  # read by ingestion before every train call: True ends the run
        self.failed_train_calls = 0

    def train(self, dataset, remaining_time_budget: float | None = None) -> None:
        """Learn for a while from `dataset` (the train set's (example, labels) tf.data.Dataset; the same object at
        every call) and return, leaving time for the test call: each call runs the learner's next stage, or some
        fine-tuning steps. `remaining_time_budget`: the seconds left of the budget (None: 1200 s at the first
        call). Sets `done_training` when the learner has stopped (it logs why)."""
        if self.done_training:
            return
        try:
            self.learner.train(dataset, remaining_time_budget=remaining_time_budget)
        except Exception as error:  # noqa: BLE001 - keep the predictions made so far
            self.failed_train_calls += 1
            self.log.info("train failed (%s: %s); keeping the last good prediction", type(error).__name__,
                          first_line(error))
            if self.failed_train_calls >= MAX_FAILED_TRAIN_CALLS:
                self.learner.stop_training()
        self.done_training = self.learner.done_training

    def test(self, dataset, remaining_time_budget: float | None = None) -> np.ndarray:
        """The prediction for the test set (`dataset`: (example, labels) with empty labels, in the solution's
        order): an (N, C) array of scores in [0, 1], one row per test example, one column per class. A new one
        when the learner has a better model queued and the time left covers the pass, otherwise the last one
        again (before any, the train class frequencies); never None, so the run never ends from here."""
        try:
            return self.learner.test(dataset, remaining_time_budget=remaining_time_budget)
        except Exception as error:  # noqa: BLE001 - keep the predictions made so far
            self.log.info("test failed (%s: %s); returning the last good prediction", type(error).__name__,
                          first_line(error))
            self.learner.test_failed()
            return self.learner.last_good_prediction()
