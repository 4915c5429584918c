"""The config choice rules (portfolio.choice) on a small hand-made matrix, and the settings file."""
import json
from pathlib import Path

import pytest

from learner.config import ConfigError
from portfolio.choice import Chooser, ChoiceSettings, load_settings

# Rows: configs tuned on a, b, c (and the generalist); columns: the datasets they run on.
MATRIX = {
    "generalist": {"a": 0.70, "b": 0.70, "c": 0.70, "d": 0.70},
    "a": {"a": 0.90, "b": 0.50, "c": 0.50, "d": 0.60},
    "b": {"a": 0.85, "b": 0.80, "c": 0.60, "d": 0.65},
    "c": {"a": 0.40, "b": 0.60, "c": 0.95, "d": 0.90},
}
CONFIGS = ["a", "b", "c", "generalist"]


def chooser(rule: str = "nearest", **settings) -> Chooser:
    return Chooser(CONFIGS, MATRIX, ChoiceSettings(rule=rule, **settings))


def test_nearest_runs_the_most_probable_datasets_own_config() -> None:
    choice = chooser().choose({"b": 0.2, "a": 0.5, "c": 0.3})
    assert (choice.config, choice.rule) == ("a", "nearest")
    assert [name for name, _ in choice.top] == ["a", "c", "b"]
    assert "config a" in choice.describe() and "a 0.50" in choice.describe()


def test_nearest_without_a_tuned_entry_runs_the_generalist_and_says_why() -> None:
    choice = chooser().choose({"d": 0.6, "a": 0.4})
    assert choice.config == "generalist" and "d has no tuned entry" in choice.note


def test_expected_weighs_the_matrix_by_probability_over_the_top_k() -> None:
    # a is nearest, but b is nearly as good on a and much better on b: 0.5*0.85+0.4*0.80 > 0.5*0.90+0.4*0.50.
    probabilities = {"a": 0.5, "b": 0.4, "c": 0.1}
    assert chooser("nearest").choose(probabilities).config == "a"
    choice = chooser("expected", top_k=2).choose(probabilities)
    assert choice.config == "b"
    assert choice.expected_alc == pytest.approx((0.5 * 0.85 + 0.4 * 0.80) / 0.9)
    # Over all three datasets c's strength on c counts too, but not enough to win.
    assert chooser("expected", top_k=3).choose(probabilities).config == "b"
    assert chooser("expected", top_k=1).choose(probabilities).config == "a"


def test_exclusion_drops_the_left_out_datasets_config_and_column() -> None:
    probabilities = {"a": 0.7, "b": 0.2, "c": 0.1}
    left_out_a = Chooser(CONFIGS, MATRIX, ChoiceSettings(rule="nearest"), exclude=frozenset({"a"}))
    choice = left_out_a.choose(probabilities)
    assert choice.config == "b" and choice.top[0] == ("b", pytest.approx(2 / 3))
    expected = Chooser(CONFIGS, MATRIX, ChoiceSettings(rule="expected"), exclude=frozenset({"b"}))
    # b's config and column are gone: over a (0.6) and c (0.4), a scores 0.74, generalist 0.70, c 0.62.
    choice = expected.choose({"b": 0.9, "a": 0.06, "c": 0.04})
    assert choice.config == "a" and choice.expected_alc == pytest.approx(0.6 * 0.90 + 0.4 * 0.50)
    with pytest.raises(ValueError, match="no probability left"):
        left_out_a.choose({"a": 1.0})


def test_the_prior_is_the_best_mean_config_without_the_left_out_dataset() -> None:
    # Means over a-d: b 0.725 > c 0.7125 > generalist 0.70 > a 0.625.
    prior = chooser("expected").prior()
    assert (prior.config, prior.top) == ("b", []) and prior.expected_alc == pytest.approx(0.725)
    assert "nearest known datasets" not in prior.describe() and "before the fingerprint" in prior.describe()
    # b left out (its config and column): over a, c, d, c scores 0.75, the generalist 0.70, a 0.667.
    left_out_b = Chooser(CONFIGS, MATRIX, ChoiceSettings(rule="expected"), exclude=frozenset({"b"}))
    assert left_out_b.prior().config == "c" and left_out_b.prior().expected_alc == pytest.approx(0.75)
    assert Chooser(CONFIGS, {}, ChoiceSettings(rule="expected")).prior().config == "generalist"


def test_calibrated_falls_back_to_the_best_mean_config_when_unsure() -> None:
    # Means over a..d: b 0.725, c 0.7125, generalist 0.70, a 0.625.
    sure = chooser("calibrated", temperature=1.0, threshold=0.6).choose({"c": 0.8, "a": 0.2})
    assert sure.config == "c" and not sure.note
    unsure = chooser("calibrated", temperature=1.0, threshold=0.6).choose({"c": 0.5, "a": 0.5})
    assert unsure.config == "b" and unsure.expected_alc == pytest.approx(0.725) and "best mean" in unsure.note
    # A temperature above 1 flattens the probabilities: 0.8 / 0.2 becomes unsure.
    flattened = chooser("calibrated", temperature=4.0, threshold=0.6).choose({"c": 0.8, "a": 0.2})
    assert flattened.config == "b"


def test_expected_without_a_matrix_falls_back_to_nearest() -> None:
    choice = Chooser(CONFIGS, {}, ChoiceSettings(rule="expected")).choose({"c": 0.9, "a": 0.1})
    assert choice.config == "c" and "nearest" in choice.note


def test_settings_file_and_its_errors(tmp_path: Path) -> None:
    assert load_settings(tmp_path / "absent.json") == ChoiceSettings()
    path = tmp_path / "choice.json"
    path.write_text(json.dumps({"rule": "expected", "top_k": 2}))
    assert load_settings(path) == ChoiceSettings(rule="expected", top_k=2)
    assert load_settings(path, rule="nearest").rule == "nearest"
    with pytest.raises(ConfigError, match="choice.json: the calibrated rule needs"):
        load_settings(path, rule="calibrated")
    path.write_text(json.dumps({"rule": "best"}))
    with pytest.raises(ConfigError, match="choice.json: rule must be one of"):
        load_settings(path)
    path.write_text(json.dumps({"rule": "nearest", "topk": 2}))
    with pytest.raises(ConfigError, match="choice.json: expected an object"):
        load_settings(path)
    path.write_text(json.dumps({"rule": "nearest", "seed": 1}))
    assert load_settings(path).seed == 1
    path.write_text(json.dumps({"rule": "nearest", "seed": "1"}))
    with pytest.raises(ConfigError, match="choice.json: seed must be a non-negative integer"):
        load_settings(path)


def test_the_environment_names_the_settings_file_and_a_missing_one_is_refused(tmp_path, monkeypatch) -> None:
    from portfolio.choice import CHOICE_FILE_ENV, RULE_ENV, settings_from_environment

    path = tmp_path / "choice.json"
    path.write_text(json.dumps({"rule": "expected", "exclude": ["a"], "classifier_dir": "somewhere"}))
    monkeypatch.setenv(CHOICE_FILE_ENV, str(path))
    monkeypatch.delenv(RULE_ENV, raising=False)
    assert settings_from_environment() == ChoiceSettings(rule="expected", exclude=("a",), classifier_dir="somewhere")
    monkeypatch.setenv(RULE_ENV, "nearest")
    assert settings_from_environment().rule == "nearest"
    monkeypatch.setenv(CHOICE_FILE_ENV, str(tmp_path / "absent.json"))
    with pytest.raises(ConfigError, match="absent.json: no such file"):
        settings_from_environment()
