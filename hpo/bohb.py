"""BOHB's three parties -- name server, workers, master -- as pieces that run in one process or on many machines.

On a cluster (every party reaches the name server's host and port; see README "Tuning the portfolio"):
    name server:  start_nameserver(run_id, host, port)          then keep the process alive
    each worker:  serve(objective, run_id, ns_host, ns_port, host)  blocks until the master is done
    the master:   run_master(space, run_id, ns_host, ns_port, log_dir, settings, n_iterations, host)
In one process (small searches, e.g. the meta-classifier's): run_bohb(space, objective, ...).
Jobs without BOHB (the performance matrix's cells) go to the same workers through start_dispatcher.

The master logs every finished evaluation at once and resumes from its log folder (hpo.logs).
"""
from __future__ import annotations

import importlib
import logging
import math
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Union

import numpy as np

from hpo.logs import (Evaluation, Settings, completed_iterations, load_evaluations, new_part, result_logger,
                      warm_start_result)
from hpo.transport import LOOPBACK, configure_pyro, to_plain

# loss, or (loss, info): info is any JSON-able dict kept with the evaluation in the log
Objective = Callable[[dict[str, Any], float], Union[float, tuple[float, dict]]]


def named_object(spec: str, flag: str) -> Any:
    """The object a MODULE:NAME spec names (workers' objectives, masters' spaces); ValueError naming the flag."""
    module_name, _, name = spec.partition(":")
    try:
        return getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as error:
        raise ValueError(f"{flag} {spec}: {error}") from None


