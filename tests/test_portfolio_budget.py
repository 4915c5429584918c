"""Choice by budget: the performance matrices read at the run's budget (portfolio.entries.BudgetMatrices, from real
CSV files and sidecars), the effective budget from the run's measured speed (portfolio.speed, a real backbone on
this CPU), and the choice line (portfolio.selection)."""
import json
import logging
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from learner.backbones import build_backbone
from learner.choice import MeasuredSpeed
from learner.config import LearnerConfig
from learner.network import Classifier
from learner.runner import NetRunner
from meta_classifier.classifiers import DEFAULT_ARTIFACTS
from meta_classifier.identify import DatasetIdentifier
from portfolio.choice import Chooser, ChoiceSettings, load_settings
from portfolio.entries import MATRIX_FILE, BudgetMatrices, Matrix, portfolio_configs, read_matrix, seed_files
from portfolio.offline.matrix import write_matrix
from portfolio.selection import ConfigSelection
from portfolio.speed import REFERENCE_TABLE, SPEED_RANGE, effective_budget, read_reference
from scripts.benchmark import CHOICE_LINE

SHORT = {  # at 20 s; c is measured only here
    "generalist": {"a": 0.60, "b": 0.60},
    "a": {"a": 0.80, "b": 0.40},
    "b": {"a": 0.50, "b": 0.70},
    "c": {"a": 0.90, "b": 0.90},
    "e": {"a": 0.50, "b": 0.50},
}
LONG = {  # at 120 s, two seeds; d is measured only here, e's cell on b is missing in both
    "generalist": {"a": 0.80, "b": 0.80},
    "a": {"a": 0.95, "b": 0.60},
    "b": {"a": 0.70, "b": 0.99},
    "d": {"a": 0.99, "b": 0.95},
    "e": {"a": 0.60},
}
LONG_SEED1 = {**LONG, "generalist": {"a": 0.90, "b": 0.80}}


def write(folder: Path, name: str, budget: float, *seeds: Matrix) -> None:
    """A matrix file per seed (name.csv, name.seedN.csv) and its sidecar, as portfolio.offline.matrix writes them."""
    for seed, matrix in enumerate(seeds):
        write_matrix(matrix, folder / (f"{name}.csv" if seed == 0 else f"{name}.seed{seed}.csv"))
    (folder / f"{name}.settings").write_text(json.dumps({"budget_s": budget, "threads_per_cell": 1}) + "\n")


@pytest.fixture
def two_budgets(tmp_path: Path) -> BudgetMatrices:
    write(tmp_path, "performance_matrix", 20.0, SHORT)
    write(tmp_path, "performance_matrix_long", 120.0, LONG, LONG_SEED1)  # the budget is the sidecar's, not the name's
    (tmp_path / "performance_matrix_T300.settings").write_text(json.dumps({"budget_s": 300.0}))  # no cells yet
    return BudgetMatrices.load(tmp_path)


def test_matrices_are_found_by_their_sidecars_and_read_at_any_budget(two_budgets: BudgetMatrices) -> None:
    matrices = two_budgets
    assert matrices.budgets == [20.0, 120.0]
    assert matrices.at(20.0) == SHORT and matrices.at(5.0) == SHORT  # below the smallest: the smallest
    long_mean = matrices.at(120.0)
    assert long_mean["generalist"]["a"] == pytest.approx(0.85) and set(long_mean) == set(LONG)  # two seeds' mean
    assert matrices.at(1200.0) == long_mean  # beyond the largest: the largest
    middle = matrices.at(math.sqrt(20.0 * 120.0))  # half-way in log T
    assert middle["generalist"] == pytest.approx({"a": (0.60 + 0.85) / 2, "b": (0.60 + 0.80) / 2})
    assert middle["b"] == pytest.approx({"a": 0.60, "b": (0.70 + 0.99) / 2})
    assert middle["e"] == pytest.approx({"a": 0.55})  # its cell on b has no 120-s end
    assert set(middle) == {"generalist", "a", "b", "e"}  # c and d, measured at one budget only, are not candidates
    weight = math.log(40 / 20) / math.log(120 / 20)
    assert matrices.at(40.0)["b"]["b"] == pytest.approx((1 - weight) * 0.70 + weight * 0.99)
    assert matrices.used(40.0) == [20.0, 120.0] and matrices.used(120.0) == [120.0] and matrices.used(500.0) == [120.0]
    assert matrices.describe(40.0) == "matrices at 20 and 120 s, interpolated"
    assert matrices.describe(500.0) == "matrix at 120 s"


