"""The leave-one-dataset-out proof of the choice (portfolio.offline.lodo): the left-out classifier on the real stored
fingerprints, the calibration, and the table's reference strategies on a hand-made matrix."""
import json

import numpy as np
import pytest

from meta_classifier.known import load_catalogue
from portfolio.offline.lodo import (N_BATCHES, fit_calibration, gap_closed, lodo_probabilities, run_settings,
                            selection_table, summary)

# Configs tuned on a, b, c, d (and the generalist); columns: the datasets they run on.
MATRIX = {
    "generalist": {"a": 0.80, "b": 0.80, "c": 0.80, "d": 0.80},
    "a": {"a": 0.90, "b": 0.85, "c": 0.50, "d": 0.50},
    "b": {"a": 0.88, "b": 0.90, "c": 0.55, "d": 0.52},
    "c": {"a": 0.40, "b": 0.45, "c": 0.95, "d": 0.90},
    "d": {"a": 0.45, "b": 0.40, "c": 0.92, "d": 0.95},
}
CONFIGS = sorted(MATRIX)


def test_the_left_out_classifier_never_knew_the_dataset(tmp_path) -> None:
    probabilities = lodo_probabilities(["coil20"], tmp_path)["coil20"]
    known = [entry["name"] for entry in load_catalogue()["datasets"]]
    assert len(probabilities) == N_BATCHES
    for batch in probabilities:
        assert set(batch) == set(known) - {"coil20"}
        assert sum(batch.values()) == pytest.approx(1.0, abs=1e-4)
    header = json.loads((tmp_path / "coil20" / "precalc.json").read_text())
    assert "coil20" not in header["names"]  # the saved classifier is the one the Model's LODO run loads
    saved = (tmp_path / "coil20" / "probabilities.json").stat().st_mtime_ns
    assert lodo_probabilities(["coil20"], tmp_path)["coil20"] == probabilities  # reused, not refitted
    assert (tmp_path / "coil20" / "probabilities.json").stat().st_mtime_ns == saved


def _batches(top: str, p_top: float, others: list[str], n: int = 4) -> list[dict[str, float]]:
    rest = (1 - p_top) / (len(others) - 1)
    return [{name: (p_top if name == top else rest) for name in others}] * n


def test_calibration_trusts_confident_picks_and_falls_back_when_unsure() -> None:
    # On a and c the classifier is sure and right (b's and d's configs are their best members, 0.88 and 0.92);
    # on b and d it is unsure and wrong (c's and a's configs: 0.45 and 0.50 there). The fallback, the best mean
    # config without the left-out one, is the generalist (0.80 everywhere): worse than the sure picks, better
    # than the unsure ones. So the threshold must sit between the two calibrated top probabilities.
    probabilities = {"a": _batches("b", 0.9, ["b", "c", "d"]), "c": _batches("d", 0.9, ["a", "b", "d"]),
                     "b": _batches("c", 0.4, ["a", "c", "d"]), "d": _batches("a", 0.4, ["a", "b", "c"])}
    calibration = fit_calibration(MATRIX, CONFIGS, probabilities)
    sharpen = lambda p, t: p ** (1 / t) / (p ** (1 / t) + 2 * ((1 - p) / 2) ** (1 / t))  # noqa: E731
    confident, unsure = sharpen(0.9, calibration.temperature), sharpen(0.4, calibration.temperature)
    assert unsure < calibration.threshold <= confident


def test_the_table_reads_every_strategy_from_the_matrix_without_the_left_out_config() -> None:
    probabilities = {"a": _batches("b", 0.9, ["b", "c", "d"]), "b": _batches("a", 0.9, ["a", "c", "d"]),
                     "c": _batches("d", 0.9, ["a", "b", "d"]), "d": _batches("c", 0.9, ["a", "b", "c"])}
    rows = {row["dataset"]: row for row in selection_table(MATRIX, CONFIGS, probabilities, {})}
    a = rows["a"]
    assert a["nearest"] == 0.88 and a["nearest_choice"] == "b"  # b's config, a's own excluded
    assert a["average_member"] == pytest.approx((0.88 + 0.40 + 0.45) / 3)
    assert (a["best_in_hindsight"], a["best_member"], a["own_config"]) == (0.88, "b", 0.90)
    assert a["generalist"] == 0.80 and a["random_member"] in (0.88, 0.40, 0.45)
    assert a["best_mean_config"] == 0.80  # the generalist's mean over b, c, d (0.80) beats c's (0.767) and d's
    assert a["nearest_dataset"] == "b" and a["nearest_probability"] == pytest.approx(0.9)
    means = summary(list(rows.values()))
    assert means["nearest"] == pytest.approx((0.88 + 0.85 + 0.92 + 0.90) / 4)
    assert gap_closed(means, "nearest") == pytest.approx(1.0)  # here the nearest is always the best member
    assert "linear_pixels" not in means  # no baseline runs given


