"""run_ingestion / the CLI in this process, with real model.py files on the real miniciao dataset."""
from __future__ import annotations

import logging
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import yaml

from autodl_format.errors import DatasetError
from ingestion.program import main, run_ingestion
from tests.ingestion_models import read_calls, write_model

N_TEST, N_CLASSES = 18, 10

STOPS_AFTER_THREE = """
class Model(FrequencyModel):
    def __init__(self, metadata):
        super().__init__(metadata)
        self.done_training = False

    def train(self, dataset, remaining_time_budget=None):
        super().train(dataset, remaining_time_budget)
        self.done_training = self.train_calls >= 3
"""


def _run(miniciao_dir: Path, code: Path, out: Path, time_budget: float = 30.0, **kwargs):
    return run_ingestion(str(miniciao_dir), str(code), str(out), time_budget, **kwargs)


def _predictions(out: Path) -> list[Path]:
    return sorted(out.glob("miniciao.predict_*"), key=lambda p: int(p.name.rsplit("_", 1)[1]))


def _end(out: Path) -> dict:
    return yaml.safe_load((out / "end.txt").read_text())


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error: ")]


def test_successful_run_writes_official_files(miniciao_dir, tmp_path):
    code, out, score = write_model(tmp_path / "code", STOPS_AFTER_THREE), tmp_path / "out", tmp_path / "score"
    summary = _run(miniciao_dir, code, out, score_dir=str(score))

    assert summary.success and summary.stop_reason == "done_training" and summary.n_predictions == 3
    start_lines = (out / "start.txt").read_text().splitlines()
    assert [line.split(":")[0] for line in start_lines] == \
        ["ingestion_pid", "task_name", "time_budget", "start_time", "0", "1", "2"]
    start = yaml.safe_load((out / "start.txt").read_text())
    assert start["task_name"] == "miniciao" and start["time_budget"] == 30.0
    assert start["ingestion_pid"] > 0
    times = [start[k] for k in range(3)]
    assert start["start_time"] < times[0] < times[1] < times[2] < start["start_time"] + 30
    assert summary.prediction_times == pytest.approx([t - start["start_time"] for t in times])

    files = _predictions(out)
    assert [p.name for p in files] == [f"miniciao.predict_{k}" for k in range(3)]
    for k, path in enumerate(files):
        returned = np.load(code / f"returned_{k}.npy")
        expected = "".join(" ".join("{:g}".format(v) for v in row) + "\n" for row in returned)
        assert path.read_text() == expected
        assert np.loadtxt(path).shape == (N_TEST, N_CLASSES)

    end = _end(out)
    assert end["ingestion_success"] == 1
    assert end["end_time"] == pytest.approx(start["start_time"] + end["ingestion_duration"], abs=1e-3)
    assert not [p for p in out.iterdir() if p.name.startswith(".tmp")]
    assert sorted(p.name for p in score.iterdir()) == sorted(p.name for p in out.iterdir())

    calls = read_calls(code)
    assert [c[0] for c in calls] == ["train", "test"] * 3
    remaining = [c[1] for c in calls]
    assert remaining == sorted(remaining, reverse=True) and 29 < remaining[0] <= 30


def test_model_construction_is_not_charged_to_the_budget(miniciao_dir, tmp_path):
    code = write_model(tmp_path / "code", """
        class Model(FrequencyModel):
            def __init__(self, metadata):
                time.sleep(2.0)
                super().__init__(metadata)
                self.built_at = time.time()
                self.done_training = False

            def train(self, dataset, remaining_time_budget=None):
                super().train(dataset, remaining_time_budget)
                self.done_training = True
    """)
    summary = _run(miniciao_dir, code, tmp_path / "out", time_budget=3.0)
    assert summary.success and summary.n_predictions == 1
    assert summary.init_duration >= 2.0
    first_remaining = read_calls(code)[0][1]
    assert first_remaining > 2.5  # budget 3 s, constructor 2 s: construction did not eat the budget
    start = yaml.safe_load((tmp_path / "out" / "start.txt").read_text())
    assert start[0] - start["start_time"] < 2.0


