"""learner.config: the generalist loads, every range is enforced, errors name the file and the field."""
import json
from dataclasses import dataclass

import pytest

from learner.config import (CONFIG_ENV, PORTFOLIO_DIR, TUNING_RECORD, ConfigError, LearnerConfig, config_from_dict,
                            load_config)
from learner.knobs import from_mapping, from_sample, knob, search_space


def test_portfolio_files_hold_only_what_differs_from_the_defaults():
    from portfolio.entries import portfolio_configs  # which portfolio files are configs (not choice.json)

    names = portfolio_configs()
    assert "generalist" in names and len(names) > 1
    for path in (PORTFOLIO_DIR / f"{name}.json" for name in names):
        raw = json.loads(path.read_text())
        raw.pop(TUNING_RECORD, None)  # a tuned entry's provenance, not a setting
        config = load_config(str(path))
        assert config.to_dict() == raw, path  # nothing repeats a default
    assert load_config(str(PORTFOLIO_DIR / "generalist.json")) == LearnerConfig()  # the declared defaults (by
    # name it also gets the fine-tuning recipe: tests/test_fine_tuning_recipe.py)


@dataclass(frozen=True)
class _WithOneMoreKnob(LearnerConfig):
    label_smoothing: float = knob(0.0, "a knob added in one place", low=0.0, high=0.5, tune=(0.0, 0.2))


def test_a_field_declared_once_is_validated_loadable_and_tunable():
    with pytest.raises(ConfigError, match=r"label_smoothing must lie in \[0, 0.5\]"):
        _WithOneMoreKnob(label_smoothing=0.7)
    assert from_mapping(_WithOneMoreKnob, {"label_smoothing": 0.1, "lr": 0.001}).label_smoothing == 0.1
    space = search_space(_WithOneMoreKnob)
    assert space["label_smoothing"].lower == 0.0 and space["label_smoothing"].upper == 0.2
    assert from_sample(_WithOneMoreKnob, dict(space.sample_configuration())).label_smoothing <= 0.2


def test_search_space_round_trip_conditions_and_order():
    space = search_space(LearnerConfig, seed=3)
    assert {"backbone", "lr", "batch_size", "optimizer", "sgd_momentum", "side", "max_side"} <= set(space)
    assert "max_train_samples" not in space  # declared without a search range: not tuned
    assert list(space["temporal_model"].choices) == ["mean", "conv"]
    seen_sgd = seen_adam = False
    for sampled in space.sample_configuration(200):
        values = dict(sampled)
        config = from_sample(LearnerConfig, values)  # every sample is a valid config
        assert config.max_side >= config.side and config.video_frames >= config.video_frames_early
        assert ("sgd_momentum" in values) == (values["optimizer"] == "sgd")  # only under SGD
        seen_sgd |= values["optimizer"] == "sgd"
        seen_adam |= values["optimizer"] == "adam"
        assert from_mapping(LearnerConfig, json.loads(json.dumps(config.to_dict()))) == config  # file round trip
    assert seen_sgd and seen_adam


@pytest.mark.parametrize("field, value", [
    ("lr", 0.6), ("lr", 1e-6), ("batch_size", 8), ("batch_size", 256), ("dropout", 0.0), ("dropout", 1.0),
    ("freeze_fraction", 1.5), ("augmentation", 3), ("side", 8), ("video_frames", 0),
    ("temporal_model", "lstm"), ("video_frames_early", 65),
    ("backbone", "vgg16"), ("optimizer", "rmsprop"), ("batch_size", 32.5), ("early_predictions", "yes"),
    ("prediction_growth", 1.0), ("max_train_samples", 0),
])
def test_out_of_range_values_are_rejected_with_the_field_name(field, value):
    with pytest.raises(ConfigError, match=field):
        config_from_dict({field: value})


def test_unknown_fields_are_errors_and_integral_floats_are_accepted():
    with pytest.raises(ConfigError, match="unknown field.*learning_rate"):
        config_from_dict({"learning_rate": 0.1})
    assert config_from_dict({"batch_size": 32.0}).batch_size == 32


def test_bad_file_errors_name_the_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"lr": 2.0}')
    with pytest.raises(ConfigError, match=r"broken\.json: lr must lie in"):
        load_config(str(path))
    path.write_text("{not json")
    with pytest.raises(ConfigError, match=r"broken\.json: cannot read config"):
        load_config(str(path))
    with pytest.raises(ConfigError, match="config file not found"):
        load_config("no_such_portfolio_member")


def test_env_var_selects_another_config(tmp_path, monkeypatch):
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"optimizer": "adam", "lr": 0.001}))
    monkeypatch.setenv(CONFIG_ENV, str(path))
    config = load_config()
    assert (config.optimizer, config.lr, config.batch_size) == ("adam", 0.001, LearnerConfig().batch_size)


def test_yaml_configs_load_like_json(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text("# a portfolio member\nlr: 0.001\noptimizer: sgd\nside: 32\nmax_side: 32\n")
    config = load_config(str(path))
    assert (config.lr, config.optimizer, config.side, config.max_side) == (0.001, "sgd", 32, 32)
    path.write_text("lr: [unclosed")
    with pytest.raises(ConfigError, match=r"small\.yaml: cannot read config"):
        load_config(str(path))
    path.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match=r"small\.yaml: a config must be a mapping"):
        load_config(str(path))


def test_max_side_below_side_is_explained():
    with pytest.raises(ConfigError, match="max_side .* at least side"):
        config_from_dict({"side": 160})
    assert config_from_dict({"side": 160, "max_side": 160}).max_side == 160


def test_tuned_entries_share_the_fine_tuning_recipe():
    """Per-dataset searches tune what decides the first seconds; the recipe knobs are every entry's own defaults."""
    from learner.knobs import recipe_fields
    from portfolio.entries import portfolio_configs
    from portfolio.offline.space import learner_space, per_dataset_fields

    recipe = recipe_fields(LearnerConfig)
    assert {"lr", "optimizer", "freeze_fraction", "adapt_batchnorm", "dropout", "batch_size"} <= recipe
    searched = {name.split(":")[0] for name in learner_space().keys()}
    assert searched and not searched & recipe
    assert {"backbone", "side", "pixel_side"} <= searched
    tuned = {name: fields for name, fields in portfolio_configs().items() if name != "generalist"}
    assert len(tuned) >= 20 and all(not set(fields) & recipe for fields in tuned.values())
    old_style = LearnerConfig(backbone="efficientnet_lite2", lr=1.2e-5, dropout=0.88)  # a search logged before
    assert per_dataset_fields(old_style) == {"backbone": "efficientnet_lite2"}
