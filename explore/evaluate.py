"""One task of a sweep (explore/spec.py ``Task``): a workload mapped onto one point's array and measured
by the cost model (mapper/program.py, on the spec's DRAM), the unit of work a Dask worker runs.

Figures: ``cycles`` (the program's, configuration loads included), ``latency_us`` and ``per_s`` at the
clock (samples per second for a DLRM batch, runs per second otherwise), ``multiply_adds`` (the
matmuls' M K N, and a DLRM's interaction) and ``mac_utilization`` against the physical peak (lanes x
stages x PCUs a cycle), ``pcus_used`` of ``pcus``, and ``functional_units`` (lanes x stages x PCUs:
the array's multiply-add peak per cycle). With ``rtl`` (and at most ``rtl_max_pcus`` PCUs) the
program also runs in the direct harness on random inputs (the measure's seed), checked as ``rdagen
run`` checks it (bit for bit against the golden array model, within the fp32 bound of NumPy):
``rtl_cycles`` and ``model_error`` (cost model / RTL - 1); a mismatch makes the task ``failed``.
A point the ArrayConfig or the mapper refuses is ``refused`` with the reason; any other exception is
``failed`` with its message (the sweep goes on).
"""

from __future__ import annotations

import dataclasses
import time
import traceback

from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.memory import memory as memory_named

__all__ = ["evaluate"]


def evaluate(task: dict, *units: dict) -> dict:
    """The result of *task* (``Task.payload()``): ``{"status": ok|refused|failed, "reason", "metrics",
    "seconds"}``; never raises. *units*: with ``area``, the point's unit syntheses (explore/area.py),
    which give its area and the throughput per million NAND2 gates."""
    from rdagen.mapper.frontend.graph import GraphError

    started = time.perf_counter()
    try:
        cfg = ArrayConfig(name=f"sweep-{task['key'][:8]}", **task["config"])
    except ValueError as exc:
        return _result("refused", str(exc), {}, started)
    try:
        metrics = _measure(cfg, task["workload"], task["measure"])
    except GraphError as exc:  # MapError, DlrmError: the workload does not fit this array
        return _result("refused", str(exc), {}, started)
    except Exception as exc:  # noqa: BLE001 - recorded with its place, the sweep goes on
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return _result("failed", f"{type(exc).__name__}: {exc} ({where.filename}:{where.lineno})", {}, started)
    if units:
        from .area import array_area

        metrics.update(array_area(cfg, {u["kind"]: u for u in units}))
        metrics["per_s_per_mgate"] = round(metrics["per_s"] / (metrics["area_nand2"] / 1e6), 1)
    return _result("ok", "", metrics, started)


def _result(status: str, reason: str, metrics: dict, started: float) -> dict:
    return {"status": status, "reason": reason, "metrics": metrics, "seconds": round(time.perf_counter() - started, 3)}


def _measure(cfg: ArrayConfig, workload: dict, measure: dict) -> dict:
    from rdagen.mapper.backend.place import sites
    from rdagen.mapper.program import map_graph

    memory = memory_named(measure["memory"])
    graph, samples, macs, inputs = _graph(workload, cfg, measure["seed"])
    program = map_graph(graph, cfg, seed=measure["seed"], memory=memory)
    cycles = program.estimate_cycles()
    pcus = len(sites(cfg, "pcu"))
    peak = cfg.lanes * cfg.stages * pcus
    seconds = cycles / (measure["clock_ghz"] * 1e9)
    metrics = {"cycles": cycles, "source": "model", "latency_us": round(seconds * 1e6, 4),
               "per_s": round(samples / seconds, 1), "per": "samples" if workload["kind"] == "dlrm" else "runs",
               "multiply_adds": macs, "mac_utilization": round(macs / (cycles * peak), 6) if macs else None,
               "phases": len(program.phases), "pcus_used": program.pcus_used(), "pcus": pcus, "functional_units": peak}
    if measure["rtl"] and pcus > measure["rtl_max_pcus"]:
        metrics["rtl_skipped"] = f"{pcus} PCUs > rtl_max_pcus {measure['rtl_max_pcus']}"
    elif measure["rtl"]:
        metrics.update(_rtl(program, inputs(), cycles))
    return metrics


def _rtl(program, arrays: dict, estimate: int) -> dict:
    from rdagen.sim.graph_run import run_program

    run = run_program(program, arrays, harness="direct", tag="sweep")
    if not run.ok:
        raise AssertionError(f"the RTL disagrees: {'; '.join(run.mismatches[:3]) or 'outside the fp32 bound'}")
    return {"rtl_cycles": run.cycles, "model_error": round(estimate / run.cycles - 1, 4),
            "rtl_max_error": max(run.max_error.values(), default=0.0)}


def _graph(workload: dict, cfg: ArrayConfig, seed: int):
    """(graph, samples per run, multiply-adds, a function giving checked input arrays) of *workload*."""
    from rdagen.mapper.apps.workloads import gemm_graph
    from rdagen.mapper.frontend.graph import load_graph
    from rdagen.mapper.frontend.inputs import check_inputs, random_inputs

    kind = workload["kind"]
    if kind == "gemm":
        m, k, n = workload["shape"]
        graph = gemm_graph(m, k, n)
        return graph, 1, m * k * n, lambda: check_inputs(graph, random_inputs(graph, seed))
    if kind == "graph":
        graph = load_graph(workload["path"])
        macs = 0
        for node in graph.nodes:
            if node.op == "matmul":
                (m, k), (_, n) = (graph.tensors[t].shape for t in node.inputs)
                macs += m * k * n
        return graph, 1, macs, lambda: check_inputs(graph, random_inputs(graph, seed))
    return _dlrm(workload, cfg, seed)


def _dlrm(workload: dict, cfg: ArrayConfig, seed: int):
    from rdagen.mapper.apps.dlrm import (dlrm_graph, graph_inputs, lower_bound, random_batch,
                                         reference_weights)
    from rdagen.mapper.frontend.inputs import check_inputs
    from rdagen.sim.dlrm_run import PROJECTION_TABLE_ROWS

    from .spec import dlrm_arch

    arch = dlrm_arch(workload)
    # The cycles depend on the indices per bag, not on the rows (sim/dlrm_run.py ``project``).
    capped = dataclasses.replace(arch, embedding_sizes=tuple(min(n, PROJECTION_TABLE_ROWS) for n in arch.embedding_sizes))
    b = workload["batch"]
    batch = random_batch(capped, b, seed, fixed=True)
    graph = dlrm_graph(capped, reference_weights(capped), batch)
    return (graph, b, lower_bound(arch, cfg, b, arch.indices_per_lookup).multiply_adds,
            lambda: check_inputs(graph, graph_inputs(capped, batch)))
