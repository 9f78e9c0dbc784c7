"""The graph format (mapper/frontend/graph.py): the example graph from JSON and from Python, the refusals (each
naming the node, the tensor and the problem), embedding-bag semantics against hand-computed sums, and
the fp32 error bounds: random graphs of every op with random shapes (1, primes, sizes that are not a
multiple of any lane count), evaluated in float32 in orders of their own, stay within the bound of
the float64 reference.

Seeds are printed; rerun with ``pytest --seed N``.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from rdagen.mapper.frontend.graph import Graph, GraphBuilder, GraphError, load_graph
from rdagen.mapper.frontend.inputs import check_inputs, random_inputs
from rdagen.mapper.frontend.reference import error_bounds, reference
from rdagen.rtl.spec.expression import SIGMOID
from rdagen.verif.golden.arith import bits_f32, f32_bits
from rdagen.verif.golden.expression import evaluate

from .conftest import seeded_rng

EXAMPLE = Path(__file__).resolve().parent.parent / "mapper" / "examples" / "dlrm_tiny.json"


def _example() -> dict:
    return json.loads(EXAMPLE.read_text())


def test_the_example_graph_loads_with_its_shapes_and_round_trips():
    g = load_graph(EXAMPLE)
    assert [n.op for n in g.nodes] == ["matmul", "add", "relu", "embedding_bag", "concat"]
    assert g.tensors["y"].shape == (8, 80) and g.tensors["e"].shape == (8, 16)
    again = Graph.from_dict(json.loads(g.to_json()))
    assert again.tensors == g.tensors and again.nodes == g.nodes
    for name, w in g.weights.items():
        assert np.array_equal(again.weights[name].values, w.values), name


def test_the_python_builder_gives_the_json_graph():
    data, g = _example(), GraphBuilder()
    x, idx, off = g.input("x", (8, 13)), g.input("idx", (20,), "int32"), g.input("off", (8,), "int32")
    w1 = g.weight("w1", np.asarray(data["weights"]["w1"]["values"], np.float32).reshape(13, 64))
    b1 = g.weight("b1", shape=(64,), seed=1, scale=0.1)
    tab = g.weight("tab", shape=(1000, 16), seed=2, scale=0.05)
    h = g.relu(g.add(g.matmul(x, w1, name="h0"), b1, name="h1"), name="h")
    g.output(g.concat(h, g.embedding_bag(tab, idx, off, name="e"), name="y"))
    built, loaded = g.graph(), load_graph(EXAMPLE)
    assert built.tensors == loaded.tensors and built.nodes == loaded.nodes
    assert all(np.array_equal(built.weights[n].values, loaded.weights[n].values) for n in loaded.weights)


def _changed(change) -> dict:
    data = _example()
    change(data)
    return data


@pytest.mark.parametrize("change,message", [
    (lambda d: d["nodes"][0].update(inputs=["w1", "x"]), r"node 0 \(matmul\): matmul takes \[M, K\] x \[K, N\] "
                                                         r"\(operand shapes w1 \[13, 64\], x \[8, 13\]\)"),
    (lambda d: d["nodes"][1].update(op="conv"), r"node 1: unknown op 'conv'; valid ops: matmul, add"),
    (lambda d: d["nodes"][0].update(inputs=["x", "h"]), r"node 0 \(matmul\): the graph has a cycle \(each tensor needs the next\): h0 -> h -> h1 -> h0"),
    (lambda d: d["nodes"][2].update(output="x"), r"node 2 \(relu\): name 'x' is used twice \(also .*input 'x'\)"),
    (lambda d: d["weights"]["w1"].update(values=[0.5] * 7), r"weight 'w1': 'values' has 7 numbers, shape \[13, 64\] "
                                                            r"takes 832"),
    (lambda d: d["nodes"][1].update(inputs=["h0", "tab"]), r"node 1 \(add\): add takes two tensors of one shape"),
    (lambda d: d["nodes"][3].update(inputs=["tab", "x", "off"]), r"node 3 \(embedding_bag\): operand 1 'x' is fp32, "
                                                                 r"embedding_bag takes int32 there"),
    (lambda d: d["nodes"][4].update(inputs=["h"]), r"node 4 \(concat\): concat takes 2 or more operands, got 1"),
    (lambda d: d["nodes"][2].update(inputs=["nothing"]), r"node 2 \(relu\): operand 'nothing' is not an input"),
    (lambda d: d.update(outputs=["x"]), r"output 'x' is not the output of a node"),
    (lambda d: d.update(version=2), r"graph version 2 is not supported"),
    (lambda d: d["inputs"]["x"].update(dtype="fp16"), r"input 'x': dtype 'fp16' is not one of fp32, int32"),
    (lambda d: d["inputs"]["x"].update(shape=[8, 0]), r"input 'x': shape \[8, 0\] is not a list of positive integers"),
    (lambda d: d["weights"]["b1"].update(values=[0.0] * 64), r"weight 'b1': give exactly one of 'values'"),
    (lambda d: d.update(extra=1), r"unknown 'extra'"),
])
def test_bad_graphs_are_refused_naming_the_node_and_the_tensor(change, message):
    with pytest.raises(GraphError, match=message):
        Graph.from_dict(_changed(change))


def test_bad_inputs_are_refused_naming_the_input_and_the_position():
    g = load_graph(EXAMPLE)
    good = random_inputs(g, 1)
    check_inputs(g, good)
    cases = [
        ({k: v for k, v in good.items() if k != "off"}, r"missing input 'off'"),
        ({**good, "z": good["x"]}, r"'z' is not an input of the graph"),
        ({**good, "x": good["x"][:4]}, r"input 'x' has shape \[4, 13\], the graph says \[8, 13\]"),
        ({**good, "x": good["x"].astype(np.float64)}, r"input 'x' is float64, the graph says fp32"),
        ({**good, "idx": np.where(np.arange(20) == 7, 1000, good["idx"])},
         r"input 'idx' \(indices of node 3, embedding_bag\): position 7 holds 1000, outside the table's rows \[0, 1000\)"),
        ({**good, "off": np.array([0, 3, 2, 5, 5, 6, 7, 8])}, r"input 'off' \(offsets .*\): position 2 holds 2"),
        ({**good, "off": np.array([1, 3, 4, 5, 5, 6, 7, 8])}, r"position 0 holds 1; the first bag starts at 0"),
    ]
    for arrays, message in cases:
        with pytest.raises(GraphError, match=message):
            check_inputs(g, arrays)


def test_a_repeated_graph_computes_each_copy_on_the_same_weights():
    """``Graph.repeated(3)``: copy n's inputs, node outputs and outputs named ``name@n`` (copy 0 keeps
    its names), the weights shared, and the reference of every copy equal to the graph's own on that
    copy's inputs; a name that a copy would take is refused, naming both."""
    graph = load_graph(EXAMPLE)
    copies = graph.repeated(3)
    assert graph.repeated(1) is graph and copies.copies == 3
    assert list(copies.weights) == list(graph.weights) and len(copies.nodes) == 3 * len(graph.nodes)
    assert copies.outputs == tuple(f"{o}{s}" for s in ("", "@1", "@2") for o in graph.outputs)
    inputs = [random_inputs(graph, seed) for seed in (1, 2, 3)]
    together = reference(copies, {f"{k}{s}": v for s, arrays in zip(("", "@1", "@2"), inputs) for k, v in arrays.items()})
    for s, arrays in zip(("", "@1", "@2"), inputs):
        alone = reference(graph, arrays)
        assert all(np.array_equal(together[f"{o}{s}"], alone[o]) for o in graph.outputs)
    g = GraphBuilder()
    x, y = g.input("x", (1, 2)), g.input("x@1", (1, 2))
    g.output(g.add(x, y, name="s"))
    with pytest.raises(GraphError, match=r"tensor 'x': its copy 1's name 'x@1' is taken"):
        g.graph().repeated(2)
    with pytest.raises(GraphError, match="copies of the graph: 0: must be >= 1"):
        graph.repeated(0)


