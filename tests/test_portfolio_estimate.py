"""The cheap BOHB objective (portfolio.offline.estimate) on a real learner log: model.py run through ingestion and scoring
on scikit-learn's digits; and the lookup table it reads its times from (portfolio.offline.lookup)."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from learner.backbones import PYPI_BACKBONES
from learner.config import CONFIG_ENV
from portfolio.offline.estimate import RunCurve, Work, estimate_alc, estimate_curve, parse_log
from portfolio.offline.lookup import BATCH_SIZES, SIDES, LookupTable, MissingTimings, measure
from autodl_format.offline.convert import ensure_digits_dataset
from scoring.task import run_task
from tests import REPO_ROOT

BUDGET = 10.0
# A crude pixel head (2x2 pixels) so that the features head and the network get predictions of their own, and a
# small side so that the network trains and validates within the budget.
CONFIG = {"pixel_side": 2, "side": 32}
COMMITTED_TABLE = REPO_ROOT / "portfolio" / "lookup_table_cpu.csv"


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory: pytest.TempPathFactory):
    """(ALC, prediction timestamps, log lines) of model.py with CONFIG on digits, one thread as a BOHB worker."""
    root = tmp_path_factory.mktemp("estimate")
    dataset = ensure_digits_dataset(root / "data")
    (root / "config.json").write_text(json.dumps(CONFIG))
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", **{CONFIG_ENV: str(root / "config.json")})
    result = run_task(dataset, REPO_ROOT, root / "run", BUDGET, env=env)
    return result.alc, result.timestamps, result.ingestion_log.read_text(errors="replace").splitlines()


@pytest.fixture(scope="module")
def curve(digits_run) -> RunCurve:
    return parse_log(digits_run[2])


def own_rates_table(curve: RunCurve) -> LookupTable:
    """A table holding the run's own measured rates: seconds per step and per image, per side, over its log."""
    step, infer = {}, {}
    for side in {work.side for work in curve.events if isinstance(work, Work)}:
        done = [w for w in curve.events if isinstance(w, Work) and w.side == side and w.measured is not None]
        trained = [w for w in done if w.kind == "train"]
        inferred = [w for w in done if w.kind != "train" and w.images]
        if trained:
            step[curve.backbone, side, curve.batch_size] = sum(w.measured for w in trained) / sum(
                w.steps for w in trained)
        if inferred:
            infer[curve.backbone, side] = sum(w.measured for w in inferred) / sum(w.images for w in inferred)
    return LookupTable(step, infer)


def scaled(table: LookupTable, factor: float) -> LookupTable:
    return LookupTable({k: v * factor for k, v in table.step.items()}, {k: v * factor for k, v in table.infer.items()},
                       table.machine)


def test_parses_the_real_learner_log(curve, digits_run):
    _, timestamps, lines = digits_run
    assert curve.backbone == "efficientnet_lite0" and curve.batch_size == 64  # the defaults
    predictions = [e for e in curve.events if not isinstance(e, Work)]
    assert [p.source for p in predictions[:2]] == ["pixels", "features"]
    assert all(0.5 < p.score <= 1.0 for p in predictions)  # validation NAUCs, not test ones
    assert all(any(abs(p.time - t) < 0.01 for t in timestamps) for p in predictions)
    trained = [w for w in curve.events if isinstance(w, Work) and w.kind == "train"]
    assert trained and all(w.steps > 0 and w.measured > 0 and w.side == 32 for w in trained)
    # The curve: validation NAUC against the running step count, which ends at the learner's own total.
    assert curve.validations and [v.steps for v in curve.validations] == sorted(v.steps for v in curve.validations)
    total = sum(w.steps for w in trained)
    done = [line for line in lines if "done training at" in line and " steps, " in line]
    assert not done or f"({total} steps," in done[-1]


def test_own_rates_reproduce_the_measured_run(curve, digits_run):
    measured_alc, _, lines = digits_run
    own = own_rates_table(curve)
    measured_times, _ = estimate_curve(curve, None)
    estimated_times, _ = estimate_curve(curve, own)
    for measured, estimated in zip(measured_times, estimated_times):
        assert abs(estimated - measured) <= 0.3 + 0.15 * measured
    assert estimate_alc(curve, own, BUDGET) == pytest.approx(estimate_alc(curve, None, BUDGET), abs=0.02)
    # Validation NAUC for test NAUC: close to the ALC scored on the test labels.
    assert estimate_alc({"log": lines}, own, BUDGET) == pytest.approx(measured_alc, abs=0.05)


def test_estimate_grows_with_the_budget(curve):
    table = LookupTable.load(COMMITTED_TABLE)
    estimates = [estimate_alc(curve, table, T) for T in (2, 5, 10, 20, 60, 300, 1200)]
    assert estimates == sorted(estimates) and estimates[-1] > estimates[0]


def test_slower_times_give_a_lower_estimate(curve):
    table = LookupTable.load(COMMITTED_TABLE)
    base = estimate_alc(curve, table, BUDGET)
    assert estimate_alc(curve, scaled(table, 3.0), BUDGET) < base < estimate_alc(curve, scaled(table, 1 / 3), BUDGET)


def test_committed_table_covers_the_search_space():
    table = LookupTable.load(COMMITTED_TABLE)
    assert set(table.step) == {(b, s, n) for b in PYPI_BACKBONES for s in SIDES for n in BATCH_SIZES}
    assert "1 torch thread(s)" in table.machine["machine"] and table.machine["measured"]
    assert all(v > 0 for v in [*table.step.values(), *table.infer.values()])


def test_measured_table_round_trip_and_interpolation(tmp_path: Path):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        table = measure(("efficientnet_lite0",), (32, 64), (16, 32))
    finally:
        torch.set_num_threads(threads)
    path = tmp_path / "table.csv"
    table.save(path)
    loaded = LookupTable.load(path)
    assert loaded.machine == table.machine and "cores" in loaded.machine["machine"]
    assert loaded.step == pytest.approx(table.step, rel=1e-5) and loaded.infer == pytest.approx(table.infer, rel=1e-5)
    b = "efficientnet_lite0"
    assert loaded.step_seconds(b, 64, 16) == pytest.approx(loaded.step[b, 64, 16], rel=1e-9)
    # Log-linear: at the geometric mean of two sides, the geometric mean of their times.
    middle = math.sqrt(loaded.infer[b, 32] * loaded.infer[b, 64])
    assert loaded.infer_seconds(b, math.sqrt(32 * 64)) == pytest.approx(middle, rel=1e-9)
    middle = math.sqrt(loaded.step[b, 32, 16] * loaded.step[b, 32, 32])
    assert loaded.step_seconds(b, 32, math.sqrt(16 * 32)) == pytest.approx(middle, rel=1e-9)
    with pytest.raises(MissingTimings):
        loaded.step_seconds("resnet18", 64, 16)
    other = LookupTable(table.step, table.infer, {"machine": "another machine"})
    with pytest.raises(ValueError, match="another machine"):
        loaded.updated_with(other)