def test_done_training_set_in_train_still_gets_one_test(miniciao_dir, tmp_path):
    code = write_model(tmp_path / "code", """
        class Model(FrequencyModel):
            def __init__(self, metadata):
                super().__init__(metadata)
                self.done_training = False

            def train(self, dataset, remaining_time_budget=None):
                super().train(dataset, remaining_time_budget)
                if self.train_calls == 2:
                    self.done_training = True
    """)
    summary = _run(miniciao_dir, code, tmp_path / "out")
    assert [c[0] for c in read_calls(code)] == ["train", "test", "train", "test"]
    assert summary.success and summary.stop_reason == "done_training" and summary.n_predictions == 2
    assert len(_predictions(tmp_path / "out")) == 2


def test_missing_done_training_warns_and_stops_when_test_returns_none(miniciao_dir, tmp_path, caplog):
    code = write_model(tmp_path / "code", """
        class Model(FrequencyModel):
            def test(self, dataset, remaining_time_budget=None):
                pred = super().test(dataset, remaining_time_budget)
                return None if self.test_calls == 3 else pred
    """)
    with caplog.at_level(logging.WARNING, logger="ingestion"):
        summary = _run(miniciao_dir, code, tmp_path / "out")
    assert any("no done_training attribute" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert summary.success and summary.stop_reason == "test returned None" and summary.n_predictions == 2
    assert len(_predictions(tmp_path / "out")) == 2
    assert len(yaml.safe_load((tmp_path / "out" / "start.txt").read_text())) == 4 + 2


def test_loop_stops_once_the_budget_is_used_up(miniciao_dir, tmp_path):
    code = write_model(tmp_path / "code", """
        class Model(FrequencyModel):
            done_training = False

            def train(self, dataset, remaining_time_budget=None):
                super().train(dataset, remaining_time_budget)
                time.sleep(0.4)
    """)
    summary = _run(miniciao_dir, code, tmp_path / "out", time_budget=1.0)
    assert summary.success and summary.stop_reason == "time budget exhausted"
    times = summary.prediction_times
    assert len(times) >= 2 and times[-1] >= 1.0 and times[-2] < 1.0  # official: stop after the first late one
    assert len(_predictions(tmp_path / "out")) == len(times)


def test_wrong_prediction_shape_fails_with_one_line(miniciao_dir, tmp_path, capsys):
    code = write_model(tmp_path / "code", """
        class Model(FrequencyModel):
            done_training = False

            def test(self, dataset, remaining_time_budget=None):
                return super().test(dataset, remaining_time_budget)[:, :-1]
    """)
    summary = _run(miniciao_dir, code, tmp_path / "out")
    assert not summary.success and summary.n_predictions == 0
    assert summary.error == "prediction 0: test returned shape (18, 9), expected (18, 10) (test examples, output_dim)"
    assert _error_lines(capsys.readouterr().err) == [f"error: {summary.error}"]
    assert _end(tmp_path / "out")["ingestion_success"] == 0
    assert _predictions(tmp_path / "out") == []


def test_nan_prediction_is_refused_and_earlier_ones_kept(miniciao_dir, tmp_path):
    code = write_model(tmp_path / "code", """
        class Model(FrequencyModel):
            done_training = False

            def test(self, dataset, remaining_time_budget=None):
                pred = super().test(dataset, remaining_time_budget)
                if self.test_calls == 2:
                    pred[3, 4] = np.nan
                return pred
    """)
    summary = _run(miniciao_dir, code, tmp_path / "out")
    assert not summary.success and summary.n_predictions == 1
    assert summary.error == "prediction 1: test returned 1 non-finite value(s) (NaN or inf)"
    assert [p.name for p in _predictions(tmp_path / "out")] == ["miniciao.predict_0"]


def test_exception_in_train_keeps_earlier_predictions(miniciao_dir, tmp_path, capsys):
    code = write_model(tmp_path / "code", """
        class Model(FrequencyModel):
            done_training = False

            def train(self, dataset, remaining_time_budget=None):
                super().train(dataset, remaining_time_budget)
                if self.train_calls == 3:
                    raise RuntimeError("boom in the third train call")
    """)
    out = tmp_path / "out"
    summary = _run(miniciao_dir, code, out)
    assert not summary.success and summary.n_predictions == 2
    assert summary.error == ("Model.train (call 3, after 2 predictions) raised RuntimeError: "
                             "boom in the third train call")
    err = capsys.readouterr().err
    assert _error_lines(err) == [f"error: {summary.error}"]
    assert "Traceback" not in err
    log_text = (out / "ingestion.log").read_text()
    assert "Traceback" in log_text and "boom in the third train call" in log_text
    assert [p.name for p in _predictions(out)] == ["miniciao.predict_0", "miniciao.predict_1"]
    for k, path in enumerate(_predictions(out)):
        assert np.allclose(np.loadtxt(path), np.load(code / f"returned_{k}.npy"), rtol=1e-5)
    start = yaml.safe_load((out / "start.txt").read_text())
    assert sorted(k for k in start if isinstance(k, int)) == [0, 1]
    assert _end(out)["ingestion_success"] == 0


def test_model_without_train_and_test(miniciao_dir, tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "model.py").write_text("class Model:\n    def __init__(self, metadata):\n        self.done_training = False\n")
    summary = _run(miniciao_dir, code, tmp_path / "out")
    assert not summary.success and summary.n_predictions == 0
    assert summary.error == "API check raised AttributeError: the Model has no callable train() method"
    assert _end(tmp_path / "out")["ingestion_success"] == 0


@pytest.mark.parametrize("model_source, expected_error", [
    (None, "model.py: no such file (the code directory must contain model.py)"),
    ("class Modle:\n    pass\n", "model.py: defines no class named Model"),
    ("import numpy as np\nclass Model:\n    def __init__(self, metadata):\n        raise ValueError('bad metadata')\n",
     "init: Model(metadata) raised ValueError: bad metadata"),
    ("import no_such_module_for_ingestion_tests\n",
     "init: import of model.py raised ModuleNotFoundError: No module named 'no_such_module_for_ingestion_tests'"),
])
def test_init_failures_end_the_run_cleanly(miniciao_dir, tmp_path, model_source, expected_error):
    code = tmp_path / "code"
    code.mkdir()
    if model_source is not None:
        (code / "model.py").write_text(model_source)
    out = tmp_path / "out"
    summary = _run(miniciao_dir, code, out)
    assert not summary.success and summary.stop_reason == "model construction failed"
    assert summary.error.endswith(expected_error) and "\n" not in summary.error
    # start.txt and end.txt are still written, so a scorer running beside ingestion finishes at once.
    assert yaml.safe_load((out / "start.txt").read_text())["task_name"] == "miniciao"
    assert _end(out)["ingestion_success"] == 0


def test_init_cap_interrupts_a_slow_constructor(miniciao_dir, tmp_path):
    code = write_model(tmp_path / "code", """
        class Model(FrequencyModel):
            def __init__(self, metadata):
                try:
                    time.sleep(30)
                except Exception:  # a broad except must not swallow the init timeout
                    pass
    """)
    summary = _run(miniciao_dir, code, tmp_path / "out", init_time_cap=1.0)
    assert not summary.success
    assert summary.error == "init: import of model.py + Model(metadata) exceeded the init cap of 1 s"
    assert 1.0 <= summary.init_duration < 5.0


def test_submission_model_wins_over_a_cached_or_earlier_model_module(miniciao_dir, tmp_path, monkeypatch):
    # An unrelated module already cached as `model` (as when this repo's own model.py was imported) must neither
    # shadow the submissions nor be lost after the runs.
    unrelated = types.ModuleType("model")
    monkeypatch.setitem(sys.modules, "model", unrelated)
    first = write_model(tmp_path / "first", STOPS_AFTER_THREE)
    second = write_model(tmp_path / "second", STOPS_AFTER_THREE.replace(">= 3", ">= 1"))
    assert _run(miniciao_dir, first, tmp_path / "out1").n_predictions == 3
    assert _run(miniciao_dir, second, tmp_path / "out2").n_predictions == 1
    assert len(read_calls(second)) == 2
    assert sys.modules["model"] is unrelated
    assert str(first) not in sys.path and str(second) not in sys.path


def test_rerun_into_the_same_output_dir_replaces_old_predictions(miniciao_dir, tmp_path):
    out = tmp_path / "out"
    _run(miniciao_dir, write_model(tmp_path / "a", STOPS_AFTER_THREE), out)
    _run(miniciao_dir, write_model(tmp_path / "b", STOPS_AFTER_THREE.replace(">= 3", ">= 1")), out)
    assert [p.name for p in _predictions(out)] == ["miniciao.predict_0"]
    assert len(yaml.safe_load((out / "start.txt").read_text())) == 4 + 1


@pytest.mark.parametrize("data_dirs", [[], ["a.data", "b.data"]])
def test_cli_dataset_without_exactly_one_data_dir_exits_2(tmp_path, capsys, data_dirs):
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    for name in data_dirs:
        (dataset / name).mkdir()
    code = write_model(tmp_path / "code", STOPS_AFTER_THREE)
    out = tmp_path / "out"
    rc = main(["--dataset_dir", str(dataset), "--code_dir", str(code), "--output_dir", str(out)])
    assert rc == 2
    err = capsys.readouterr().err
    assert _error_lines(err) == [f"error: {dataset}: expected exactly one *.data directory, "
                                 f"found {len(data_dirs)} ({', '.join(data_dirs) or 'none'})"]
    assert not out.exists()


def test_library_raises_dataset_error_before_writing(tmp_path):
    code = write_model(tmp_path / "code", STOPS_AFTER_THREE)
    with pytest.raises(DatasetError, match="dataset directory does not exist"):
        run_ingestion(str(tmp_path / "missing"), str(code), str(tmp_path / "out"), 10)
    assert not (tmp_path / "out").exists()


def test_cli_exit_status_follows_success(miniciao_dir, tmp_path):
    good = write_model(tmp_path / "good", STOPS_AFTER_THREE)
    bad = write_model(tmp_path / "bad", "class Model(FrequencyModel):\n    done_training = False\n"
                                        "    def test(self, dataset, remaining_time_budget=None):\n"
                                        "        return np.zeros((2, 2))\n")
    args = ["--dataset_dir", str(miniciao_dir), "--time_budget", "20"]
    assert main(args + ["--code_dir", str(good), "--output_dir", str(tmp_path / "o1")]) == 0
    assert main(args + ["--code_dir", str(bad), "--output_dir", str(tmp_path / "o2")]) == 1
    assert main(args + ["--code_dir", str(tmp_path / "nowhere"), "--output_dir", str(tmp_path / "o3")]) == 2


RETURNS_A_LIST = """
class Model(FrequencyModel):
    done_training = False

    def test(self, dataset, remaining_time_budget=None):
        return super().test(dataset, remaining_time_budget).tolist()
"""


def test_list_prediction_is_refused_as_officially_unless_lenient(miniciao_dir, tmp_path, capsys):
    code = write_model(tmp_path / "code", RETURNS_A_LIST)
    summary = _run(miniciao_dir, code, tmp_path / "strict", time_budget=3.0)
    assert not summary.success and summary.n_predictions == 0
    assert summary.error.startswith("prediction 0: test returned a list, not an array: the official ingestion fails")
    assert _error_lines(capsys.readouterr().err) == [f"error: {summary.error}"]
    lenient = _run(miniciao_dir, code, tmp_path / "lenient", time_budget=3.0, lenient=True)
    assert lenient.success and lenient.n_predictions >= 1
