"""model.Model end to end on real small TFRecords, with the real EfficientNet-Lite0 (at low resolution)."""
import json
import time

import numpy as np
import pytest
import torch

from autodl_format.frameworks import tf
from autodl_format.reader import load_task
from learner.best import Result
from learner.validation import nauc
from model import Model
from tests.learner_datasets import (brightness_clip_sets, colour_variable_sets, digits_sets, large_image_sets,
                                    many_class_sets, metadata_without_files, multilabel_sets, one_per_class_sets,
                                    write)

SMALL = {"side": 48, "max_side": 48, "batch_size": 16, "first_fit_samples": 96,
         "max_train_samples": 600, "min_prediction_gap_s": 0.5}


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return tmp_path_factory.mktemp("learner_model")


@pytest.fixture(scope="module")
def digits_task(data_root):
    return load_task(write(digits_sets(400, 120), data_root, "digits"))


def small_config(root, name="small", **changes) -> str:
    path = root / f"{name}.json"
    path.write_text(json.dumps({**SMALL, **changes}))
    return str(path)


def run_like_ingestion(model, task, budget: float) -> tuple[list[tuple[float, np.ndarray]], float]:
    """The ingestion loop: train/test with remaining = start + budget - now, until done_training."""
    start = time.monotonic()
    predictions, latest_return = [], 0.0
    while not model.done_training and time.monotonic() - start < budget:
        model.train(task.train.get_dataset(), remaining_time_budget=start + budget - time.monotonic())
        latest_return = time.monotonic() - start
        prediction = model.test(task.test.get_dataset(), remaining_time_budget=start + budget - time.monotonic())
        latest_return = time.monotonic() - start
        predictions.append((latest_return, prediction))
    return predictions, latest_return


def test_first_prediction_comes_from_a_subset_and_learns(digits_task, data_root):
    model = Model(digits_task.train.get_metadata(), config=small_config(data_root))
    model.train(digits_task.train.get_dataset(), remaining_time_budget=300)
    reader = model.learner.run.feed.train_early
    assert reader.store.count <= SMALL["first_fit_samples"] and not reader.exhausted  # no full pass first
    prediction = model.test(digits_task.test.get_dataset(), remaining_time_budget=290)
    solution = np.loadtxt(digits_task.solution_path)
    assert prediction.shape == solution.shape and np.isfinite(prediction).all()
    assert (prediction.std(axis=0) > 0).all()  # no constant column
    assert nauc(solution, prediction) > 0.6  # frozen ImageNet features + ridge on 86 digits: far above chance (0)


def test_time_budget_is_respected_and_predictions_are_made(digits_task, data_root):
    budget = 25.0
    model = Model(digits_task.train.get_metadata(), config=small_config(data_root))
    predictions, latest_return = run_like_ingestion(model, digits_task, budget)
    assert model.done_training
    assert latest_return < budget  # every call returned within the given budget
    assert len(predictions) >= 2
    solution = np.loadtxt(digits_task.solution_path)
    assert nauc(solution, predictions[-1][1]) > 0.6


def test_predict_only_at_the_end_variant(digits_task, data_root):
    budget = 20.0
    model = Model(digits_task.train.get_metadata(),
                  config=small_config(data_root, "late", early_predictions=False))
    predictions, latest_return = run_like_ingestion(model, digits_task, budget)
    assert latest_return < budget and model.done_training
    assert model.learner.predictor.count_ == 1  # one real prediction, made at the end
    assert predictions[-1][1].shape == (120, 10)


def test_a_failing_train_call_keeps_the_last_good_prediction(digits_task, data_root):
    # The train data turn corrupt after the first 200 records: the first calls (96 records) work, the call
    # that reads on hits the corrupt part.
    good = digits_task.train.get_dataset()
    corrupt = good.skip(200).map(lambda x, y: (tf.debugging.assert_all_finite(x * np.nan, "corrupt record"), y))
    dataset = good.take(200).concatenate(corrupt)
    # Without usable files the learner reads the dataset it is given (with them it would never see the corruption).
    model = Model(metadata_without_files(digits_task, data_root), config=small_config(data_root))
    last_good = None
    for call in range(4):
        model.train(dataset, remaining_time_budget=200 - call)
        if model.failed_train_calls:
            break
        last_good = model.test(digits_task.test.get_dataset(), remaining_time_budget=199 - call)
    assert model.failed_train_calls == 1 and last_good is not None
    again = model.test(digits_task.test.get_dataset(), remaining_time_budget=150)
    np.testing.assert_array_equal(again, last_good)


