"""The scoring program: ``python -m scoring --solution_dir S --prediction_dir P --score_dir O``.

It runs beside ingestion, like the official AutoDL scorer (protocol 3.3, 3.4 and 4.5):

1. Finds exactly one ``*.solution`` in S; the task name is its file name without ``.solution``.
2. Waits up to ``--start_timeout`` seconds (1800) for ``P/start.txt`` and reads T and start_time from it.
3. Polls every ``--poll_interval`` seconds. Each new ``NAME.predict_K`` is paired with the ``K: <epoch>`` line of
   start.txt (the line is written before the file, so a timestamp without its file is simply not ready yet),
   scored, and ``learning-curve-NAME.png``, ``detailed_results.html`` (5 s refresh) and ``scores.txt`` are
   rewritten.
4. Stops when ``end.txt`` appears or start_time + T has passed; in the latter case, if the ingestion pid from
   start.txt is still alive, it is sent SIGTERM and this is logged. A final pass scores what is left and writes
   the HTML page without refresh.

Decisions where the official program is silent or questionable (protocol section 8):

* Late predictions: timestamps after T are clipped to T, so a late prediction adds no area (same ALC as dropping
  it). The official unclipped formula differs: one NAUC-1 prediction at 1300 s with T = 1200 gives -0.0250853723
  officially and 0.0 here. The reported timestamps and Duration stay unclipped.
* scores.txt is always written, with score 0.0 (the ALC of an empty curve) when there is no prediction; the
  official program writes nothing then.
* A prediction file with a wrong shape, NaN/inf or unparsable text is reported with a one-line ``error:`` naming
  the file and skipped; the other predictions still count.
* Exit code 0 like the official scorer, also when ingestion failed or timed out; exit 2 with a one-line
  ``error:`` only when the inputs are unusable (no or several solutions, no valid start.txt in time).

Output: progress and errors on stderr; on stdout a summary, one line per prediction
(``prediction K: t=<seconds> s NAUC=<value>``, plus ``(after T: clipped, no area)`` for late ones), then
``ALC: <value>`` as the last line.
"""

import argparse
import os
import re
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from scoring.html_report import write_detailed_results
from scoring.learning_curve import plot_learning_curve
from autodl_format.metrics import ScoringError, is_one_hot, nauc, soft_accuracy
from scoring.score import (
    ScoreResult,
    StartInfo,
    build_result,
    read_end_file,
    read_prediction,
    read_solution,
    read_start_file,
    write_scores_file,
)

T0 = 60.0


def _log(message: str) -> None:
    print(f"scoring: {message}", file=sys.stderr, flush=True)


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)


def find_solution(solution_dir: Path) -> Path:
    """The single ``*.solution`` file of the solution directory."""
    if not solution_dir.is_dir():
        raise ScoringError(f"{solution_dir}: solution directory not found")
    found = sorted(solution_dir.glob("*.solution"))
    if len(found) != 1:
        names = ", ".join(p.name for p in found) or "none"
        raise ScoringError(f"{solution_dir}: expected exactly one *.solution file, found {len(found)} ({names})")
    return found[0]


def wait_for_start_file(prediction_dir: Path, timeout: float, poll_interval: float) -> StartInfo:
    """Wait until ``start.txt`` exists and holds its four header keys (it may be caught half written)."""
    path = prediction_dir / "start.txt"
    deadline = time.monotonic() + timeout
    problem = f"{path}: not found after {timeout:g} s (ingestion never started)"
    while True:
        if path.is_file():
            try:
                return read_start_file(path)
            except ScoringError as error:
                problem = str(error)
        if time.monotonic() >= deadline:
            raise ScoringError(problem)
        time.sleep(poll_interval)


def ingestion_alive(pid: int) -> bool:
    """Signal 0 tests whether the pid exists; pids <= 0 would address process groups, so they never count."""
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, but owned by someone else
        return True
    return True


