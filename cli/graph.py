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
                   help="seed of the inputs drawn: every input without --inputs, the missing ones with "
                        "--draw-missing (default 1)")
    p.add_argument("--out", default="build/graph", help="output directory of `reference` (default %(default)s)")


def add_graph_argument(p) -> None:
    p.add_argument("graph", help="the graph's JSON file (format: the docs' page 'Graphs and the mapper')")


def add_inputs_argument(p) -> None:
    p.add_argument("--inputs", default=None, help=".npz of input arrays, keyed by the graph's input names; it "
                   "must hold every input unless --draw-missing is given")
    p.add_argument("--draw-missing", action="store_true",
                   help="draw the inputs the --inputs .npz does not hold from --seed (listed on stderr; `run` "
                        "writes every input it used to DIR/inputs.npz)")


def graph_and_inputs(args):
    """The graph of args.graph, its inputs (the --inputs .npz; drawn from --seed, default 1: every one
    without --inputs, the missing ones with --draw-missing), checked, and the names of those drawn."""
    from rdagen.mapper.frontend.graph import GraphError, load_graph
    from rdagen.mapper.frontend.inputs import check_inputs, random_inputs

    try:
        graph = load_graph(args.graph)
        given = {}
        if args.inputs:
            try:
                with np.load(args.inputs) as npz:
                    given = {name: npz[name] for name in npz.files}
            except (OSError, ValueError) as exc:
                raise GraphError(f"{args.inputs}: not a readable .npz file ({exc})") from None
        missing = [n for n in graph.inputs if n not in given]
        if args.inputs and missing and not args.draw_missing:
            raise GraphError(f"{args.inputs}: missing input{'s' if len(missing) > 1 else ''} "
                             f"{', '.join(map(repr, missing))} (the graph's inputs: {', '.join(graph.inputs)}); give "
                             f"{'them' if len(missing) > 1 else 'it'} in the .npz, or --draw-missing to draw "
                             f"{'them' if len(missing) > 1 else 'it'} from --seed")
        seed = args.seed if args.seed is not None else 1
        if args.inputs and missing:
            print(f"rdagen {args.command}: note: inputs drawn from seed {seed}: {', '.join(missing)}", file=sys.stderr)
        arrays = check_inputs(graph, random_inputs(graph, seed, given), source=str(args.inputs or "inputs"))
    except GraphError as exc:
        raise UsageError(str(exc)) from None
    return graph, arrays, missing


def run(args) -> int:
    from rdagen.mapper.frontend.reference import error_bounds, reference

    graph, arrays, _ = graph_and_inputs(args)
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
