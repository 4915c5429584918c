"""The learner's BOHB search space, from its config declaration (learner.config: every knob with `tune=`)."""
from __future__ import annotations

from learner.config import LearnerConfig
from learner.knobs import from_sample, search_space


def learner_space(seed: int = 0):
    """ConfigSpace space over the tuned knobs of LearnerConfig (for `python -m hpo.master --space`)."""
    return search_space(LearnerConfig, seed)


def to_learner_config(sampled: dict) -> LearnerConfig:
    """A sampled BOHB config -> a validated LearnerConfig (defaults for everything not searched)."""
    return from_sample(LearnerConfig, sampled)
