"""A sweep's tasks run on Dask: a ``distributed.LocalCluster`` of one worker process per core (the
default), an existing cluster (``tcp://HOST:PORT``: its workers need rdagen installed), or a batch
scheduler through dask-jobqueue (``slurm``, ``lsf``, ``pbs``: the spec's ``[jobqueue]`` table holds
its usual settings, cores, memory, queue, walltime, ...). Each task is one Dask future (explore/evaluate.py
``evaluate``), keyed by the task's hash; the client stores each result as it arrives
(explore/store.py), so a stopped sweep started again runs only the tasks not stored, and a worker lost
mid-task has its task run again elsewhere (Dask's own rescheduling; a task that kills its workers
three times is recorded as failed).
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Callable

from .area import UNITS, synthesize_unit, unit_key
from .evaluate import evaluate
from .spec import SpecError, Sweep
from .store import Store

__all__ = ["SCHEDULERS", "check_scheduler", "client_for", "run_sweep"]

SCHEDULERS = ("local", "slurm", "lsf", "pbs")
"""--scheduler: these names, or the address of a running scheduler (tcp://HOST:PORT)."""

_JOBQUEUE = {"slurm": "SLURMCluster", "lsf": "LSFCluster", "pbs": "PBSCluster"}


def check_scheduler(scheduler: str) -> None:
    if scheduler not in SCHEDULERS and not scheduler.startswith(("tcp://", "tls://")):
        raise SpecError(f"--scheduler {scheduler!r}: give local, slurm, lsf, pbs or a scheduler address tcp://HOST:PORT")


@contextlib.contextmanager
def client_for(scheduler: str, workers: int | None, jobqueue: dict):
    """A Dask client on *scheduler* with *workers* workers (local: default one per core; jobqueue: jobs)."""
    from distributed import Client, LocalCluster

    check_scheduler(scheduler)
    if scheduler == "local":
        # No dashboard; the scheduler's HTTP server (health routes) on a free port, not 8787, which
        # another cluster on the machine may hold (distributed warns, then moves).
        with LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                          dashboard_address=None, scheduler_kwargs={"dashboard": False, "dashboard_address": ":0"}
                          ) as cluster, Client(cluster) as client:
            yield client
    elif scheduler in _JOBQUEUE:
        import dask_jobqueue

        with getattr(dask_jobqueue, _JOBQUEUE[scheduler])(**jobqueue) as cluster:
            cluster.scale(jobs=workers or 1)
            with Client(cluster) as client:
                yield client
    else:
        with Client(scheduler, timeout="30s") as client:
            yield client


def run_sweep(sweep: Sweep, store: Store, client, progress: Callable[[str], None] | None = None) -> dict:
    """Runs the tasks of *sweep* that *store* lacks on *client*, storing each result as it arrives;
    returns the counts {"tasks", "stored_before", "ok", "refused", "failed"} of this run."""
    from distributed import as_completed

    tasks = sweep.tasks()
    stored = store.keys()
    todo = [t for t in tasks if t.key not in stored]
    counts = {"tasks": len(tasks), "stored_before": len(tasks) - len(todo), "ok": 0, "refused": 0, "failed": 0}
    if progress:
        progress(f"{len(tasks)} tasks ({len(sweep.points())} points x {len(sweep.workloads)} workloads); "
                 f"{counts['stored_before']} already in {store.path}, {len(todo)} to run")
    if not todo:
        return counts
    started = time.perf_counter()
    syntheses = {}  # (kind, unit key) -> future: a unit configuration shared by points is synthesized once
    futures = {}
    for t in todo:
        units = []
        if sweep.measure["area"]:
            for kind in UNITS:
                key = unit_key(kind, t.config)
                if (kind, key) not in syntheses:
                    config = {f: t.config[f] for f in t.config}
                    method = sweep.measure["area"]
                    syntheses[kind, key] = client.submit(synthesize_unit, kind, config, sweep.measure["synth_timeout"],
                                                         method, key=f"rdagen-synth-{kind}-{key}-{method}", pure=False)
                units.append(syntheses[kind, key])
        futures[client.submit(evaluate, t.payload(), *units, key=f"rdagen-sweep-{t.key}", pure=False)] = t
    if progress and syntheses:
        progress(f"{len(syntheses)} unit syntheses for {len(todo)} tasks (each distinct unit configuration once)")
    done = 0
    for future in as_completed(futures):
        task = futures[future]
        try:
            result = future.result()
        except Exception as exc:  # noqa: BLE001 - KilledWorker and the like: recorded, the sweep goes on
            result = {"status": "failed", "reason": f"{type(exc).__name__}: {exc}", "metrics": {}, "seconds": 0.0}
        store.put(task.payload(), result)
        counts[result["status"]] += 1
        done += 1
        if progress:
            elapsed = time.perf_counter() - started
            left = len(todo) - done
            eta = f", about {elapsed / done * left:.0f} s left" if left else ""
            progress(f"{done}/{len(todo)} done ({counts['ok']} ok, {counts['refused']} refused, {counts['failed']} "
                     f"failed), {min(left, len(client.scheduler_info()['workers']))} running{eta}: "
                     f"{task.workload['name']} at {_describe(task.point)}: {result['status']}")
    return counts


def _describe(point: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in point.items()) or "the base"
