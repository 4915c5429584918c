"""Command-line tools end bad input in one `error:` line (autodl_format.cli): the helper itself, and real commands
given bad input, run as the shell runs them where a traceback could appear."""
import subprocess
import sys

import pytest

from autodl_format.cli import BAD_INPUT, INTERRUPTED, command, run_command
from autodl_format.errors import BadInput, DatasetError
from autodl_format.offline.paths import REPO_ROOT


def _raising(error: BaseException):
    def main(argv: list[str] | None = None) -> int:
        raise error

    return main


@pytest.mark.parametrize("error, line", [
    (DatasetError("data/x.data: no train folder\nmore detail"), "error: data/x.data: no train folder"),
    (FileNotFoundError(2, "No such file or directory", "m.csv"), "error: m.csv: No such file or directory"),
    (KeyboardInterrupt(), "error: interrupted"),
])
def test_bad_input_ends_in_one_error_line(error, line, capsys):
    code = run_command(_raising(error))
    assert code == (INTERRUPTED if isinstance(error, KeyboardInterrupt) else BAD_INPUT)
    assert capsys.readouterr().err == line + "\n"


def test_a_bug_keeps_its_traceback_and_exit_codes_pass_through():
    with pytest.raises(ZeroDivisionError):
        run_command(_raising(ZeroDivisionError("a bug")))
    assert command(lambda argv: None)([]) == 0
    assert command(lambda argv: 3)([]) == 3


def test_the_project_errors_are_bad_input():
    from autodl_format.metrics import ScoringError
    from autodl_format.offline.convert import UsageError
    from hpo.logs import SearchLogError
    from learner.knobs import ConfigError
    from meta_classifier.errors import ArtifactError, FingerprintMismatch, MetaDataError
    from portfolio.offline.estimate import LogError
    from portfolio.offline.lookup import MissingTimings
    from portfolio.offline.tuning_data import TuningDataError

    for error in (ScoringError, UsageError, SearchLogError, ConfigError, ArtifactError, FingerprintMismatch,
                  MetaDataError, LogError, MissingTimings, TuningDataError):
        assert issubclass(error, BadInput), error
    assert issubclass(ConfigError, ValueError) and issubclass(MetaDataError, RuntimeError)  # old callers still catch


def _shell(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)


def test_build_meta_dataset_refuses_a_source_without_its_kind_before_any_work(tmp_path):
    done = _shell("scripts.build_meta_dataset", "--only", "coil20", "--out", str(tmp_path / "meta"),
                  "--work-dir", str(tmp_path / "known"))
    assert done.returncode == 2
    assert done.stderr.startswith("error: source 'coil20': expected digits, raw:NAME") and done.stderr.count("\n") == 1
    assert not (tmp_path / "meta").exists()


def test_lodo_names_a_missing_matrix(tmp_path):
    done = _shell("portfolio.offline.lodo", "--matrix", str(tmp_path / "none.csv"), "--out", str(tmp_path / "out"))
    assert done.returncode == 2 and done.stderr == f"error: {tmp_path / 'none.csv'}: No such file or directory\n"


def test_estimate_report_names_a_missing_lookup_table(tmp_path):
    done = _shell("portfolio.offline.estimate_report", "--searches", str(tmp_path), "--budget", "60",
                  "--table", str(tmp_path / "table.csv"))
    assert done.returncode == 2 and done.stderr == f"error: {tmp_path / 'table.csv'}: No such file or directory\n"


def test_benchmark_names_the_bad_field_of_a_config(tmp_path, capsys):
    from scripts.benchmark import main

    config = tmp_path / "bad.json"
    config.write_text('{"batch_size": -3}')
    assert main(["--datasets", str(tmp_path), "--variants", str(config), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == f"error: variant: {config}: batch_size must lie in [16, 128], not -3\n"
    assert not (tmp_path / "out").exists()