def test_embedding_bag_sums_as_pytorch_does():
    """EmbeddingBag(mode="sum") with offsets: bag b is indices[offsets[b]:offsets[b + 1]], the last runs to
    the end, empty bags (the first, one in the middle, the last) give zeros."""
    g = GraphBuilder()
    tab = g.weight("tab", np.arange(12, dtype=np.float32).reshape(6, 2))
    g.output(g.embedding_bag(tab, g.input("idx", (5,), "int32"), g.input("off", (5,), "int32"), name="e"))
    graph = g.graph()
    arrays = check_inputs(graph, {"idx": np.array([5, 0, 0, 3, 1]), "off": np.array([0, 0, 3, 3, 5])})
    # bags: [] , [5, 0, 0], [], [3, 1], [] -> rows (10, 11) + 2 * (0, 1) = (10, 13); (6, 7) + (2, 3) = (8, 10)
    assert reference(graph, arrays)["e"].tolist() == [[0, 0], [10, 13], [0, 0], [8, 10], [0, 0]]
    assert not error_bounds(graph, arrays)["e"][[0, 2, 4]].any()


def test_embedding_bag_of_fixed_bags_sums_the_rows_of_its_indices():
    """Indices [B, N] without offsets (PyTorch's 2-D input): bag b sums the rows indices[b], the same as
    the offsets every N (reference and bound); an index outside the table is named by its (bag,
    position); 1-D indices without offsets are refused naming the node, N = 0 naming the input."""
    g = GraphBuilder()
    tab = g.weight("tab", np.arange(12, dtype=np.float32).reshape(6, 2))
    g.output(g.embedding_bag(tab, g.input("idx", (3, 2), "int32"), name="e"))
    fixed = g.graph()
    assert fixed.tensors["e"].shape == (3, 2) and len(fixed.nodes[0].inputs) == 2
    idx = np.array([[5, 0], [3, 3], [1, 4]])
    arrays = check_inputs(fixed, {"idx": idx})
    assert reference(fixed, arrays)["e"].tolist() == [[10, 12], [12, 14], [10, 12]]
    g = GraphBuilder()
    tab = g.weight("tab", np.arange(12, dtype=np.float32).reshape(6, 2))
    g.output(g.embedding_bag(tab, g.input("idx", (6,), "int32"), g.input("off", (3,), "int32"), name="e"))
    offsets = g.graph()
    flat = check_inputs(offsets, {"idx": idx.ravel(), "off": np.array([0, 2, 4])})
    assert np.array_equal(error_bounds(fixed, arrays)["e"], error_bounds(offsets, flat)["e"])
    assert random_inputs(fixed, 3)["idx"].shape == (3, 2)
    with pytest.raises(GraphError, match=r"input 'idx' \(indices of node 0, embedding_bag\): position \[1, 0\] holds 6, "
                                         r"outside the table's rows \[0, 6\)"):
        check_inputs(fixed, {"idx": np.array([[5, 0], [6, 3], [1, 9]])})
    for shape, message in (((6,), r"node 0 \(embedding_bag\): embedding_bag takes a table \[R, D\] and indices \[B, N\]"),
                           ((3, 0), r"input 'idx': shape \[3, 0\] is not a list of positive integers")):
        g = GraphBuilder()
        tab = g.weight("tab", np.zeros((6, 2), np.float32))
        g.output(g.embedding_bag(tab, g.input("idx", shape, "int32"), name="e"))
        with pytest.raises(GraphError, match=message):
            g.graph()


