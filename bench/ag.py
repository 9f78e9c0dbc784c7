"""Benchmark of one AG: achieved bandwidth against the AXI peak of one beat per cycle, for contiguous
reads, embedding-row gathers at d = 16, 64, 128 and contiguous writes, with a DRAM that never pauses
and with one that pauses every channel at random. Writes bench/results/ag-<config>.json.

Read bandwidth = useful beats (the requests' words / lanes) / cycles from the first to the last
vector; write bandwidth = useful beats / cycles of the whole case (to the last acknowledgement).
"""

from __future__ import annotations

import numpy as np

from rdagen.rtl.spec.config import ArrayConfig
from rdagen.sim.ag_regression import contiguous_case, gather_case, run_ag_cases, write_case

from .arith import write_result

__all__ = ["run"]

PAUSED = {"ar_pause": 0.2, "r_pause": 0.2, "aw_pause": 0.2, "w_pause": 0.2, "b_pause": 0.2}


def run(cfg: ArrayConfig, *, seed: int = 1, log=print):
    rng = np.random.default_rng(seed)
    L = cfg.lanes
    cases = []
    for label, pauses in (("no pauses", {}), ("paused 20 %", PAUSED)):
        cases.append(contiguous_case(cfg, rng, f"contiguous, {label}", [16384] * 4, base=0, **pauses))
        for d in (16, 64, 128):
            cases.append(gather_case(cfg, rng, f"gather d={d}, {label}", d, rows=100_000 // d, n=8192 // d * 4,
                                     **pauses))
        writes = write_case(cfg, rng, f"contiguous write, {label}", [16384] * 4, **pauses)
        writes.write_commands = [(4096 * k * L, n) for k, (_, n) in enumerate(writes.write_commands)]  # aligned
        cases.append(writes)
    log(f"[ag] bandwidth on {cfg.name}: {32 * L}-bit AXI, peak one beat ({L} words) per cycle")
    results = run_ag_cases(cfg, cases, tag="bench-ag")
    rows = []
    for r in results:
        if r.write_bursts:
            span = r.cycles
            useful = sum(beats for _, beats in r.write_bursts)
        else:
            span = r.last_out - r.first_out + 1
            useful = sum(length for _, length, ok in r.golden.requests if ok) / L
        rows.append({"pattern": r.name, "beats": round(useful), "cycles": span,
                     "fraction_of_peak": round(useful / span, 3), "bursts": len(r.write_bursts or r.bursts),
                     "most_in_flight": r.most_in_flight, "ok": r.ok})
        log(f"      {r.name:30} {100 * useful / span:5.1f} % of peak  ({rows[-1]['bursts']} bursts, "
            f"<= {r.most_in_flight} in flight) {'pass' if r.ok else 'FAIL'}")
    failed = [r.name for r in results if not r.ok]
    if failed:
        raise AssertionError(f"AG cases failed: {failed}")
    return write_result("ag", cfg, {"peak_beats_per_cycle": 1, "patterns": rows})
