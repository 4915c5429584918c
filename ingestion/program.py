"""The AutoDL ingestion program: run a submission's Model on one dataset under a time budget (protocol 3).

    python -m ingestion --dataset_dir D --code_dir C --output_dir O --time_budget T [--score_dir S]
                        [--ingestion_program_dir X] [--init_time_cap 1200] [--hard_stop [--hard_stop_grace 10]]
                        [--tf1_compat] [--lenient]

Sequence (as the official v20191204 program): find the one NAME.data in D; import `Model` from C/model.py and
construct it with the train metadata under an init cap that is not charged to T; start = now, write start.txt; then
train / test / write NAME.predict_K until done_training, test returns None, or start + T has passed; end.txt; copy
outputs into S. Differences, on purpose: C goes at the front of sys.path; predictions with NaN/inf are refused;
--hard_stop really stops the model at start + T (see ingestion.alarm and ingestion.watchdog). The model gets eager
TF2 datasets; --tf1_compat gives it graph-mode TF1 datasets and TF1 names instead, as 2019 submissions expect (see
ingestion.tf1_compat). A prediction the official program would fail on (no `.shape`: a list) is refused unless
--lenient.

Exit status: 0 success; 1 the model failed (end.txt says ingestion_success: 0, earlier predictions are kept);
2 bad command line or dataset (nothing written). Problems are reported as one `error: ...` line, as the scoring
program does. Under --hard_stop a model that ignores the deadline is killed by
the watchdog (SIGKILL: the caller sees -9/137; end.txt is still written by the watchdog).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from contextlib import nullcontext
from typing import Any, Callable, ContextManager

from autodl_format.errors import DatasetError, first_line
from autodl_format.files import write_atomic
from ingestion import outputs
from ingestion.alarm import Alarm, HardStop, InitTimeout
from ingestion.model_loading import ModelLoadError, import_model_class, submission_on_path
from ingestion.predictions import PredictionError, check_prediction, format_prediction
from ingestion.summary import IngestionSummary
from ingestion.watchdog import Watchdog

log = logging.getLogger("ingestion")

DEFAULT_TIME_BUDGET = 1200.0     # official T since 2019-05-16
DEFAULT_INIT_TIME_CAP = 1200.0   # official 20-minute cap on import + Model(metadata)
DEFAULT_HARD_STOP_GRACE = 10.0   # after start + T, how long the model may take to honour the stop exception


class UsageError(Exception):
    """Bad arguments (not a dataset problem). One-line message."""


def describe(e: BaseException, limit: int = 300) -> str:
    """`Type: first line of the message`, short enough for one log line."""
    line = first_line(e)
    text = f"{type(e).__name__}: {line}" if line else type(e).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def run_ingestion(dataset_dir: str, code_dir: str, output_dir: str, time_budget: float = DEFAULT_TIME_BUDGET, *,
                  score_dir: str | None = None, hard_stop: bool = False,
                  hard_stop_grace: float = DEFAULT_HARD_STOP_GRACE, init_time_cap: float = DEFAULT_INIT_TIME_CAP,
                  ingestion_program_dir: str | None = None, log_file: str | None = None, tf1_compat: bool = False,
                  lenient: bool = False) -> IngestionSummary:
    """Run ingestion once and return what happened. Model failures are reported in the summary (success False);
    bad arguments raise UsageError and bad datasets DatasetError, before anything is written.

    Call it in a fresh process (benchmarks: use the CLI in a subprocess): it imports the submission's `model`
    module into this process, and with hard_stop=True the watchdog SIGKILLs this process if the model ignores the
    deadline. The time limits use SIGALRM when called from the main thread; elsewhere only the watchdog enforces
    them. log_file (default output_dir/ingestion.log) receives tracebacks. tf1_compat switches this process to
    TensorFlow's graph mode for good.
    """
    if not time_budget > 0:
        raise UsageError(f"time budget must be > 0 seconds, got {time_budget}")
    if not init_time_cap > 0 or not hard_stop_grace >= 0:
        raise UsageError("init_time_cap must be > 0 and hard_stop_grace >= 0")
    if not os.path.isdir(code_dir):
        raise UsageError(f"{code_dir}: code directory does not exist")
    from autodl_format import frameworks  # both frameworks, quietly, before the submission's model
    from autodl_format.reader import load_task  # TensorFlow's tf.data where it imports, else protobuf and Pillow
    from ingestion.tf1_compat import tf1_mode

    if tf1_compat and not frameworks.tensorflow_available():
        raise UsageError("--tf1_compat needs TensorFlow, which cannot be imported here")

    task = load_task(dataset_dir)
    os.makedirs(output_dir, exist_ok=True)
    removed = outputs.remove_stale_outputs(output_dir, task.name)
    with _logging_to(log_file or os.path.join(output_dir, outputs.LOG_FILE)):
        if removed:
            log.info(f"removed {len(removed)} output file(s) of an earlier run from {output_dir}")
        summary = IngestionSummary(task_name=task.name, output_dir=output_dir, time_budget=float(time_budget))
        watchdog = Watchdog(output_dir, task.name, time_budget, score_dir) if hard_stop else None
        try:
            with (tf1_mode(frameworks.tf) if tf1_compat else nullcontext(),
                  submission_on_path(code_dir, (ingestion_program_dir,) if ingestion_program_dir else ())):
                _ingest(task, code_dir, summary, watchdog, hard_stop_grace, init_time_cap, tf1_compat, lenient)
        finally:
            if watchdog is not None:
                watchdog.close()
        if summary.error:
            log.error(summary.error + (_TF1_HINT if not tf1_compat and _looks_like_tf1(summary.error) else ""))
        log.info(summary.line())
    if score_dir:
        outputs.copy_outputs(output_dir, score_dir)
    return summary


def _looks_like_tf1(error: str) -> bool:
    return "module 'tensorflow' has no attribute" in error or "make_one_shot_iterator" in error


_TF1_HINT = " (a TensorFlow 1 submission? run it with --tf1_compat)"


def _ingest(task: Any, code_dir: str, summary: IngestionSummary, watchdog: Watchdog | None, grace: float,
            init_time_cap: float, tf1_compat: bool, lenient: bool) -> None:
    T, output_dir = summary.time_budget, summary.output_dir
    train_meta, test_meta = task.train.get_metadata(), task.test.get_metadata()
    expected_shape = (test_meta.size(), test_meta.get_output_size())
    log.info(f"task {task.name}: {train_meta.size()} train / {test_meta.size()} test examples, "
             f"{test_meta.get_output_size()} classes; time budget {T:g} s"
             + (f", hard stop (grace {grace:g} s)" if watchdog else ""))
    datasets = (task.train.get_dataset(tf1=tf1_compat), task.test.get_dataset(tf1=tf1_compat))  # before start
    model = _construct_model(code_dir, train_meta, init_time_cap, summary, watchdog, grace)
    start = time.time()
    # Every output write holds the watchdog's lock, so the watchdog never kills ingestion mid-write.
    lock = watchdog.lock if watchdog is not None else nullcontext
    with lock():
        outputs.write_start(output_dir, os.getpid(), task.name, T, start)
    if watchdog is not None:
        watchdog.arm("loop", start + T + grace, start)
    try:
        if model is None:
            summary.stop_reason = "model construction failed"
        else:
            _Loop(model, datasets, task.name, expected_shape, start, summary, lock,
                  hard_stop=watchdog is not None, lenient=lenient).run()
    finally:
        end = time.time()
        summary.duration = end - start
        with lock():
            outputs.write_end(output_dir, summary.duration, summary.success, end)
            if watchdog is not None:
                watchdog.done()


def _construct_model(code_dir: str, metadata: Any, cap: float, summary: IngestionSummary,
                     watchdog: Watchdog | None, grace: float) -> Any | None:
    """Import model.py and call Model(metadata) under the init cap; None (and summary.error set) on failure."""
    alarm = Alarm(InitTimeout, f"import of model.py + Model(metadata) exceeded the init cap of {cap:g} s")
    if watchdog is not None:
        watchdog.arm("init", time.time() + cap + grace)
    t0 = time.time()
    step = "import of model.py"
    try:
        try:
            alarm.arm(t0 + cap)
            model_class = import_model_class(code_dir)
            step = "Model(metadata)"
            model = model_class(metadata)
        finally:
            alarm.disarm()
        if alarm.fired:  # the constructor caught InitTimeout and carried on
            raise InitTimeout(f"Model(metadata) ran past the init cap of {cap:g} s")
    except (InitTimeout, ModelLoadError) as e:
        summary.error = f"init: {e}"
        return None
    except Exception as e:
        log.debug(f"{step} failed", exc_info=True)
        summary.error = f"init: {step} raised {describe(e)}"
        return None
    finally:
        summary.init_duration = time.time() - t0
    log.info(f"model constructed in {summary.init_duration:.2f} s (not charged to the time budget)")
    return model


class _Loop:
    """The train/test/write loop of protocol 3.2, step 4. `self.step` names what is running, for error messages."""

    def __init__(self, model: Any, datasets: tuple[Any, Any], task_name: str, expected_shape: tuple[int, int],
                 start: float, summary: IngestionSummary, lock: Callable[[], ContextManager], hard_stop: bool,
                 lenient: bool) -> None:
        self.model, self.datasets, self.task_name, self.expected_shape = model, datasets, task_name, expected_shape
        self.start, self.summary, self.lock, self.lenient = start, summary, lock, lenient
        self.deadline = start + summary.time_budget
        self.alarm = Alarm(HardStop, f"time budget of {summary.time_budget:g} s is over") if hard_stop else None
        self.step = "API check"

    def remaining(self) -> float:
        return self.deadline - time.time()

    def run(self) -> None:
        s = self.summary
        try:
            try:
                if self.alarm is not None and not self.alarm.arm(self.deadline):
                    log.warning("hard stop: SIGALRM unavailable outside the main thread; only the watchdog enforces T")
                s.stop_reason = self._iterate()
                s.success = True
            finally:
                if self.alarm is not None:
                    self.alarm.disarm()
        except HardStop:
            s.stop_reason = "hard stop at start + T"
            s.error = f"hard stop: {self.step} was still running at start + T ({s.time_budget:g} s); interrupted"
        except PredictionError as e:
            s.stop_reason = "invalid prediction"
            s.error = f"{self.step}: {e}"
        except Exception as e:
            log.debug(f"{self.step} failed", exc_info=True)
            s.stop_reason = "exception in the model"
            s.error = f"{self.step} raised {describe(e)}"

    def _iterate(self) -> str:
        model, s = self.model, self.summary
        for method in ("train", "test"):
            if not callable(getattr(model, method, None)):
                raise AttributeError(f"the Model has no callable {method}() method")
        has_done_training = hasattr(model, "done_training")
        if not has_done_training:
            log.warning("the Model has no done_training attribute: looping until test returns None or time runs out")
        train_set, test_set = self.datasets
        k = 0
        while not (has_done_training and model.done_training):
            self.step = f"Model.train (call {k + 1}, after {k} predictions)"
            t0 = time.time()
            model.train(train_set, remaining_time_budget=self.remaining())
            self._raise_if_deadline_swallowed()
            self.step = f"Model.test (call {k + 1}, after {k} predictions)"
            t1 = time.time()
            raw = model.test(test_set, remaining_time_budget=self.remaining())
            t2 = time.time()
            self._raise_if_deadline_swallowed()
            if raw is None:
                return "test returned None"
            self.step = f"prediction {k}"
            pred = check_prediction(raw, self.expected_shape, lenient=self.lenient)
            s.train_durations.append(t1 - t0)
            s.test_durations.append(t2 - t1)
            self._commit(k, pred)
            log.info(f"prediction {k}: t={s.prediction_times[-1]:.2f} s (train {t1 - t0:.2f} s, test {t2 - t1:.2f} s) "
                     f"shape {pred.shape} remaining {self.remaining():.2f} s")
            k += 1
            if self.remaining() <= 0:
                return "time budget exhausted"
        return "done_training"

    def _commit(self, k: int, pred: Any) -> None:
        """Append `K: <epoch>` to start.txt, then write NAME.predict_K atomically. Under hard stop the deadline
        exception waits until both are written, and a prediction that comes after start + T is not written."""
        text = format_prediction(pred)
        with self.alarm.deferred() if self.alarm is not None else nullcontext(), self.lock():
            timestamp = time.time()
            if self.alarm is not None and timestamp > self.deadline:  # the alarm is late (a long C call)
                raise HardStop(f"prediction {k} came after start + T")
            outputs.append_prediction_time(self.summary.output_dir, k, timestamp)
            write_atomic(os.path.join(self.summary.output_dir, outputs.prediction_name(self.task_name, k)),
                                 text)
            self.summary.prediction_times.append(timestamp - self.start)

    def _raise_if_deadline_swallowed(self) -> None:
        # A model that caught HardStop and returned normally must not get another call.
        if self.alarm is not None and self.alarm.fired:
            raise HardStop("deadline exception swallowed by the model")


class _ConsoleFormat(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        prefix = "ingestion: " if record.levelno == logging.INFO else f"{record.levelname.lower()}: "
        return prefix + record.getMessage()


class _logging_to:
    """For the duration of a run: INFO one-liners to stderr, DEBUG (with tracebacks) to log_file."""

    def __init__(self, log_file: str) -> None:
        self.console = logging.StreamHandler(sys.stderr)
        self.console.setLevel(logging.INFO)
        self.console.setFormatter(_ConsoleFormat())
        self.file = logging.FileHandler(log_file, mode="w")
        self.file.setLevel(logging.DEBUG)
        self.file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))

    def __enter__(self) -> None:
        self.previous_level = log.level
        log.setLevel(logging.DEBUG)
        log.addHandler(self.console)
        log.addHandler(self.file)

    def __exit__(self, *exc: object) -> None:
        log.removeHandler(self.console)
        log.removeHandler(self.file)
        self.file.close()
        log.setLevel(self.previous_level)


# ---------------------------------------------------------------- command line

def codalab_paths(dataset_dir: str, code_dir: str) -> tuple[str, str]:
    """CodaLab special case of the official program: run/input + run/program -> run/input_data + run/submission."""
    if dataset_dir.rstrip("/").endswith("run/input") and code_dir.rstrip("/").endswith("run/program"):
        return dataset_dir.rstrip("/") + "_data", code_dir.rstrip("/")[: -len("program")] + "submission"
    return dataset_dir, code_dir


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m ingestion", description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset_dir", required=True, help="directory holding exactly one NAME.data")
    p.add_argument("--code_dir", required=True, help="directory holding the submission's model.py")
    p.add_argument("--output_dir", required=True, help="where start.txt, NAME.predict_K and end.txt go")
    p.add_argument("--time_budget", type=float, default=DEFAULT_TIME_BUDGET, help="T in seconds (default 1200)")
    p.add_argument("--score_dir", help="if given, the outputs are copied there at the end (as officially)")
    p.add_argument("--ingestion_program_dir", help="appended to sys.path, as officially")
    p.add_argument("--init_time_cap", type=float, default=DEFAULT_INIT_TIME_CAP,
                   help="cap on import + Model(metadata), not charged to T (default 1200 s)")
    p.add_argument("--hard_stop", action="store_true", help="stop the model at start + T instead of only advising it")
    p.add_argument("--hard_stop_grace", type=float, default=DEFAULT_HARD_STOP_GRACE,
                   help="seconds after start + T (or the init cap) before the watchdog kills the process (default 10)")
    p.add_argument("--log_file", help="debug log with tracebacks (default OUTPUT_DIR/ingestion.log)")
    p.add_argument("--tf1_compat", action="store_true",
                   help="graph-mode TF1 datasets and TF1 names (tf.Session, make_one_shot_iterator, ...) for 2019-era "
                        "TensorFlow 1 submissions")
    p.add_argument("--lenient", action="store_true",
                   help="accept predictions the official program fails on (e.g. a list instead of a numpy array)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    dataset_dir, code_dir = codalab_paths(args.dataset_dir, args.code_dir)
    try:
        summary = run_ingestion(dataset_dir, code_dir, args.output_dir, args.time_budget, score_dir=args.score_dir,
                                hard_stop=args.hard_stop, hard_stop_grace=args.hard_stop_grace,
                                init_time_cap=args.init_time_cap, ingestion_program_dir=args.ingestion_program_dir,
                                log_file=args.log_file, tf1_compat=args.tf1_compat, lenient=args.lenient)
    except (UsageError, DatasetError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    return 0 if summary.success else 1
