"""A one-shot SIGALRM that raises an exception in the main thread at a wall-clock time.

Used for the init cap (official: 20 min around import + Model(...)) and for --hard_stop at start + T. The
exceptions derive from BaseException so a model's `except Exception:` does not swallow them. Python runs signal
handlers between bytecodes of the main thread only: code stuck inside one long C call sees the exception when that
call returns; the watchdog process (ingestion.watchdog) is the backstop for code that never returns.
"""
from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager
from typing import Iterator


class TimeUp(BaseException):
    """Base class of the exceptions the alarm raises into model code."""


class InitTimeout(TimeUp):
    """Import of model.py + Model(metadata) ran past the init cap."""


class HardStop(TimeUp):
    """--hard_stop: the model was still running at start + T."""


class Alarm:
    """Raise `exc_type(message)` in the main thread at epoch time `at`, at most once."""

    def __init__(self, exc_type: type[TimeUp], message: str) -> None:
        self._exc_type = exc_type
        self._message = message
        self._previous_handler = None
        self._armed = False
        self._defer_depth = 0
        self._pending = False
        self.fired = False

    @staticmethod
    def available() -> bool:
        """SIGALRM handlers can only be installed from the main thread (and on POSIX)."""
        return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()

    def arm(self, at: float) -> bool:
        """Start the timer; returns False (and does nothing) where SIGALRM cannot be used."""
        if not self.available():
            return False
        self._previous_handler = signal.signal(signal.SIGALRM, self._on_alarm)
        self._armed = True
        signal.setitimer(signal.ITIMER_REAL, max(at - time.time(), 1e-3))
        return True

    def disarm(self) -> None:
        """Cancel the timer and restore the previous handler. Idempotent."""
        if not self._armed:
            return
        self._armed = False  # first: an alarm landing during the rest of disarm is ignored
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self._previous_handler or signal.SIG_DFL)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Critical section (our own file writes): an alarm arriving inside is raised when the section ends."""
        self._defer_depth += 1
        try:
            yield
        finally:
            self._defer_depth -= 1
            if self._pending and self._defer_depth == 0 and self._armed:
                self._pending = False
                raise self._exc_type(self._message)

    def _on_alarm(self, signum: int, frame: object) -> None:
        self.fired = True
        if not self._armed:
            return
        if self._defer_depth:
            self._pending = True
            return
        raise self._exc_type(self._message)
