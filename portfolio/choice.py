"""Which portfolio config to run on a new dataset, from the meta-classifier's probabilities over the known datasets.

Three rules (`RULES`):
- `nearest` (the design paper's): the most probable known dataset's own config; the generalist when that dataset
  has no tuned entry.
- `expected`: for every config, its ALCs in the performance matrix on the `top_k` most probable datasets,
  weighted by their probabilities (renormalised); the config with the highest expected ALC.
- `calibrated`: `nearest` when the calibrated top probability reaches `threshold`, else the config with the best
  mean ALC over all datasets. Calibration (a softmax temperature on the log-probabilities) and the threshold come
  from leave-one-dataset-out, in the choice settings file; the rule refuses to run without them.

`exclude` removes known datasets from the choice (leave-one-dataset-out: the left-out dataset's own config and its
matrix column); its probability mass is dropped and the rest renormalised. The settings file can name it, with the
classifier to use (`classifier_dir`, one trained without those datasets), and a `seed` for the run's learners:
that is how the leave-one-dataset-out benchmark (portfolio.offline.lodo, scripts.benchmark) runs the real model.py through
AUTODL_CHOICE_FILE.

The matrix the rules read is a Chooser's `matrix`: the run's stage 4 reads the matrices at the run's effective
budget (`at_budget`; portfolio.entries.BudgetMatrices.at interpolates in log T, portfolio.speed makes the budget),
the prior at the smallest measured one (`load`). The rules that read it (`expected`, the best-mean fallback of
`calibrated`, the prior) choose among the configs that have a row in it: between two measured budgets, only those
measured at both. `nearest` reads no matrix and chooses among the whole portfolio at any budget.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from learner.config import DEFAULT_CONFIG, PORTFOLIO_DIR, ConfigError
from portfolio.entries import BudgetMatrices, Matrix, portfolio_configs

RULES = ("nearest", "expected", "calibrated")
CHOICE_FILE = PORTFOLIO_DIR / "choice.json"  # the Model's default rule and its calibrated parameters
RULE_ENV = "AUTODL_CHOICE_RULE"  # overrides the file's rule
CHOICE_FILE_ENV = "AUTODL_CHOICE_FILE"  # another settings file (the benchmark's leave-one-dataset-out runs)


@dataclass(frozen=True)
class ChoiceSettings:
    rule: str = "nearest"
    top_k: int = 3                   # `expected`: datasets averaged over
    temperature: float | None = None  # `calibrated`: probabilities ** (1 / temperature), renormalised
    threshold: float | None = None    # `calibrated`: below this top probability, the best mean config
    exclude: tuple[str, ...] = ()     # known datasets left out of the choice (leave-one-dataset-out)
    classifier_dir: str | None = None  # meta-classifier artefacts to use instead of the shipped ones
    seed: int | None = None           # the learner seed of the whole run (first and chosen config); None: their own

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ConfigError(f"rule must be one of {', '.join(RULES)}, not {self.rule!r}")
        if self.top_k < 1:
            raise ConfigError(f"top_k must be at least 1, not {self.top_k}")
        if self.seed is not None and (type(self.seed) is not int or self.seed < 0):
            raise ConfigError(f"seed must be a non-negative integer, not {self.seed!r}")
        if self.rule == "calibrated" and (self.temperature is None or self.threshold is None):
            raise ConfigError("the calibrated rule needs temperature and threshold (fitted on leave-one-dataset-out)")


def load_settings(path: Path = CHOICE_FILE, rule: str | None = None) -> ChoiceSettings:
    """The choice settings file (defaults when absent); `rule` overrides its rule."""
    raw = json.loads(path.read_text()) if path.exists() else {}
    fields = {"rule", "top_k", "temperature", "threshold", "exclude", "classifier_dir", "seed"}
    if not isinstance(raw, dict) or set(raw) - fields - {"fitted_with"}:
        raise ConfigError(f"{path}: expected an object with some of {', '.join(sorted(fields))} (and fitted_with)")
    raw.pop("fitted_with", None)
    raw["exclude"] = tuple(raw.get("exclude", ()))
    if rule is not None:
        raw["rule"] = rule
    try:
        return ChoiceSettings(**raw)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


def settings_from_environment() -> ChoiceSettings:
    """The Model's settings: the file AUTODL_CHOICE_FILE names (it must exist), else the shipped one; the rule
    AUTODL_CHOICE_RULE names overrides the file's."""
    named = os.environ.get(CHOICE_FILE_ENV)
    if named and not Path(named).is_file():
        raise ConfigError(f"{CHOICE_FILE_ENV}={named}: no such file")
    return load_settings(Path(named) if named else CHOICE_FILE, rule=os.environ.get(RULE_ENV) or None)


@dataclass(frozen=True)
class Choice:
    config: str                          # a portfolio name
    rule: str
    top: list[tuple[str, float]]         # the three most probable known datasets (after exclusion)
    expected_alc: float | None = None    # the matrix's estimate for the chosen config, where the rule uses it
    note: str = ""                       # why, when the rule fell back

    def describe(self) -> str:
        top = ", ".join(f"{name} {p:.2f}" for name, p in self.top)
        alc = "" if self.expected_alc is None else f", expected ALC {self.expected_alc:.4f}"
        return f"rule {self.rule}: config {self.config}{alc}" + (f" | nearest known datasets: {top}" if top else "") + (
            f" | {self.note}" if self.note else "")


