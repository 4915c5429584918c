"""The per-dataset BOHB search space, from the learner's config declaration (learner.config: every knob with
`tune=` that is not part of the fine-tuning recipe).

A dataset's search tunes what decides its first seconds (backbone, sides, the first reads and ridge heads), where a
short budget measures it. The fine-tuning recipe (knobs declared `recipe=True`: optimizer, lr, warm-up, freezing,
BatchNorm, dropout, augmentation, batch, resizing and plateau schedule) is shared by every entry: at the short
budgets of these searches fine-tuning barely counts, so a per-dataset value of it would be a random draw.
"""
from __future__ import annotations

from learner.config import LearnerConfig
from learner.knobs import from_sample, recipe_fields, search_space


def learner_space(seed: int = 0):
    """ConfigSpace space over the per-dataset knobs of LearnerConfig (for `python -m hpo.master --space`)."""
    return search_space(LearnerConfig, seed, recipe=False)


def to_learner_config(sampled: dict) -> LearnerConfig:
    """A sampled BOHB config -> a validated LearnerConfig (defaults for everything not searched)."""
    return from_sample(LearnerConfig, sampled)


def per_dataset_fields(config: LearnerConfig) -> dict:
    """What a portfolio entry holds of `config`: its non-default per-dataset knobs (a search logged before the
    recipe was shared also sampled recipe knobs; they are left out)."""
    recipe = recipe_fields(LearnerConfig)
    return {name: value for name, value in config.to_dict().items() if name not in recipe}
