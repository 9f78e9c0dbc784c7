"""Lowering: a graph's nodes to phases (one bitstream each), by the named passes of ``PIPELINE`` run in
order on one ``Lowering`` state:

1. ``fuse_relus`` (fusion.py): a relu feeding only matmuls' left operands runs inside them;
2. ``absorb_biases`` (bias.py): a matmul's bias ``add`` runs in the matmul's phase;
3. ``detect_chains`` (chains.py): chains of Linear layers become MLP phases (``mlp_weights``);
4. ``gather_into_interactions`` (gathers.py): bags of one index that only a dot interaction reads are
   gathered by its AGs (where the program is cheaper so: ``lower`` tries both);
5. ``pack_embeddings`` (packing.py): the other embedding bags packed into the first phases;
6. ``emit_phases`` (ops.py): every other node by the table ``LOWERINGS`` from op to lowering;
7. ``order_components`` (order.py): the phases of independent parts of the graph (batches) part by part;
8. ``keep_weights_resident`` (residency.py): MLP phases and systolic rings on the same weights load them once;
9. ``run_concurrently`` (concurrency.py): neighbouring independent phases that fit the array together
   run in one configuration where that is cheaper (pipelined: phases of consecutive copies too).

A graph that does not fit one configuration is thus split into phases; a node that does not fit even
alone is refused with ``MapError`` naming it and the resource.
"""

from __future__ import annotations

from rdagen.mapper.frontend.graph import Graph
from rdagen.mapper.phases.phase import MapError, Phase
from rdagen.mapper.phases.systolic import PARTIAL_SUMS, check_partial_sums
from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.memory import IDEAL, Memory

from .bias import absorb_biases
from .chains import detect_chains
from .concurrency import run_concurrently
from .fusion import fuse_relus
from .gathers import gatherable, gather_into_interactions
from .ops import LOWERINGS, emit_phases
from .order import order_components
from .packing import pack_embeddings
from .residency import keep_weights_resident
from .state import Lowering

__all__ = ["PIPELINE", "LOWERINGS", "MLP_WEIGHTS", "MATMUL_MODES", "PARTIAL_SUMS", "lower"]

PIPELINE = (fuse_relus, absorb_biases, detect_chains, gather_into_interactions, pack_embeddings, emit_phases,
            order_components, keep_weights_resident, run_concurrently)

MLP_WEIGHTS = ("auto", "resident", "streamed")
"""Where a chain of Linear layers takes its weights from: ``resident`` in the PMUs of one MLP phase
(phases/mlp.py) wherever the chain fits one, ``streamed`` from DRAM by a matmul phase per layer, or
``auto``: the one the cost model finds cheaper, chain by chain, and then the program so lowered against
the program with every chain streamed, whole (``Lowering.program_cost``)."""


MATMUL_MODES = ("auto", "simd", "systolic")
"""How a matmul phase (not an MLP phase) uses its PCUs: ``simd`` (a product per lane per cycle,
phases/matmul.py), ``systolic`` (lanes x stages multiply-adds per cycle, phases/systolic.py) or
``auto``: the one the cost model finds faster, matmul by matmul."""


def lower(graph: Graph, cfg: ArrayConfig, mlp_weights: str = "auto", matmul_mode: str = "auto",
          partial_sums: str = "auto", memory: Memory = IDEAL, pmus_kept: bool = True,
          concurrent: bool = True, pipelined: bool = False) -> list[Phase]:
    """The phases of *graph* on *cfg*, in execution order (MapError naming a node that does not fit).
    *mlp_weights*: one of MLP_WEIGHTS; *matmul_mode*: one of MATMUL_MODES; *partial_sums*: one of
    PARTIAL_SUMS (phases/systolic.py), the choice weighed on *memory*. *pmus_kept*: the phases run as
    one continuous run, which keeps the PMUs' contents from phase to phase (the direct harness, the
    golden model), so that MLP weights may stay resident (residency.py). *concurrent*: independent
    phases may share a configuration (concurrency.py); *pipelined*: those of different copies of the
    graph too (requests or batches overlap, concurrency.py ``_pipeline_copies``)."""
    if mlp_weights not in MLP_WEIGHTS:
        raise MapError(f"MLP weights {mlp_weights!r}: valid: {', '.join(MLP_WEIGHTS)}")
    if matmul_mode not in MATMUL_MODES:
        raise MapError(f"matmul mode {matmul_mode!r}: valid: {', '.join(MATMUL_MODES)}")
    check_partial_sums(partial_sums)
    def lowered(weights: str, gather_rows: bool) -> Lowering:
        state = Lowering(graph, cfg, weights, matmul_mode, partial_sums, memory, pmus_kept, concurrent, pipelined,
                         gather_rows)
        for run in PIPELINE:
            run(state)
        return state

    def cheapest(weights: str) -> Lowering:
        # an embedding phase may hide beside other phases what gathering in the interaction would save
        state = lowered(weights, False)
        if gatherable(state):
            gathering = lowered(weights, True)
            if gathering.program_cost() < state.program_cost():
                return gathering
        return state

    state = cheapest(mlp_weights)
    if mlp_weights == "auto" and state.mlp_of:
        # detect_chains weighs a chain's MLP phase against its layers' phases alone; the residency and
        # concurrency passes after it (rings kept resident, phases of consecutive batches side by side)
        # can make the program of every chain streamed the cheaper one
        streamed = cheapest("streamed")
        if streamed.program_cost() < state.program_cost():
            return streamed.phases
    return state.phases