def test_two_matrices_at_one_budget_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "performance_matrix", 20.0, SHORT)
    write(tmp_path, "performance_matrix_again", 20.0, LONG)
    with pytest.raises(ValueError, match="a second matrix at T = 20 s"):
        BudgetMatrices.load(tmp_path)


def test_the_rules_read_the_matrix_at_the_budget(tmp_path: Path) -> None:
    complete = lambda matrix: {c: row for c, row in matrix.items() if c != "e"}  # noqa: E731 - every cell there
    write(tmp_path, "performance_matrix", 20.0, complete(SHORT))
    write(tmp_path, "performance_matrix_T120", 120.0, complete(LONG))
    matrices = BudgetMatrices.load(tmp_path)
    configs = ["a", "b", "c", "d", "generalist"]
    chooser = Chooser(configs, matrices.at(20.0), ChoiceSettings(rule="expected", top_k=1))
    near_a, near_b = {"a": 0.9, "b": 0.1}, {"b": 0.9, "a": 0.1}
    # At 20 s c (0.90 on b) beats b's own config; c has no cell at 120 s, so above 20 s b's config wins on b.
    assert chooser.prior().config == "c" and chooser.choose(near_b).config == "c"
    between = chooser.at_budget(matrices, 40.0).choose(near_b)
    weight = math.log(40 / 20) / math.log(120 / 20)
    assert between.config == "b" and between.expected_alc == pytest.approx((1 - weight) * 0.70 + weight * 0.99)
    # d, measured at 120 s only, is a candidate from there on, not between.
    assert chooser.at_budget(matrices, 40.0).choose(near_a).config == "a"
    assert chooser.at_budget(matrices, 600.0).choose(near_a).config == "d"
    # The best mean of calibrated's fallback reads the same matrix: b's between the budgets.
    calibrated = Chooser(configs, matrices.at(40.0), ChoiceSettings(rule="calibrated", temperature=1.0, threshold=0.95))
    unsure = calibrated.choose({"a": 0.5, "b": 0.5})
    assert unsure.config == "b" and "best mean" in unsure.note
    # nearest reads no matrix: c's own config at any budget.
    nearest = Chooser(configs, matrices.at(600.0), ChoiceSettings(rule="nearest"))
    assert nearest.choose({"c": 0.9, "a": 0.1}).config == "c"


def test_with_only_the_20s_matrix_every_choice_is_todays(tmp_path: Path) -> None:
    # Today's chooser: every shipped config and the 20-s matrix (mean of its seed files), read as it is.
    for path in [*seed_files(MATRIX_FILE), MATRIX_FILE.with_suffix(".settings")]:
        shutil.copy(path, tmp_path / path.name)
    matrices = BudgetMatrices.load(tmp_path)
    assert matrices.budgets == [20.0]
    today = read_matrix(MATRIX_FILE)
    configs = sorted(portfolio_configs())
    datasets = sorted({d for row in today.values() for d in row})
    rng = np.random.default_rng(0)
    shipped = load_settings()
    for settings in (ChoiceSettings(rule="nearest"), ChoiceSettings(rule="expected"), shipped,
                     ChoiceSettings(rule="calibrated", temperature=shipped.temperature or 1.0, threshold=0.3),
                     ChoiceSettings(rule="expected", exclude=("orl_faces",))):
        before = Chooser(configs, today, settings, frozenset(settings.exclude))
        after = Chooser.load(settings, matrices=matrices)
        assert after.prior() == before.prior()
        for budget in (1.0, 20.0, 25.0, 120.0, 1200.0):
            reading = after.at_budget(matrices, budget)
            for _ in range(20):
                probabilities = dict(zip(datasets, rng.dirichlet(np.full(len(datasets), 0.3))))
                assert reading.choose(probabilities) == before.choose(probabilities)


