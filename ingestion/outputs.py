"""The files ingestion leaves in output_dir: start.txt, NAME.predict_K, end.txt (protocol 3.3).

Standard library only, so the hard-stop watchdog process (ingestion.watchdog) can write end.txt without importing
numpy or TensorFlow.
"""
from __future__ import annotations

import os
import re
import shutil
import time

from autodl_format.files import TMP_PREFIX, write_atomic

START_FILE = "start.txt"
END_FILE = "end.txt"
LOG_FILE = "ingestion.log"


def prediction_name(task_name: str, k: int) -> str:
    return f"{task_name}.predict_{k}"


def remove_stale_outputs(output_dir: str, task_name: str) -> list[str]:
    """Delete what an earlier run left in output_dir (its start/end/predict files would mislead the scorer)."""
    pattern = re.compile(re.escape(task_name) + r"\.predict_\d+$")
    removed = []
    for name in sorted(os.listdir(output_dir)):
        if name in (START_FILE, END_FILE) or pattern.match(name) or name.startswith(TMP_PREFIX):
            os.remove(os.path.join(output_dir, name))
            removed.append(name)
    return removed


def write_start(output_dir: str, pid: int, task_name: str, time_budget: float, start_time: float) -> None:
    text = (f"ingestion_pid: {pid}\n"
            f"task_name: {task_name}\n"
            f"time_budget: {float(time_budget)!r}\n"
            f"start_time: {start_time!r}\n")
    write_atomic(os.path.join(output_dir, START_FILE), text)


def append_prediction_time(output_dir: str, k: int, timestamp: float) -> None:
    """Append `K: <epoch>` to start.txt; the protocol writes it before NAME.predict_K (one write call per line)."""
    with open(os.path.join(output_dir, START_FILE), "a") as f:
        f.write(f"{k}: {timestamp!r}\n")


def read_start(output_dir: str) -> tuple[float | None, list[float]]:
    """(start_time, [epoch of prediction K for K = 0, 1, ...]) from start.txt; (None, []) when it is absent."""
    path = os.path.join(output_dir, START_FILE)
    if not os.path.exists(path):
        return None, []
    start_time, times = None, []
    with open(path) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key.strip() == "start_time":
                start_time = float(value)
            elif key.strip().isdigit():
                times.append(float(value))
    return start_time, times


def write_end(output_dir: str, duration: float, success: bool, end_time: float | None = None) -> None:
    end_time = time.time() if end_time is None else end_time
    text = (f"ingestion_duration: {duration!r}\n"
            f"ingestion_success: {int(bool(success))}\n"
            f"end_time: {end_time!r}\n")
    write_atomic(os.path.join(output_dir, END_FILE), text)


def copy_outputs(output_dir: str, score_dir: str) -> None:
    """Copy everything in output_dir into score_dir, like the official `cp -R output_dir/* score_dir`."""
    if os.path.abspath(output_dir) == os.path.abspath(score_dir):
        return
    os.makedirs(score_dir, exist_ok=True)
    for name in os.listdir(output_dir):
        if name.startswith(TMP_PREFIX):
            continue
        src, dst = os.path.join(output_dir, name), os.path.join(score_dir, name)
        if os.path.isdir(src):
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dst)
