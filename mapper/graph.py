"""The user's dataflow graph: the ``rdagen-graph`` format (JSON, version 1, or built from Python), its
validation, and the NumPy reference interpreter with each op's fp32 error bound.

Format::

    {"format": "rdagen-graph", "version": 1,
     "inputs":  {NAME: {"shape": [..], "dtype": "fp32" | "int32"}, ...},
     "weights": {NAME: {"shape": [..], "values": [row-major numbers]}            (fp32)
               | {"shape": [..], "random": {"seed": S, "scale": X}}, ...},    (X * N(0, 1), float32)
     "nodes":   [{"op": OP, "inputs": [NAME, ...], "output": NAME}, ...],
     "outputs": [NAME, ...]}

Ops (NumPy semantics; every tensor is fp32 unless said otherwise):

* ``matmul`` [M, K] x [K, N] -> [M, N].
* ``add`` two tensors of one shape, or [M, N] + a [N] bias added to every row.
* ``relu`` max(x, 0), any shape.
* ``sigmoid`` 1 / (1 + e^-x), any shape (on the array: a program of 29 ops, rtl/spec/expression.py).
* ``concat`` two or more [M, N_i] along axis 1 -> [M, sum N_i].
* ``dot_interaction`` two or more [B, D] tensors t_0 .. t_F -> [B, F (F + 1) / 2]: per sample b, the
  dot products t_i[b] . t_j[b] of the pairs i > j in row-major order ((1, 0), (2, 0), (2, 1), ...), the
  strict lower triangle of T T^T (the DLRM reference's ``dot`` interaction, without its ``x``).
* ``embedding_bag`` (table [R, D], indices int32 [n], offsets int32 [B]) -> [B, D]: PyTorch's
  ``EmbeddingBag(mode="sum")``: bag b sums the table rows ``indices[offsets[b]:offsets[b + 1]]``, the
  last bag runs to the end of ``indices``, an empty bag gives zeros. Offsets start at 0 and do not
  decrease; indices lie in [0, R).

Nodes may be listed in any order; a cycle is refused. Every name (input, weight, node output) is
defined once. Bad graphs and bad input arrays raise ``GraphError``, whose message names the node (its
position and op), the tensor and what is wrong.

Reference and error bounds: ``reference`` evaluates the graph in float64 from the fp32 inputs; the
hardware computes in fp32 (round to nearest even, subnormal inputs read as zero, results below 2^-126
flushed to zero: rtl/spec/ops.py) in some order of its own. ``error_bounds`` gives, per output element, a
bound on |fp32 result - float64 reference| that holds for *any* summation order, with
gamma_n = n u / (1 - n u), u = 2^-24, and an absolute 2^-126 per rounding for flushing:

* inputs and weights: their own subnormal values (read as zero);
* ``matmul`` (and each pair of ``dot_interaction``, a product of [1, D] x [D, 1]): with operand bounds eA, eB and A' = |A| + eA, B' = |B| + eB:
  A' B' - |A||B| (propagated) + gamma_K A' B' + K 2^-126 (K products and sums);
* ``add``: eA + eB + u (|A + B| + eA + eB) + 2^-126;
* ``relu`` and ``concat``: the operands' bounds (relu is 1-Lipschitz; concat moves words);
* ``sigmoid``: e / 4 (sigmoid is 1/4-Lipschitz) + ``SIGMOID_MAX_ERROR`` (the program's own error);
* ``embedding_bag``: gamma_n sum |rows| + n 2^-126 for a bag of n rows (a table's words are exact
  but for their subnormals, which add their magnitude).
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np

from rdagen.rtl.spec.expression import SIGMOID_MAX_ERROR

__all__ = ["GraphError", "Tensor", "Node", "Graph", "GraphBuilder", "OPS", "load_graph", "reference",
           "error_bounds", "random_inputs", "check_inputs", "interaction_pairs",
           "first_index_outside", "first_bad_offset"]

FORMAT, VERSION = "rdagen-graph", 1
OPS = ("matmul", "add", "relu", "sigmoid", "concat", "dot_interaction", "embedding_bag")
DTYPES = {"fp32": np.float32, "int32": np.int32}
UNIT_ROUNDOFF = 2.0 ** -24
FLUSH = 2.0 ** -126  # the largest magnitude FTZ/DAZ turns into zero


class GraphError(ValueError):
    """A graph or its inputs cannot be used; the message names the node, the tensor and the problem."""


@dataclasses.dataclass(frozen=True)
class Tensor:
    """A named tensor: a graph input, a weight (with its values) or a node's output."""
    name: str
    shape: tuple[int, ...]
    dtype: str = "fp32"
    values: np.ndarray | None = dataclasses.field(default=None, compare=False, repr=False)  # weights only
    random: tuple[int, float] | None = None  # weights drawn from (seed, scale), kept for to_dict


