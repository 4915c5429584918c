"""--hard_stop backstop: a separate process that kills ingestion if the model ignores the deadline exception.

Why a process and not a thread: a thread needs the GIL, which C code (or a model that catches every exception and
carries on) can keep forever; a process can always act.

Protocol (parent -> watchdog, text lines on the watchdog's stdin):
    "arm <phase> <kill_at epoch> <start_time epoch or -1>"   phase is "init" or "loop"
    "done"                                                    ingestion finished; exit quietly
Both sides take an exclusive flock on a shared lock file while writing ingestion's output files, so the watchdog
never kills the parent in the middle of a prediction/start.txt/end.txt write. The watchdog also exits when its
parent is gone (then, like the official program when killed, nobody writes end.txt).

On expiry the watchdog: takes the lock, SIGKILLs the ingestion process and its descendants, writes start.txt (only
when the kill happened during model construction) and end.txt with ingestion_success 0, copies outputs to
score_dir, and prints a one-line error and the summary to stderr. Predictions already written stay as they are.
"""
from __future__ import annotations

import argparse
import fcntl
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from typing import Iterator

from ingestion import outputs
from ingestion.summary import IngestionSummary

_LOCK_WAIT_S = 10.0  # our own file writes take milliseconds; past this the holder is presumed stuck
_POLL_S = 0.5        # how often the watchdog checks that its parent is still alive


class Watchdog:
    """Parent-side handle of the watchdog process."""

    def __init__(self, output_dir: str, task_name: str, time_budget: float, score_dir: str | None) -> None:
        fd, self._lock_path = tempfile.mkstemp(prefix="ingestion-lock-")
        self._lock_fd = fd
        repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [repo_root, os.environ.get("PYTHONPATH")])))
        cmd = [sys.executable, "-m", "ingestion.watchdog", "--pid", str(os.getpid()), "--lock", self._lock_path,
               "--output_dir", output_dir, "--task_name", task_name, "--time_budget", repr(float(time_budget))]
        if score_dir:
            cmd += ["--score_dir", score_dir]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, env=env, text=True)

    def arm(self, phase: str, kill_at: float, start_time: float | None = None) -> None:
        self._send(f"arm {phase} {kill_at!r} {(-1.0 if start_time is None else start_time)!r}")

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold while writing output files: the watchdog waits for it before killing."""
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def done(self) -> None:
        """Tell the watchdog to exit (call while holding lock() after end.txt is written). Idempotent."""
        if self._proc.stdin.closed:
            return
        try:
            self._send("done")
            self._proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass

    def close(self) -> None:
        """Stop and reap the watchdog process; remove the lock file."""
        self.done()
        try:
            self._proc.wait(timeout=_LOCK_WAIT_S)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        os.close(self._lock_fd)
        os.remove(self._lock_path)

    def _send(self, line: str) -> None:
        self._proc.stdin.write(line + "\n")
        self._proc.stdin.flush()


# ---------------------------------------------------------------- watchdog process side

def _acquire(lock_fd: int, timeout: float) -> bool:
    end = time.time() + timeout
    while True:
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.time() >= end:
                return False
            time.sleep(0.02)


def _descendants(pid: int) -> list[int]:
    """Child processes of pid, recursively (Linux /proc; empty elsewhere), excluding this watchdog."""
    children: dict[int, list[int]] = {}
    try:
        entries = [e for e in os.listdir("/proc") if e.isdigit()]
    except FileNotFoundError:
        return []
    for entry in entries:
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child != os.getpid():
                found.append(child)
                todo.append(child)
    return found


def _kill_tree(pid: int) -> None:
    for victim in [pid] + _descendants(pid):
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            pass


class _Commands:
    """Reads the parent's lines from stdin without blocking past a timeout."""

    def __init__(self) -> None:
        self._buffer = ""
        self.done = False
        self.phase, self.kill_at, self.start_time = "init", float("inf"), None

    def poll(self, timeout: float) -> None:
        readable, _, _ = select.select([sys.stdin.fileno()], [], [], max(timeout, 0.0))
        if not readable:
            return
        data = os.read(sys.stdin.fileno(), 4096).decode()
        if not data:  # EOF without "done": the parent died (its stdin end closed); nothing more to do
            self.done = True
            return
        self._buffer += data
        while "\n" in self._buffer:
            line, self._buffer = self._buffer.split("\n", 1)
            words = line.split()
            if words == ["done"]:
                self.done = True
            elif len(words) == 4 and words[0] == "arm":
                self.phase, self.kill_at = words[1], float(words[2])
                self.start_time = None if float(words[3]) < 0 else float(words[3])


def _expire(args: argparse.Namespace, commands: _Commands) -> None:
    now = time.time()
    what = "model construction" if commands.phase == "init" else "the model"
    if commands.phase == "init" or commands.start_time is None:
        start_time = now
        outputs.write_start(args.output_dir, args.pid, args.task_name, args.time_budget, start_time)
    else:
        start_time = commands.start_time
    outputs.write_end(args.output_dir, now - start_time, success=False, end_time=now)
    if args.score_dir:
        outputs.copy_outputs(args.output_dir, args.score_dir)
    recorded_start, times = outputs.read_start(args.output_dir)
    summary = IngestionSummary(task_name=args.task_name, output_dir=args.output_dir, time_budget=args.time_budget,
                               success=False, duration=now - start_time,
                               prediction_times=[t - (recorded_start or start_time) for t in times],
                               stop_reason=f"killed by the hard-stop watchdog ({what} ignored the deadline)")
    summary.error = (f"hard stop: {what} did not return by its deadline plus grace; "
                     f"ingestion process {args.pid} killed")
    print(f"error: {summary.error}", file=sys.stderr, flush=True)
    print(f"ingestion: {summary.line()}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="hard-stop watchdog of the ingestion program (internal)")
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--lock", required=True)
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--task_name", required=True)
    parser.add_argument("--time_budget", type=float, required=True)
    parser.add_argument("--score_dir")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the ingestion process; we follow it
    lock_fd = os.open(args.lock, os.O_RDWR)
    commands = _Commands()
    while True:
        commands.poll(min(_POLL_S, commands.kill_at - time.time()))
        if commands.done or os.getppid() != args.pid:
            return 0
        if time.time() < commands.kill_at:
            continue
        got_lock = _acquire(lock_fd, _LOCK_WAIT_S)
        commands.poll(0.0)  # the parent may have finished or re-armed while we waited for the lock
        if commands.done or os.getppid() != args.pid:
            return 0
        if time.time() < commands.kill_at:
            if got_lock:
                fcntl.flock(lock_fd, fcntl.LOCK_UN)
            continue
        _kill_tree(args.pid)
        _expire(args, commands)
        return 0


if __name__ == "__main__":
    sys.exit(main())