@dataclass
class _Scored:
    relative_time: float
    nauc: float
    accuracy: float | None


@dataclass
class TaskScorer:
    """Scores the predictions of one task as they appear and rewrites the three output files."""

    solution_path: Path
    prediction_dir: Path
    score_dir: Path
    t0: float = T0
    scored: dict[int, _Scored] = field(default_factory=dict)
    skipped: set[int] = field(default_factory=set)
    curve_warned: bool = False  # the missing-matplotlib warning is given once per run

    def __post_init__(self) -> None:
        self.task_name = self.solution_path.name[: -len(".solution")]
        self.solution = read_solution(self.solution_path)
        self.one_hot = is_one_hot(self.solution)
        self._pattern = re.compile(re.escape(self.task_name) + r"\.predict_(\d+)")

    def prediction_files(self) -> dict[int, Path]:
        """``NAME.predict_K`` files by K (ingestion's temporary names and other tasks' files do not match)."""
        files = {}
        for path in self.prediction_dir.glob("*.predict_*"):
            match = self._pattern.fullmatch(path.name)
            if match:
                files[int(match.group(1))] = path
        return files

    def score_new(self, start: StartInfo, final: bool) -> bool:
        """Score every new prediction file; return whether anything changed."""
        changed = False
        for k, path in sorted(self.prediction_files().items()):
            if k in self.scored or k in self.skipped:
                continue
            if k not in start.timestamps:
                if final:  # the file outlived its timestamp line: nowhere to put it on the curve
                    _error(f"{path}: no timestamp '{k}:' in start.txt; prediction skipped")
                    self.skipped.add(k)
                continue
            try:
                prediction = read_prediction(path)
                score = nauc(self.solution, prediction, source=str(path))
                accuracy = soft_accuracy(self.solution, prediction, source=str(path))
            except ScoringError as error:
                _error(f"{error}; prediction skipped")
                self.skipped.add(k)
                continue
            relative_time = start.timestamps[k] - start.start_time
            self.scored[k] = _Scored(relative_time, score, accuracy)
            _log(f"prediction {k} at {relative_time:.2f} s: NAUC={score:.6f}")
            changed = True
        return changed

    def result(self, start: StartInfo) -> ScoreResult:
        entries = [self.scored[k] for k in sorted(self.scored)]
        return build_result(
            [e.relative_time for e in entries],
            [e.nauc for e in entries],
            [e.accuracy for e in entries] if self.one_hot else None,
            start.time_budget,
            self.t0,
        )

    def write_outputs(self, start: StartInfo, refresh: bool) -> ScoreResult:
        """Curve PNG first, then the HTML page that embeds it, then scores.txt."""
        result = self.result(start)
        drawn = plot_learning_curve(
            result.timestamps,
            result.nauc,
            start.time_budget,
            result.alc,
            self.score_dir / f"learning-curve-{self.task_name}.png",
            self.task_name,
            t0=self.t0,
        )
        if not drawn and not self.curve_warned:
            _log("warning: matplotlib is not installed: no learning-curve PNG (scores.txt holds the curve)")
            self.curve_warned = True
        write_detailed_results(self.score_dir, refresh=refresh)
        write_scores_file(self.score_dir / "scores.txt", result)
        return result


def stop_ingestion(pid: int, time_budget: float) -> None:
    """Time budget used up: terminate ingestion if it still runs (predictions written so far stand)."""
    if not ingestion_alive(pid):
        _log(f"time budget T={time_budget:g} s used up; ingestion (pid {pid}) is not running")
        return
    try:
        os.kill(pid, signal.SIGTERM)
        _log(f"time budget T={time_budget:g} s exceeded: sent SIGTERM to ingestion (pid {pid})")
    except OSError as error:
        _error(f"time budget T={time_budget:g} s exceeded, but ingestion (pid {pid}) could not be terminated: {error}")


