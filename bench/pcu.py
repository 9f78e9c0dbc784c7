"""Benchmark of one PCU: cycles of each directed kernel against its ideal, and simulation speed.

Ideal cycles of a kernel = its firings (one per cycle) + the cycles from reset to the first result of
an empty pipeline (the reseed cycle, the input FIFO and ``pcu_latency``); see ``kernel_rows``.
Writes bench/results/pcu-<config>.json.
"""

from __future__ import annotations

import numpy as np

from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.timing import pcu_latency
from rdagen.sim.pcu_regression import format_kernel_table, kernel_rows, kernels, random_case, run_cases

from .arith import simulation_speed, write_result

__all__ = ["run"]


def run(cfg: ArrayConfig, *, seed: int = 1, log=print):
    rng = np.random.default_rng(seed)
    log(f"[pcu] directed kernels on {cfg.name} (no input gaps, no back-pressure)")
    results = []
    for kind in ("int32", "fp32"):
        results += run_cases(cfg, kernels(cfg, rng, kind), tag="bench-kernels")
    rows = kernel_rows(results)
    log(format_kernel_table(rows))
    failed = [r.name for r in results if not r.ok]
    if failed:
        raise AssertionError(f"kernels failed: {failed}")

    speed = simulation_speed("pcu", lambda cs: run_cases(cfg, cs, tag="bench-random"),
                             [random_case(cfg, rng, f"r{i}") for i in range(200)], log)
    return write_result("pcu", cfg, {"latency": pcu_latency(cfg), "kernels": rows, "simulation": speed})