def quiet_logger(name: str) -> logging.Logger:
    """hpbandster logs every message at DEBUG to the root logger unless given its own logger."""
    for noisy in ("hpbandster", "Pyro4"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logger = logging.getLogger(f"hpo.{name}")
    logger.setLevel(logging.WARNING)
    return logger


def start_nameserver(run_id: str, host: str = LOOPBACK, port: int = 0):
    """Start the Pyro4 name server in a background thread; returns (server, host, port). Port 0: a free one."""
    configure_pyro()
    import hpbandster.core.nameserver as hpns

    server = hpns.NameServer(run_id=run_id, host=host, port=port)
    ns_host, ns_port = server.start()
    return server, ns_host, ns_port


def _worker_class():
    from hpbandster.core.worker import Worker

    class ObjectiveWorker(Worker):
        """Calls a plain Python objective; a non-finite loss becomes inf (a diverged run is a bad run)."""

        def __init__(self, objective: Objective, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.objective = objective

        def compute(self, config: dict, budget: float, **kwargs: Any) -> dict:
            outcome = self.objective(to_plain(config), float(budget))
            loss, info = outcome if isinstance(outcome, tuple) else (outcome, {})
            loss = float(loss)
            return {"loss": loss if math.isfinite(loss) else math.inf, "info": to_plain(info)}

    return ObjectiveWorker


def make_worker(objective: Objective, run_id: str, ns_host: str, ns_port: int, host: str = LOOPBACK,
                number: int | None = None):
    """A worker of `run_id`; `number` tells apart workers of one process (hpbandster names a worker by host and
    pid, and without it the second would replace the first at the name server)."""
    configure_pyro()
    return _worker_class()(objective, run_id=run_id, nameserver=ns_host, nameserver_port=ns_port, host=host,
                           logger=quiet_logger("worker"), id=number)


def serve(objective: Objective, run_id: str, ns_host: str, ns_port: int, host: str = LOOPBACK) -> None:
    """Run one worker in this thread until the master shuts it down (workers started first wait for it)."""
    make_worker(objective, run_id, ns_host, ns_port, host).run(background=False)


def _dispatcher_class():
    import Pyro4
    from hpbandster.core.dispatcher import Dispatcher

    class DeadWorkerTolerantDispatcher(Dispatcher):
        """hpbandster's dispatcher, but a worker that died while idle costs only the job handed to it. In hpbandster
        0.7.4 the failed start_computation call ends the job_runner thread, and the master then waits for ever
        (seen here: a worker killed between two jobs). Here the job is booked as running on that worker, so the
        next worker discovery (woken at once) finds the worker dead and reports the job as crashed, exactly as
        for a worker that dies mid-job."""

        def job_runner(self) -> None:
            with self.runner_cond:
                while True:
                    while self.waiting_jobs.empty() or not self.idle_workers:
                        self.runner_cond.wait()
                        if self.shutdown_all_threads:
                            self.discover_cond.notify()
                            return
                    job, name = self.waiting_jobs.get(), self.idle_workers.pop()
                    worker = self.worker_pool[name]
                    job.time_it("started")
                    worker.runs_job, job.worker_name = job.id, name
                    self.running_jobs[job.id] = job
                    try:
                        worker.proxy.start_computation(self, job.id, **job.kwargs)
                    except Pyro4.errors.CommunicationError as error:
                        self.logger.warning("DISPATCHER: worker %s unreachable (%s); job %s will be reported "
                                            "as crashed", name, error, job.id)
                        self.discover_cond.notify()

    return DeadWorkerTolerantDispatcher


def start_dispatcher(on_result: Callable[[Any], None], run_id: str, ns_host: str, ns_port: int,
                     host: str = LOOPBACK, on_workers: Callable[[int], None] | None = None,
                     ping_interval: int = 2):
    """hpbandster's job queue without an optimiser (the performance matrix's cells): its Dispatcher (tolerant of
    workers dying while idle) serving in a background thread, as hpbandster's Master runs it. Jobs go in with
    `dispatcher.submit_job(job_id, config=..., budget=...)` and reach whichever worker of `run_id` is idle;
    `on_result(job)` gets each finished hpbandster Job (job.result, or job.exception when it failed or its worker
    died), `on_workers(n)` the pool size when it changes. Returns (dispatcher, thread); end it with
    `dispatcher.shutdown(shutdown_workers)` then `thread.join()`. RuntimeError when no name server answers."""
    configure_pyro()
    import Pyro4

    try:  # the dispatcher's thread would die on this unseen, and the jobs wait for ever
        Pyro4.locateNS(host=ns_host, port=ns_port)._pyroRelease()
    except Pyro4.errors.NamingError:
        raise RuntimeError(f"no name server at {ns_host}:{ns_port}") from None
    dispatcher = _dispatcher_class()(on_result, run_id=run_id, ping_interval=ping_interval, nameserver=ns_host,
                                     nameserver_port=ns_port, host=host, logger=quiet_logger("dispatcher"),
                                     queue_callback=on_workers)
    thread = threading.Thread(target=dispatcher.run, name="dispatcher", daemon=True)
    thread.start()
    while not hasattr(dispatcher, "pyro_daemon"):  # shutdown() needs the daemon that run() makes
        time.sleep(0.01)
    return dispatcher, thread


def _bohb_class():
    import hpbandster.core.master
    from hpbandster.optimizers import BOHB

    hpbandster.core.master.Dispatcher = _dispatcher_class()  # the Master builds its dispatcher by this name

    class ResumedBOHB(BOHB):
        """BOHB whose Hyperband bracket schedule continues from `first_iteration` (a resumed search)."""

        def __init__(self, first_iteration: int, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.first_iteration = first_iteration

        def get_next_iteration(self, iteration, iteration_kwargs={}):  # noqa: B006 - hpbandster's signature
            bracket = super().get_next_iteration(iteration + self.first_iteration, iteration_kwargs)
            bracket.HPB_iter = iteration  # job ids index this master's own list of iterations
            return bracket

    return ResumedBOHB


def run_master(space, run_id: str, ns_host: str, ns_port: int, log_dir: Path, settings: Settings,
               n_iterations: int, host: str = LOOPBACK, min_n_workers: int = 1, seed: int = 0) -> list[Evaluation]:
    """Run (or resume) the search logged in `log_dir` until `n_iterations` iterations are complete; shuts the
    workers down at the end. Returns every evaluation of the search, earlier parts included."""
    configure_pyro()
    done = completed_iterations(log_dir)
    if done < n_iterations:
        previous = warm_start_result(log_dir, space)
        part = new_part(log_dir, settings, done, n_iterations)
        np.random.seed(seed + done)  # BOHB's model-based sampling draws from numpy's global generator
        space.seed(seed + done)
        optimiser = _bohb_class()(
            first_iteration=done, configspace=space, run_id=run_id, nameserver=ns_host, nameserver_port=ns_port,
            host=host, min_budget=settings.min_budget, max_budget=settings.max_budget, eta=settings.eta,
            result_logger=result_logger(part), previous_result=previous,
            ping_interval=2, logger=quiet_logger("master"))
        try:
            optimiser.run(n_iterations=n_iterations - done, min_n_workers=min_n_workers)
        finally:
            optimiser.shutdown(shutdown_workers=True)
    return load_evaluations(log_dir)


def best_on_top_budget(evaluations: list[Evaluation]) -> Evaluation:
    """The lowest loss among the evaluations on the largest budget any evaluation reached."""
    finished = [e for e in evaluations if math.isfinite(e.loss)]
    if not finished:
        raise RuntimeError("BOHB finished without a single successful evaluation")
    top = max(e.budget for e in finished)
    return min((e for e in finished if e.budget == top), key=lambda e: e.loss)


def stop_thread_worker(worker, wait_seconds: float = 10.0) -> None:
    """Shut down a background worker the master did not get to (an error before or during the run); its Pyro4
    daemon appears only once its thread has started."""
    end = time.monotonic() + wait_seconds
    while worker.thread.is_alive() and not hasattr(worker, "pyro_daemon") and time.monotonic() < end:
        time.sleep(0.05)
    if worker.thread.is_alive() and hasattr(worker, "pyro_daemon"):
        worker.shutdown()


def run_bohb(space, objective: Objective, min_budget: float, max_budget: float, n_iterations: int, eta: int = 3,
             seed: int = 0, log_dir: Path | None = None) -> tuple[dict[str, Any], list[Evaluation]]:
    """Minimise `objective(config, budget)` with one worker thread in this process, all parties on 127.0.0.1;
    returns (best config on the largest budget, all evaluations). With `log_dir`, logged and resumable."""
    run_id = f"bohb-{uuid.uuid4().hex[:8]}"
    server, ns_host, ns_port = start_nameserver(run_id)
    worker = None
    try:
        worker = make_worker(objective, run_id, ns_host, ns_port)
        worker.run(background=True)
        with tempfile.TemporaryDirectory() as scratch:
            evaluations = run_master(space, run_id, ns_host, ns_port, Path(log_dir or scratch),
                                     Settings(float(min_budget), float(max_budget), int(eta)), n_iterations,
                                     seed=seed)
    finally:
        if worker is not None:
            stop_thread_worker(worker)
        server.shutdown()
    return best_on_top_budget(evaluations).config, evaluations
