"""Benchmark of the systolic PCU mode (rtl/spec/systolic.py) on one PCU's RTL: a stream of 256 rows of A
through weight tiles that reload while the PCU computes, no input gaps and no back-pressure.

``macs_per_cycle`` counts the multiply-adds of the stream (rows x lanes x stages, every stage an ffma)
over the cycles from its first result to its last; ``cycles_from_reset`` adds the pipeline fill and
the first tile's load. The peak is lanes x stages. Writes bench/results/systolic-<config>.json.
"""

from __future__ import annotations

import numpy as np

from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.systolic import systolic_depth
from rdagen.sim.pcu_regression import run_cases, systolic_case

from .arith import write_result

__all__ = ["run"]

ROWS = 256
TILINGS = ((256, 1), (64, 4), (32, 8), (16, 16), (8, 32))  # rows per tile, tiles: the weight reloads


def run(cfg: ArrayConfig, *, seed: int = 1, log=print):
    rng = np.random.default_rng(seed)
    log(f"[systolic] one PCU of {cfg.name}: {ROWS} rows of A, weight tiles reloaded while it computes")
    cases = [systolic_case(cfg, rng, rows=rows, tiles=tiles, name=f"{tiles}x{rows}") for rows, tiles in TILINGS]
    results = run_cases(cfg, cases, tag="bench-systolic")
    failed = [f"{r.name}: {r.problems}" for r in results if not r.ok]
    if failed:
        raise AssertionError(f"systolic cases failed: {failed}")
    peak = cfg.lanes * cfg.stages
    depth = systolic_depth(cfg)
    streams = []
    log(f"{'tiles x rows':>13} {'MACs':>8} {'cycles':>7} {'MACs/cycle':>11} {'of peak':>8} {'from reset':>11}")
    for (rows, tiles), r in zip(TILINGS, results):
        span = r.last_out - r.first_out + 1
        macs = r.firings * depth * cfg.lanes
        streams.append({"rows_per_tile": rows, "tiles": tiles, "rows": r.firings, "macs": macs, "cycles": span,
                        "macs_per_cycle": round(macs / span, 3), "utilization": round(macs / span / peak, 4),
                        "cycles_from_reset": r.last_out})
        log(f"{tiles:>6} x {rows:<4} {macs:8d} {span:7d} {macs / span:11.2f} {100 * macs / span / peak:7.1f}% "
            f"{r.last_out:11d}")
    steady = [s for s in streams if s["rows_per_tile"] >= 32]  # the goal: tiles of 32 rows or more
    worst = min(steady, key=lambda s: s["macs_per_cycle"])
    return write_result("systolic", cfg, {
        "pcu": {"macs_per_cycle": worst["macs_per_cycle"], "peak_macs_per_cycle": peak, "source": "rtl",
                "streams": streams}})
