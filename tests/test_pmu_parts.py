# amaranth: UnusedElaboratable=no
"""The PMU's parts on their own (rtl/pmu/, rtl/stage_pipeline.py): the address pipeline against the golden
model's stages on random programs, a port's bank requests and conflict count on directed address
patterns (against the spec's bank mapping and ``access_cycles``), and the read return path gathering
words by lane. Amaranth's simulator; the whole unit is tested in tests/test_pmu.py.

Seeds are printed; rerun with ``pytest --seed N``.
"""

import numpy as np
import pytest

from rdagen.rtl.pmu.port import PmuPort
from rdagen.rtl.pmu.read_return import ReadReturn
from rdagen.rtl.spec.config import preset
from rdagen.rtl.spec.layout_fields import plain_view
from rdagen.rtl.spec.pcu_layout import CONST, LANE, Counter, Stage, ctr, reg, vin
from rdagen.rtl.spec.pmu_layout import ADDRESS_REGISTERS, PmuMode, PmuProgram, Port, decode, pmu_layout
from rdagen.rtl.stage_pipeline import StagePipeline
from rdagen.sim.pmu_regression import random_pmu_case
from rdagen.verif.golden.operands import run_stages
from rdagen.verif.golden.pmu import access_cycles

from .amaranth_sim import lanes_of, simulate, vector
from .conftest import seeded_rng

U32 = np.uint32
CONFIGS = ["tiny", "small"]


def _port_bits(cfg, bits, name):
    f = pmu_layout(cfg)[name]
    return bits >> f.offset & ((1 << f.width) - 1)


@pytest.mark.parametrize("config", CONFIGS)
def test_address_pipeline_matches_the_golden_stages_on_random_programs(config, request):
    cfg = preset(config)
    rng = seeded_rng(request)
    dut = StagePipeline.for_pmu(cfg)
    assert dut.latency == cfg.pmu_stages
    for case in range(8):
        program = random_pmu_case(cfg, rng, f"case{case}").program
        bits = program.encode(cfg)
        port = "write" if program.write is not None else "read"
        stages = getattr(plain_view(decode(cfg, bits)), port).stages
        n = 12
        valid = rng.random(n) < 0.7
        draw = lambda *shape: rng.integers(0, 2**32, shape, dtype=np.uint64).astype(U32)  # noqa: E731
        vins, sins, ctrs = draw(n, cfg.vector_inputs, cfg.lanes), draw(n, cfg.scalar_inputs), draw(n, cfg.counters)
        expected = [run_stages(stages, ADDRESS_REGISTERS, cfg.lanes, list(vins[t]), [int(w) for w in sins[t]],
                               [np.full(cfg.lanes, w, U32) for w in ctrs[t]]) for t in np.flatnonzero(valid)]
        seen = []

        async def bench(ctx):
            f = pmu_layout(cfg)[port].shape["stages"]
            ctx.set(dut.stages.as_value(), _port_bits(cfg, bits, port) >> f.offset & ((1 << f.width) - 1))
            for t in range(n + dut.latency + 1):
                ctx.set(dut.valid, int(t < n and valid[t]))
                if t < n:
                    for k in range(cfg.vector_inputs):
                        ctx.set(dut.vin[k], vector(vins[t][k]))
                    for k in range(cfg.scalar_inputs):
                        ctx.set(dut.sin[k], int(sins[t][k]))
                    for k in range(cfg.counters):
                        ctx.set(dut.ctr[k], int(ctrs[t][k]))
                if ctx.get(dut.valid_out):
                    seen.append(np.array([[ctx.get(r) >> (32 * i) & 0xFFFFFFFF for i in range(cfg.lanes)]
                                          for r in dut.regs], U32))
                await ctx.tick()

        simulate(dut, bench)
        assert len(seen) == len(expected), f"{config} case {case}: {len(seen)} firings out, {len(expected)} in"
        for j, (got, want) in enumerate(zip(seen, expected)):
            assert np.array_equal(got, want), f"{config} case {case}: firing {j}: {got} != golden {want}"


# -- a write port: bank requests, serialisation, conflicts --------------------------------------------------
def _lane_shift(cfg):
    return (cfg.lanes - 1).bit_length()


