"""``rdagen graph``: check a dataflow graph, or evaluate its float64 reference and fp32 error bounds."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from .common import UsageError

NAME = "graph"
HELP = ("check a dataflow graph (rdagen-graph JSON), or evaluate its float64 NumPy "
        "reference with the fp32 error bound of every output element")


def add_arguments(p) -> None:
    p.add_argument("action", choices=["check", "reference"],
                   help="check: validate and print every node's shapes; reference: write DIR/reference.npz")
    add_graph_argument(p)
    add_inputs_argument(p)
    p.add_argument("--seed", type=int, default=None,
                   help="draw the inputs the .npz does not give from this seed (default: 1 without --inputs; "
                        "with --inputs, every input must be in the .npz unless --seed is given)")
    p.add_argument("--out", default="build/graph", help="output directory of `reference` (default %(default)s)")


def add_graph_argument(p) -> None:
    p.add_argument("graph", help="the graph's JSON file (format: the docs' page 'Graphs and the mapper')")


def add_inputs_argument(p) -> None:
    p.add_argument("--inputs", default=None, help=".npz of input arrays, keyed by the graph's input names")


def graph_and_inputs(args):
    """The graph of args.graph and its inputs (args.inputs, the rest drawn from args.seed), checked."""
    from rdagen.mapper.frontend.graph import GraphError, load_graph
    from rdagen.mapper.frontend.inputs import check_inputs, random_inputs

    try:
        graph = load_graph(args.graph)
        given = {}
        if getattr(args, "inputs", None):
            try:
                with np.load(args.inputs) as npz:
                    given = {name: npz[name] for name in npz.files}
            except (OSError, ValueError) as exc:
                raise GraphError(f"{args.inputs}: not a readable .npz file ({exc})") from None
        # Without --inputs every input is drawn from the seed (default 1). With --inputs, `graph` draws
        # the missing ones only when --seed is given, so that a missing array is not silently replaced;
        # `run` draws them from the seed (default 1) and says which.
        draw = args.command == "run" or args.seed is not None or not args.inputs
        seed = args.seed if args.seed is not None else 1
        if draw and args.inputs:
            drawn = [n for n in graph.inputs if n not in given]
            if drawn:
                print(f"rdagen {args.command}: note: inputs drawn from seed {seed}: {', '.join(drawn)}", file=sys.stderr)
        arrays = check_inputs(graph, random_inputs(graph, seed, given) if draw else given,
                              source=str(args.inputs or "inputs"))
    except GraphError as exc:
        raise UsageError(str(exc)) from None
    return graph, arrays


def run(args) -> int:
    from rdagen.mapper.frontend.reference import error_bounds, reference

    graph, arrays = graph_and_inputs(args)
    if args.action == "check":
        print(f"valid: {args.graph}: {len(graph.inputs)} inputs, {len(graph.weights)} weights, "
              f"{len(graph.nodes)} nodes, outputs {', '.join(graph.outputs)}")
        print(f"  {'node':>4}  {'op':14} {'operands':40} -> output")
        for i, node in enumerate(graph.nodes):
            operands = ", ".join(f"{n} {list(graph.tensors[n].shape)}" for n in node.inputs)
            print(f"  {i:4}  {node.op:14} {operands:40} -> {node.output} {list(graph.tensors[node.output].shape)}")
        return 0
    values, bounds = reference(graph, arrays), error_bounds(graph, arrays)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    path = out / "reference.npz"
    tmp = out / ".reference.npz.tmp.npz"
    np.savez(tmp, **{name: values[name] for name in graph.outputs},
             **{f"{name}.bound": bounds[name] for name in graph.outputs})
    tmp.replace(path)  # nothing half-written
    print(f"{'output':12} {'shape':14} {'max |value|':>12} {'max fp32 bound':>15}")
    for name in graph.outputs:
        print(f"{name:12} {str(list(values[name].shape)):14} {np.abs(values[name]).max(initial=0):12.4g} "
              f"{bounds[name].max(initial=0):15.3g}")
    print(f"wrote {path} (float64 reference of every output, and '<output>.bound': the fp32 error bound per "
          f"element)")
    return 0
