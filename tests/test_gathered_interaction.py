"""Embedding bags gathered by the dot interaction (mapper/lowering/gathers.py; the interaction phase's
gathered rows, mapper/phases/interaction.py): a bag of one index per sample that only the interaction
reads needs no embedding phase; the interaction's AGs gather its rows straight into their PMUs, so
every row crosses DRAM once. On the RTL (direct harness, DDR4) bit-exact against the golden model,
within the fp32 bound of NumPy and within 10 % of the cost model; the other bags keep their embedding
phase; the lowering keeps whichever program the cost model finds cheaper.

Seeds are printed; rerun with ``pytest --seed N``."""

import dataclasses

import numpy as np
import pytest

from rdagen.mapper.apps.dlrm import KAGGLE, Arch, dlrm_graph, random_batch, reference_weights
from rdagen.mapper.frontend.graph import GraphBuilder
from rdagen.mapper.frontend.inputs import check_inputs, random_inputs
from rdagen.mapper.lowering import PIPELINE, lower
from rdagen.mapper.lowering.gathers import gatherable
from rdagen.mapper.lowering.state import Lowering
from rdagen.mapper.phases.embedding import EmbeddingPhase
from rdagen.mapper.phases.interaction import InteractionPhase
from rdagen.mapper.program import map_graph
from rdagen.rtl.spec.config import preset
from rdagen.rtl.spec.memory import DDR4
from rdagen.mapper.report import describe_tables
from rdagen.sim.dlrm_run import format_results, run_batches
from rdagen.sim.graph_run import run_program

from .conftest import test_seed


def _graph(samples: int, d: int, tables: tuple[int, ...], lookups: tuple[int | None, ...] | None = None,
           also_output: tuple[int, ...] = ()):
    """x [samples, d] and a bag of each table into one dot interaction; *lookups* per table: N (indices
    [samples, N]) or None (offsets), default 1; the bags in *also_output* are graph outputs too."""
    g = GraphBuilder()
    features = [g.input("x", (samples, d))]
    for t, rows in enumerate(tables):
        table = g.weight(f"tab{t}", shape=(rows, d), seed=t + 1)
        n = 1 if lookups is None else lookups[t]
        if n is None:
            bag = g.embedding_bag(table, g.input(f"idx{t}", (2 * samples,), "int32"),
                                  g.input(f"off{t}", (samples,), "int32"), name=f"e{t}")
        else:
            bag = g.embedding_bag(table, g.input(f"idx{t}", (samples, n), "int32"), name=f"e{t}")
        features.append(bag)
        if t in also_output:
            g.output(bag)
    g.output(g.dot_interaction(*features, name="z"))
    return g.graph()


