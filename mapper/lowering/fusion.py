"""Pass ``fuse_relus``: a relu every use of which is a matmul's left operand runs on the way into those
matmuls (``fmax`` in their first stage) instead of as a phase of its own."""

from __future__ import annotations

from .state import Lowering


def fuse_relus(s: Lowering) -> None:
    nodes = s.graph.nodes
    for i, node in enumerate(nodes):
        if node.op == "relu" and node.output not in s.graph.outputs and s.uses.get(node.output) and \
                all(nodes[j].op == "matmul" and slot == 0 for j, slot in s.uses[node.output]):
            s.fused_relu[node.output] = node.inputs[0]
            s.absorbed.add(i)
