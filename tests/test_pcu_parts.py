# amaranth: UnusedElaboratable=no
"""The PCU's parts on their own (rtl/pcu/): the reduction tree and the accumulator against the golden
ops, the stage pipeline against the golden model's stages on random programs, and the issue stage's
firing rule (inputs, credits, groups, start tokens, pops) on directed programs. Amaranth's simulator;
the whole unit is tested in tests/test_pcu.py.

Seeds are printed; rerun with ``pytest --seed N``.
"""

import numpy as np
import pytest

from rdagen.rtl.pcu.accumulator import Accumulator
from rdagen.rtl.pcu.issue import Issue
from rdagen.rtl.pcu.reduction import ReductionTree
from rdagen.rtl.pcu.weights import WeightBanks
from rdagen.rtl.stage_pipeline import StagePipeline
from rdagen.rtl.spec.config import preset
from rdagen.rtl.spec.layout_fields import plain_view
from rdagen.rtl.spec.ops import FU_LATENCY, OP_BY_NAME, Op, lfsr_seed
from rdagen.rtl.spec.pcu_layout import (REDUCE_OPS, Accumulate, Counter, PcuProgram, Stage, decode, pcu_layout,
                                        vin)
from rdagen.sim.pcu_regression import random_program
from rdagen.verif.golden.arith import evaluate_op
from rdagen.verif.golden.operands import run_stages
from rdagen.verif.golden.pcu import reduce_tree
from rdagen.verif.stimulus import operands

from .amaranth_sim import lanes_of, simulate, vector
from .conftest import seeded_rng

U32 = np.uint32
CONFIGS = ["tiny", "small", "medium"]


def _op(name):
    return Op(OP_BY_NAME[name].code)


