"""The input arrays of a run: drawn from a seed where the user gives none, and checked against the graph
(shapes, dtypes, indices inside their tables, offsets that do not decrease)."""

from __future__ import annotations

import numpy as np

from .graph import DTYPES, Graph, GraphError

__all__ = ["random_inputs", "check_inputs", "first_index_outside", "first_bad_offset"]


def _index_uses(graph: Graph) -> dict[str, list]:
    """int32 input -> [(node position, role, table rows or index count tensor)] of its embedding_bag uses."""
    uses: dict[str, list] = {}
    for i, node in enumerate(graph.nodes):
        if node.op == "embedding_bag":
            table, indices, *offsets = node.inputs
            uses.setdefault(indices, []).append((i, "indices", graph.tensors[table].shape[0]))
            for o in offsets:
                uses.setdefault(o, []).append((i, "offsets", graph.tensors[indices].shape[0]))
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


def first_index_outside(indices: np.ndarray, rows: int) -> int | tuple[int, ...] | None:
    """The position of the first index outside [0, rows) (a tuple in indices of several axes), or None."""
    bad = np.argwhere((indices < 0) | (indices >= rows))
    if not len(bad):
        return None
    return int(bad[0][0]) if indices.ndim == 1 else tuple(int(i) for i in bad[0])


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
                    raise GraphError(f"{where}: position {bad if a.ndim == 1 else list(bad)} holds {a[bad]}, outside "
                                     f"the table's rows [0, {limit})")
            else:
                bad = first_bad_offset(a, limit)
                if bad == 0:
                    raise GraphError(f"{where}: position 0 holds {a[0]}; the first bag starts at 0")
                if bad is not None:
                    raise GraphError(f"{where}: position {bad} holds {a[bad]}; offsets do not decrease and stay "
                                     f"within the {limit} indices")
    return checked