def test_the_effective_budget_from_a_real_speed_on_this_cpu() -> None:
    # One thread, as the matrices' cells ran: the run's speed against the table's is the CPU's own ratio. The
    # table was measured on an idle machine; this one is shared, so the bound is loose.
    reference = read_reference()
    net = Classifier(build_backbone("efficientnet_lite0"), 10, 0.0, 0.3, False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runner = NetRunner(net, 1, logging.getLogger("test"))
        runner.warm_up(64, 64)
    finally:
        torch.set_num_threads(threads)
    measured = MeasuredSpeed("efficientnet_lite0", 64, runner.seconds_per_frame)
    effective = effective_budget(120.0, measured, reference)
    assert effective.speed == pytest.approx(reference["efficientnet_lite0"][64] / runner.seconds_per_frame)
    assert 0.1 < effective.speed < 3.0, effective.describe()
    assert effective.seconds == pytest.approx(120.0 * effective.speed)
    assert re.fullmatch(r"T_eff \d+ s \(T 120 s, speed x[\d.]+, efficientnet_lite0 at 64 px\)", effective.describe())
    # Between measured sides the reference is log-log interpolated; a glitch of a timing is clamped.
    low, high = reference["efficientnet_lite0"][64], reference["efficientnet_lite0"][96]
    at_80 = effective_budget(100.0, MeasuredSpeed("efficientnet_lite0", 80, low), reference)
    assert at_80.speed == pytest.approx((high / low) ** (math.log(80 / 64) / math.log(96 / 64)))
    assert effective_budget(100.0, MeasuredSpeed("efficientnet_lite0", 64, 1e-12), reference).speed == SPEED_RANGE[1]
    unknown = effective_budget(100.0, MeasuredSpeed("resnet18", 64, 0.01), reference)
    assert unknown.speed is None and unknown.seconds == 100.0
    assert unknown.describe() == "T_eff 100 s (T 100 s, speed unknown: no reference timing of resnet18)"
    assert REFERENCE_TABLE.name == "lookup_table_cpu.csv"


def test_the_choice_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # The shipped 20-s matrix and a reduced one at 120 s: four of its configs and the generalist, 0.05 better.
    for path in [*seed_files(MATRIX_FILE), MATRIX_FILE.with_suffix(".settings")]:
        shutil.copy(path, tmp_path / path.name)
    short = read_matrix(MATRIX_FILE)
    reduced = ["generalist", "orl_faces", "quickdraw_6cls_28px", "opencv_digits", "warp_pie10p"]
    write(tmp_path, "performance_matrix_T120", 120.0,
          {config: {d: min(1.0, alc + 0.05) for d, alc in short[config].items()} for config in reduced})
    matrices = BudgetMatrices.load(tmp_path)
    log = logging.getLogger("test_choice_line")
    chooser = Chooser.load(ChoiceSettings(rule="expected"), matrices=matrices)
    reference = read_reference()
    identifier = DatasetIdentifier.load(DEFAULT_ARTIFACTS)
    selection = ConfigSelection(identifier, chooser, matrices, reference, {}, log)
    rng = np.random.default_rng(0)

    def sample(count: int, side: int, frames: int, deadline: float) -> np.ndarray:
        return rng.integers(0, 256, (count, frames, side, side, 3), dtype=np.uint8)

    # Half the reference cost at 64 px: the run does in T = 30 s what the matrices' machine does in 60 s.
    speed = MeasuredSpeed("efficientnet_lite2", 64, reference["efficientnet_lite2"][64] / 2)
    with caplog.at_level(logging.INFO, logger=log.name):
        selection.starting_config()
        name, config = selection.choose(sample, 1, 30.0, speed)
    start, line = (record.getMessage() for record in caplog.records)
    assert re.fullmatch(r"starting config: rule expected: config \S+, expected ALC [\d.]+ \| before the fingerprint: "
                        r"best mean config \| matrix at 20 s", start), start
    assert re.fullmatch(r"config choice: rule expected: config \S+, expected ALC [\d.]+ \| nearest known datasets: "
                        r"\S+ [\d.]+, \S+ [\d.]+, \S+ [\d.]+ \| T_eff 60 s \(T 30 s, speed x2\.00, "
                        r"efficientnet_lite2 at 64 px\), matrices at 20 and 120 s, interpolated \| \d+ examples fingerprinted in [\d.]+s "
                        r"\(read [\d.]+s\)", line), line
    assert CHOICE_LINE.search(line).group(1) == name and name in reduced and isinstance(config, LearnerConfig)
    # The nearest rule's line (no expected ALC) keeps the pattern its tests (test_model_choice) read.
    nearest = ConfigSelection(identifier, Chooser.load(ChoiceSettings(rule="nearest"), matrices=matrices), matrices,
                              reference, {}, log)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=log.name):
        nearest.choose(sample, 1, 30.0, speed)
    assert re.search(r"config choice: rule nearest: config (\S+) \| nearest known datasets: (\S+) ([\d.]+)",
                     caplog.records[0].getMessage()), caplog.records[0].getMessage()
