"""Pass ``absorb_biases``: each matmul's operands as its phase reads them; an ``add`` of a [N] tensor that
is the only use of the matmul's result is its bias, added in the matmul's phase."""

from __future__ import annotations

from .state import Lowering, MatmulOperands


def absorb_biases(s: Lowering) -> None:
    nodes = s.graph.nodes
    for i, node in enumerate(nodes):
        if node.op != "matmul":
            continue
        x, w = node.inputs
        relu_in = x in s.fused_relu
        x = s.fused_relu.get(x, x)
        n = s.shape(w)[1]
        bias, y, covered = None, node.output, (i,)
        use = s.only_use(node.output)
        if use and nodes[use[0]].op == "add":
            j = use[0]
            other = nodes[j].inputs[1 - use[1]]
            if s.shape(other) == (n,):
                bias, y, covered = other, nodes[j].output, (i, j)
                s.absorbed.add(j)
        s.matmuls[i] = MatmulOperands(x, relu_in, w, bias, y, covered)
