"""Pass ``keep_weights_resident``: MLP phases (or systolic rings, phases/ring.py) that compute with the
same weights (one model's MLP run on several batches in one program) load them once. The first such
phase loads them into PMUs that no other phase of the program takes (mapper/program.py places it
first and keeps its PMUs from the others); each later one reads them there (phases/mlp.py
``loaded_by``; a ring's W PMUs).

The resident phases share the PMUs the other phases leave (the most any of them takes): each MLP is
tiled for every share it could take (at least a W and an X PMU per layer), for the runs after the
first (``tile_mlp``'s *loaded*); each ring for every number of chains (a W PMU and a FIFO PMU each,
``tile_systolic``'s *resident*); and the shares whose later runs cost least together are kept (an
exact search over the shares, ``_split``). The phases that can run on fewer PMUs (a dot interaction,
which stages its samples in PMUs where it has them, phases/interaction.py, and a SIMD matmul: their
``within``) take the PMUs the resident weights leave: one more table in the same search, their runs'
cost on each number of PMUs weighed against the resident phases'. The pass keeps residency where the
cost model finds the runs after the first cheaper with it (``Lowering.cost``): what a program of many
batches pays per batch. The first run may be slower than without (its loaders are fewer with fewer
links), which the later ones amortise. A program of one batch, weights too big for their shares, or
phases that run each on its own (``pmus_kept`` false: the specialised and cocotb harnesses), stay as
they were."""

from __future__ import annotations

from rdagen.mapper.backend.place import sites
from rdagen.mapper.phases.interaction import InteractionPhase
from rdagen.mapper.phases.matmul import MatmulPhase
from rdagen.mapper.phases.mlp import MlpPhase, weights_of
from rdagen.mapper.phases.phase import MapError
from rdagen.mapper.phases.ring import SystolicRingPhase
from rdagen.mapper.phases.systolic import tile_systolic

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


def _ring_options(s: Lowering, first: SystolicRingPhase, later: SystolicRingPhase, most: int) -> dict[int, tuple]:
    """{PMUs: (cost of a later run, tiling)} of a ring keeping its weights resident: its G W PMUs and
    the G FIFO PMUs its runs take beside them, at most *most* in all."""
    options = {}
    for cap in range(1, most // 2 + 1):
        try:
            t = tile_systolic(s.cfg, first.name, first.m, first.k, first.n, first.bias is not None,
                              max_groups=cap, resident=True, relu_out=first.t.relu_out)
            cost = s.cost(later.reading_weights_of(first.keeping_weights(t)))
        except MapError:  # no chain's tiles fit a PMU with so few chains
            continue
        if 2 * t.groups not in options or cost < options[2 * t.groups][0]:
            options[2 * t.groups] = (cost, t)
    return options


def keep_weights_resident(s: Lowering) -> None:
    if not s.pmus_kept:  # each phase runs on its own: nothing stays in the PMUs
        return
    runs: dict[tuple, list[int]] = {}  # weights: positions of the MLP phases (or rings) computing with them
    for n, phase in enumerate(s.phases):
        if isinstance(phase, MlpPhase):
            runs.setdefault(("mlp", weights_of(phase)), []).append(n)
        elif isinstance(phase, SystolicRingPhase):
            runs.setdefault(("ring", phase.w, phase.bias, phase.m, phase.k, phase.n, phase.t.relu_out), []).append(n)
    repeated = [positions for positions in runs.values() if len(positions) > 1]
    if not repeated:
        return
    held = {n for positions in repeated for n in positions}
    # The phases that can take fewer PMUs (an interaction, a SIMD matmul: ``within``) take those the
    # resident weights leave them: one table of {PMUs: their cost} beside the resident ones' in the search.
    shrinking = [n for n, p in enumerate(s.phases) if isinstance(p, (InteractionPhase, MatmulPhase))]
    others = max((p.units_used()["pmu"] for n, p in enumerate(s.phases) if n not in held | set(shrinking)), default=0)
    budget = len(sites(s.cfg, "pmu")) - others
    least = [2 * len(s.phases[positions[0]].layers) if isinstance(s.phases[positions[0]], MlpPhase) else 2
             for positions in repeated]
    costs, tilings = [], []
    for positions, own in zip(repeated, least):
        first, later = s.phases[positions[0]], s.phases[positions[1]]
        most = budget - sum(least) + own
        if isinstance(first, SystolicRingPhase):
            options = _ring_options(s, first, later, most)
            costs.append({pmus: cost for pmus, (cost, _) in options.items()})
            tilings.append({pmus: t for pmus, (_, t) in options.items()})
            continue
        table = {}
        for share in range(own, most + 1):
            try:
                table[share] = s.cost(later.reading_weights_of(first.keeping_weights(share)))
            except MapError:  # too few PMUs for its weights
                continue
        costs.append(table)
        tilings.append(None)
    if shrinking:
        table = {}
        for share in range(budget - sum(least) + 1):
            try:
                table.setdefault(max(s.phases[n].within(share).units_used()["pmu"] for n in shrinking),
                                 sum(s.cost(s.phases[n].within(share)) for n in shrinking))
            except MapError:  # a SIMD matmul needs a PMU per link
                continue
        costs.append(table)
    shares = _split(costs, budget)
    if shares is None:
        return
    resident = list(s.phases)
    for positions, pmus, ring_tilings in zip(repeated, shares, tilings):
        first = s.phases[positions[0]]
        first = resident[positions[0]] = first.keeping_weights(ring_tilings[pmus] if ring_tilings else pmus)
        for n in positions[1:]:
            resident[n] = s.phases[n].reading_weights_of(first)
    for n in shrinking:  # each on the PMUs the resident weights leave
        resident[n] = s.phases[n].within(shares[-1])
    changed = [n for positions in repeated for n in positions[1:]] + shrinking
    if sum(s.cost(resident[n]) for n in changed) < sum(s.cost(s.phases[n]) for n in changed):
        s.phases = resident