def test_one_example_per_class_and_a_larger_test_set(data_root):
    task = load_task(write(one_per_class_sets(5, 60), data_root, "tiny"))
    model = Model(task.train.get_metadata(), config=small_config(data_root))
    predictions, latest_return = run_like_ingestion(model, task, 12.0)
    assert latest_return < 12.0 and model.failed_train_calls == 0
    assert len(model.learner.run.val_index) == 0  # no validation possible: predictions follow the time grid
    final = predictions[-1][1]
    assert final.shape == (60, 5) and np.isfinite(final).all()


def test_graph_mode_datasets_as_the_platform_passes_them(digits_task, data_root):
    with tf.Graph().as_default():  # TF1-style datasets, read through a Session inside the learner
        train, test = digits_task.train.get_dataset(), digits_task.test.get_dataset()
    model = Model(metadata_without_files(digits_task, data_root), config=small_config(data_root))  # read these
    model.train(train, remaining_time_budget=100)
    prediction = model.test(test, remaining_time_budget=95)
    assert model.failed_train_calls == 0 and prediction.shape == (120, 10)
    assert nauc(np.loadtxt(digits_task.solution_path), prediction) > 0.6


def test_a_plateau_raises_the_resolution_and_predictions_use_the_side_their_weights_won_at(digits_task, data_root):
    # lr 0.5 wrecks the fine-tuned weights: validation never beats the ridge start, so the plateau comes fast.
    config = small_config(data_root, "progressive", side=32, max_side=48, lr=0.5, patience=1, max_lr_cuts=1)
    model = Model(digits_task.train.get_metadata(), config=config)
    run = model.learner.run
    assert run.feed.store_side == 8  # digits are 8x8: stored as they are, upscaled on the device
    predictions, latest_return = run_like_ingestion(model, digits_task, 40.0)
    assert latest_return < 40.0 and model.failed_train_calls == 0
    assert run.side == 48  # raised on the plateau
    assert run.best.network.side == 32 and run.trainer.lr_cuts == 1  # the raise did not pay; the lr cut came next
    solution = np.loadtxt(digits_task.solution_path)
    assert nauc(solution, predictions[-1][1]) > 0.6  # still the best prediction made at 32 px


def test_restarts_go_back_to_the_networks_own_best_while_a_ridge_head_is_still_better(digits_task, data_root):
    model = Model(digits_task.train.get_metadata(), config=small_config(data_root))
    for _ in range(2):  # the pixel head, then the feature head
        model.train(digits_task.train.get_dataset(), remaining_time_budget=100)
        model.test(digits_task.test.get_dataset(), remaining_time_budget=95)
    schedule, best, net = model.learner.fine_tuning, model.learner.run.best, model.learner.run.net
    assert schedule.load_data()
    best.result = Result(2.0, 0.0)  # as if a ridge head were better than anything the net does
    best.network.result = Result()
    assert not schedule.evaluate() and best.pending is None  # not a new prediction ...
    assert best.network.plateau == 0 and np.isfinite(best.network.result.score)  # ... but the network's best so far
    kept = net.head.weight.detach().clone()
    with torch.no_grad():
        net.head.weight.zero_()  # worse weights: the restart must bring back the kept copy
    assert not schedule.evaluate() and best.network.plateau == 1
    schedule.restart_from_best()
    torch.testing.assert_close(net.head.weight, kept)


ODD_DATA = {  # kind: (train/test sets from a seeded rng, image encoding, config changes)
    "video": (lambda rng: brightness_clip_sets(rng, 60, 20), "png", {}),
    "multilabel": (lambda rng: multilabel_sets(rng, 120, 40), "png", {}),
    "variable_size_colour": (lambda rng: colour_variable_sets(rng, 90, 30), "png", {}),
    "1000x1000": (lambda rng: large_image_sets(rng, 24, 9), "jpeg", {}),
    # Two examples per class: the first heads must see them all to know every class.
    "1000_classes": (lambda rng: many_class_sets(rng, 1000), "png",
                     {"max_train_samples": 2000, "first_fit_samples": 2000}),
}