def _random_graph(rng) -> Graph:
    """A graph of every op on random shapes: an MLP layer or two, an embedding bag or two, concat."""
    dims = [1, 2, 3, 5, 7, 13, 16, 31, 64, 97]
    pick = lambda: int(rng.choice(dims))  # noqa: E731
    g = GraphBuilder()
    m, k = pick(), pick()
    h = g.input("x", (m, k))
    for layer in range(int(rng.integers(1, 3))):
        n = pick()
        w = g.weight(f"w{layer}", shape=(k, n), seed=int(rng.integers(1000)), scale=float(rng.choice([0.01, 1, 100])))
        b = g.weight(f"b{layer}", shape=(n,), seed=int(rng.integers(1000)), scale=0.1)
        h = g.relu(g.add(g.matmul(h, w), b))
        k = n
    parts = [h]
    if rng.random() < 0.5:
        parts.append(g.dot_interaction(h, g.relu(h), h))
    for t in range(int(rng.integers(1, 3))):
        rows, d, n_idx = pick(), pick(), int(rng.integers(1, 40))
        tab = g.weight(f"tab{t}", shape=(rows, d), seed=int(rng.integers(1000)), scale=0.05)
        parts.append(g.embedding_bag(tab, g.input(f"idx{t}", (n_idx,), "int32"), g.input(f"off{t}", (m,), "int32")))
    y = g.concat(*parts, name="y")
    if rng.random() < 0.5:
        g.output(y, g.sigmoid(y, name="p"))
    else:
        g.output(y)
    return g.graph()


