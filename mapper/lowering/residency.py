"""Pass ``keep_weights_resident``: MLP phases that compute with the same weights (one model's MLP run on
several batches in one program) load them once. The first such phase loads them into PMUs that no
other phase of the program takes (mapper/program.py places it first and keeps its PMUs from the
others); each later one reads them there (phases/mlp.py, ``loaded_by``).

The resident MLPs share the PMUs the other phases leave (the most any of them takes): each MLP is
tiled for every share it could take (at least a W and an X PMU per layer), for the runs after the
first (``tile_mlp``'s *loaded*), and the shares whose later runs cost least together are kept (an
exact search over the shares, ``_split``). A dot interaction stages its samples in PMUs where it has
them (phases/interaction.py): it takes a share in the same search, its runs' cost on each number of
PMUs (none: its pairs read from DRAM) weighed against the MLPs'. The pass keeps residency where the cost model finds the
runs after the first cheaper with it (``Lowering.cost``): what a program of many batches pays per
batch. The first run may be slower than without (its loaders are fewer with fewer links), which the
later ones amortise. A program of one batch, MLPs too big for their shares, or phases that run each on
its own (``pmus_kept`` false: the specialised and cocotb harnesses), stay as they were."""

from __future__ import annotations

from rdagen.mapper.backend.place import sites
from rdagen.mapper.phases.interaction import InteractionPhase
from rdagen.mapper.phases.mlp import MlpPhase, weights_of
from rdagen.mapper.phases.phase import MapError

from .state import Lowering


def _split(costs: list[dict[int, int]], budget: int) -> list[int] | None:
    """The shares (one key of each MLP's {share: cost}) of at most *budget* PMUs in all whose costs
    sum least; None when no combination fits."""
    best = {0: (0, ())}  # PMUs used: the least (cost, shares) that use them
    for table in costs:
        grown = {}
        for used, (total, shares) in best.items():
            for share, cost in table.items():
                option = (total + cost, shares + (share,))
                if used + share <= budget and option < grown.get(used + share, (float("inf"),)):
                    grown[used + share] = option
        best = grown
    return list(min(best.values())[1]) if best else None


def keep_weights_resident(s: Lowering) -> None:
    if not s.pmus_kept:  # each phase runs on its own: nothing stays in the PMUs
        return
    runs: dict[tuple, list[int]] = {}  # weights: positions of the MLP phases computing with them
    for n, phase in enumerate(s.phases):
        if isinstance(phase, MlpPhase):
            runs.setdefault(weights_of(phase), []).append(n)
    repeated = [positions for positions in runs.values() if len(positions) > 1]
    if not repeated:
        return
    mlps = {n for positions in repeated for n in positions}
    # Interactions take the PMUs the resident weights leave them (InteractionPhase.within): alike ones
    # (one per batch) share a table of {PMUs: cost} beside the MLPs' in the search.
    interactions: dict[tuple, list[int]] = {}
    for n, phase in enumerate(s.phases):
        if isinstance(phase, InteractionPhase):
            interactions.setdefault((phase.samples, phase.features, phase.width), []).append(n)
    shrinking = {n for positions in interactions.values() for n in positions}
    others = max((p.units_used()["pmu"] for n, p in enumerate(s.phases) if n not in mlps | shrinking), default=0)
    budget = len(sites(s.cfg, "pmu")) - others
    least = [2 * len(s.phases[positions[0]].layers) for positions in repeated]
    costs = []
    for positions, own in zip(repeated, least):
        first, later = s.phases[positions[0]], s.phases[positions[1]]
        table = {}
        for share in range(own, budget - sum(least) + own + 1):
            try:
                table[share] = s.cost(later.reading_weights_of(first.keeping_weights(share)))
            except MapError:  # too few PMUs for its weights
                continue
        costs.append(table)
    for positions in interactions.values():
        table = {}
        for share in range(budget - sum(least) + 1):
            phase = s.phases[positions[0]].within(share)
            table.setdefault(phase.units_used()["pmu"], s.cost(phase) * len(positions))
        costs.append(table)
    shares = _split(costs, budget)
    if shares is None:
        return
    resident = list(s.phases)
    for positions, pmus in zip(repeated, shares):
        first = resident[positions[0]] = s.phases[positions[0]].keeping_weights(pmus)
        for n in positions[1:]:
            resident[n] = s.phases[n].reading_weights_of(first)
    for positions, pmus in zip(interactions.values(), shares[len(repeated):]):
        for n in positions:  # each batch's interaction on the PMUs its table's share gives
            resident[n] = s.phases[n].within(pmus)
    changed = [n for positions in repeated for n in positions[1:]] + sorted(shrinking)
    if sum(s.cost(resident[n]) for n in changed) < sum(s.cost(s.phases[n]) for n in changed):
        s.phases = resident
