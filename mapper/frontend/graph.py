"""The user's dataflow graph: the ``rdagen-graph`` format (JSON, version 1, or built from Python) and
its validation (the inputs of a run: frontend/inputs.py; the NumPy reference and its fp32 error bounds:
frontend/reference.py).

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
  decrease; indices lie in [0, R). Without offsets, (table [R, D], indices int32 [B, N]) -> [B, D]:
  B bags of N >= 1 indices each (PyTorch's 2-D input; one-hot features are N = 1): the array needs no
  bag lengths for them.

Nodes may be listed in any order; a cycle is refused. Every name (input, weight, node output) is
defined once. Bad graphs and bad input arrays raise ``GraphError``, whose message names the node (its
position and op), the tensor and what is wrong.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from pathlib import Path

import numpy as np

__all__ = ["GraphError", "Tensor", "Node", "Graph", "GraphBuilder", "OPS", "DTYPES", "load_graph", "copy_name", "bag_offsets"]

FORMAT, VERSION = "rdagen-graph", 1
OPS = ("matmul", "add", "relu", "sigmoid", "concat", "dot_interaction", "embedding_bag")
DTYPES = {"fp32": np.float32, "int32": np.int32}


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
    copies: int = 1  # copies of one graph, one after the other (``repeated``, the batches of apps/dlrm.py)

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

    def copy_of(self, node: int) -> int:
        """The copy (``copies``) node number *node* computes for: copy n's nodes follow copy n - 1's."""
        return node // (len(self.nodes) // self.copies)

    def repeated(self, count: int) -> "Graph":
        """*count* copies of the graph on the same weights, one after the other (copy n's nodes follow
        copy n - 1's): the inputs, node outputs and outputs of copy n named ``copy_name(name, n)``. One
        program of it serves *count* requests, weights the mapper keeps resident loaded once."""
        if count < 1:
            raise GraphError(f"copies of the graph: {count}: must be >= 1")
        if count == 1:
            return self
        own = [*self.inputs, *(n.output for n in self.nodes)]
        for name in own:
            for n in range(1, count):
                if copy_name(name, n) in self.tensors:
                    raise GraphError(f"tensor {name!r}: its copy {n}'s name {copy_name(name, n)!r} is taken in "
                                     f"the graph; rename that tensor to repeat the graph {count} times")

        def named(name: str, n: int) -> str:
            return name if name in self.weights else copy_name(name, n)

        inputs = {copy_name(k, n): dataclasses.replace(t, name=copy_name(k, n))
                  for n in range(count) for k, t in self.inputs.items()}
        nodes = tuple(Node(node.op, tuple(named(i, n) for i in node.inputs), copy_name(node.output, n))
                      for n in range(count) for node in self.nodes)
        tensors = {**self.weights, **inputs,
                   **{copy_name(k, n): dataclasses.replace(self.tensors[k], name=copy_name(k, n))
                      for n in range(count) for k in (node.output for node in self.nodes)}}
        return Graph(inputs, dict(self.weights), nodes,
                     tuple(copy_name(o, n) for n in range(count) for o in self.outputs), tensors, count * self.copies)


def bag_offsets(indices: np.ndarray, offsets: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """An embedding_bag's indices, flat, and its bags' start offsets into them: *offsets*, or, for
    indices [B, N] without them, every N-th position."""
    indices = np.asarray(indices)
    if offsets is None:
        return indices.ravel(), np.arange(0, indices.size, indices.shape[1])
    return indices, np.asarray(offsets)


def copy_name(name: str, n: int) -> str:
    """Tensor *name* of copy *n* of a graph (``Graph.repeated``; the batches of mapper/apps/dlrm.py):
    copy 0 keeps the name."""
    return name if n == 0 else f"{name}@{n}"


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
        # An fp32 array from GraphBuilder.weight, or a JSON list; its element types are checked as a set
        # (a per-element check took 13 s on a Kaggle DLRM's 14 M table numbers).
        flat_array = isinstance(values, np.ndarray) and values.ndim == 1 and values.dtype == np.float32
        if not flat_array and not (isinstance(values, list) and set(map(type, values)) <= {int, float}):
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


_ARITY = {"matmul": (2, 2), "add": (2, 2), "relu": (1, 1), "sigmoid": (1, 1), "concat": (2, None), "dot_interaction": (2, None), "embedding_bag": (2, 3)}


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
    if len(shapes) == 2:
        table, indices = shapes
        if len(table) != 2 or len(indices) != 2:
            fail("embedding_bag takes a table [R, D] and indices [B, N] (or indices [n] and offsets [B])")
        return Tensor(node.output, (indices[0], table[1]))
    table, indices, offsets = shapes
    if len(table) != 2 or len(indices) != 1 or len(offsets) != 1:
        fail("embedding_bag takes a table [R, D], indices [n] and offsets [B] (or indices [B, N] alone)")
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
            self.data["weights"][name] = {"shape": list(values.shape), "values": values.ravel().copy()}
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

    def embedding_bag(self, table: str, indices: str, offsets: str | None = None, name: str | None = None) -> str:
        """Bags by *offsets* into indices [n], or, without them, the rows of indices [B, N]."""
        return self._node("embedding_bag", (table, indices) + ((offsets,) if offsets else ()), name)

    def output(self, *names: str) -> None:
        self.data["outputs"] += list(names)

    def graph(self) -> Graph:
        """The graph built so far, checked as a graph file is (the weights stay fp32 arrays: no JSON
        round trip of a DLRM's tables)."""
        return Graph.from_dict(copy.deepcopy(self.data), source="graph")