@dataclass
class Chooser:
    configs: list[str]                   # portfolio names: the generalist and the tuned entries
    matrix: Matrix                       # config -> dataset -> ALC (may be empty)
    settings: ChoiceSettings = field(default_factory=ChoiceSettings)
    exclude: frozenset[str] = frozenset()

    @classmethod
    def load(cls, settings: ChoiceSettings | None = None, portfolio_dir: Path = PORTFOLIO_DIR,
             matrices: BudgetMatrices | None = None) -> Chooser:
        """The portfolio's chooser, reading its matrices (default: those in `portfolio_dir`) at the smallest
        measured budget: the prior is chosen there, since the start decides the first seconds, which is what the
        short-budget matrix measures. `at_budget` reads them at the run's budget."""
        settings = settings or load_settings()
        matrices = matrices if matrices is not None else BudgetMatrices.load(portfolio_dir)
        matrix = matrices.at(matrices.budgets[0]) if matrices.budgets else {}
        return cls(sorted(portfolio_configs(portfolio_dir)), matrix, settings, frozenset(settings.exclude))

    def at_budget(self, matrices: BudgetMatrices, budget: float) -> Chooser:
        """This chooser reading `matrices` at `budget` (BudgetMatrices.at: interpolated in log T)."""
        return replace(self, matrix=matrices.at(budget))

    def choose(self, probabilities: dict[str, float]) -> Choice:
        probs = {name: p for name, p in probabilities.items() if name not in self.exclude}
        total = sum(probs.values())
        if total <= 0:
            raise ValueError("no probability left after the exclusions")
        probs = dict(sorted(((name, p / total) for name, p in probs.items()), key=lambda item: -item[1]))
        top = list(probs.items())[:3]
        rule = self.settings.rule
        if rule == "expected":
            return self._expected(probs, top)
        if rule == "calibrated":
            calibrated = _sharpen(probs, self.settings.temperature)
            if max(calibrated.values()) < self.settings.threshold:
                return self._best_mean(top, f"calibrated top probability {max(calibrated.values()):.2f} < "
                                            f"{self.settings.threshold:.2f}")
        return self._nearest(probs, top)

    def prior(self) -> Choice:
        """The choice before any fingerprint (every known dataset equally likely): the config with the best mean
        ALC over the matrix, which `expected` reduces to under a uniform prior. The run starts with it."""
        return self._best_mean([], "before the fingerprint")

    # ------------------------------------------------------------------ rules
    def _candidates(self) -> list[str]:
        return [name for name in self.configs if name not in self.exclude]

    def _nearest(self, probs: dict[str, float], top: list[tuple[str, float]]) -> Choice:
        nearest = next(iter(probs))
        if nearest in self._candidates():
            return Choice(nearest, self.settings.rule, top)
        return Choice(DEFAULT_CONFIG, self.settings.rule, top, note=f"{nearest} has no tuned entry")

    def _expected(self, probs: dict[str, float], top: list[tuple[str, float]]) -> Choice:
        datasets = [name for name in probs if self._column_complete(name)][:self.settings.top_k]
        if not datasets:
            choice = self._nearest(probs, top)
            return Choice(choice.config, "expected", top, note="no matrix column for the nearest datasets: nearest")
        weights = np.array([probs[name] for name in datasets])
        weights = weights / weights.sum() if weights.sum() > 0 else np.full(len(weights), 1 / len(weights))
        scores = {config: float(weights @ [self.matrix[config][name] for name in datasets])
                  for config in self._rows()}
        best = max(scores, key=scores.get)
        return Choice(best, "expected", top, scores[best])

    def _best_mean(self, top: list[tuple[str, float]], why: str) -> Choice:
        datasets = [name for name in self._columns() if self._column_complete(name)]
        if not datasets:
            return Choice(DEFAULT_CONFIG, self.settings.rule, top, note=f"{why}; no matrix: generalist")
        means = {config: float(np.mean([self.matrix[config][name] for name in datasets])) for config in self._rows()}
        best = max(means, key=means.get)
        return Choice(best, self.settings.rule, top, means[best], note=f"{why}: best mean config")

    def _rows(self) -> list[str]:
        return [config for config in self._candidates() if config in self.matrix]

    def _columns(self) -> list[str]:
        return sorted({name for row in self.matrix.values() for name in row} - self.exclude)

    def _column_complete(self, dataset: str) -> bool:
        rows = self._rows()
        return bool(rows) and all(dataset in self.matrix[config] for config in rows)


def _sharpen(probs: dict[str, float], temperature: float) -> dict[str, float]:
    """Temperature scaling of probabilities (a softmax of log p / temperature)."""
    logs = np.log(np.maximum(np.array(list(probs.values())), 1e-12)) / temperature
    scaled = np.exp(logs - logs.max())
    return dict(zip(probs, scaled / scaled.sum()))
