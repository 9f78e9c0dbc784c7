"""Benchmark of one PMU: words moved per cycle against the peak of ``lanes`` words per cycle per port,
for contiguous, strided, random-gather and FIFO traffic (inputs always valid, outputs always ready),
and the simulation speed. Writes bench/results/pmu-<config>.json.

Words per cycle = words accessed / cycles from the first to the last result (or the write phase's
span for writes), so the pipeline's fill time is not counted against the steady state.
"""

from __future__ import annotations

import numpy as np

from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.pcu_layout import LANE, Counter, ctr, reg, vin
from rdagen.rtl.spec.pmu_layout import AddressStage, PmuProgram, Port
from rdagen.sim.pmu_regression import PmuCase, random_pmu_case, run_pmu_cases

from .arith import simulation_speed, write_result

__all__ = ["run"]


def _cases(cfg: ArrayConfig, rng, n: int) -> list[PmuCase]:
    L, W = cfg.lanes, cfg.pmu_words
    contiguous = [AddressStage("add", ctr(0), LANE)]
    strided = [AddressStage("add", LANE, LANE, dst=1), AddressStage("add", reg(1), ctr(0))]
    reads = lambda stages, counters, **kw: Port(stages=stages, counters=counters, wait_start=True, **kw)  # noqa: E731
    return [
        PmuCase("contiguous read", PmuProgram(read=reads(contiguous, [Counter(0, n * L, L)]), mode="none"),
                start_tokens=1),
        PmuCase("stride-2 read", PmuProgram(read=reads(strided, [Counter(0, n, 1)]), mode="none"), start_tokens=1),
        PmuCase("random gather", PmuProgram(read=Port(stages=[AddressStage("pass", vin(0))], vin_required=[0]),
                                            mode="none"), vin=[rng.integers(0, W, (n, L)).astype(np.uint32)]),
        PmuCase("fifo", PmuProgram(write=Port(vin_required=[0], data=vin(0)), read=Port(), mode="fifo"),
                vin=[rng.integers(0, 2**32, (n, L), dtype=np.uint64).astype(np.uint32)]),
    ]


def run(cfg: ArrayConfig, *, seed: int = 1, log=print):
    rng = np.random.default_rng(seed)
    n = cfg.pmu_depth  # a contiguous sweep of the whole scratchpad
    log(f"[pmu] access patterns on {cfg.name}: {n} vectors each, peak {cfg.lanes} words/cycle per port")
    results = run_pmu_cases(cfg, _cases(cfg, rng, n), tag="bench-pmu", dump=False)
    rows = []
    for r in results:
        span = r.last_out - r.first_out + 1
        words = len(r.golden.vout) * cfg.lanes
        rows.append({"pattern": r.name, "vectors": len(r.golden.vout), "cycles": span,
                     "words_per_cycle": round(words / span, 3), "peak": cfg.lanes,
                     "fraction_of_peak": round(words / span / cfg.lanes, 3),
                     "conflict_cycles": r.status["read_conflicts"], "ok": r.ok})
        log(f"      {r.name:16} {rows[-1]['words_per_cycle']:6.2f} words/cycle ({100 * rows[-1]['fraction_of_peak']:5.1f} % "
            f"of peak), {r.status['read_conflicts']} conflict cycles, {'pass' if r.ok else 'FAIL'}")
    failed = [r.name for r in results if not r.ok]
    if failed:
        raise AssertionError(f"PMU patterns failed: {failed} ({[r.problems for r in results if not r.ok]})")

    speed = simulation_speed("pmu", lambda cs: run_pmu_cases(cfg, cs, tag="bench-pmu-random"),
                             [random_pmu_case(cfg, rng, f"r{i}") for i in range(100)], log)
    return write_result("pmu", cfg, {"patterns": rows, "simulation": speed})
