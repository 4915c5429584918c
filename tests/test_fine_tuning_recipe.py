"""The shared fine-tuning recipe: portfolio/fine_tuning.json lies beneath every config loaded by portfolio name
(defaults <- recipe <- the entry's own knobs), a config file path loads as written, knobs of the wrong kind are
refused naming the file and field, no file means today's configs; and the recipe search for real and tiny: BOHB
with a name server and two worker processes over two recipe knobs, each evaluation the mean ALC of model.py on two
datasets, then `write` and load_config of a portfolio name showing the written values."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

import learner.config
from learner.config import (RECIPE_FILE, TUNING_RECORD, ConfigError, LearnerConfig, config_from_dict, load_config,
                            read_recipe)
from portfolio.entries import portfolio_configs
from tests import REPO_ROOT
from tests.learner_datasets import colour_variable_sets, digits_sets, write


def _portfolio(root, entries: dict, recipe: dict | None = None):
    root.mkdir(parents=True, exist_ok=True)
    for name, fields in entries.items():
        (root / f"{name}.json").write_text(json.dumps(fields))
    if recipe is not None:
        (root / RECIPE_FILE).write_text(json.dumps(recipe))
    return root


def test_without_a_recipe_file_every_portfolio_name_loads_as_today(tmp_path, monkeypatch):
    shipped = [path for path in learner.config.PORTFOLIO_DIR.glob("*.json") if path.name != RECIPE_FILE]
    for path in shipped:
        shutil.copy(path, tmp_path)
    monkeypatch.setattr(learner.config, "PORTFOLIO_DIR", tmp_path)
    entries = portfolio_configs(tmp_path)
    assert len(entries) > 20
    for recipe in (None, {}):  # no file, or an empty one: the declared defaults beneath every entry
        if recipe is not None:
            (tmp_path / RECIPE_FILE).write_text(json.dumps(recipe))
        assert load_config() == LearnerConfig()
        for name, fields in entries.items():
            assert load_config(name) == config_from_dict(fields), name


def test_the_recipe_lies_beneath_a_name_and_not_beneath_a_path(tmp_path, monkeypatch):
    record = {TUNING_RECORD: {"dataset": "x"}}
    portfolio = _portfolio(tmp_path, {"generalist": {}, "plain": {"side": 48, **record},
                                      "lite2": {"backbone": "efficientnet_lite2", "side": 40, **record}},
                           {"all": {"lr": 0.001, "dropout": 0.2, TUNING_RECORD: {"mean_alc": 0.5}},
                            "efficientnet_lite2": {"lr": 0.0005}})
    monkeypatch.setattr(learner.config, "PORTFOLIO_DIR", portfolio)
    assert (load_config().lr, load_config().dropout) == (0.001, 0.2)
    lite2 = load_config("lite2")
    assert (lite2.lr, lite2.dropout, lite2.side, lite2.backbone) == (0.0005, 0.2, 40, "efficientnet_lite2")
    assert (load_config("plain").lr, load_config("plain").side) == (0.001, 48)
    assert load_config(str(portfolio / "lite2.json")) == LearnerConfig(backbone="efficientnet_lite2", side=40)
    assert set(portfolio_configs(portfolio)) == {"generalist", "lite2", "plain"}  # the recipe is not an entry
    assert read_recipe(portfolio / RECIPE_FILE)["all"] == {"lr": 0.001, "dropout": 0.2}


@pytest.mark.parametrize("entry, recipe, message", [
    ({"side": 40, "lr": 0.01}, {}, r"entry\.json: lr is a fine-tuning recipe knob"),
    ({"side": 40}, {"all": {"side": 32}}, r"fine_tuning\.json: all\.side is a per-dataset knob"),
    ({"side": 40}, {"all": {"learning_rate": 0.1}}, r"fine_tuning\.json: all\.learning_rate is not a knob"),
    ({"side": 40}, {"vgg16": {"lr": 0.1}}, r"fine_tuning\.json: section vgg16 is neither all nor a backbone"),
    ({"side": 40}, {"all": [1]}, r"fine_tuning\.json: section all must map knobs to values"),
    ({"side": 40}, {"all": {"lr": 5.0}}, r"entry\.json \(with .*fine_tuning\.json\): lr must lie in"),
])
def test_knobs_of_the_wrong_kind_name_the_file_and_field(tmp_path, monkeypatch, entry, recipe, message):
    portfolio = _portfolio(tmp_path, {"entry": entry}, recipe)
    monkeypatch.setattr(learner.config, "PORTFOLIO_DIR", portfolio)
    with pytest.raises(ConfigError, match=message):
        load_config("entry")


def test_the_recipe_file_is_not_a_config(tmp_path, monkeypatch):
    monkeypatch.setattr(learner.config, "PORTFOLIO_DIR", _portfolio(tmp_path, {}, {"all": {"lr": 0.001}}))
    with pytest.raises(ConfigError, match="the fine-tuning recipe, not a config"):
        load_config("fine_tuning")


def _recipe(tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "portfolio.offline.recipe", *args,
                           "--searches", str(tmp_path / "searches")], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=600)


def test_tiny_recipe_search_writes_a_recipe_that_portfolio_names_load(tmp_path, monkeypatch):
    tuning_root = tmp_path / "tune"
    write(digits_sets(300, 150), tuning_root, "digits")
    write(colour_variable_sets(np.random.default_rng(0), 90, 60), tuning_root, "colours")
    record = {TUNING_RECORD: {"dataset": "x"}}
    portfolio = _portfolio(tmp_path / "portfolio", {"generalist": {}, "digits": {"side": 32, **record},
                                                    "colours": {"side": 32, "pixel_side": 8, **record}},
                           {"all": {"warmup_steps": 5}})  # a recipe knob not searched: beneath every evaluation
    places = ("--portfolio_dir", str(portfolio))
    run = ("run", "--datasets", "digits", "colours", "--knobs", "lr", "dropout", "--workers", "2",
           "--min_budget", "4", "--max_budget", "4", "--n_iterations", "2", *places,
           "--work_dir", str(tmp_path / "runs"), "--tuning_root", str(tuning_root))
    first = _recipe(tmp_path, *run)
    assert first.returncode == 0, first.stdout + first.stderr

    status = _recipe(tmp_path, "status")
    assert status.returncode == 0, status.stderr
    assert "knobs lr, dropout" in status.stdout and "iterations 2 / 2, evaluations 2 (0 crashed)" in status.stdout
    assert "1.0 per searched knob" in status.stdout and "best mean ALC 0." in status.stdout
    configs = [json.loads(path.read_text()) for path in (tmp_path / "runs" / "all").glob("*/config.json")]
    assert len(configs) == 4 and all(c["warmup_steps"] == 5 and c["side"] == 32 and "lr" in c for c in configs)

    # The best again and the standing recipe (the file's: only warmup_steps), both at learner seed 1.
    again = _recipe(tmp_path, "recheck", "--seed", "1", *places, "--work_dir", str(tmp_path / "runs"),
                    "--tuning_root", str(tuning_root))
    assert again.returncode == 0, again.stdout + again.stderr
    rechecked = json.loads((tmp_path / "searches" / "all" / "recheck_seed1.json").read_text())
    assert set(rechecked["searched"]["recipe"]) == {"lr", "dropout"} and rechecked["standing"]["recipe"] == {}
    assert all(0 < rechecked[label]["mean_alc"] <= 1 and set(rechecked[label]["alc"]) == {"digits", "colours"}
               for label in ("searched", "standing"))
    for label in ("searched", "standing"):
        runs = [json.loads(path.read_text()) for path in
                (tmp_path / "runs" / "all").glob(f"recheck_seed1_{label}_*/config.json")]
        assert len(runs) == 2 and all(c["seed"] == 1 and c["warmup_steps"] == 5 for c in runs)
        assert all(("lr" in c) == (label == "searched") for c in runs)

    other = _recipe(tmp_path, *run[:6], "lr", *run[8:])  # the same log with other knobs is refused
    assert other.returncode == 2 and "resume with those datasets and knobs" in other.stderr

    written = _recipe(tmp_path, "write", *places)
    assert written.returncode == 0, written.stderr
    section = json.loads((portfolio / RECIPE_FILE).read_text())["all"]
    assert section[TUNING_RECORD]["datasets"] == ["digits", "colours"] and section[TUNING_RECORD]["evaluations"] == 2
    assert 0 < section[TUNING_RECORD]["mean_alc"] <= 1 and section["warmup_steps"] == 5
    monkeypatch.setattr(learner.config, "PORTFOLIO_DIR", portfolio)
    digits = load_config("digits")
    assert (digits.lr, digits.dropout, digits.warmup_steps, digits.side) == (section["lr"], section["dropout"], 5, 32)


def test_a_dataset_without_a_tuned_entry_is_refused(tmp_path):
    portfolio = _portfolio(tmp_path / "portfolio", {"generalist": {}})
    refused = _recipe(tmp_path, "run", "--datasets", "digits", "--portfolio_dir", str(portfolio))
    assert refused.returncode == 2 and "no tuned portfolio entry for dataset digits" in refused.stderr