@dataclasses.dataclass(frozen=True)
class Node:
    op: str
    inputs: tuple[str, ...]
    output: str


@dataclasses.dataclass(frozen=True)
class Graph:
    """A validated graph: its inputs and weights, its nodes in an order that computes every operand
    before its use, its outputs, and the shape of every tensor (``tensors``)."""
    inputs: dict[str, Tensor]
    weights: dict[str, Tensor]
    nodes: tuple[Node, ...]
    outputs: tuple[str, ...]
    tensors: dict[str, Tensor]

    @classmethod
    def from_dict(cls, data, *, source: str = "graph") -> "Graph":
        return _parse(data, source)

    @classmethod
    def from_json(cls, text: str, *, source: str = "graph") -> "Graph":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise GraphError(f"{source}: not valid JSON: {exc}") from None
        return _parse(data, source)

    def to_dict(self) -> dict:
        def weight(t: Tensor):
            if t.random is not None:
                return {"shape": list(t.shape), "random": {"seed": t.random[0], "scale": t.random[1]}}
            return {"shape": list(t.shape), "values": [float(v) for v in t.values.ravel()]}
        return {"format": FORMAT, "version": VERSION,
                "inputs": {n: {"shape": list(t.shape), "dtype": t.dtype} for n, t in self.inputs.items()},
                "weights": {n: weight(t) for n, t in self.weights.items()},
                "nodes": [{"op": n.op, "inputs": list(n.inputs), "output": n.output} for n in self.nodes],
                "outputs": list(self.outputs)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1) + "\n"


def load_graph(path: str | Path) -> Graph:
    """The graph in the JSON file *path*."""
    path = Path(path)
    if not path.is_file():
        raise GraphError(f"{path}: no such graph file" if not path.exists() else f"{path}: not a file")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise GraphError(f"{path}: cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    return Graph.from_json(text, source=str(path))


# -- parsing and validation -----------------------------------------------------------------------------
def _shape(where: str, value) -> tuple[int, ...]:
    if (not isinstance(value, list) or not value
            or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in value)):
        raise GraphError(f"{where}: shape {value!r} is not a list of positive integers")
    return tuple(value)


def _keys(where: str, data, required: set, optional: set = frozenset()):
    if not isinstance(data, dict):
        raise GraphError(f"{where}: expected a JSON object, got {type(data).__name__}")
    missing, unknown = sorted(required - set(data)), sorted(set(data) - required - optional)
    if missing:
        raise GraphError(f"{where}: missing {', '.join(repr(k) for k in missing)}")
    if unknown:
        raise GraphError(f"{where}: unknown {', '.join(repr(k) for k in unknown)}; valid: "
                         f"{', '.join(sorted(required | optional))}")


