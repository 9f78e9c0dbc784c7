"""Pass ``keep_weights_resident``: MLP phases (or systolic rings, phases/ring.py) that compute with the
same weights (one model's MLP run on several batches in one program) load them once. The first such
phase loads them into PMUs that no other phase of the program takes (mapper/program.py places it
first and keeps its PMUs from the others); each later one reads them there (phases/mlp.py
``loaded_by``; a ring's W PMUs). Resident MLPs that do not run side by side (not pipelined) may
instead keep their weights in ONE bank of W PMUs, each MLP's parts in its own range of every PMU's
words, so that each runs on up to all of the bank's links (``_mlp_bank``, weighed against the shares
below: the cheaper is kept).

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
links), which the later ones amortise. An item of the search that fits no share (an MLP's weights too
big for the PMUs left, rings whose tiles fit no bank) leaves it and the others are searched again
(when all fit alone but not together, the one whose least share is largest leaves). A program of one
batch, or phases that run each on its own (``pmus_kept`` false: the specialised and cocotb harnesses),
stay as they were."""

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


def _bank_options(s: Lowering, rings: list[list[int]], most: int) -> dict[int, tuple]:
    """{PMUs: (cost of the later runs, [(tiling, base word)] per ring)} of the rings at *rings* (the
    positions of each one's runs) keeping their weights in one bank of B W PMUs (each ring's chain g
    its tiles in PMU g, from its base word: the words split among the rings in proportion to their
    weights per chain), with B FIFO PMUs beside them for whichever ring runs: 2 B PMUs, at most *most*."""
    firsts = [s.phases[positions[0]] for positions in rings]
    options = {}
    for bank in range(1, most // 2 + 1):
        blocks = [-(-p.n // s.cfg.lanes) for p in firsts]
        sizes = [(p.k + 1) * -(-nb // min(bank, nb)) for p, nb in zip(firsts, blocks)]  # a chain's share of W
        quota = [s.cfg.pmu_words * size // sum(sizes) // s.cfg.lanes * s.cfg.lanes for size in sizes]
        try:
            tilings = [tile_systolic(s.cfg, p.name, p.m, p.k, p.n, p.bias is not None, max_groups=bank,
                                     resident=True, relu_out=p.t.relu_out, max_words=words)
                       for p, words in zip(firsts, quota)]
        except MapError:  # some ring's tiles do not fit its words with so few chains
            continue
        placed, base = [], 0
        for p, t in zip(firsts, tilings):
            placed.append((t, base))
            base += p.keeping_weights(t).tile_words
        cost = sum(s.cost(s.phases[positions[1]].reading_weights_of(s.phases[positions[0]].keeping_weights(t, at)))
                   for positions, (t, at) in zip(rings, placed))
        used = 2 * max(t.chains for t in tilings)
        if used not in options or cost < options[used][0]:
            options[used] = (cost, placed)
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
    # The phases that can take fewer PMUs (an interaction, a SIMD matmul: ``within``) take those the
    # resident weights leave them: one table of {PMUs: their cost} beside the resident ones' in the search.
    shrinking = [n for n, p in enumerate(s.phases) if isinstance(p, (InteractionPhase, MatmulPhase))]
    while repeated:
        changed, weighed, leaving = _search(s, repeated, shrinking)
        if leaving:  # what fits nowhere leaves the search; the rest is searched again
            repeated = [positions for positions in repeated if positions[0] not in leaving]
            shrinking = [n for n in shrinking if n not in leaving]
            continue
        if sum(s.cost(changed[n]) for n in weighed) < sum(s.cost(s.phases[n]) for n in weighed):
            s.phases = [changed.get(n, p) for n, p in enumerate(s.phases)]
        return


def _search(s: Lowering, repeated: list[list[int]], shrinking: list[int]) -> tuple[dict, list[int], set[int]]:
    """The phases that change when the weights run at *repeated* stay resident and the phases at
    *shrinking* take the PMUs they leave: ({position: phase}, the positions whose cost is weighed: every
    run after the first and every shrinking phase; the first runs change too, to keep the weights, but
    a program of many batches pays them once, the positions that leave the search: none). When some
    item of the search has no share that fits (an MLP's runs, all the rings, the shrinking phases), or
    all do alone but not together (the one whose least share is largest): ({}, [], its positions)."""
    held = {n for positions in repeated for n in positions}
    others = max((p.units_used()["pmu"] for n, p in enumerate(s.phases) if n not in held | set(shrinking)), default=0)
    budget = len(sites(s.cfg, "pmu")) - others
    mlps = [positions for positions in repeated if isinstance(s.phases[positions[0]], MlpPhase)]
    rings = [positions for positions in repeated if isinstance(s.phases[positions[0]], SystolicRingPhase)]
    least = [2 * len(s.phases[positions[0]].layers) for positions in mlps] + ([2] if rings else [])
    items, costs = [], []  # the positions each table is of (what leaves with it)
    for positions, own in zip(mlps, least):
        first, later = s.phases[positions[0]], s.phases[positions[1]]
        table = {}
        for share in range(own, budget - sum(least) + own + 1):
            try:
                table[share] = s.cost(later.reading_weights_of(first.keeping_weights(share)))
            except MapError:  # too few PMUs for its weights
                continue
        items.append(set(positions))
        costs.append(table)
    if rings:
        bank = _bank_options(s, rings, budget - sum(least) + 2)
        items.append({n for positions in rings for n in positions})
        costs.append({pmus: cost for pmus, (cost, _) in bank.items()})
    if shrinking:
        table = {}
        for share in range(budget - sum(least) + 1):
            try:
                table.setdefault(max(s.phases[n].within(share).units_used()["pmu"] for n in shrinking),
                                 sum(s.cost(s.phases[n].within(share)) for n in shrinking))
            except MapError:  # a SIMD matmul needs a PMU per link
                continue
        items.append(set(shrinking))
        costs.append(table)
    weighed = [n for positions in repeated for n in positions[1:]] + shrinking
    banked = _mlp_bank(s, mlps, shrinking, budget, weighed) if mlps and not rings and not s.pipelined else None
    empty = set().union(*(item for item, table in zip(items, costs) if not table))
    shares = None if empty else _split(costs, budget)
    if shares is None and banked is not None:
        return banked[1], weighed, set()
    if empty:
        return {}, [], empty
    if shares is None:  # together they do not fit: the resident item that needs most PMUs leaves
        return {}, [], max(zip(items, costs), key=lambda it: min(it[1]))[0]
    changed = {}
    placed = [(pmus,) for pmus in shares[:len(mlps)]] + (bank[shares[len(mlps)]][1] if rings else [])
    for positions, how in zip(mlps + rings, placed):
        first = s.phases[positions[0]].keeping_weights(*how)
        for n in positions[1:]:
            changed[n] = s.phases[n].reading_weights_of(first)
        changed[positions[0]] = first
    for n in shrinking:  # each on the PMUs the resident weights leave
        changed[n] = s.phases[n].within(shares[-1])
    if banked is not None and banked[0] < sum(s.cost(changed[n]) for n in weighed):
        return banked[1], weighed, set()
    return changed, weighed, set()


def _mlp_bank(s: Lowering, mlps: list[list[int]], shrinking: list[int], budget: int,
              weighed: list[int]) -> tuple[int, dict] | None:
    """The resident MLPs at *mlps* (the positions of each one's runs) keeping their weights in ONE bank
    of B W PMUs (phases/mlp.py ``MlpPhase``'s *bank*), each MLP on up to B links, its X PMUs and the
    phases at *shrinking* on the *budget* - B PMUs left: (the cost of the phases at *weighed*, {position:
    phase}) of the B that costs least, or None when no B fits. Each
    PMU's words are split among the MLPs in proportion to their weights, the shares in the reverse
    order of the MLPs' first runs (the last loaded from word 0: a write window's words before its part
    land in a share loaded later)."""
    firsts = [s.phases[positions[0]] for positions in mlps]
    sizes = [sum((layer.k + 1) * (layer.n + 1) for layer in p.layers) for p in firsts]
    lanes = s.cfg.lanes
    quota = [s.cfg.pmu_words * size // sum(sizes) // lanes * lanes for size in sizes]
    bases = [sum(quota[m] for m in range(i + 1, len(firsts))) for i in range(len(firsts))]
    fewest = max(len(p.layers) for p in firsts)  # a link and an X PMU per layer
    best = None
    for bank in range(fewest, budget - fewest + 1):
        changed = {}
        try:
            for positions, words, base in zip(mlps, quota, bases):
                first = s.phases[positions[0]].keeping_weights(budget - bank, (bank, base, words))
                changed[positions[0]] = first
                for n in positions[1:]:
                    changed[n] = s.phases[n].reading_weights_of(first)
            for n in shrinking:
                changed[n] = s.phases[n].within(budget - bank)
        except MapError:  # too few links or X PMUs for some MLP, or its weights do not fit its share
            continue
        cost = sum(s.cost(changed[n]) for n in weighed)
        if best is None or cost < best[0]:
            best = (cost, changed)
    return best
