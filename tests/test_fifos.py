# amaranth: UnusedElaboratable=no
"""The unit FIFOs (rtl/buffered_fifo.py, rtl/credited_fifo.py): cycle for cycle the timing of Amaranth's
SyncFIFOBuffered they replaced, under random writes and reads; credits count what is promised and
unread; parameters validated. Their order and credit properties are proven in tests/test_formal.py."""

import pytest
from amaranth import Module
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.sim import Simulator

from rdagen.rtl.buffered_fifo import BufferedFifo
from rdagen.rtl.credited_fifo import CreditedFifo

from .conftest import seeded_rng

CYCLES = 400


@pytest.mark.parametrize("depth", [4, 5, 8])
def test_same_timing_as_amaranth_sync_fifo_buffered(depth, request):
    rng = seeded_rng(request)
    m = Module()
    ours = m.submodules.ours = BufferedFifo(8, depth)
    theirs = m.submodules.theirs = SyncFIFOBuffered(width=8, depth=depth)
    writes, reads = rng.random(CYCLES) < rng.uniform(0.3, 0.9), rng.random(CYCLES) < rng.uniform(0.3, 0.9)
    # It fills up first (writes only) and drains at the end (reads only): both extremes are met
    # whatever the random rates in between.
    fill, drain = 3 * depth, CYCLES - 3 * depth
    writes[:fill], reads[:fill], writes[drain:], reads[drain:] = True, False, False, True
    words = rng.integers(0, 256, CYCLES)
    seen = {"levels": set(), "reads": [], "accepted": []}

    async def bench(ctx):
        for t in range(CYCLES):
            for f in (ours, theirs):
                ctx.set(f.w_en, int(writes[t]))
                ctx.set(f.w_data, int(words[t]))
                ctx.set(f.r_en, int(reads[t]))
            a = [ctx.get(s) for s in (ours.w_rdy, ours.r_rdy, ours.level)]
            b = [ctx.get(s) for s in (theirs.w_rdy, theirs.r_rdy, theirs.level)]
            assert a == b, f"cycle {t}: (w_rdy, r_rdy, level) {a} != SyncFIFOBuffered's {b}"
            if a[1]:
                assert ctx.get(ours.r_data) == ctx.get(theirs.r_data), f"cycle {t}: r_data differs"
                if reads[t]:
                    seen["reads"].append(ctx.get(ours.r_data))
            if a[0] and writes[t]:
                seen["accepted"].append(int(words[t]))
            seen["levels"].add(a[2])
            await ctx.tick()

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert {0, depth} <= seen["levels"]  # empty and full both reached
    assert seen["reads"] == seen["accepted"][:len(seen["reads"])] and len(seen["reads"]) > CYCLES // 5


def test_credits_count_promised_and_unread_slots():
    m = Module()
    f = m.submodules.f = CreditedFifo(4, 4)

    async def bench(ctx):
        ctx.set(f.reserve, 1)
        for expected in range(4):
            assert ctx.get(f.pending) == expected and ctx.get(f.room)
            await ctx.tick()
        ctx.set(f.reserve, 0)
        assert ctx.get(f.pending) == 4 and not ctx.get(f.room)  # every slot promised: no more firings
        ctx.set(f.w_en, 1)
        for word in range(4):
            assert ctx.get(f.w_rdy)  # each promised write finds a slot
            ctx.set(f.w_data, word + 1)
            await ctx.tick()
        ctx.set(f.w_en, 0)
        await ctx.tick()
        ctx.set(f.r_en, 1)
        for word in range(4):
            assert ctx.get(f.r_rdy) and ctx.get(f.r_data) == word + 1
            await ctx.tick()
        assert ctx.get(f.pending) == 0 and ctx.get(f.room)

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("args,message", [
    ((0, 4), "BufferedFifo width = 0 is invalid: must be an integer >= 1"),
    ((8, 1), "BufferedFifo depth = 1 is invalid: must be an integer >= 2"),
    ((8, 4.0), "BufferedFifo depth = 4.0 is invalid"),
])
def test_parameters_are_validated(args, message):
    for unit in (BufferedFifo, CreditedFifo):
        with pytest.raises(ValueError, match=message):
            unit(*args)
