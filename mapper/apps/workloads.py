"""The named workloads of ``rdagen sim`` and the array tests: graphs sized from the ArrayConfig (sizes
that are not multiples of the lanes, so padding is exercised), with their input arrays from a seed.
They go onto the array the one way any graph does: ``map_graph`` (mapper/program.py).

* ``gemv``: y = x W + b, x of one row (batch 1);
* ``gemm``: Y = X W + b, several rows (blocks of rows over the PMUs);
* ``mlp``: two dense layers with bias and ReLU (``mlp_graph``: two matmul phases with the hidden layer
  in DRAM, or one MLP phase where the cost model prefers it: mapper/program.py);
* ``embedding_bag``: sum pooling over a table wider than the lanes, bags of random sizes with empty
  ones in the middle and at the end (``lengths`` chooses them).
"""

from __future__ import annotations

import numpy as np

from rdagen.rtl.spec.config import ArrayConfig

from rdagen.mapper.frontend.graph import Graph, GraphBuilder, GraphError
from rdagen.mapper.frontend.inputs import check_inputs, random_inputs

__all__ = ["WORKLOADS", "workload", "mlp_graph", "gemm_graph"]

WORKLOADS = ("gemv", "gemm", "mlp", "embedding_bag")


def _dense(g: GraphBuilder, x: str, k: int, n: int, layer: int, seed: int, relu: bool) -> str:
    w = g.weight(f"w{layer}", shape=(k, n), seed=seed + 2 * layer, scale=1 / np.sqrt(k))
    y = g.add(g.matmul(x, w), g.weight(f"b{layer}", shape=(n,), seed=seed + 2 * layer + 1, scale=0.1))
    return g.relu(y) if relu else y


def gemm_graph(m: int, k: int, n: int) -> Graph:
    """C = A B with A [m, k] an input and B [k, n] a weight drawn from seed 1 (scale 1/sqrt k): the
    GEMM of the benchmarks and sweeps."""
    g = GraphBuilder()
    g.output(g.matmul(g.input("a", (m, k)), g.weight("b", shape=(k, n), seed=1, scale=1 / k ** 0.5), name="c"))
    return g.graph()


def mlp_graph(m: int, widths, seed: int, relu_last: bool = False, relu_between: bool = True) -> Graph:
    """Dense layers with bias on an input of *m* rows: widths[0] -> widths[1] -> ..., ReLU between
    layers (unless not *relu_between*; after the last with *relu_last*)."""
    g = GraphBuilder()
    h = g.input("x", (m, widths[0]))
    for layer, (k, n) in enumerate(zip(widths, widths[1:])):
        h = _dense(g, h, k, n, layer, seed, relu=relu_last if layer == len(widths) - 2 else relu_between)
    g.output(h)
    return g.graph()


def workload(name: str, cfg: ArrayConfig, seed: int, lengths=None) -> tuple[Graph, dict]:
    """(graph, checked input arrays) of workload *name* on *cfg*; GraphError for an unknown name."""
    L = cfg.lanes
    k = min(cfg.pmu_words // 2, 8 * L) - 1  # a row of X fits a PMU twice (double-buffered)
    g, graph = GraphBuilder(), None
    given = {}
    if name in ("gemv", "gemm"):
        m = 1 if name == "gemv" else 4 * L + 1
        g.output(_dense(g, g.input("x", (m, k)), k, 4 * L + 3, 0, seed, relu=False))
    elif name == "mlp":
        hidden = min(cfg.pmu_words // 2, 6 * L) - 1
        graph = mlp_graph(2 * L + 1, (k, hidden, 2 * L + 1), seed, relu_last=True)
    elif name == "embedding_bag":
        rng = np.random.default_rng(seed)
        if lengths is None:
            lengths = rng.integers(0, 6, 4 * L)
            lengths[[1, len(lengths) // 2, len(lengths) - 1]] = 0  # empty bags in the middle and at the end
        lengths = np.asarray(lengths, np.int64)
        count = int(lengths.sum())
        if count < 1:
            raise GraphError("workload embedding_bag: the bags hold no index (a graph's index tensor has at least one)")
        table = g.weight("table", shape=(64, L + 3), seed=seed)
        g.output(g.embedding_bag(table, g.input("idx", (count,), "int32"), g.input("off", (len(lengths),), "int32"),
                                 name="e"))
        given["off"] = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int32)
        given["idx"] = rng.integers(0, 64, count).astype(np.int32)
    else:
        raise GraphError(f"unknown workload {name!r}; valid: {', '.join(WORKLOADS)}")
    graph = graph or g.graph()
    return graph, check_inputs(graph, random_inputs(graph, seed, given))
