"""The float64 NumPy reference of a graph and the fp32 error bound of every output element.

``reference`` evaluates the graph in float64 from the fp32 inputs; the
hardware computes in fp32 (round to nearest even, subnormal inputs read as zero, results below 2^-126
flushed to zero: rtl/spec/ops.py) in some order of its own. ``error_bounds`` gives, per output element, a
bound on |fp32 result - float64 reference| that holds for *any* summation order, with
gamma_n = n u / (1 - n u), u = 2^-24, and an absolute 2^-126 per rounding for flushing:

* inputs and weights: their own subnormal values (read as zero);
* ``matmul`` (and each pair of ``dot_interaction``, a product of [1, D] x [D, 1]): with operand bounds eA, eB and A' = |A| + eA, B' = |B| + eB:
  A' B' - |A||B| (propagated) + gamma_K A' B' + K 2^-126 (K products and sums);
* ``add``: eA + eB + u (|A + B| + eA + eB) + 2^-126; when A (either operand) is a ``matmul``'s result, the larger of
  that and the matmul's bound with B as a (K + 1)-th term (gamma_(K+1) and B' = |B| + eB beside A' B',
  plus eB): a mapper may sum the bias among the products (a chain of PCUs joins it with the partial
  sums, mapper/phases/matmul.py), not after them;
* ``relu`` and ``concat``: the operands' bounds (relu is 1-Lipschitz; concat moves words);
* ``sigmoid``: e / 4 (sigmoid is 1/4-Lipschitz) + ``SIGMOID_MAX_ERROR`` (the program's own error);
* ``embedding_bag``: gamma_n sum |rows| + n 2^-126 for a bag of n rows (a table's words are exact
  but for their subnormals, which add their magnitude).
"""

from __future__ import annotations

import numpy as np

from rdagen.rtl.spec.expression import SIGMOID_MAX_ERROR

from .graph import Graph, bag_offsets

__all__ = ["reference", "error_bounds", "interaction_pairs", "UNIT_ROUNDOFF", "FLUSH"]

UNIT_ROUNDOFF = 2.0 ** -24
FLUSH = 2.0 ** -126  # the largest magnitude FTZ/DAZ turns into zero


def _bags(indices: np.ndarray, offsets: np.ndarray | None = None) -> list[np.ndarray]:
    indices, offsets = bag_offsets(indices, offsets)
    ends = list(offsets[1:]) + [len(indices)]
    return [indices[s:e] for s, e in zip(offsets, ends)]


def interaction_pairs(features: int) -> list[tuple[int, int]]:
    """The (i, j) pairs, i > j, of *features* tensors in the reference's row-major order."""
    return [(i, j) for i in range(features) for j in range(i)]


def _gamma(n: int) -> float:
    return n * UNIT_ROUNDOFF / (1 - n * UNIT_ROUNDOFF)


def _values(graph: Graph, arrays: dict) -> dict[str, np.ndarray]:
    return {**{n: np.asarray(a) for n, a in arrays.items()}, **{n: t.values for n, t in graph.weights.items()}}


def reference(graph: Graph, arrays: dict) -> dict[str, np.ndarray]:
    """Every tensor of the graph in float64, from the (checked) fp32/int32 *arrays* and the weights."""
    env = {n: (a.astype(np.float64) if a.dtype == np.float32 else a) for n, a in _values(graph, arrays).items()}
    for node in graph.nodes:
        x = [env[n] for n in node.inputs]
        if node.op == "matmul":
            out = x[0] @ x[1]
        elif node.op == "add":
            out = x[0] + x[1]
        elif node.op == "relu":
            out = np.maximum(x[0], 0.0)
        elif node.op == "sigmoid":
            out = 0.5 * (1.0 + np.tanh(0.5 * x[0]))  # 1 / (1 + e^-x) without overflow
        elif node.op == "concat":
            out = np.concatenate(x, axis=1)
        elif node.op == "dot_interaction":
            out = np.stack([(x[i] * x[j]).sum(axis=1) for i, j in interaction_pairs(len(x))], axis=1)
        else:
            table, *bags = x
            out = np.array([table[bag].sum(axis=0) if len(bag) else np.zeros(table.shape[1])
                            for bag in _bags(*bags)]).reshape(-1, table.shape[1])
        env[node.output] = out
    return env


def error_bounds(graph: Graph, arrays: dict) -> dict[str, np.ndarray]:
    """Per element of every tensor: the bound on |fp32 hardware result - float64 reference| (module
    docstring), for any order of the sums."""
    values = reference(graph, arrays)
    bound, products = {}, {}  # products: a matmul's K, propagated input error and A' B'
    for n, a in _values(graph, arrays).items():
        a = np.asarray(a)
        bound[n] = (np.where(np.abs(a) < FLUSH, np.abs(a), 0.0) if a.dtype == np.float32
                    else np.zeros(a.shape))
    for node in graph.nodes:
        v = [np.abs(values[n]) for n in node.inputs]
        e = [bound[n] for n in node.inputs]
        if node.op == "matmul":
            k = v[0].shape[1]
            a_hat, b_hat = v[0] + e[0], v[1] + e[1]
            out = a_hat @ b_hat - v[0] @ v[1] + _gamma(k) * (a_hat @ b_hat) + k * FLUSH
            products[node.output] = k, a_hat @ b_hat - v[0] @ v[1], a_hat @ b_hat
        elif node.op == "add":
            out = e[0] + e[1] + UNIT_ROUNDOFF * (np.abs(values[node.output]) + e[0] + e[1]) + FLUSH
            for a, b in ((0, 1), (1, 0)):
                if node.inputs[a] in products:
                    k, propagated, hat = products[node.inputs[a]]
                    b_hat = v[b] + e[b]
                    out = np.maximum(out, propagated + e[b] + _gamma(k + 1) * (hat + b_hat) + (k + 1) * FLUSH)
                    break
        elif node.op == "relu":
            out = e[0]
        elif node.op == "sigmoid":
            out = e[0] / 4 + SIGMOID_MAX_ERROR
        elif node.op == "concat":
            out = np.concatenate(e, axis=1)
        elif node.op == "dot_interaction":
            d = v[0].shape[1]
            hat = [vi + ei for vi, ei in zip(v, e)]
            out = np.stack([((hat[i] * hat[j]).sum(axis=1) * (1 + _gamma(d)) - (v[i] * v[j]).sum(axis=1) + d * FLUSH)
                            for i, j in interaction_pairs(len(v))], axis=1)
        else:
            table, *bags = (values[n] for n in node.inputs)
            out = np.array([(_gamma(len(bag)) * np.abs(table[bag]).sum(axis=0) + bound[node.inputs[0]][bag].sum(axis=0)
                             + len(bag) * FLUSH) if len(bag) else np.zeros(table.shape[1])
                            for bag in _bags(*bags)]).reshape(-1, table.shape[1])
        bound[node.output] = out
    return bound