def _fp32_evaluate(graph: Graph, arrays: dict, rng) -> dict:
    """The graph in float32 with sums in a random order per op (as some hardware mapping might)."""
    env = {**arrays, **{n: t.values for n, t in graph.weights.items()}}
    for node in graph.nodes:
        x = [env[n] for n in node.inputs]
        if node.op == "matmul":
            k = x[0].shape[1]
            products = x[0][:, :, None] * x[1][None, :, :]  # fp32 products
            out = np.zeros((x[0].shape[0], x[1].shape[1]), np.float32)
            for i in rng.permutation(k):
                out = (out + products[:, i, :]).astype(np.float32)
        elif node.op == "add":
            out = (x[0] + x[1]).astype(np.float32)
        elif node.op == "relu":
            out = np.maximum(x[0], np.float32(0))
        elif node.op == "sigmoid":
            out = bits_f32(evaluate(SIGMOID, f32_bits(x[0])))
        elif node.op == "concat":
            out = np.concatenate(x, axis=1)
        elif node.op == "dot_interaction":
            columns = []
            for i in range(len(x)):
                for j in range(i):
                    products, total = x[i] * x[j], np.zeros(len(x[i]), np.float32)
                    for d in rng.permutation(products.shape[1]):
                        total = (total + products[:, d]).astype(np.float32)
                    columns.append(total)
            out = np.stack(columns, axis=1)
        else:
            table, indices, offsets = x
            ends = list(offsets[1:]) + [len(indices)]
            out = np.zeros((len(offsets), table.shape[1]), np.float32)
            for b, (s, e) in enumerate(zip(offsets, ends)):
                for i in rng.permutation(np.arange(s, e)):
                    out[b] = (out[b] + table[indices[i]]).astype(np.float32)
        env[node.output] = out
    return env


def test_random_graphs_stay_within_their_fp32_bound(request):
    rng = seeded_rng(request)
    worst = 0.0
    for _ in range(60):
        graph = _random_graph(rng)
        arrays = check_inputs(graph, random_inputs(graph, int(rng.integers(2**31))))
        exact, bound = reference(graph, arrays), error_bounds(graph, arrays)
        got = _fp32_evaluate(graph, arrays, rng)
        for name in graph.tensors:
            error = np.abs(got[name].astype(np.float64) - exact[name])
            assert (error <= bound[name]).all(), (name, float(error.max()), float(bound[name].max()))
            ratio = error[bound[name] > 0] / bound[name][bound[name] > 0]
            worst = max(worst, float(ratio.max(initial=0)))
    print(f"largest error / bound over 60 random graphs: {worst:.3f}")
    assert worst > 1e-3  # the bound is not vacuous: errors reach a visible share of it


def _rdagen(*args, cwd=None):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "rdagen.cli", *args], capture_output=True, text=True, cwd=cwd)


def test_cli_checks_a_graph_and_writes_its_reference(tmp_path):
    checked = _rdagen("graph", "check", str(EXAMPLE))
    assert checked.returncode == 0 and "embedding_bag  tab [1000, 16], idx [20], off [8]" in checked.stdout
    run = _rdagen("graph", "reference", str(EXAMPLE), "--seed", "5", "--out", str(tmp_path / "ref"))
    assert run.returncode == 0, run.stderr
    saved = np.load(tmp_path / "ref" / "reference.npz")
    g = load_graph(EXAMPLE)
    arrays = random_inputs(g, 5)
    assert np.array_equal(saved["y"], reference(g, arrays)["y"])
    assert np.array_equal(saved["y.bound"], error_bounds(g, arrays)["y"])


def test_cli_refuses_bad_graphs_and_inputs_with_exit_2_and_writes_nothing(tmp_path):
    bad_graph = tmp_path / "bad.json"
    bad_graph.write_text(json.dumps(_changed(lambda d: d["nodes"][1].update(op="conv"))))
    partial = tmp_path / "partial.npz"
    np.savez(partial, x=np.zeros((8, 13), np.float32))
    extra = tmp_path / "extra.npz"
    np.savez(extra, **random_inputs(load_graph(EXAMPLE), 1), z=np.zeros(3))
    cases = [(["graph", "check", str(bad_graph)], "node 1: unknown op 'conv'"),
             (["graph", "check", str(tmp_path / "none.json")], "no such graph file"),
             (["graph", "check", str(tmp_path)], "not a file"),
             (["graph", "reference", str(EXAMPLE), "--inputs", str(partial)], "missing inputs 'idx', 'off'"),
             (["graph", "reference", str(EXAMPLE), "--inputs", str(extra)], "'z' is not an input of the graph"),
             (["graph", "reference", str(EXAMPLE), "--inputs", str(bad_graph)], "not a readable .npz file")]
    for args, message in cases:
        run = _rdagen(*args, "--out", str(tmp_path / "out"))
        assert run.returncode == 2 and message in run.stderr and "Traceback" not in run.stderr, (args, run.stderr)
        assert not (tmp_path / "out").exists()
