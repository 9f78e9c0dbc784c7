"""Pass ``pack_embeddings``: the graph's embedding bags packed together into embedding phases, which run
first (their operands are graph inputs and weights), each phase the bags of one independent part of
the graph (a batch: ``order_components``)."""

from __future__ import annotations

import math

from rdagen.mapper.backend.place import sites
from rdagen.mapper.phases.embedding import Bag, EmbeddingPhase, pack_embeddings as pack

from .state import Lowering


def pack_embeddings(s: Lowering) -> None:
    bags = []
    for i, node in enumerate(s.graph.nodes):
        if node.op == "embedding_bag" and i not in s.absorbed:
            table, indices, *offsets = node.inputs
            rows, width = s.shape(table)
            slices = tuple(range(-(-width // s.cfg.lanes)))
            count, bags_of = math.prod(s.shape(indices)), s.shape(node.output)[0]
            bags.append(Bag(i, table, indices, offsets[0] if offsets else None, node.output, rows, width, bags_of,
                            count, slices))
    groups = []
    for part in dict.fromkeys(s.component[bag.node] for bag in bags):  # a phase gathers for one part
        groups += pack(s.cfg, [bag for bag in bags if s.component[bag.node] == part], len(sites(s.cfg, "pcu")))
    for n, group in enumerate(groups):
        s.phases.append(EmbeddingPhase(s.cfg, f"embed{n}", group))
