"""Lowering a dense layer of a graph onto the array (mapper/lower.py): split over parallel pipelines
that occupy the array's PCUs, placed and routed automatically; the golden array model equals the
graph's NumPy reference within its fp32 bound, and the RTL (direct harness) equals the golden model
bit for bit; refusals name the node or the resource; one seed gives one bitstream.

Seeds are printed; rerun with ``pytest --seed N``.
"""

import numpy as np
import pytest

from rdagen.mapper.graph import GraphBuilder, check_inputs, error_bounds, random_inputs, reference
from rdagen.mapper.lower import MapError, host_streams, map_graph
from rdagen.rtl.config import preset
from rdagen.sim.direct import run_direct
from rdagen.verif.golden.array import run_array as golden_array

from .conftest import test_seed


def _layer(m, k, n, bias=True, relu=True, seed=1):
    g = GraphBuilder()
    y = g.matmul(g.input("x", (m, k)), g.weight("w", shape=(k, n), seed=seed, scale=1 / np.sqrt(k)),
                 name="y" if not (bias or relu) else None)
    if bias:
        y = g.add(y, g.weight("b", shape=(n,), seed=seed + 1, scale=0.1), name="y" if not relu else None)
    if relu:
        y = g.relu(y, name="y")
    g.output(y)
    return g.graph()


@pytest.mark.parametrize("config,shape,bias,relu", [("tiny", (2, 7, 5), True, True), ("small", (3, 37, 29), True, True),
                                                   ("small", (1, 4, 13), False, False)])
def test_a_dense_layer_runs_on_the_rtl_as_in_the_golden_model_and_numpy(request, config, shape, bias, relu):
    cfg, seed = preset(config), test_seed(request)
    print(f"[seed] {seed}")
    graph = _layer(*shape, bias=bias, relu=relu, seed=seed % 1000)
    mapping = map_graph(graph, cfg, seed=seed)
    print(mapping.placement.grid(cfg))
    pcus = sum((r + c) % 2 == 0 for r in range(cfg.rows) for c in range(cfg.cols))
    assert mapping.pcus_used == 2 * min(shape[2], cfg.rows, pcus // 2)
    if config == "small":
        assert mapping.pcus_used == pcus  # the whole array's PCUs
    arrays = check_inputs(graph, random_inputs(graph, seed))
    sources = host_streams(mapping, arrays)
    golden = golden_array(cfg, mapping.bitstream, sources, mapping.dram)
    got = mapping.outputs(golden.outputs)["y"].astype(np.float64)
    error, bound = np.abs(got - reference(graph, arrays)["y"]), error_bounds(graph, arrays)["y"]
    assert (error <= bound).all(), float((error - bound).max())
    assert golden.done_tokens == mapping.done_tokens and golden.errors == 0
    record = run_direct(cfg, mapping.bitstream, sources=sources, sinks=mapping.sinks, dram=mapping.dram,
                        work=4 * mapping.ideal_cycles, done_tokens=mapping.done_tokens, tag="test-lower")
    assert not record["timed_out"] and record["registers"]["done"] == 1 and record["registers"]["errors"] == 0
    for port in mapping.sinks:
        assert record["outputs"][port] == [int(v) for v in golden.outputs[port]], port
    print(f"{config} {shape}: {record['finish']} cycles, ideal {mapping.ideal_cycles}, PCUs {mapping.pcus_used}")
    assert mapping.ideal_cycles <= record["finish"] < 2 * mapping.ideal_cycles + 200


def test_one_seed_gives_one_bitstream():
    graph = _layer(2, 9, 11)
    assert map_graph(graph, preset("small"), seed=3).bitstream == map_graph(graph, preset("small"), seed=3).bitstream


def test_graphs_beyond_a_dense_layer_are_refused_naming_the_node():
    g = GraphBuilder()
    h = g.relu(g.matmul(g.input("x", (2, 5)), g.weight("w", shape=(5, 3), seed=1)))
    e = g.embedding_bag(g.weight("t", shape=(10, 3), seed=2), g.input("i", (4,), "int32"), g.input("o", (2,), "int32"))
    g.output(g.concat(h, e, name="y"))
    with pytest.raises(MapError, match=r"node 2 \(embedding_bag\): embedding_bag of t, i, o is not lowered yet"):
        map_graph(g.graph(), preset("small"))
    with pytest.raises(MapError, match=r"node 0 \(matmul\) does not fit tiny: it needs a PMU of 40 words"):
        map_graph(_layer(1, 39, 3), preset("tiny"))