def _words(name, rng, n):
    a, b, _ = operands(name, rng, (n + 1) // 2, corners=False)
    return np.concatenate([a, b])[:n].astype(U32)


# -- reduction tree -----------------------------------------------------------------------------------
@pytest.mark.parametrize("config", CONFIGS)
def test_reduction_tree_folds_pairwise_one_vector_per_cycle(config, request):
    cfg = preset(config)
    rng = seeded_rng(request)
    dut = ReductionTree(cfg)
    assert dut.latency == FU_LATENCY * (cfg.lanes - 1).bit_length()
    n = 24
    for name in REDUCE_OPS:
        vectors = _words(name, rng, n * cfg.lanes).reshape(n, cfg.lanes)
        expected = [reduce_tree(name, v) for v in vectors]
        seen = []

        async def bench(ctx):
            ctx.set(dut.op, _op(name))
            for t in range(n + dut.latency):
                ctx.set(dut.i.as_value(), vector(vectors[t]) if t < n else 0)
                ctx.set(dut.valid, int(t < n))
                await ctx.tick()
                if t + 1 >= dut.latency and len(seen) < n:
                    seen.append(ctx.get(dut.o))

        simulate(dut, bench)
        bad = [t for t in range(n) if seen[t] != expected[t]]
        assert not bad, (f"{config} {name}: vector {bad[0]} {[hex(w) for w in vectors[bad[0]]]} folded to "
                         f"{seen[bad[0]]:#x}, the golden tree gives {expected[bad[0]]:#x}")


# -- accumulator ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("config", CONFIGS)
def test_accumulator_folds_each_group_into_init(config, request):
    cfg = preset(config)
    rng = seeded_rng(request)
    dut = Accumulator(cfg)
    n = 60
    for name in REDUCE_OPS:
        xs = _words(name, rng, n * cfg.lanes).reshape(n, cfg.lanes)
        fire = rng.random(n) < 0.7
        first = rng.random(n) < 0.25
        first[0] = True  # the register is 0 after reset; a run opens a group before it folds
        init = int(_words(name, rng, 1)[0])
        problems = []

        async def bench(ctx):
            acc = np.zeros(cfg.lanes, U32)
            ctx.set(dut.op, _op(name))
            ctx.set(dut.init, init)
            for t in range(n):
                ctx.set(dut.fire, int(fire[t]))
                ctx.set(dut.first, int(first[t]))
                ctx.set(dut.x.as_value(), vector(xs[t]))
                base = np.full(cfg.lanes, init, U32) if first[t] else acc
                want = evaluate_op(name, base, xs[t])
                got = lanes_of(ctx.get(dut.next.as_value()), cfg.lanes)
                if not np.array_equal(got, want):
                    problems.append(f"cycle {t}: next {got} != {want}")
                if fire[t]:
                    acc = want
                await ctx.tick()

        simulate(dut, bench)
        assert not problems, f"{config} {name}: {problems[:3]}"


# -- stage pipeline -------------------------------------------------------------------------------------
def _field_bits(layout, bits, name):
    f = layout[name]
    return bits >> f.offset & ((1 << f.width) - 1)


@pytest.mark.parametrize("config", ["tiny", "small"])  # medium's 48 units take 90 s here; test_pcu runs it
def test_stage_pipeline_matches_the_golden_stages_on_random_programs(config, request):
    cfg = preset(config)
    rng = seeded_rng(request)
    layout = pcu_layout(cfg)
    dut = StagePipeline.for_pcu(cfg)
    assert dut.latency == FU_LATENCY * cfg.stages
    for case in range(6):
        program = random_program(cfg, rng)
        bits = program.encode(cfg)
        c = plain_view(decode(cfg, bits))
        n = 16
        valid = rng.random(n) < 0.7
        vins = [[rng.integers(0, 2**32, cfg.lanes, dtype=np.uint64).astype(U32) for _ in range(cfg.vector_inputs)]
                for _ in range(n)]
        sins = [[int(w) for w in rng.integers(0, 2**32, cfg.scalar_inputs, dtype=np.uint64)] for _ in range(n)]
        ctrs = [[int(w) for w in rng.integers(0, 2**32, cfg.counters, dtype=np.uint64)] for _ in range(n)]
        strides = [int(x.stride) & 0xFFFFFFFF for x in c.counters]
        spread = int(c.spread.counter) if c.spread.enable else None
        generators = [[lfsr_seed(int(c.seed), lane) for lane in range(cfg.lanes)] for _ in range(cfg.stages)]
        # two random weight banks; each firing names the bank it uses, and every stage must read that one
        tiles = rng.integers(0, 2**32, (2, cfg.stages, cfg.lanes), dtype=np.uint64).astype(U32)
        banks = rng.integers(0, 2, n)
        expected = []
        for t in np.flatnonzero(valid):
            lanes = np.arange(cfg.lanes, dtype=np.uint64)
            ctr_lanes = [((ctrs[t][k] + lanes * strides[k]) & 0xFFFFFFFF).astype(U32) if k == spread
                         else np.full(cfg.lanes, ctrs[t][k], U32) for k in range(cfg.counters)]
            expected.append(run_stages(c.stages, cfg.registers, cfg.lanes, vins[t], sins[t], ctr_lanes, generators,
                                       tile=tiles[banks[t]]))
        seen = []

        async def bench(ctx):
            ctx.set(dut.stages.as_value(), _field_bits(layout, bits, "stages"))
            ctx.set(dut.spread.as_value(), _field_bits(layout, bits, "spread"))
            ctx.set(dut.seed, int(c.seed))
            for k, s in enumerate(strides):
                ctx.set(dut.strides[k], s)
            for k, words in enumerate(tiles.reshape(-1, cfg.lanes)):
                ctx.set(dut.tiles[k], vector(words))
            ctx.set(dut.reseed, 1)
            await ctx.tick()
            ctx.set(dut.reseed, 0)
            for t in range(n + dut.latency + 1):
                if t < n:
                    ctx.set(dut.valid, int(valid[t]))
                    ctx.set(dut.bank, int(banks[t]))
                    for k in range(cfg.vector_inputs):
                        ctx.set(dut.vin[k], vector(vins[t][k]))
                    for k in range(cfg.scalar_inputs):
                        ctx.set(dut.sin[k], sins[t][k])
                    for k in range(cfg.counters):
                        ctx.set(dut.ctr[k], ctrs[t][k])
                else:
                    ctx.set(dut.valid, 0)
                if ctx.get(dut.valid_out):
                    seen.append(np.array([lanes_of(ctx.get(r), cfg.lanes) for r in dut.regs]))
                await ctx.tick()

        simulate(dut, bench)
        assert len(seen) == len(expected), f"{config} case {case}: {len(seen)} firings out, {len(expected)} in"
        for j, (got, want) in enumerate(zip(seen, expected)):
            assert np.array_equal(got, want), (f"{config} case {case} ({program}): firing {j} registers\n"
                                               f"{got}\n!= golden\n{want}")


# -- issue ------------------------------------------------------------------------------------------------
SMALL = preset("small")


def _issue_run(program, cycles, drive, outputs=1):
    """Runs an Issue stage configured by *program* on SMALL; *drive(t)* gives the inputs of cycle t (a
    dict of port name to value or list); returns per cycle a dict of the outputs."""
    dut = Issue(SMALL, outputs)
    bits = program.encode(SMALL)
    trace = []

    async def bench(ctx):
        ctx.set(dut.configuration.as_value(), bits)
        await ctx.tick()  # the cycle after reset loads the counters
        ctx.set(dut.seeded, 1)
        for t in range(cycles):
            for name, value in drive(t).items():
                port = getattr(dut, name)
                for k, v in enumerate(value if isinstance(value, list) else [value]):
                    ctx.set(port[k] if isinstance(value, list) else port, int(v))
            trace.append({name: ctx.get(getattr(dut, name)) for name in
                          ("data_fire", "empty_fire", "first", "last", "done", "ctrl_pop")}
                         | {"reserve": [ctx.get(r) for r in dut.reserve], "vin_pop": [ctx.get(p) for p in dut.vin_pop],
                            "sin_pop": [ctx.get(p) for p in dut.sin_pop], "counters": [ctx.get(x) for x in dut.counters]})
            await ctx.tick()

    simulate(dut, bench)
    return trace


PASS_THROUGH = [Stage("pass", vin(0), dst=0)]


def test_issue_fires_only_with_the_required_inputs_and_a_credit(request):
    rng = seeded_rng(request)
    program = PcuProgram(stages=PASS_THROUGH, vin_required=[0, 1], sin_required=[0], vout=[("reg", 0)])
    n = 200
    v0, v1, s0, room = (rng.random((4, n)) < 0.7)
    trace = _issue_run(program, n, lambda t: {"vin_rdy": [v0[t], v1[t], 1], "sin_rdy": [s0[t], 1], "room": [room[t]],
                                              "per_firing": [1], "per_group": [0]})
    for t, out in enumerate(trace):
        want = bool(v0[t] and v1[t] and s0[t] and room[t])
        assert out["data_fire"] == want, f"cycle {t}: vin {v0[t]},{v1[t]} sin {s0[t]} room {room[t]}"
        assert out["reserve"] == [int(want)] and out["vin_pop"] == [int(want)] * 2 + [0]
        assert out["sin_pop"] == [int(want), 0]  # scalar input 1 is not required: never popped
    assert 0 < sum(o["data_fire"] for o in trace) < n


def test_issue_marks_groups_and_reserves_per_group_outputs_on_the_last_firing():
    fold = 3
    program = PcuProgram(stages=PASS_THROUGH, vin_required=[0], accumulate=Accumulate("fadd", fold=fold),
                         vout=[("reg", 0)], sout=[("acc", 0)])
    trace = _issue_run(program, 12, lambda t: {"vin_rdy": [1, 0], "room": [1, 1], "per_firing": [1, 0],
                                               "per_group": [0, 1]}, outputs=2)
    assert all(o["data_fire"] for o in trace)
    assert [o["first"] for o in trace] == [int(t % fold == 0) for t in range(12)]
    assert [o["last"] for o in trace] == [int(t % fold == fold - 1) for t in range(12)]
    assert [o["reserve"] for o in trace] == [[1, int(t % fold == fold - 1)] for t in range(12)]


def test_issue_stops_on_the_last_group_s_credit_only_where_it_is_needed():
    program = PcuProgram(stages=PASS_THROUGH, vin_required=[0], accumulate=Accumulate("fadd", fold=2),
                         vout=[("acc", 0)])
    # No room in the group output: the opening firing goes, the closing one waits for the credit.
    trace = _issue_run(program, 6, lambda t: {"vin_rdy": [1, 0], "room": [int(t >= 4)], "per_firing": [0],
                                              "per_group": [1]})
    assert [o["data_fire"] for o in trace] == [1, 0, 0, 0, 1, 1]


def test_issue_closes_a_group_of_length_zero_with_an_empty_firing():
    program = PcuProgram(stages=PASS_THROUGH, vin_required=[0], accumulate=Accumulate("fadd", fold_scalar=1),
                         vout=[("acc", 0)])
    # Group lengths 0, 2, 0, 0, 1: each count word is popped when its group opens.
    words = [0, 2, 0, 0, 1]
    trace = _issue_stream(program, words, 10)
    kinds = [("empty" if o["empty_fire"] else "data" if o["data_fire"] else "-") for o in trace]
    assert kinds[:6] == ["empty", "data", "data", "empty", "empty", "data"], kinds
    assert all(o["sin_pop"][1] == (o["empty_fire"] or (o["data_fire"] and o["first"])) for o in trace)


def _issue_stream(program, words, cycles):
    """Issue with scalar input 1 fed from *words* (popped as the stage says) and vector input 0 always ready."""
    dut = Issue(SMALL, 1)
    bits = program.encode(SMALL)
    trace = []

    async def bench(ctx):
        ctx.set(dut.configuration.as_value(), bits)
        await ctx.tick()
        ctx.set(dut.seeded, 1)
        pos = 0
        for _ in range(cycles):
            ctx.set(dut.vin_rdy[0], 1)
            ctx.set(dut.sin_rdy[1], int(pos < len(words)))
            ctx.set(dut.sin_data[1], words[pos] if pos < len(words) else 0)
            ctx.set(dut.room[0], 1)
            ctx.set(dut.per_group[0], 1)
            out = {name: ctx.get(getattr(dut, name)) for name in ("data_fire", "empty_fire", "first")}
            out["sin_pop"] = [ctx.get(p) for p in dut.sin_pop]
            pos += out["sin_pop"][1]
            trace.append(out)
            await ctx.tick()

    simulate(dut, bench)
    return trace


def test_issue_counts_runs_waits_for_start_tokens_and_pops_at_the_pop_level():
    program = PcuProgram(stages=PASS_THROUGH, vin_required=[0], sin_required=[0], counters=[Counter(0, 3, 1), Counter(0, 2, 1)],
                         sin_pop_level={0: 1}, wait_start=True, vout=[("reg", 0)])
    tokens = {t for t in (2, 3)}
    trace = _issue_run(program, 16, lambda t: {"vin_rdy": [1, 0], "sin_rdy": [1, 0], "ctrl_rdy": int(t in tokens or t > 9),
                                               "room": [1], "per_firing": [1], "per_group": [0]})
    fires = [t for t, o in enumerate(trace) if o["data_fire"]]
    # A run is 3 x 2 = 6 firings: the first starts on the token of cycle 2, the second on the one of cycle 10.
    assert fires[:6] == list(range(2, 8)) and fires[6:12] == list(range(10, 16)), fires
    assert [t for t, o in enumerate(trace) if o["ctrl_pop"]] == [2, 10]
    assert [t for t, o in enumerate(trace) if o["done"]] == [7, 15]
    assert [trace[t]["counters"][:2] for t in fires[:6]] == [[0, 0], [1, 0], [2, 0], [0, 1], [1, 1], [2, 1]]
    assert [t for t, o in enumerate(trace) if o["sin_pop"][0]] == [4, 7, 12, 15]  # when counter 0 wraps
    assert all(o["vin_pop"] == [o["data_fire"], 0, 0] for o in trace)  # pop level 0: every firing


# -- weight banks --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("config", ["tiny", "small"])
def test_weight_banks_give_each_firing_its_tile_until_it_drains(config, request):
    """Vectors arrive with random gaps; a consumer fires whenever a tile is ready (randomly holding back)
    and releases the tile after a random number of firings. Every firing must see, in its bank, the
    next tile in arrival order, and that bank must keep it for the ``drain`` cycles after the release
    (the firings already issued still read it); at most two tiles are taken ahead of the firings. Of
    every ``period`` tiles sent the unit keeps tile ``phase`` and drops the others."""
    cfg = preset(config)
    rng = seeded_rng(request)
    S, L, drain = cfg.stages, cfg.lanes, 5
    dut = WeightBanks(cfg, drain=drain)
    n_tiles = 12
    period, phase = [(1, 0), (3, 1), (2, 1)][int(rng.integers(3))]  # the unit keeps tile `phase` of `period`
    sent = rng.integers(0, 2**32, (n_tiles * period * S, L), dtype=np.uint64).astype(U32)
    stream = sent.reshape(-1, period, S, L)[:, phase].reshape(-1, L)  # the tiles it keeps
    uses = rng.integers(1, 5, n_tiles)  # firings per tile
    log = {"fired": 0, "released": 0, "popped": 0}

    async def bench(ctx):
        ctx.set(dut.enable, 1)
        ctx.set(dut.period, period)
        ctx.set(dut.phase, phase)
        watch = []  # (bank, tile index, cycles it must still hold)
        fired_in_tile = 0
        for cycle in range(n_tiles * period * (S + 8) * 4):
            offer = log["popped"] < len(sent) and rng.random() < 0.7
            ctx.set(dut.w_rdy, int(offer))
            ctx.set(dut.w_data, vector(sent[log["popped"]]) if offer else 0)
            ready, bank = ctx.get(dut.ready), ctx.get(dut.bank)
            fire = ready and log["released"] < n_tiles and rng.random() < 0.8
            release = fire and fired_in_tile + 1 == uses[log["released"]]
            ctx.set(dut.release, int(release))
            if fire:
                watch.append((bank, log["released"], drain if release else 0))
            for b, t, _ in watch:
                got = np.array([lanes_of(ctx.get(dut.tiles[b * S + s]), L) for s in range(S)])
                assert np.array_equal(got, stream[t * S:(t + 1) * S]), f"cycle {cycle}: bank {b} lost tile {t}"
            watch = [(b, t, left - 1) for b, t, left in watch if left > 0]
            if ctx.get(dut.w_pop):
                assert offer, f"cycle {cycle}: popped a vector that was not offered"
                log["popped"] += 1
            assert log["popped"] <= ((log["released"] + 2) * period + phase) * S, \
                f"cycle {cycle}: more than two kept tiles taken ahead"
            if fire:
                log["fired"] += 1
                fired_in_tile = 0 if release else fired_in_tile + 1
                log["released"] += release
            await ctx.tick()

    simulate(dut, bench)
    assert log["released"] == n_tiles and log["fired"] == int(uses.sum()), log