@pytest.mark.parametrize("kind", sorted(ODD_DATA))
def test_odd_data_gets_learned_predictions_within_the_budget(kind, data_root):
    make_sets, encoding, changes = ODD_DATA[kind]
    task = load_task(write(make_sets(np.random.default_rng(0)), data_root, kind, encoding=encoding))
    model = Model(task.train.get_metadata(), config=small_config(data_root, kind, **changes))
    predictions, latest_return = run_like_ingestion(model, task, 15.0)
    assert latest_return < 15.0 and model.failed_train_calls == 0
    solution = np.loadtxt(task.solution_path)
    final = predictions[-1][1]
    assert final.shape == solution.shape and np.isfinite(final).all()
    assert nauc(solution, final) > 0.5  # each set is learnable: far above chance (0)
    assert model.learner.run.multilabel == (kind == "multilabel")


def test_after_a_switch_the_new_config_predicts_only_what_beats_the_standing_prediction(digits_task, data_root):
    """After a switch of config (stage 4) the new config's heads compete with the prediction that stands, on the same
    validation examples: a better pixel head is predicted at once (it is not held back as an unpredicted baseline),
    an equal one is not."""
    from learner.best import Source
    from learner.config import load_config
    from learner.pipeline import Learner

    metadata = digits_task.train.get_metadata()
    train, test = digits_task.train.get_dataset, digits_task.test.get_dataset
    learner = Learner(metadata, load_config(small_config(data_root, "coarse", pixel_side=2)))
    learner.train(train(), remaining_time_budget=300)
    standing = learner.test(test(), remaining_time_budget=290)
    assert learner.predictor.count_ == 1

    coarse_best, coarse_validation = learner.run.best, learner.run.val_index
    # Another seed would draw another validation split: the switch keeps the standing prediction's examples.
    learner.switch_to(load_config(small_config(data_root, "finer", pixel_side=16, seed=5)))
    assert learner.run.best.result == coarse_best.result  # the standing prediction's validation is the bar
    learner.train(train(), remaining_time_budget=280)
    assert np.array_equal(learner.run.val_index, coarse_validation)
    assert learner.run.best.pending is Source.PIXELS  # 16 px beats 2 px on digits: predicted right away
    assert learner.run.best.result.score > coarse_best.result.score
    prediction = learner.test(test(), remaining_time_budget=270)
    assert learner.predictor.count_ == 2 and not np.array_equal(prediction, standing)

    finer_pixels = learner.run.best.heads[Source.PIXELS]
    learner.switch_to(load_config(small_config(data_root, "finer", pixel_side=16, seed=5)))
    learner.train(train(), remaining_time_budget=260)
    assert learner.run.best.heads[Source.PIXELS] == finer_pixels  # the same head again
    assert learner.run.best.pending is not Source.PIXELS  # a tie is not predicted twice


def test_a_stop_for_time_with_much_of_the_budget_left_says_why(digits_task, data_root):
    """Training that stops for time with more than a tenth of the budget left names the costs that stop it."""
    from learner.config import load_config
    from learner.pipeline import Learner

    learner = Learner(digits_task.train.get_metadata(), load_config(small_config(data_root)))
    learner.train(digits_task.train.get_dataset(), remaining_time_budget=100)  # the first read and pixel head
    learner.test(digits_task.test.get_dataset(), remaining_time_budget=99)  # the test set read: its pass is timed
    fine_tuning = learner.fine_tuning
    learner.run.clock.update(50.0)  # half the budget left
    why = fine_tuning._why_stop_now()
    assert why.startswith("time nearly spent: 50.0s left, but one more step") or why.startswith(
        "time nearly spent: 49.9s left, but one more step"), why
    assert all(part in why for part in ("test pass", "validation passes", "a step", "margin")), why
    learner.run.clock.update(5.0)  # a twentieth left: nothing to explain
    assert fine_tuning._why_stop_now() == "time nearly spent"
