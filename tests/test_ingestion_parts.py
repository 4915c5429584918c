"""Ingestion building blocks without TensorFlow: output files, prediction checks, the alarm, the watchdog."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from autodl_format.files import write_atomic
from ingestion import outputs
from ingestion.alarm import Alarm, HardStop
from ingestion.predictions import PredictionError, check_prediction, format_prediction
from ingestion.program import codalab_paths
from tests import REPO_ROOT


def test_format_prediction_uses_g_format_row_per_example():
    pred = np.array([[0.123456789, 1e-7, 2.0], [-0.5, 123456789.0, 0.0]])
    text = format_prediction(pred)
    assert text == "0.123457 1e-07 2\n-0.5 1.23457e+08 0\n"
    assert np.allclose(np.loadtxt(text.splitlines()), pred, rtol=1e-5)


@pytest.mark.parametrize("raw, expected_in_message", [
    (np.zeros((18, 9)), "shape (18, 9), expected (18, 10)"),
    (np.zeros(180), "shape (180,)"),
    (np.full((18, 10), np.nan), "180 non-finite"),
    (np.array([["a"] * 10] * 18), "not a numeric array"),
    ([[0.5] * 10] * 18, "test returned a list, not an array: the official ingestion fails on it"),
])
def test_check_prediction_rejects_with_one_line(raw, expected_in_message):
    with pytest.raises(PredictionError) as info:
        check_prediction(raw, (18, 10))
    assert expected_in_message in str(info.value)
    assert "\n" not in str(info.value)


def test_check_prediction_accepts_float32_and_lists_only_when_lenient():
    assert check_prediction(np.ones((3, 2), np.float32), (3, 2)).shape == (3, 2)
    assert check_prediction([[0, 1], [1, 0]], (2, 2), lenient=True).dtype == np.float64


def test_write_atomic_leaves_no_temp_file_and_normal_permissions(tmp_path):
    target = tmp_path / "x.predict_0"
    write_atomic(str(target), "1 2\n")
    assert target.read_text() == "1 2\n"
    assert os.listdir(tmp_path) == ["x.predict_0"]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_write_atomic_keeps_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "x.predict_0"
    target.write_text("old\n")
    with pytest.raises(TypeError):
        write_atomic(str(target), 123)  # the write fails after the temp file was created
    assert target.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["x.predict_0"]


def test_start_and_end_files_are_yaml_with_official_fields(tmp_path):
    outputs.write_start(str(tmp_path), 4242, "miniciao", 1200, 1000.5)
    outputs.append_prediction_time(str(tmp_path), 0, 1001.25)
    outputs.append_prediction_time(str(tmp_path), 1, 1002.75)
    outputs.write_end(str(tmp_path), 3.5, success=True, end_time=1004.0)
    start = yaml.safe_load((tmp_path / "start.txt").read_text())
    assert start == {"ingestion_pid": 4242, "task_name": "miniciao", "time_budget": 1200.0, "start_time": 1000.5,
                     0: 1001.25, 1: 1002.75}
    assert outputs.read_start(str(tmp_path)) == (1000.5, [1001.25, 1002.75])
    end = yaml.safe_load((tmp_path / "end.txt").read_text())
    assert end == {"ingestion_duration": 3.5, "ingestion_success": 1, "end_time": 1004.0}


def test_remove_stale_outputs_removes_only_ingestion_files(tmp_path):
    for name in ["start.txt", "end.txt", "miniciao.predict_0", "miniciao.predict_12", "other.predict_0", "notes.md"]:
        (tmp_path / name).write_text("x")
    removed = outputs.remove_stale_outputs(str(tmp_path), "miniciao")
    assert removed == ["end.txt", "miniciao.predict_0", "miniciao.predict_12", "start.txt"]
    assert sorted(os.listdir(tmp_path)) == ["notes.md", "other.predict_0"]


def test_codalab_path_rewrite():
    assert codalab_paths("/tmp/codalab/run/input", "/tmp/codalab/run/program") == \
        ("/tmp/codalab/run/input_data", "/tmp/codalab/run/submission")
    assert codalab_paths("/data/ds", "/code") == ("/data/ds", "/code")


def test_alarm_raises_in_main_thread_at_deadline():
    alarm = Alarm(HardStop, "over")
    t0 = time.time()
    with pytest.raises(HardStop, match="over"):
        try:
            assert alarm.arm(t0 + 0.2)
            while True:
                time.sleep(0.01)
        finally:
            alarm.disarm()
    assert 0.15 < time.time() - t0 < 2.0


def test_alarm_waits_for_the_critical_section():
    alarm = Alarm(HardStop, "over")
    finished_section = False
    with pytest.raises(HardStop):
        try:
            alarm.arm(time.time() + 0.05)
            with alarm.deferred():
                time.sleep(0.3)  # the alarm fires here; the section must still complete
                finished_section = True
        finally:
            alarm.disarm()
    assert finished_section and alarm.fired


def test_alarm_is_unavailable_outside_the_main_thread():
    result = []
    thread = threading.Thread(target=lambda: result.append(Alarm(HardStop, "x").arm(time.time() + 1)))
    thread.start()
    thread.join()
    assert result == [False]


def _run_script(code: str, timeout: float = 30) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=REPO_ROOT)


def test_watchdog_waits_for_an_output_write_then_kills_and_writes_end(tmp_path):
    # The "ingestion" here is a plain script: it holds the output lock past the kill time, then hangs.
    proc = _run_script(f"""
        import time
        from ingestion import outputs
        from ingestion.watchdog import Watchdog
        out = {str(tmp_path)!r}
        start = time.time()
        dog = Watchdog(out, "toy", 0.2, None)
        outputs.write_start(out, 0, "toy", 0.2, start)
        dog.arm("loop", start + 0.3, start)
        with dog.lock():
            time.sleep(1.0)  # the kill time passes while we write
            outputs.append_prediction_time(out, 0, time.time())
            outputs.write_atomic(out + "/toy.predict_0", "1\\n")
            open(out + "/committed", "w").write(repr(time.time()))
        time.sleep(60)
    """)
    assert proc.returncode == -9
    assert "hard stop" in proc.stderr and "killed" in proc.stderr
    end = yaml.safe_load((tmp_path / "end.txt").read_text())
    assert end["ingestion_success"] == 0
    assert end["end_time"] >= float((tmp_path / "committed").read_text())
    assert (tmp_path / "toy.predict_0").read_text() == "1\n"
    assert "1 prediction(s)" in proc.stderr


def test_watchdog_exits_quietly_when_ingestion_finishes_or_dies(tmp_path):
    proc = _run_script(f"""
        import os, time
        from ingestion.watchdog import Watchdog
        finished = Watchdog({str(tmp_path)!r}, "toy", 1.0, None)
        finished.arm("loop", time.time() + 0.5, time.time())
        finished.close()  # sends "done" and reaps it
        orphan = Watchdog({str(tmp_path)!r}, "toy", 1.0, None)
        orphan.arm("loop", time.time() + 3, time.time())
        print(orphan._proc.pid, flush=True)
        os._exit(0)  # die without telling the watchdog
    """)
    assert proc.returncode == 0, proc.stderr
    watchdog_pid = int(proc.stdout.split()[-1])
    deadline = time.time() + 10
    while time.time() < deadline and Path(f"/proc/{watchdog_pid}").exists():
        time.sleep(0.1)
    assert not Path(f"/proc/{watchdog_pid}").exists() or "Z" in Path(f"/proc/{watchdog_pid}/stat").read_text()
    assert not (tmp_path / "end.txt").exists()


def test_watchdog_kill_during_model_construction_still_leaves_start_and_end(tmp_path):
    # Killed before start.txt exists: the watchdog writes both files, so a scorer waiting beside it can finish.
    proc = _run_script(f"""
        import time
        from ingestion.watchdog import Watchdog
        dog = Watchdog({str(tmp_path)!r}, "toy", 5.0, None)
        dog.arm("init", time.time() + 0.3)
        time.sleep(60)  # a constructor that ignores the init cap
    """)
    assert proc.returncode == -9
    assert "model construction did not return" in proc.stderr
    start = yaml.safe_load((tmp_path / "start.txt").read_text())
    assert start["task_name"] == "toy" and start["time_budget"] == 5.0
    end = yaml.safe_load((tmp_path / "end.txt").read_text())
    assert end["ingestion_success"] == 0 and end["end_time"] >= start["start_time"]
