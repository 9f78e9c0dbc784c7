"""Pass ``gather_into_interactions``: an embedding bag of one index per sample (a fixed bag, indices
[B, 1]) whose result only a dot interaction reads is gathered by that interaction's AGs, its rows
straight into the interaction's PMUs (phases/interaction.py, ``Gathered``): the bag's sum is its one
row, so no PCU adds anything, and the rows cross DRAM once instead of three times (gathered, written
by the embedding phase, read back by the interaction). Criteo's one-hot features are such bags.

Whether that is cheaper depends on the rest of the program (an embedding phase can run beside a
bottom MLP and hide its read latency; the interaction's AGs gather more slowly than a read of whole
samples), so ``lower`` lowers the graph both ways and keeps the cheaper program
(``Lowering.gather_rows``)."""

from __future__ import annotations

from rdagen.mapper.phases.interaction import Gathered, InteractionPhase
from rdagen.mapper.phases.phase import MapError

from .state import Lowering


def gatherable(s: Lowering) -> dict[int, dict[int, Gathered]]:
    """{interaction node: {input position: the bag gathered into it}} for every dot interaction with
    such bags whose staged dataflow fits with them gathered."""
    found: dict[int, dict[int, Gathered]] = {}
    for i, node in enumerate(s.graph.nodes):
        if node.op != "embedding_bag" or len(node.inputs) != 2:
            continue
        table, indices = node.inputs
        use = s.only_use(node.output)
        if use is None or s.graph.nodes[use[0]].op != "dot_interaction" or s.shape(indices)[1:] != (1,):
            continue
        found.setdefault(use[0], {})[use[1]] = Gathered(i, table, indices, s.shape(table)[0])
    fitting = {}
    for i, gathered in found.items():
        node = s.graph.nodes[i]
        samples, width = s.shape(node.inputs[0])
        try:
            InteractionPhase(s.cfg, "", (i,), node.inputs, node.output, samples, width, s.where(i), s.memory,
                             gathered=gathered)
        except MapError:
            continue
        fitting[i] = gathered
    return fitting


def gather_into_interactions(s: Lowering) -> None:
    if s.gather_rows:
        s.gathered = gatherable(s)
        s.absorbed.update(g.node for gathered in s.gathered.values() for g in gathered.values())
