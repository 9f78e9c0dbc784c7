"""Pass ``order_components``: the phases of a graph of independent parts (the batches of a program of
several, mapper/apps/dlrm.py) part by part, in the order of the parts' first nodes; within a part as
the passes before emitted them. So a batch's phases run together, from its first input to its last
output (its latency is its phases'), and the next batch's follow."""

from __future__ import annotations

from .state import Lowering


def order_components(s: Lowering) -> None:
    s.phases.sort(key=lambda phase: min((s.component[i] for i in phase.nodes), default=0))
