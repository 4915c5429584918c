"""How every command-line tool of the project ends on bad input: one `error: <what went wrong>` line on stderr and
exit code 2, never a traceback.

    @command
    def main(argv: list[str] | None = None) -> int:
        ...

    if __name__ == "__main__":
        sys.exit(main())

Bad input is a BadInput (autodl_format.errors: bad datasets, configurations, catalogues, search logs, ...) or an
OSError (a file or folder named on the command line that cannot be read or written). Anything else is a bug and
keeps its traceback. argparse's own usage errors stay as argparse prints them (also exit code 2).
"""
from __future__ import annotations

import functools
import sys
from collections.abc import Callable

from autodl_format.errors import BadInput, first_line

BAD_INPUT = 2     # exit code of bad input, the same as argparse's usage errors
INTERRUPTED = 130  # exit code after Ctrl-C: 128 + SIGINT, as a shell reports a process killed by it

Main = Callable[[list[str] | None], "int | None"]


def describe(error: BaseException) -> str:
    """The one line a user sees of an exception: `FILE: reason` for an OSError about a file (not Python's
    "[Errno 2] ..."), else its first line."""
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        return f"{error.filename}: {error.strerror}"
    return first_line(error)


def print_error(problem: str | BaseException) -> None:
    """Print `error: <problem>` on stderr, an exception as describe() puts it (the form ingestion and scoring
    print)."""
    text = describe(problem) if isinstance(problem, BaseException) else problem
    print(f"error: {text}", file=sys.stderr, flush=True)


def run_command(main: Main, argv: list[str] | None = None) -> int:
    """Run main(argv) and return its exit code (0 for None); bad input and Ctrl-C end in one `error:` line and
    exit code BAD_INPUT or INTERRUPTED."""
    try:
        code = main(argv)
    except (BadInput, OSError) as error:
        print_error(error)
        return BAD_INPUT
    except KeyboardInterrupt:
        print_error("interrupted")
        return INTERRUPTED
    return 0 if code is None else code


def command(main: Main) -> Callable[[list[str] | None], int]:
    """Decorate a command's `main(argv)` so that every call of it, from the shell or from a test, goes through
    run_command."""

    @functools.wraps(main)
    def wrapped(argv: list[str] | None = None) -> int:
        return run_command(main, argv)

    return wrapped