@pytest.mark.parametrize("config, samples, d, tables", [
    ("small", 1, 4, (5,)),                 # one table, D = lanes, batch 1
    ("small", 8, 3, (9, 1, 30, 4)),        # D below the lanes, a table of one row
    ("small", 5, 8, (6, 6, 6)),            # D of two vectors
    ("medium", 16, 11, (7, 20, 3, 12, 5, 2)),
])
def test_one_index_bags_are_gathered_by_the_interaction_on_the_rtl(request, config, samples, d, tables):
    seed = test_seed(request)
    print(f"[seed] {seed}")
    cfg = preset(config)
    graph = _graph(samples, d, tables)
    program = map_graph(graph, cfg, seed=seed % 1000, memory=DDR4)
    phases = [p.phase for p in program.phases]
    assert len(phases) == 1 and isinstance(phases[0], InteractionPhase), [p.name for p in phases]
    phase = phases[0]
    assert sorted(phase.gathered) == list(range(1, len(tables) + 1))
    arrays = random_inputs(graph, seed)
    arrays["idx0"][-1] = tables[0] - 1  # the table's last row, and a row two samples share
    arrays["idx0"][0] = arrays["idx0"][-1]
    run = run_program(program, check_inputs(graph, arrays), harness="direct", tag="test-gathered")
    assert run.ok and all(run.within.values()), (run.mismatches, run.max_error)
    measured, model = run.phases[0].cycles, run.phases[0].estimate
    print(f"{config}: {samples} samples, {len(tables)} tables, D {d}: {measured} cycles, model {model}")
    assert abs(model - measured) <= 0.1 * measured, (measured, model)
    # every row crosses DRAM once: the AGs read each sample's rows and write nothing
    padded = -(-d // cfg.lanes) * cfg.lanes
    traffic = program.traffic[0].ags.values()
    assert sum(a.write_beats for a in traffic) == 0
    assert sum(a.read_beats for a in traffic) * cfg.lanes == samples * (len(tables) + 1) * padded


def test_only_bags_of_one_index_that_only_the_interaction_reads_are_gathered():
    """Bags of two indices, bags with offsets and a bag that is also a graph output are not gathered;
    the one-index bag beside them may be (the lowering gathers it where that is cheaper: here its
    embedding phase runs anyway); the golden model equals NumPy either way."""
    cfg = preset("small")
    graph = _graph(4, 4, (5, 7, 3, 6), lookups=(1, 2, None, 1), also_output=(3,))
    found = gatherable(_lowered(graph, cfg, False))
    assert {i: sorted(g) for i, g in found.items()} == {len(graph.nodes) - 1: [1]}, found
    gathering = _lowered(graph, cfg, True)
    embedded = {graph.nodes[i].output for p in gathering.phases if isinstance(p, EmbeddingPhase) for i in p.nodes}
    assert embedded == {"e1", "e2", "e3"}, embedded
    program = map_graph(graph, cfg, seed=1, memory=DDR4)
    run = run_program(program, check_inputs(graph, random_inputs(graph, 2)), harness=None)
    assert not run.mismatches and all(run.within.values()), (run.mismatches, run.max_error)
    where = describe_tables(program)  # the report says what gathers every table
    assert where.startswith("an embedding phase") and all(f"tab{t}" in where for t in range(4)), where


def _lowered(graph, cfg, gather_rows: bool) -> Lowering:
    state = Lowering(graph, cfg, "auto", memory=DDR4, gather_rows=gather_rows)
    for run in PIPELINE:
        run(state)
    return state


def test_the_lowering_keeps_the_cheaper_program_with_or_without_gathering():
    """The lowering gathers in the interaction exactly when the program so lowered costs less: a small
    DLRM on ``small`` (its embedding phase runs on its own) gathers; Kaggle's shape at batch 1 on
    ``plasticine`` (tables of 50 rows: the cost does not depend on them) keeps its embedding phase,
    which runs beside the bottom MLP (the interaction's one AG would gather 26 rows in two rounds of
    reads after it)."""
    chosen = []
    for arch, config in ((Arch(4, (50,) * 6, (13, 32, 4), (8, 1), "dot", 1), "small"),
                         (dataclasses.replace(KAGGLE, embedding_sizes=(50,) * 26), "plasticine")):
        cfg = preset(config)
        graph = dlrm_graph(arch, reference_weights(arch, 1), random_batch(arch, 1, 1, fixed=True))
        plain, gathering = _lowered(graph, cfg, False), _lowered(graph, cfg, True)
        assert any(isinstance(p, EmbeddingPhase) for p in plain.phases)
        assert not any(isinstance(p, EmbeddingPhase) for p in gathering.phases)
        cheaper = gathering if gathering.program_cost() < plain.program_cost() else plain
        print(f"{config}: gathering {gathering.program_cost()}, an embedding phase {plain.program_cost()}")
        assert [p.name for p in lower(graph, cfg, memory=DDR4)] == [p.name for p in cheaper.phases]
        chosen.append(cheaper is gathering)
    assert chosen == [True, False]


def test_a_one_hot_dlrm_on_the_rtl_gathers_its_tables_in_the_interaction(request):
    """A DLRM whose every bag holds one index (Criteo's one-hot features), two batches through one
    program on ``small``'s RTL: no embedding phase, every phase bit-exact, the probabilities within
    1e-6 of NumPy, each batch within 10 % of the cost model."""
    seed = test_seed(request)
    print(f"[seed] {seed}")
    arch = Arch(4, (100, 37, 250, 9), (13, 16, 4), (10, 8, 1), "dot", 1)
    batches = [random_batch(arch, 8, seed + n, fixed=True) for n in range(2)]
    results = run_batches(arch, reference_weights(arch, seed % 1000), batches, preset("small"), harness="direct",
                          seed=seed % 1000)
    for r in results:
        print(f"batch {r.index}: {r.cycles} cycles, model {r.estimate}\n{r.phase_table}")
        assert r.ok and r.max_error <= 1e-6, (r.mismatches, r.max_error)
        assert not any(line.startswith("embed") for line in r.phase_table.splitlines()), r.phase_table
        assert r.tables.startswith("the interaction's AGs") and all(f"emb_l.{k}," in r.tables + ","
                                                                     for k in range(4)), r.tables
        assert abs(r.estimate - r.cycles) <= 0.10 * r.cycles, (r.cycles, r.estimate)
    assert f"tables gathered by {results[0].tables}" in format_results(results, 1.0)