def _weight(where: str, name: str, spec) -> Tensor:
    _keys(where, spec, {"shape"}, {"values", "random"})
    shape = _shape(where, spec["shape"])
    if ("values" in spec) == ("random" in spec):
        raise GraphError(f"{where}: give exactly one of 'values' (row-major numbers) or 'random' "
                         f"({{'seed': S, 'scale': X}})")
    if "values" in spec:
        values = spec["values"]
        if not isinstance(values, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                   for v in values):
            raise GraphError(f"{where}: 'values' must be a flat list of numbers")
        if len(values) != math.prod(shape):
            raise GraphError(f"{where}: 'values' has {len(values)} numbers, shape {list(shape)} takes "
                             f"{math.prod(shape)}")
        array = np.asarray(values, np.float64)
        if not np.all(np.isfinite(array)) or np.any(np.abs(array) > np.finfo(np.float32).max):
            raise GraphError(f"{where}: 'values' holds a number that is not a finite fp32 value")
        return Tensor(name, shape, "fp32", array.astype(np.float32).reshape(shape))
    random = spec["random"]
    _keys(f"{where} 'random'", random, {"seed", "scale"})
    seed, scale = random["seed"], random["scale"]
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise GraphError(f"{where}: random 'seed' {seed!r} is not a non-negative integer")
    if not isinstance(scale, (int, float)) or isinstance(scale, bool) or not 0 < scale < 1e30:
        raise GraphError(f"{where}: random 'scale' {scale!r} is not a positive number")
    values = (scale * np.random.default_rng(seed).standard_normal(shape)).astype(np.float32)
    return Tensor(name, shape, "fp32", values, (seed, float(scale)))


_ARITY = {"matmul": (2, 2), "add": (2, 2), "relu": (1, 1), "sigmoid": (1, 1), "concat": (2, None), "dot_interaction": (2, None), "embedding_bag": (3, 3)}


