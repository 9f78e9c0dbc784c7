"""Random graphs for the mapper's tests: every op, shapes of 1, primes and sizes that are not a
multiple of the lanes, from a numpy Generator (so a seed gives one graph)."""

from __future__ import annotations

import numpy as np

from rdagen.mapper.frontend.graph import Graph, GraphBuilder

SIZES = (1, 2, 3, 5, 7, 9, 11, 13, 16, 17, 23, 29, 31)


def random_graph(rng: np.random.Generator, *, max_k: int = 31, max_m: int = 7) -> Graph:
    """A graph of one to three dense layers (bias and ReLU at random), an embedding bag (any width, a
    table of a random size) concatenated with the MLP at random, a dot interaction of the MLP's output, and a stand-alone add, relu or sigmoid."""
    pick = lambda limit: int(rng.choice([s for s in SIZES if s <= limit]))  # noqa: E731
    g = GraphBuilder()
    m, k = pick(max_m), pick(max_k)
    h = g.input("x", (m, k))
    width = k
    for layer in range(int(rng.integers(1, 4))):
        n = pick(max_k)
        h = g.matmul(h, g.weight(f"w{layer}", shape=(width, n), seed=int(rng.integers(1000)), scale=1 / np.sqrt(width)))
        if rng.random() < 0.6:
            h = g.add(h, g.weight(f"b{layer}", shape=(n,), seed=int(rng.integers(1000)), scale=0.1))
        if rng.random() < 0.6:
            h = g.relu(h)
        width = n
    outputs = [h]
    if rng.random() < 0.6:
        rows, d = pick(31), pick(max_k)
        count = int(rng.integers(1, 3 * m + 2))
        e = g.embedding_bag(g.weight("table", shape=(rows, d), seed=int(rng.integers(1000))),
                            g.input("idx", (count,), "int32"), g.input("off", (m,), "int32"))
        outputs = [g.concat(h, e) if rng.random() < 0.5 else e] + ([] if rng.random() < 0.5 else [h])
    if rng.random() < 0.4:
        outputs.append(g.dot_interaction(h, g.relu(h), h))
    last = outputs[0]
    if rng.random() < 0.5:
        last = [g.relu, g.sigmoid, lambda t: g.add(t, t)][int(rng.integers(3))](last)
        outputs[0] = last
    g.output(*dict.fromkeys(outputs))
    return g.graph()
