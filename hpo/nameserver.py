"""Run the Pyro4 name server of a BOHB search until interrupted; workers and the master find it by host and port.

    python -m hpo.nameserver --run_id R --host 10.0.0.5 --port 9090
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading

from autodl_format.cli import command
from hpo.bohb import start_nameserver
from hpo.transport import LOOPBACK


@command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run_id", required=True)
    parser.add_argument("--host", default=LOOPBACK, help="address to listen on (default 127.0.0.1: this machine)")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: a free one, printed)")
    args = parser.parse_args(argv)
    server, host, port = start_nameserver(args.run_id, args.host, args.port)
    print(f"name server of run {args.run_id} at {host}:{port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