def _infer(where: str, node: Node, operands: list[Tensor]) -> Tensor:
    """The output tensor of *node* on *operands*; GraphError on a shape or dtype mismatch."""
    op, shapes = node.op, [t.shape for t in operands]
    wants_int = {1, 2} if op == "embedding_bag" else set()
    for i, t in enumerate(operands):
        want = "int32" if i in wants_int else "fp32"
        if t.dtype != want:
            raise GraphError(f"{where}: operand {i} {t.name!r} is {t.dtype}, {op} takes {want} there")

    def fail(message):
        raise GraphError(f"{where}: {message} (operand shapes {', '.join(f'{t.name} {list(t.shape)}' for t in operands)})")

    if op == "matmul":
        (a, b) = shapes
        if len(a) != 2 or len(b) != 2 or a[1] != b[0]:
            fail("matmul takes [M, K] x [K, N]")
        return Tensor(node.output, (a[0], b[1]))
    if op == "add":
        (a, b) = shapes
        if a != b and not (len(a) == 2 and b == (a[1],)):
            fail("add takes two tensors of one shape, or [M, N] + a [N] bias")
        return Tensor(node.output, a)
    if op in ("relu", "sigmoid"):
        return Tensor(node.output, shapes[0])
    if op == "concat":
        if any(len(s) != 2 for s in shapes) or len({s[0] for s in shapes}) != 1:
            fail("concat takes [M, N_i] tensors with one M")
        return Tensor(node.output, (shapes[0][0], sum(s[1] for s in shapes)))
    if op == "dot_interaction":
        if any(len(s) != 2 for s in shapes) or len(set(shapes)) != 1:
            fail("dot_interaction takes [B, D] tensors of one shape")
        features = len(shapes)
        return Tensor(node.output, (shapes[0][0], features * (features - 1) // 2))
    table, indices, offsets = shapes
    if len(table) != 2 or len(indices) != 1 or len(offsets) != 1:
        fail("embedding_bag takes a table [R, D], indices [n] and offsets [B]")
    return Tensor(node.output, (offsets[0], table[1]))


def _parse(data, source: str) -> Graph:
    _keys(source, data, {"format", "version", "inputs", "weights", "nodes", "outputs"})
    if data["format"] != FORMAT:
        raise GraphError(f"{source}: 'format' is {data['format']!r}, not {FORMAT!r}")
    if data["version"] != VERSION:
        raise GraphError(f"{source}: graph version {data['version']!r} is not supported (this reads version {VERSION})")
    tensors: dict[str, Tensor] = {}
    defined_by: dict[str, str] = {}

    def define(where: str, tensor: Tensor):
        if not isinstance(tensor.name, str) or not tensor.name:
            raise GraphError(f"{where}: a tensor name must be a non-empty string, got {tensor.name!r}")
        if tensor.name in defined_by:
            raise GraphError(f"{where}: name {tensor.name!r} is used twice (also {defined_by[tensor.name]})")
        defined_by[tensor.name] = where
        tensors[tensor.name] = tensor

    if not isinstance(data["inputs"], dict) or not isinstance(data["weights"], dict):
        raise GraphError(f"{source}: 'inputs' and 'weights' are JSON objects keyed by tensor name")
    inputs = {}
    for name, spec in data["inputs"].items():
        where = f"{source}: input {name!r}"
        _keys(where, spec, {"shape", "dtype"})
        if spec["dtype"] not in DTYPES:
            raise GraphError(f"{where}: dtype {spec['dtype']!r} is not one of {', '.join(DTYPES)}")
        define(where, inputs.setdefault(name, Tensor(name, _shape(where, spec["shape"]), spec["dtype"])))
    weights = {}
    for name, spec in data["weights"].items():
        where = f"{source}: weight {name!r}"
        define(where, weights.setdefault(name, _weight(where, name, spec)))
    if not isinstance(data["nodes"], list) or not data["nodes"]:
        raise GraphError(f"{source}: 'nodes' must be a non-empty list")
    nodes = []
    for i, spec in enumerate(data["nodes"]):
        where = f"{source}: node {i}"
        _keys(where, spec, {"op", "inputs", "output"})
        if spec["op"] not in OPS:
            raise GraphError(f"{where}: unknown op {spec['op']!r}; valid ops: {', '.join(OPS)}")
        where = f"{source}: node {i} ({spec['op']})"
        if not isinstance(spec["inputs"], list) or not all(isinstance(n, str) for n in spec["inputs"]):
            raise GraphError(f"{where}: 'inputs' must be a list of tensor names")
        lo, hi = _ARITY[spec["op"]]
        if not lo <= len(spec["inputs"]) <= (hi or len(spec["inputs"])):
            raise GraphError(f"{where}: {spec['op']} takes {lo if lo == hi else f'{lo} or more'} operands, "
                             f"got {len(spec['inputs'])}")
        nodes.append((where, Node(spec["op"], tuple(spec["inputs"]), spec["output"])))
        define(where, Tensor(spec["output"], (1,)))  # a placeholder until its shape is inferred
    producers = {node.output: (where, node) for where, node in nodes}
    for where, node in nodes:
        for name in node.inputs:
            if name not in tensors:
                raise GraphError(f"{where}: operand {name!r} is not an input, a weight or a node's output")
    order = _topological(nodes, producers)
    for where, node in order:
        tensors[node.output] = _infer(where, node, [tensors[n] for n in node.inputs])
    outputs = data["outputs"]
    if not isinstance(outputs, list) or not outputs or not all(isinstance(n, str) for n in outputs):
        raise GraphError(f"{source}: 'outputs' must be a non-empty list of tensor names")
    for name in outputs:
        if name not in producers:
            raise GraphError(f"{source}: output {name!r} is not the output of a node")
        if outputs.count(name) > 1:
            raise GraphError(f"{source}: output {name!r} is listed twice")
    return Graph(inputs, weights, tuple(node for _, node in order), tuple(outputs), tensors)


def _topological(nodes, producers) -> list:
    """*nodes* ((where, Node)) so that every operand's producer comes first; a cycle is refused."""
    order, state = [], {}  # state: 1 visiting, 2 done

    def visit(where, node, path):
        if state.get(node.output) == 2:
            return
        if state.get(node.output) == 1:
            cycle = path[path.index(node.output):] + [node.output]
            raise GraphError(f"{where}: the graph has a cycle (each tensor needs the next): {' -> '.join(cycle)}")
        state[node.output] = 1
        for name in node.inputs:
            if name in producers:
                visit(*producers[name], path + [node.output])
        state[node.output] = 2
        order.append((where, node))

    for where, node in nodes:
        visit(where, node, [])
    return order


# -- building from Python ----------------------------------------------------------------------------------
class GraphBuilder:
    """Builds the same graph from Python: ``x = g.input("x", (8, 13))``, ``w = g.weight("w", values)``
    or ``g.weight("b", shape=(64,), seed=1, scale=0.1)``, ``h = g.relu(g.add(g.matmul(x, w), b))``,
    ``g.output(h)``, then ``g.graph()`` (validated as a JSON graph is). Op methods take and return
    tensor names; *name* names a node's output (default: the op and a number)."""

    def __init__(self):
        self.data = {"format": FORMAT, "version": VERSION, "inputs": {}, "weights": {}, "nodes": [], "outputs": []}

    def input(self, name: str, shape, dtype: str = "fp32") -> str:
        self.data["inputs"][name] = {"shape": list(shape), "dtype": dtype}
        return name

    def weight(self, name: str, values=None, *, shape=None, seed: int | None = None, scale: float = 1.0) -> str:
        if values is not None:
            values = np.asarray(values, np.float32)
            self.data["weights"][name] = {"shape": list(values.shape), "values": values.ravel().tolist()}
        else:
            self.data["weights"][name] = {"shape": list(shape), "random": {"seed": seed, "scale": scale}}
        return name

    def _node(self, op: str, inputs, name: str | None) -> str:
        name = name or f"{op}{len(self.data['nodes'])}"
        self.data["nodes"].append({"op": op, "inputs": list(inputs), "output": name})
        return name

    def matmul(self, a: str, b: str, name: str | None = None) -> str:
        return self._node("matmul", (a, b), name)

    def add(self, a: str, b: str, name: str | None = None) -> str:
        return self._node("add", (a, b), name)

    def sigmoid(self, a: str, name: str | None = None) -> str:
        return self._node("sigmoid", [a], name)

    def relu(self, a: str, name: str | None = None) -> str:
        return self._node("relu", (a,), name)

    def dot_interaction(self, *features: str, name: str | None = None) -> str:
        return self._node("dot_interaction", features, name)

    def concat(self, *parts: str, name: str | None = None) -> str:
        return self._node("concat", parts, name)

    def embedding_bag(self, table: str, indices: str, offsets: str, name: str | None = None) -> str:
        return self._node("embedding_bag", (table, indices, offsets), name)

    def output(self, *names: str) -> None:
        self.data["outputs"] += list(names)

    def graph(self) -> Graph:
        return Graph.from_dict(json.loads(json.dumps(self.data)), source="graph")


# -- inputs ---------------------------------------------------------------------------------------------
def _index_uses(graph: Graph) -> dict[str, list]:
    """int32 input -> [(node position, role, table rows or index count tensor)] of its embedding_bag uses."""
    uses: dict[str, list] = {}
    for i, node in enumerate(graph.nodes):
        if node.op == "embedding_bag":
            table, indices, offsets = node.inputs
            uses.setdefault(indices, []).append((i, "indices", graph.tensors[table].shape[0]))
            uses.setdefault(offsets, []).append((i, "offsets", graph.tensors[indices].shape[0]))
    return uses


def random_inputs(graph: Graph, seed: int, given: dict | None = None) -> dict[str, np.ndarray]:
    """Every input not in *given*, drawn from *seed*: fp32 inputs N(0, 1); indices uniform over their
    table's rows; offsets sorted, starting at 0 (so some bags are empty, the last one possibly too)."""
    rng = np.random.default_rng(seed)
    arrays = dict(given or {})
    uses = _index_uses(graph)
    for name, t in graph.inputs.items():
        if name in arrays:
            continue
        if t.dtype == "fp32":
            arrays[name] = rng.standard_normal(t.shape).astype(np.float32)
            continue
        role = uses.get(name, [(None, "indices", 1)])[0]
        if role[1] == "indices":
            arrays[name] = rng.integers(0, min(u[2] for u in uses.get(name, [role])), t.shape).astype(np.int32)
        else:
            starts = np.sort(rng.integers(0, role[2] + 1, t.shape))
            starts[0] = 0
            arrays[name] = starts.astype(np.int32)
    return arrays


def first_index_outside(indices: np.ndarray, rows: int) -> int | None:
    """The position of the first index outside [0, rows), or None."""
    bad = np.flatnonzero((indices < 0) | (indices >= rows))
    return int(bad[0]) if len(bad) else None


def first_bad_offset(offsets: np.ndarray, count: int) -> int | None:
    """The position of the first bag offset that breaks the rules (the first is 0; none decreases or
    passes the *count* indices), or None."""
    if offsets[0] != 0:
        return 0
    bad = np.flatnonzero((np.diff(offsets) < 0) | (offsets[1:] > count))
    return int(bad[0]) + 1 if len(bad) else None


def check_inputs(graph: Graph, arrays: dict, *, source: str = "inputs") -> dict[str, np.ndarray]:
    """The input arrays, checked against the graph: every input given once with its shape and dtype,
    no extra array, indices within their table (named with the position), offsets from 0 upwards."""
    missing = [n for n in graph.inputs if n not in arrays]
    extra = sorted(set(arrays) - set(graph.inputs))
    if missing:
        raise GraphError(f"{source}: missing input {missing[0]!r} (the graph's inputs: {', '.join(graph.inputs)})")
    if extra:
        raise GraphError(f"{source}: {extra[0]!r} is not an input of the graph (its inputs: {', '.join(graph.inputs)})")
    checked = {}
    for name, t in graph.inputs.items():
        a = np.asarray(arrays[name])
        if a.shape != t.shape:
            raise GraphError(f"{source}: input {name!r} has shape {list(a.shape)}, the graph says {list(t.shape)}")
        if t.dtype == "fp32":
            if a.dtype != np.float32:
                raise GraphError(f"{source}: input {name!r} is {a.dtype}, the graph says fp32 (float32)")
        elif not np.issubdtype(a.dtype, np.integer) or (a.size and (a.min() < -2**31 or a.max() >= 2**31)):
            raise GraphError(f"{source}: input {name!r} is {a.dtype}, the graph says int32")
        checked[name] = a.astype(DTYPES[t.dtype])
    for name, uses in _index_uses(graph).items():
        if name not in checked:
            continue
        a = checked[name]
        for position, role, limit in uses:
            where = f"{source}: input {name!r} ({role} of node {position}, embedding_bag)"
            if role == "indices":
                bad = first_index_outside(a, limit)
                if bad is not None:
                    raise GraphError(f"{where}: position {bad} holds {a[bad]}, outside the table's rows [0, {limit})")
            else:
                bad = first_bad_offset(a, limit)
                if bad == 0:
                    raise GraphError(f"{where}: position 0 holds {a[0]}; the first bag starts at 0")
                if bad is not None:
                    raise GraphError(f"{where}: position {bad} holds {a[bad]}; offsets do not decrease and stay "
                                     f"within the {limit} indices")
    return checked


# -- the reference and its bounds ----------------------------------------------------------------------
def _bags(indices: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
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
            table, indices, offsets = x
            out = np.array([table[bag].sum(axis=0) if len(bag) else np.zeros(table.shape[1])
                            for bag in _bags(indices, offsets)]).reshape(len(offsets), table.shape[1])
        env[node.output] = out
    return env


def error_bounds(graph: Graph, arrays: dict) -> dict[str, np.ndarray]:
    """Per element of every tensor: the bound on |fp32 hardware result - float64 reference| (module
    docstring), for any order of the sums."""
    values = reference(graph, arrays)
    bound = {}
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
        elif node.op == "add":
            out = e[0] + e[1] + UNIT_ROUNDOFF * (np.abs(values[node.output]) + e[0] + e[1]) + FLUSH
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
            table, indices, offsets = values[node.inputs[0]], values[node.inputs[1]], values[node.inputs[2]]
            out = np.array([(_gamma(len(bag)) * np.abs(table[bag]).sum(axis=0) + bound[node.inputs[0]][bag].sum(axis=0)
                             + len(bag) * FLUSH) if len(bag) else np.zeros(table.shape[1])
                            for bag in _bags(indices, offsets)]).reshape(len(offsets), table.shape[1])
        bound[node.output] = out
    return bound
