"""Run one BOHB worker process: it finds the name server by host and port, takes jobs from the master of `run_id`
until the master shuts it down, and evaluates them with an objective named by import path.

    python -m hpo.worker --run_id R --nameserver HOST --port PORT --objective portfolio.offline.objective:make_objective \\
        --option dataset_dir=data/tune/coil20 --option work_dir=runs/tune/coil20

`--objective MODULE:FACTORY`: FACTORY(**options) returns the objective, `objective(config, budget) -> loss or
(loss, info)`. `--host`: the address this worker listens on (another machine's master must reach it).
"""
from __future__ import annotations

import argparse
import sys

from autodl_format.cli import command, print_error
from hpo.bohb import Objective, named_object, serve
from hpo.transport import LOOPBACK


def load_objective(spec: str, options: list[str]) -> Objective:
    """MODULE:FACTORY plus KEY=VALUE options -> the objective; ValueError with one line when that fails."""
    factory = named_object(spec, "--objective")
    pairs = [option.partition("=") for option in options]
    bad = [key for key, equals, _ in pairs if not equals]
    if bad:
        raise ValueError(f"--option {bad[0]}: expected KEY=VALUE")
    return factory(**{key: value for key, _, value in pairs})


@command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run_id", required=True)
    parser.add_argument("--nameserver", required=True, help="the name server's host")
    parser.add_argument("--port", type=int, required=True, help="the name server's port")
    parser.add_argument("--host", default=LOOPBACK, help="address this worker listens on (default 127.0.0.1)")
    parser.add_argument("--objective", required=True, help="MODULE:FACTORY returning the objective")
    parser.add_argument("--option", action="append", default=[], help="KEY=VALUE passed to FACTORY (repeatable)")
    args = parser.parse_args(argv)
    try:
        objective = load_objective(args.objective, args.option)
        serve(objective, args.run_id, args.nameserver, args.port, args.host)
    except (ValueError, RuntimeError) as error:
        print_error(error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
