"""Run a real hpbandster BOHB search in-process, on 127.0.0.1 only, with the numpy-2 pitfalls handled.

Why this module exists: with hpbandster 0.7.4, ConfigSpace 1.x and numpy 2, `BOHB.run()` hangs silently because
Pyro4's default serpent serializer cannot send numpy scalars. We switch Pyro4 to its pickle serializer (safe here:
every party is this process, bound to the loopback interface) and hand the objective plain Python values only.

Usage:
    best, runs = run_bohb(space, lambda config, budget: loss, min_budget=1, max_budget=9, n_iterations=4)
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

LOOPBACK = "127.0.0.1"


def configure_pyro() -> None:
    """Make Pyro4 (hpbandster's transport) use pickle, which carries numpy scalars that serpent cannot."""
    import Pyro4

    Pyro4.config.SERIALIZER = "pickle"
    Pyro4.config.SERIALIZERS_ACCEPTED = {"pickle"}


def to_plain(value: Any) -> Any:
    """Numpy scalars/arrays inside dicts and lists -> plain Python (configs sampled by ConfigSpace carry numpy)."""
    if isinstance(value, dict):
        return {str(key): to_plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(item) for item in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


@dataclass
class BohbRun:
    """One evaluated configuration: the config (plain Python), its budget and loss."""

    config: dict[str, Any]
    budget: float
    loss: float


Objective = Callable[[dict[str, Any], float], float]


def _make_worker_class():
    from hpbandster.core.worker import Worker

    class _ObjectiveWorker(Worker):
        """An hpbandster worker that calls a plain Python objective: loss = objective(config, budget)."""

        def __init__(self, objective: Objective, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.objective = objective

        def compute(self, config: dict, budget: float, **kwargs: Any) -> dict:
            loss = float(self.objective(to_plain(config), float(budget)))
            if not np.isfinite(loss):
                loss = float("inf")  # a diverged run is a bad run, not a crashed optimiser
            return {"loss": loss, "info": {}}

    return _ObjectiveWorker


def run_bohb(config_space, objective: Objective, min_budget: float, max_budget: float, n_iterations: int,
             eta: int = 3, seed: int = 0) -> tuple[dict[str, Any], list[BohbRun]]:
    """Minimise `objective(config, budget)` with BOHB; returns (best config on the largest budget, all runs).

    One worker in a background thread of this process; the Pyro4 name server, worker and master all bind to
    127.0.0.1 on free ports and are shut down before returning, also on error.
    """
    configure_pyro()
    import hpbandster.core.nameserver as hpns
    from hpbandster.optimizers import BOHB

    for name in ("hpbandster", "Pyro4"):
        logging.getLogger(name).setLevel(logging.WARNING)
    np.random.seed(seed)  # BOHB's model-based sampling draws from numpy's global generator
    config_space.seed(seed)
    run_id = f"bohb-{uuid.uuid4().hex[:8]}"
    name_server = hpns.NameServer(run_id=run_id, host=LOOPBACK, port=0)
    ns_host, ns_port = name_server.start()
    optimiser = None
    worker = None
    try:
        worker = _make_worker_class()(objective, run_id=run_id, nameserver=ns_host, nameserver_port=ns_port,
                                      host=LOOPBACK)
        worker.run(background=True)
        optimiser = BOHB(configspace=config_space, run_id=run_id, nameserver=ns_host, nameserver_port=ns_port,
                         host=LOOPBACK, min_budget=min_budget, max_budget=max_budget, eta=eta, ping_interval=1)
        result = optimiser.run(n_iterations=n_iterations, min_n_workers=1)
    finally:
        if optimiser is not None:
            optimiser.shutdown(shutdown_workers=True)
        elif worker is not None and hasattr(worker, "pyro_daemon"):  # its thread may not have started yet
            worker.shutdown()
        name_server.shutdown()
    id_to_config = result.get_id2config_mapping()
    runs = [BohbRun(to_plain(id_to_config[r.config_id]["config"]), float(r.budget),
                    float(r.loss) if r.loss is not None else float("inf"))
            for r in result.get_all_runs()]
    if not runs:
        raise RuntimeError("BOHB finished without a single evaluated configuration")
    top_budget = max(r.budget for r in runs)
    best = min((r for r in runs if r.budget == top_budget), key=lambda r: r.loss)
    return best.config, runs