PATTERNS = {
    # address = ctr * lanes + lane: every lane on its own bank, one cycle per access
    "spread": lambda cfg: [Stage("shl", ctr(0), CONST, dst=0, const=_lane_shift(cfg)), Stage("add", reg(0), LANE, dst=0)],
    # address = lane * lanes + ctr: every lane on the same bank, lanes cycles per access
    "one-bank": lambda cfg: [Stage("shl", LANE, CONST, dst=0, const=_lane_shift(cfg)), Stage("add", reg(0), ctr(0), dst=0)],
    # address = lane / 2 + ctr: lanes 2i and 2i + 1 share a bank, two cycles per access
    "pairs": lambda cfg: [Stage("shr", LANE, CONST, dst=1, const=1), Stage("add", reg(1), ctr(0), dst=0)],
}


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("pattern", list(PATTERNS))
def test_write_port_serialises_lanes_that_share_a_bank(config, pattern, request):
    cfg = preset(config)
    rng = seeded_rng(request)
    stages = PATTERNS[pattern](cfg)
    accesses = 5
    program = PmuProgram(write=Port(stages=stages, counters=[Counter(0, accesses, 1)], vin_required=[0],
                                    data=vin(0)), mode="none", done_port="write")
    bits = program.encode(cfg)
    port_view = plain_view(decode(cfg, bits)).write
    L = cfg.lanes
    vectors = rng.integers(0, 2**32, (accesses, L), dtype=np.uint64).astype(U32)
    addresses = [run_stages(port_view.stages, ADDRESS_REGISTERS, L, [vectors[t]], [],
                            [np.full(L, t, U32)] + [np.zeros(L, U32)] * (cfg.counters - 1))[0] for t in range(accesses)]
    expected = {(int(a) % L, int(a) // L, int(vectors[t][lane])) for t in range(accesses)
                for lane, a in enumerate(addresses[t])}
    conflicts = sum(access_cycles(np.asarray(a, np.int64) % L) - 1 for a in addresses)
    dut = PmuPort(cfg, is_write=True)
    seen = {"writes": [], "conflicts": 0, "ends": 0, "fired": 0}

    async def bench(ctx):
        ctx.set(dut.configuration.as_value(), _port_bits(cfg, bits, "write"))
        ctx.set(dut.mode, PmuMode.NONE)
        ctx.set(dut.may_begin, 1)  # mode none: no order between the ports
        await ctx.tick()
        ctx.set(dut.seeded, 1)
        head = 0
        for _ in range(accesses * L + 3 * cfg.pmu_stages + 10):
            ctx.set(dut.vin_rdy[0], int(head < accesses))
            ctx.set(dut.vin_data[0], vector(vectors[min(head, accesses - 1)]))
            for b in range(L):
                if ctx.get(dut.bank_hit[b]):
                    seen["writes"].append((b, ctx.get(dut.bank_row[b]), ctx.get(dut.bank_data[b])))
            seen["conflicts"] += ctx.get(dut.conflict)
            seen["ends"] += ctx.get(dut.end)
            seen["fired"] += ctx.get(dut.fire)
            head += ctx.get(dut.vin_pop[0])
            await ctx.tick()
        seen["done"] = ctx.get(dut.done)

    simulate(dut, bench)
    assert seen["fired"] == accesses
    assert sorted(seen["writes"]) == sorted(expected), f"{pattern}: bank writes differ from the spec's mapping"
    assert len(seen["writes"]) == len(expected)  # every lane written once
    assert seen["conflicts"] == conflicts, f"{pattern}: {seen['conflicts']} conflict cycles, access_cycles gives {conflicts}"
    assert seen["ends"] == 1 and seen["done"] == 1  # one counter run: one unit
    assert (conflicts > 0) == (pattern != "spread")  # the patterns do what their names say


# -- read return ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("config", CONFIGS)
def test_read_return_gathers_each_access_by_lane(config, request):
    cfg = preset(config)
    rng = seeded_rng(request)
    L = cfg.lanes
    dut = ReadReturn(L)
    # Each access: every lane served once, by a random bank, over one to L cycles (at most one lane per
    # bank per cycle, as the serialiser grants).
    plans, expected = [], []
    for _ in range(20):
        words = rng.integers(0, 2**32, L, dtype=np.uint64).astype(U32)
        active = rng.random(L) < 0.8
        cycles = [[] for _ in range(int(rng.integers(1, L + 1)))]
        for lane in np.flatnonzero(active):
            cycles[int(rng.integers(0, len(cycles)))].append(int(lane))
        plans.append((cycles, words))
        expected.append(np.where(active, words, 0).astype(U32))
    seen = []

    async def bench(ctx):
        pending = None  # the banks' read data, answered the cycle after the request
        for cycles, words in plans + [([[]], None)]:
            for c, lanes in enumerate(cycles):
                banks = rng.permutation(L)[:len(lanes)]
                for b in range(L):
                    ctx.set(dut.hit[b], 0)
                for b, lane in zip(banks, lanes):
                    ctx.set(dut.hit[int(b)], 1)
                    ctx.set(dut.lane[int(b)], lane)
                ctx.set(dut.finishing, int(words is not None and c == len(cycles) - 1))
                for b in range(L):
                    ctx.set(dut.data[b], 0xDEAD0000 | b)
                if pending:
                    for b, word in pending.items():
                        ctx.set(dut.data[b], word)
                if ctx.get(dut.complete):
                    seen.append(lanes_of(ctx.get(dut.vector), L))
                pending = {int(b): int(words[lane]) for b, lane in zip(banks, lanes)} if words is not None else None
                await ctx.tick()
        ctx.set(dut.finishing, 0)
        for b in range(L):
            ctx.set(dut.hit[b], 0)
        if ctx.get(dut.complete):
            seen.append(lanes_of(ctx.get(dut.vector), L))

    simulate(dut, bench)
    assert len(seen) == len(expected)
    for j, (got, want) in enumerate(zip(seen, expected)):
        assert np.array_equal(got, want), f"access {j}: {got} != {want}"
