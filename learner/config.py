"""The learner's configuration: a small typed dataclass read from a JSON or YAML file in `portfolio/`.

Every field has a validated range; a bad file raises ConfigError with one line naming the file and the field.
The meta-classifier picks one of these files per dataset; `generalist.json` is the default.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

PORTFOLIO_DIR = Path(__file__).resolve().parent.parent / "portfolio"
DEFAULT_CONFIG = "generalist"
CONFIG_ENV = "AUTODL_LEARNER_CONFIG"  # a portfolio name or a file path; the constructor keyword wins over it
CONFIG_SUFFIXES = (".json", ".yaml", ".yml")

BACKBONES = ("efficientnet_lite0", "efficientnet_lite1", "resnet18")
OPTIMIZERS = ("adam", "sgd")


class ConfigError(ValueError):
    """A learner configuration file or value is invalid. One-line message naming the file and field."""


@dataclass(frozen=True)
class LearnerConfig:
    backbone: str = "efficientnet_lite0"   # falls back to efficientnet_lite0/1 when the weights are not on disk
    resolution: int = 64                   # starting input side: images resized (aspect NOT kept) to R x R
    max_resolution: int = 128              # progressive resizing: on a plateau the side grows x1.5 up to this
                                           # (= resolution: none); data is stored at this side, or at the native
                                           # one when that is smaller
    optimizer: str = "adam"                # "adam", or "sgd" = SGD Nesterov momentum 0.9, weight decay 1e-6
    lr: float = 3e-4                       # low: fine-tuning starts from the ridge head, not from scratch
    batch_size: int = 64
    dropout: float = 0.1                   # before the linear classifier
    freeze_fraction: float = 0.3           # leading fraction of the backbone's parameter tensors kept frozen
    adapt_batchnorm: bool = False          # True: BatchNorm statistics of trainable layers follow the new data
    augmentation: int = 1                  # 0 none, 1 flips + shifts, 2 also scale crops + brightness/contrast
    video_frames: int = 4                  # frames sampled evenly per video; per-frame outputs are averaged
    max_train_samples: int = 20000         # train examples kept in memory (the first ones in file order)
    max_train_memory_mb: int = 4096        # and fewer when that many would not fit in this much memory as uint8
    first_fit_samples: int = 2048          # train examples read for the first (closed-form) predictions, at most
    first_read_seconds: float = 0.4        # time box of the very first read (and at most 10 % of the budget)
    first_fit_seconds: float = 4.0         # time box of the features head: reading more stops after half of it,
                                           # feature extraction after it
    first_head_l2: float = 10.0            # ridge penalty of the first heads (inputs centred, one global scale)
    early_predictions: bool = True         # False: no first ridge predictions, fine-tune then predict once at the end
    pixel_head: bool = True                # the very first prediction: ridge on 16x16 raw pixels (sub-second)
    prediction_growth: float = 1.5         # next evaluation at elapsed * growth (a geometric grid in time)
    min_prediction_gap_s: float = 2.0      # and at least this many seconds after the previous one
    validation_fraction: float = 0.1       # of the first-read subset, capped by validation_max
    validation_max: int = 256
    patience: int = 2                      # evaluations (and >= 3 passes) without improvement before lr x0.3
    max_lr_cuts: int = 3                   # after this many cuts without improvement training stops
    flip_test_after: int = 2               # from this many predictions on, average with horizontally flipped test

    def __post_init__(self) -> None:
        _check_choice("backbone", self.backbone, BACKBONES)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_range("resolution", self.resolution, 16, 512, integer=True)
        if isinstance(self.max_resolution, int) and self.max_resolution < self.resolution:
            raise ConfigError(f"max_resolution ({self.max_resolution}) must be at least resolution "
                              f"({self.resolution}); set them equal to turn progressive resizing off")
        _check_range("max_resolution", self.max_resolution, 16, 512, integer=True)
        _check_range("lr", self.lr, 1e-5, 0.5)
        _check_range("batch_size", self.batch_size, 16, 128, integer=True)
        _check_range("dropout", self.dropout, 0.01, 0.99)
        _check_range("freeze_fraction", self.freeze_fraction, 0.0, 1.0)
        _check_range("augmentation", self.augmentation, 0, 2, integer=True)
        _check_range("video_frames", self.video_frames, 1, 32, integer=True)
        _check_range("max_train_samples", self.max_train_samples, 16, 1_000_000, integer=True)
        _check_range("max_train_memory_mb", self.max_train_memory_mb, 16, 1_000_000, integer=True)
        _check_range("first_fit_samples", self.first_fit_samples, 16, 100_000, integer=True)
        _check_range("first_read_seconds", self.first_read_seconds, 0.05, 600.0)
        _check_range("first_fit_seconds", self.first_fit_seconds, 0.1, 600.0)
        _check_range("first_head_l2", self.first_head_l2, 1e-6, 1e6)
        _check_bool("early_predictions", self.early_predictions)
        _check_bool("adapt_batchnorm", self.adapt_batchnorm)
        _check_bool("pixel_head", self.pixel_head)
        _check_range("prediction_growth", self.prediction_growth, 1.05, 4.0)
        _check_range("min_prediction_gap_s", self.min_prediction_gap_s, 0.0, 600.0)
        _check_range("validation_fraction", self.validation_fraction, 0.0, 0.5)
        _check_range("validation_max", self.validation_max, 0, 100_000, integer=True)
        _check_range("patience", self.patience, 1, 100, integer=True)
        _check_range("max_lr_cuts", self.max_lr_cuts, 0, 20, integer=True)
        _check_range("flip_test_after", self.flip_test_after, 0, 1000, integer=True)

    def to_dict(self) -> dict:
        return asdict(self)


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, not {value!r}")


def _check_bool(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false, not {value!r}")


def _check_range(name: str, value: object, low: float, high: float, integer: bool = False) -> None:
    kind_ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not kind_ok:
        raise ConfigError(f"{name} must be {'an integer' if integer else 'a number'}, not {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"{name} must lie in [{low:g}, {high:g}], not {value!r}")


def config_path(name_or_path: str) -> Path:
    """A portfolio name ("generalist": portfolio/generalist.json, else .yaml/.yml) or a path to a config file."""
    if name_or_path.endswith(CONFIG_SUFFIXES) or os.sep in name_or_path:
        return Path(name_or_path)
    candidates = [PORTFOLIO_DIR / f"{name_or_path}{suffix}" for suffix in CONFIG_SUFFIXES]
    return next((path for path in candidates if path.exists()), candidates[0])


def load_config(name_or_path: str | None = None) -> LearnerConfig:
    """Read and validate a config; None means env AUTODL_LEARNER_CONFIG, else the generalist."""
    path = config_path(name_or_path or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)
    try:
        raw = _parse(path.read_text(encoding="utf-8"), yaml_syntax=path.suffix in (".yaml", ".yml"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, ValueError) as error:
        raise ConfigError(f"{path}: cannot read config ({' '.join(str(error).split())})") from None
    try:
        return config_from_dict(raw)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


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
    if not isinstance(raw, dict):
        raise ConfigError(f"a config must be a mapping of field names to values, not {type(raw).__name__}")
    known = {f.name for f in fields(LearnerConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"unknown field(s) {', '.join(unknown)}")
    # JSON has one number type: accept 1.0 for integer fields, as BOHB-sampled configs often carry floats.
    cleaned = {}
    for field in fields(LearnerConfig):
        if field.name in raw:
            value = raw[field.name]
            if field.type == "int" and isinstance(value, float) and value.is_integer():
                value = int(value)
            cleaned[field.name] = value
    return LearnerConfig(**cleaned)
