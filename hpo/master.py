"""Run (or resume) the BOHB master of a search whose workers find the same name server.

    python -m hpo.master --run_id R --nameserver HOST --port PORT --space portfolio.offline.space:learner_space \\
        --log_dir runs/tune/coil20 --min_budget 20 --max_budget 180 --eta 3 --n_iterations 4 --min_workers 2

`--space MODULE:FUNCTION`: FUNCTION() returns the ConfigSpace space. Every finished evaluation is appended to
`--log_dir` at once; the same command again resumes there (hpo.logs). The workers are shut down at the end.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autodl_format.cli import command, print_error
from hpo.bohb import named_object, run_master
from hpo.logs import SearchLogError, Settings
from hpo.transport import LOOPBACK


def load_space(spec: str):
    return named_object(spec, "--space")()


@command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run_id", required=True)
    parser.add_argument("--nameserver", required=True, help="the name server's host")
    parser.add_argument("--port", type=int, required=True, help="the name server's port")
    parser.add_argument("--host", default=LOOPBACK, help="address the master listens on (workers must reach it)")
    parser.add_argument("--space", required=True, help="MODULE:FUNCTION returning the ConfigSpace space")
    parser.add_argument("--log_dir", type=Path, required=True)
    parser.add_argument("--min_budget", type=float, required=True)
    parser.add_argument("--max_budget", type=float, required=True)
    parser.add_argument("--eta", type=int, default=3)
    parser.add_argument("--n_iterations", type=int, required=True, help="iterations in all, earlier runs included")
    parser.add_argument("--min_workers", type=int, default=1, help="wait for this many workers before starting")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        evaluations = run_master(load_space(args.space), args.run_id, args.nameserver, args.port, args.log_dir,
                                 Settings(args.min_budget, args.max_budget, args.eta), args.n_iterations,
                                 host=args.host, min_n_workers=args.min_workers, seed=args.seed)
    except (ValueError, SearchLogError) as error:
        print_error(error)
        return 1
    print(f"{len(evaluations)} evaluations logged in {args.log_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
