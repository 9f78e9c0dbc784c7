"""Independent phases in one configuration (mapper/lowering/concurrency.py, mapper/phases/concurrent.py):
bit-exact on the RTL, faster than one after the other, never joining phases that depend on one another
or do not fit the array together."""

from __future__ import annotations

import numpy as np
import pytest

from rdagen.mapper.backend.place import KINDS, sites
from rdagen.mapper.frontend.graph import GraphBuilder
from rdagen.mapper.frontend.inputs import check_inputs, random_inputs
from rdagen.mapper.lowering import lower
from rdagen.mapper.lowering.concurrency import _sources
from rdagen.mapper.lowering.state import Lowering
from rdagen.mapper.phases.concurrent import ConcurrentPhase
from rdagen.mapper.phases.phase import MapError
from rdagen.mapper.program import map_graph
from rdagen.rtl.spec.config import preset
from rdagen.rtl.spec.memory import DDR4
from rdagen.sim.graph_run import run_program

from .conftest import test_seed
from .random_graphs import random_graph


def _two_parts():
    g = GraphBuilder()
    g.output(g.relu(g.input("c", (2, 7)), name="r"), g.sigmoid(g.input("d", (1, 3)), name="s"))
    return g.graph()


def test_independent_phases_run_in_one_configuration_bit_exact_and_sooner():
    """A relu and a sigmoid of their own inputs on tiny: the relu and the sigmoid's first phase share
    a configuration; on the RTL bit-exact, the program fewer cycles than with every phase alone, and the
    shared phase's cycles within 10 % of its cost model (the longer part's)."""
    graph, cfg = _two_parts(), preset("tiny")
    arrays = check_inputs(graph, random_inputs(graph, 4))
    together = map_graph(graph, cfg, seed=4)
    alone = map_graph(graph, cfg, seed=4, schedule="phases")  # kernel by kernel
    shared = [p.phase for p in together.phases if isinstance(p.phase, ConcurrentPhase)]
    assert [[q.name for q in p.parts] for p in shared] == [["relu0", "sigmoid1p0"]]
    assert len(together.phases) == len(alone.phases) - 1
    runs = [run_program(program, arrays, harness="direct", tag="test-concurrency") for program in (together, alone)]
    for run in runs:
        assert run.ok, run.mismatches
    assert all(np.array_equal(runs[0].outputs[o], runs[1].outputs[o]) for o in graph.outputs)
    assert runs[0].cycles < runs[1].cycles
    (merged,) = [r for r in runs[0].phases if "+" in r.name]
    assert abs(merged.cycles - merged.estimate) <= 0.1 * merged.estimate, merged


@pytest.mark.parametrize("config", ["tiny", "small", "medium"])
def test_shared_configurations_hold_independent_phases_that_fit(request, config):
    """On random graphs: every shared configuration's parts read nothing another part writes (a
    concat's output stands for its inputs), their units fit the array, and lowering without
    concurrency gives the same parts one by one (the MLP weights' choice given: ``auto`` weighs the
    whole program, concurrency included, so it may choose otherwise without)."""
    cfg, base = preset(config), test_seed(request)
    print(f"[seed] {base}")
    found = 0
    for n in range(30):
        graph = random_graph(np.random.default_rng(base * 100 + n), max_k=31)
        weights = ("resident", "streamed")[n % 2]
        phases = lower(graph, cfg, weights, memory=DDR4)
        apart = lower(graph, cfg, weights, memory=DDR4, concurrent=False)
        flat = [q for p in phases for q in (p.parts if isinstance(p, ConcurrentPhase) else (p,))]
        assert [p.name for p in flat] == [p.name for p in apart]
        state = Lowering(graph, cfg, "auto", memory=DDR4)
        for p in phases:
            if isinstance(p, ConcurrentPhase):
                found += 1
                for q in p.parts:
                    others = {t for r in p.parts if r is not q for t in r.writes}
                    assert not others & _sources(state, q.reads), (p.name, q.name)
                used = p.units_used()
                assert all(used[kind] <= len(sites(cfg, kind)) for kind in KINDS), (p.name, used)
    print(f"{found} shared configurations in 30 graphs")


def test_the_phases_schedule_runs_kernel_by_kernel():
    """map_graph(schedule="phases") on two batches of a small DLRM: every phase a configuration of its
    own and the MLP weights loaded by each batch (more DRAM words, more cycles than the spatial
    schedule, which shares configurations and keeps the weights resident); the programs compute the
    same phases; the report names the schedule; an unknown schedule, and pipelined copies in the
    phases schedule, are refused naming them."""
    from rdagen.mapper.apps.dlrm import Arch, check_batch, dlrm_graph, random_batch, reference_weights
    from rdagen.mapper.report import text_report

    arch, cfg = Arch(4, (5, 3, 7), (3, 8, 4), (4, 1), "dot", indices_per_lookup=3), preset("small")
    batches = [check_batch(arch, random_batch(arch, 2, n, fixed=True), "batch") for n in range(2)]
    graph = dlrm_graph(arch, reference_weights(arch, 123), *batches)
    spatial, phases = (map_graph(graph, cfg, seed=2, schedule=s) for s in ("spatial", "phases"))
    assert any(isinstance(p.phase, ConcurrentPhase) for p in spatial.phases)
    assert not any(isinstance(p.phase, ConcurrentPhase) for p in phases.phases)
    flat = [q.name for p in spatial.phases for q in getattr(p.phase, "parts", (p.phase,))]
    assert sorted(flat) == sorted(p.phase.name for p in phases.phases)
    words = [sum(t.bytes(cfg) for t in program.traffic) for program in (spatial, phases)]
    assert words[0] < words[1] and spatial.estimate_cycles() < phases.estimate_cycles(), words
    assert "schedule phases, seed 2" in text_report(phases) and "schedule spatial, seed 2" in text_report(spatial)
    with pytest.raises(MapError, match="schedule 'gantt': valid: spatial, phases"):
        map_graph(graph, cfg, schedule="gantt")
    with pytest.raises(MapError, match="pipelined copies run side by side: the spatial schedule, not phases"):
        map_graph(graph, cfg, schedule="phases", pipelined=True)


def test_a_part_reading_another_is_refused():
    graph, cfg = _two_parts(), preset("tiny")
    relu, sigmoid = lower(graph, cfg, memory=DDR4, concurrent=False)[:2]
    sigmoid.reads = ("r",)  # as if the sigmoid read the relu's result
    with pytest.raises(MapError, match="sigmoid1p0 reads 'r', which relu0 writes"):
        ConcurrentPhase((relu, sigmoid))
