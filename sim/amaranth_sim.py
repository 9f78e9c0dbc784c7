"""Run arithmetic units in Amaranth's own simulator (fast to start, slow per cycle: for unit tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from amaranth import Module, Signal
from amaranth.sim import Simulator

__all__ = ["run_unit"]


def run_unit(unit, codes, a, b, c, *, rand=None, seed=None, gap_every: int = 0, vcd: Path | None = None):
    """Issue one operation per cycle to *unit* (an arith unit or FunctionalUnit); return the results.

    ``rand`` (Convert only) gives each op's 16 random bits; ``seed`` (FunctionalUnit only) reseeds the
    lane generator first. With ``gap_every`` = k, every k-th cycle issues nothing, so the test sees that
    results follow ``i.valid`` and not the cycle count. Asserts the latency stated by ``unit.latency``.
    """
    n = len(codes)
    results: list[int] = []
    issue_cycles: list[int] = []
    result_cycles: list[int] = []

    async def testbench(ctx):
        if seed is not None:
            ctx.set(unit.seed, seed)
            ctx.set(unit.reseed, 1)
            await ctx.tick()
            ctx.set(unit.reseed, 0)
        cycle = 0
        k = 0
        while len(results) < n:
            if k < n and not (gap_every and cycle % gap_every == gap_every - 1):
                ctx.set(unit.i.valid, 1)
                ctx.set(unit.i.op, int(codes[k]))
                ctx.set(unit.i.a, int(a[k]))
                ctx.set(unit.i.b, int(b[k]))
                ctx.set(unit.i.c, int(c[k]))
                if rand is not None:
                    ctx.set(unit.rand, int(rand[k]))
                issue_cycles.append(cycle)
                k += 1
            else:
                ctx.set(unit.i.valid, 0)
            if ctx.get(unit.o.valid):
                results.append(ctx.get(unit.o.data))
                result_cycles.append(cycle)
            await ctx.tick()
            cycle += 1
            if cycle > 4 * n + 100:
                raise AssertionError(f"{type(unit).__name__}: only {len(results)} of {n} results appeared")

    top = Module()  # gives a combinational unit (registered=False) the clock domain the bench ticks
    top.submodules.dut = unit
    toggle = Signal()
    top.d.sync += toggle.eq(~toggle)
    sim = Simulator(top)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    if vcd is not None:
        with sim.write_vcd(str(vcd)):
            sim.run()
    else:
        sim.run()
    latencies = set(np.array(result_cycles) - np.array(issue_cycles))
    assert latencies == {unit.latency}, f"{type(unit).__name__}: latencies {latencies}, stated {unit.latency}"
    return np.array(results, dtype=np.uint32)
