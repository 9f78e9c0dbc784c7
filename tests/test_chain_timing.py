"""The placed timing of PCU chains (mapper/phases/chain_timing.py): its rules on hand-made chains, and
the elementwise phases' placed cost model against the RTL on placements that run at different paces.

Seeds are printed; rerun with ``pytest --seed N``.
"""

import numpy as np

from rdagen.rtl.spec.config import preset
from rdagen.rtl.spec.memory import DDR4
from rdagen.rtl.spec.timing import pcu_latency
from rdagen.mapper.frontend.graph import GraphBuilder
from rdagen.mapper.frontend.inputs import check_inputs
from rdagen.mapper.phases import eltwise
from rdagen.mapper.phases.chain_timing import ChainUnit, chain_pace, chain_span
from rdagen.mapper.program import map_graph
from rdagen.sim.graph_run import run_program

from .conftest import test_seed


def _line(length: int, row: int) -> tuple:
    """*length* switch outputs along row *row* (each a hop buffer)."""
    return tuple((row, c, 0) for c in range(length))


def _diamond(branch: int, detour: int) -> list[ChainUnit]:
    """An AG multicast (from its switch's output (9, 9, 0)) to PCU a and PCU b; a feeds b: b's word
    from the AG waits in its branch (*branch* hop buffers and b's input FIFO) while a computes and its
    result crosses *detour* hops."""
    shared = ((9, 9, 0),)
    return [ChainUnit(False, (), ((1, 0, shared + ((9, 9, 1),)), (2, 0, shared + _line(branch, 2)))),
            ChainUnit(True, (0,), ((2, 1, _line(detour, 3)),)),
            ChainUnit(True, (0, 1), ())]


def test_a_lone_pcu_takes_a_vector_a_cycle():
    cfg = preset("small")
    lone = [ChainUnit(False, (), ((1, 0, _line(3, 0)),)), ChainUnit(True, (0,), ())]
    assert chain_span(cfg, lone, 1, 1) == 0
    assert chain_span(cfg, lone, 100, 1) == 99
    assert chain_span(cfg, lone, 5000, 1) == 4999  # extrapolated beyond the vectors computed one by one
    assert chain_pace(cfg, lone) == 1


def test_a_reconvergent_multicast_runs_at_its_branchs_room_over_the_chains_latency():
    """The pace of the diamond: the words b's branch holds (2 a hop buffer, fifo_depth in the FIFO)
    over the cycles a word waits there (a's pipeline and the detour's hops): longer branches run
    faster, longer detours slower, and the pace is that ratio (up to the hops' own cycles: within 25 %)."""
    cfg = preset("small")
    paces = {(branch, detour): chain_pace(cfg, _diamond(branch, detour)) for branch in (1, 4, 8) for detour in (1, 6)}
    print(paces)
    for detour in (1, 6):
        assert paces[(1, detour)] > paces[(4, detour)] > paces[(8, detour)] >= 1
    for branch in (1, 4):
        assert paces[(branch, 6)] > paces[(branch, 1)]
    wait = pcu_latency(cfg) + 2 + 6 + 2  # a's pipeline and FIFO read, the detour, b's FIFO read
    held = 2 * 1 + cfg.fifo_depth  # b's branch beyond the shared output: one hop buffer and the FIFO
    assert wait / held <= paces[(1, 6)] <= 1.25 * wait / held


def _sigmoid_program(cfg, m: int, seed: int):
    g = GraphBuilder()
    g.output(g.sigmoid(g.input("x", (m, 1))))
    graph = g.graph()
    return graph, map_graph(graph, cfg, seed=seed, memory=DDR4)


def test_placed_elementwise_chains_are_priced_from_their_routes_on_the_rtl(request, monkeypatch):
    """A sigmoid of 64 rows on small is three phases, two of them chains of 6 PCUs whose sources
    multicast to every depth. Placed once with map seeds 0 and 68, the first chain runs at paces 1.2x
    apart on the RTL (direct harness); the placed cost model follows each within 2 % (the unplaced
    model is one figure for both). Placed ``CHAIN_PLACEMENTS`` times (the mapper's default), the kept
    placement's chains are no slower than seed 0's single one, by the model and on the RTL."""
    seed = test_seed(request)
    print(f"[seed] {seed}")
    cfg = preset("small")
    x = np.random.default_rng(seed).standard_normal((64, 1)).astype(np.float32) * 3

    def run(placement: int) -> list[int]:
        graph, program = _sigmoid_program(cfg, 64, placement)
        result = run_program(program, check_inputs(graph, {"x": x}), harness="direct")
        assert result.ok, result.mismatches
        for placed, phase_run in zip(program.phases, result.phases):
            print(f"placement {placement} {phase_run.name}: {phase_run.cycles} cycles, placed model {phase_run.estimate}, "
                  f"unplaced {placed.phase.memory_estimate(cfg, program.traffic[0], DDR4, placed.placement.sites, None)}")
            assert abs(phase_run.estimate - phase_run.cycles) <= 0.02 * phase_run.cycles
        return [p.cycles for p in result.phases], [p.estimate for p in result.phases]

    chosen = run(0)
    monkeypatch.setattr(eltwise, "CHAIN_PLACEMENTS", 1)
    single, other = run(0), run(68)
    assert max(single[0][1], other[0][1]) > 1.15 * min(single[0][1], other[0][1])
    assert all(c <= s for c, s in zip(chosen[1], single[1]))  # the model's ranking
    assert sum(chosen[0]) <= sum(single[0])