def test_a_benchmark_run_on_a_known_dataset_leaves_it_out(tmp_path) -> None:
    settings = run_settings("nearest", "coil20", lodo_dir=tmp_path)
    assert settings["exclude"] == ["coil20"] and settings["classifier_dir"] == str(tmp_path / "coil20")
    assert (tmp_path / "coil20" / "precalc.pt").is_file()
    assert run_settings("nearest", "not_a_known_dataset", lodo_dir=tmp_path)["exclude"] == []
    assert settings["seed"] is None and run_settings("nearest", "coil20", lodo_dir=tmp_path, seed=2)["seed"] == 2


def test_the_command_writes_the_table_plot_and_choice_settings(tmp_path, monkeypatch) -> None:
    from portfolio.offline import lodo
    from portfolio.entries import portfolio_configs
    from portfolio.offline.matrix import write_matrix

    # A matrix over every shipped config on two known datasets, and benchmark rows of the baselines and one real
    # leave-one-dataset-out run with two seeds (scripts.benchmark --seed 1 labels the second).
    rng = np.random.default_rng(0)
    datasets = ["coil20", "orl_faces"]
    matrix = {config: {d: float(rng.uniform(0.5, 1.0)) for d in datasets} for config in portfolio_configs()}
    write_matrix(matrix, tmp_path / "matrix.csv")
    runs = tmp_path / "results.csv"
    runs.write_text("dataset,variant,alc,chosen_config\n" + "".join(
        f"{d},{v},0.7,\n" for d in datasets for v in ("linear_pixels", "frozen_logreg"))
        + "coil20,meta_nearest,0.9,orl_faces\ncoil20,meta_nearest_seed1,0.8,orl_faces\n")
    monkeypatch.setattr(lodo, "CHOICE_FILE", tmp_path / "choice.json")
    assert lodo.main(["--matrix", str(tmp_path / "matrix.csv"), "--lodo_dir", str(tmp_path / "lodo"), "--out",
                      str(tmp_path / "out"), "--runs", str(runs), "--write-choice"]) == 0
    report = (tmp_path / "out" / "selection.md").read_text()
    assert "| coil20 |" in report and "| orl_faces |" in report and "frozen_logreg" in report
    assert f"| coil20 | nearest | orl_faces | 0.9000 | {matrix['orl_faces']['coil20']:.4f} |" in report
    assert "nearest, the mean of 2 seeds on each of 1 datasets: mean ALC 0.8500" in report
    assert (tmp_path / "out" / "selection.png").stat().st_size > 1000
    saved = json.loads((tmp_path / "choice.json").read_text())
    assert saved["rule"] in ("nearest", "expected", "calibrated") and 0 <= saved["threshold"] <= 1.01


def test_the_command_reads_the_matrices_at_a_budget(tmp_path) -> None:
    import math

    from portfolio.offline import lodo
    from portfolio.entries import portfolio_configs
    from portfolio.offline.matrix import write_matrix

    # Every shipped config at 20 s, a reduced portfolio at 120 s (sidecars name the budgets), two known datasets.
    rng = np.random.default_rng(1)
    datasets = ["coil20", "orl_faces"]
    short = {config: {d: float(rng.uniform(0.5, 0.9)) for d in datasets} for config in portfolio_configs()}
    reduced = ["generalist", "coil20", "orl_faces", "yale_faces"]
    long = {config: {d: short[config][d] + 0.1 for d in datasets} for config in reduced}
    for name, matrix, budget in (("performance_matrix", short, 20), ("performance_matrix_T120", long, 120)):
        write_matrix(matrix, tmp_path / f"{name}.csv")
        (tmp_path / f"{name}.settings").write_text(json.dumps({"budget_s": budget}))
    budget = math.sqrt(20 * 120)  # half-way in log T: every cell 0.05 above its 20-s value
    assert lodo.main(["--budget", str(budget), "--matrices_dir", str(tmp_path), "--lodo_dir", str(tmp_path / "lodo"),
                      "--out", str(tmp_path / "out")]) == 0
    report = (tmp_path / "out" / "selection.md").read_text()
    assert "matrices at 20 and 120 s, interpolated, 4 configs" in report, report
    rows = {row["dataset"]: row for row in json.loads((tmp_path / "out" / "selection.json").read_text())["rows"]}
    assert rows["coil20"]["generalist"] == pytest.approx(short["generalist"]["coil20"] + 0.05, abs=1e-4)
    # The members are the reduced portfolio's, without the left-out dataset's own config.
    members = [short[c]["coil20"] + 0.05 for c in ("orl_faces", "yale_faces")]
    assert rows["coil20"]["best_in_hindsight"] == pytest.approx(max(members), abs=1e-4)