def summary_lines(scorer: TaskScorer, result: ScoreResult, time_budget: float) -> list[str]:
    """The stdout summary: a header, one line per scored prediction, and `ALC: <value>` last."""
    lines = [f"task {scorer.task_name}: {len(result.nauc)} prediction(s) scored, T={time_budget:g} s, t0={scorer.t0:g} s"]
    for k in sorted(scorer.scored):
        entry = scorer.scored[k]
        late = " (after T: clipped, no area)" if entry.relative_time > time_budget else ""
        lines.append(f"prediction {k}: t={entry.relative_time:.2f} s NAUC={entry.nauc:.6f}{late}")
    lines.append(f"ALC: {result.alc!r}")
    return lines


def run(
    solution_dir: Path,
    prediction_dir: Path,
    score_dir: Path,
    start_timeout: float = 1800.0,
    poll_interval: float = 1.0,
) -> int:
    """Score one task while ingestion runs; return the process exit code."""
    try:
        scorer = TaskScorer(find_solution(solution_dir), prediction_dir, score_dir)
        score_dir.mkdir(parents=True, exist_ok=True)
        start = wait_for_start_file(prediction_dir, start_timeout, poll_interval)
    except ScoringError as error:
        _error(str(error))
        return 2
    if start.task_name != scorer.task_name:
        _log(f"warning: start.txt names task '{start.task_name}', the solution '{scorer.task_name}'")
    _log(f"task {scorer.task_name}: T={start.time_budget:g} s, start_time={start.start_time}")
    deadline = start.start_time + start.time_budget
    end_path = prediction_dir / "end.txt"

    try:
        scorer.write_outputs(start, refresh=True)
        while True:
            ended = end_path.is_file()  # checked before the scan, so the scan sees every file written before end.txt
            if scorer.score_new(start, final=False):
                scorer.write_outputs(start, refresh=True)
            if ended:
                break
            if time.time() >= deadline:
                stop_ingestion(start.ingestion_pid, start.time_budget)
                break
            time.sleep(poll_interval)
            start = _reread_start(prediction_dir, start)
        start = _reread_start(prediction_dir, start)
        scorer.score_new(start, final=True)
        result = scorer.write_outputs(start, refresh=False)
    except ScoringError as error:
        _error(str(error))
        return 2

    _report_ingestion_end(end_path)
    print("\n".join(summary_lines(scorer, result, start.time_budget)), flush=True)
    return 0


def _reread_start(prediction_dir: Path, previous: StartInfo) -> StartInfo:
    """New timestamps appear in start.txt as predictions are made; keep the last good read if it is mid-write."""
    try:
        return read_start_file(prediction_dir / "start.txt")
    except ScoringError:
        return previous


def _report_ingestion_end(end_path: Path) -> None:
    if not end_path.is_file():
        _log("warning: no end.txt: ingestion was killed or did not end normally; predictions so far are scored")
        return
    try:
        end = read_end_file(end_path)
    except ScoringError as error:
        _error(str(error))
        return
    if end.ingestion_success:
        _log(f"ingestion finished successfully in {end.ingestion_duration:.2f} s")
    else:
        _log("warning: ingestion reported a failure (ingestion_success: 0); predictions so far are scored")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scoring", description=__doc__.splitlines()[0])
    parser.add_argument("--solution_dir", type=Path, required=True, help="directory holding exactly one NAME.solution")
    parser.add_argument("--prediction_dir", type=Path, required=True, help="ingestion's output directory")
    parser.add_argument("--score_dir", type=Path, required=True, help="where scores.txt and the curve go")
    parser.add_argument("--start_timeout", type=float, default=1800.0, help="seconds to wait for start.txt")
    parser.add_argument("--poll_interval", type=float, default=1.0, help="seconds between scans")
    args = parser.parse_args(argv)
    return run(args.solution_dir, args.prediction_dir, args.score_dir, args.start_timeout, args.poll_interval)
