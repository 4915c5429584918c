"""One declaration per setting: a frozen dataclass whose fields are `knob(...)`s is validated, loaded from plain
mappings (JSON/YAML) and turned into a BOHB search space from those declarations alone.

    @dataclass(frozen=True)
    class Settings:
        lr: float = knob(3e-4, "learning rate", low=1e-5, high=0.5, tune=(1e-4, 1e-2), log=True)
        optimizer: str = knob("adam", "adam or sgd", choices=("adam", "sgd"), tune=("adam", "sgd"))
        momentum: float = knob(0.9, "SGD momentum", low=0.0, high=0.99, tune=(0.8, 0.99), when=("optimizer", "sgd"))

        def __post_init__(self) -> None:
            validate(self)

A field whose default is a tuple is a subset of its `choices` (non-empty), searched as one on/off switch per choice
("NAME:CHOICE"). `validate` gives one-line errors naming the field; `from_mapping` refuses unknown fields (a typo
must not fall back to a default silently), accepts 64.0 for an integer field (JSON and BOHB carry floats) and a
list for a subset; `non_defaults` is what a portfolio file holds; `search_space` builds a ConfigSpace space
(conditions from `when`, and `at_least` both checks and forbids an order between two fields); `from_sample` turns
a sampled configuration back into the dataclass (a subset sampled empty takes its first choice).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from autodl_format.errors import BadInput

Config = TypeVar("Config")


class ConfigError(BadInput, ValueError):
    """A configuration value or file is invalid. One-line message naming the field (and the file, if any)."""


@dataclass(frozen=True)
class Knob:
    """How one setting may vary: its valid range or choices, what it means, and what BOHB searches over."""

    meaning: str
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None
    tune: tuple | None = None       # (low, high) for numbers, a tuple of choices otherwise; None: not searched
    log: bool = False               # searched on a log scale
    when: tuple[str, Any] | None = None  # (other field, value): only matters when the other field has that value
    at_least: str | None = None     # another field this one may not be smaller than
    recipe: bool = False            # part of the fine-tuning recipe every portfolio entry shares (not per dataset)


def knob(default: Any, meaning: str, **declaration: Any) -> Any:
    """A dataclass field with its default and its Knob (see Knob for the keywords)."""
    return dataclasses.field(default=default, metadata={"knob": Knob(meaning, **declaration)})


def knobs(cls_or_config: Any) -> dict[str, tuple[dataclasses.Field, Knob]]:
    return {f.name: (f, f.metadata["knob"]) for f in dataclasses.fields(cls_or_config) if "knob" in f.metadata}


def _kind(field: dataclasses.Field) -> type:
    return type(field.default)


def validate(config: Any) -> None:
    """Check every declared field of `config`; ConfigError (one line) for the first bad one."""
    for name, (field, spec) in knobs(config).items():
        value, kind = getattr(config, name), _kind(field)
        if kind is tuple:
            if not value or any(item not in spec.choices for item in value):
                raise ConfigError(f"{name} must be a non-empty subset of {', '.join(spec.choices)}, not {value!r}")
            continue
        if spec.choices is not None:
            if value not in spec.choices:
                raise ConfigError(f"{name} must be one of {', '.join(map(str, spec.choices))}, not {value!r}")
            continue
        if kind is bool:
            if not isinstance(value, bool):
                raise ConfigError(f"{name} must be true or false, not {value!r}")
            continue
        numeric = isinstance(value, int) if kind is int else isinstance(value, (int, float))
        if isinstance(value, bool) or not numeric:
            raise ConfigError(f"{name} must be {'an integer' if kind is int else 'a number'}, not {value!r}")
        if not spec.low <= value <= spec.high:
            raise ConfigError(f"{name} must lie in [{spec.low:g}, {spec.high:g}], not {value!r}")
        if spec.at_least is not None and value < getattr(config, spec.at_least):
            raise ConfigError(f"{name} ({value}) must be at least {spec.at_least} ({getattr(config, spec.at_least)})")


def from_mapping(cls: type[Config], raw: object) -> Config:
    """Build `cls` from a plain mapping of field names to values; missing fields keep their defaults."""
    if not isinstance(raw, dict):
        raise ConfigError(f"a config must be a mapping of field names to values, not {type(raw).__name__}")
    declared = knobs(cls)
    unknown = sorted(set(raw) - set(declared))
    if unknown:
        raise ConfigError(f"unknown field(s) {', '.join(map(str, unknown))}")
    values = {}
    for name, value in raw.items():
        kind = _kind(declared[name][0])
        if kind is int and isinstance(value, float) and value.is_integer():
            value = int(value)
        elif kind is tuple and isinstance(value, list):
            value = tuple(value)
        values[name] = value
    return cls(**values)


def non_defaults(config: Any) -> dict[str, Any]:
    """The fields whose value differs from the declared default (what a portfolio file needs to hold)."""
    return {name: getattr(config, name) for name, (field, _) in knobs(config).items()
            if getattr(config, name) != field.default}


def recipe_fields(cls_or_config: Any) -> frozenset[str]:
    """The fields declared `recipe=True`."""
    return frozenset(name for name, (_, spec) in knobs(cls_or_config).items() if spec.recipe)


def search_space(cls: type, seed: int = 0, recipe: bool | None = None, only: Collection[str] | None = None):
    """A ConfigSpace space over the fields declared with `tune` (only those whose `recipe` flag is `recipe`, unless
    None; only those named in `only`, unless None), with their conditions and order constraints. ConfigError for a
    name in `only` that is not such a field."""
    import ConfigSpace as CS

    space = CS.ConfigurationSpace(seed=seed)
    declared = knobs(cls)
    tuned = {name: (field, spec) for name, (field, spec) in declared.items()
             if spec.tune is not None and recipe in (None, spec.recipe) and (only is None or name in only)}
    missing = sorted(set(only or ()) - set(tuned))
    if missing:
        raise ConfigError(f"{missing[0]} is not a searchable{' recipe' if recipe else ''} knob")
    for name, (field, spec) in tuned.items():
        kind = _kind(field)
        if kind is tuple:
            space.add(*[CS.CategoricalHyperparameter(f"{name}:{choice}", [True, False],
                                                     default_value=choice in field.default) for choice in spec.tune])
        elif spec.choices is not None or kind is bool:
            default = field.default if field.default in spec.tune else spec.tune[0]
            space.add(CS.CategoricalHyperparameter(name, list(spec.tune), default_value=default))
        else:
            make = CS.UniformIntegerHyperparameter if kind is int else CS.UniformFloatHyperparameter
            low, high = spec.tune
            default = min(max(field.default, low), high)
            space.add(make(name, low, high, log=spec.log, default_value=default))
    for name, (_, spec) in tuned.items():
        if spec.when is not None and spec.when[0] in tuned:
            space.add(CS.EqualsCondition(space[name], space[spec.when[0]], spec.when[1]))
        if spec.at_least is not None and spec.at_least in tuned:
            space.add(CS.ForbiddenGreaterThanRelation(space[spec.at_least], space[name]))
    return space


def from_sample(cls: type[Config], sampled: dict[str, Any], base: Config | None = None) -> Config:
    """A configuration sampled from `search_space(cls)` (inactive conditional fields absent) on top of `base`."""
    values = dataclasses.asdict(base) if base is not None else {}
    plain = {name: value.item() if isinstance(value, np.generic) else value  # ConfigSpace gives numpy
             for name, value in sampled.items()}
    for name, (field, spec) in knobs(cls).items():
        if _kind(field) is tuple and any(key.startswith(f"{name}:") for key in plain):
            chosen = tuple(c for c in spec.choices if plain.pop(f"{name}:{c}", c in field.default))
            values[name] = chosen or spec.choices[:1]
    values.update(plain)
    return from_mapping(cls, values)
