"""Pass ``keep_weights_resident``: MLP phases that compute with the same weights (one model's MLP run on
several batches in one program) load them once. The first such phase loads them into PMUs that no
other phase of the program takes (mapper/program.py places it first and keeps its PMUs from the
others); each later one reads them there (phases/mlp.py, ``loaded_by``).

The resident MLPs share the PMUs the other phases leave (the most any of them takes): each gets its
least (a W and an X PMU per layer) and of the rest a share in proportion to the square root of its
weight words, which minimises the sum of their runs when a run takes about weights / PMUs cycles
(the MLPs of a model run one after the other). The pass
keeps residency where the cost model finds the runs after the first cheaper with it (``Lowering.cost``):
what a program of many batches pays per batch. The first run may be slower than without (its loaders
are fewer with fewer links), which the later ones amortise. A program of one batch, or MLPs too big
for their shares, stay as they were."""

from __future__ import annotations

import math

from rdagen.mapper.backend.place import sites
from rdagen.mapper.phases.mlp import MlpPhase, weights_of
from rdagen.mapper.phases.phase import MapError

from .state import Lowering


def _shares(budget: int, least: list[int], words: list[int]) -> list[int]:
    """*budget* PMUs: each its *least*, the rest in proportion to the square roots of *words*, rounded down."""
    rest, roots = budget - sum(least), [math.sqrt(w) for w in words]
    return [n + int(rest * r / sum(roots)) for n, r in zip(least, roots)]


def keep_weights_resident(s: Lowering) -> None:
    runs: dict[tuple, list[int]] = {}  # weights: positions of the MLP phases computing with them
    for n, phase in enumerate(s.phases):
        if isinstance(phase, MlpPhase):
            runs.setdefault(weights_of(phase), []).append(n)
    repeated = [positions for positions in runs.values() if len(positions) > 1]
    if not repeated:
        return
    mlps = {n for positions in repeated for n in positions}
    others = max((p.units_used()["pmu"] for n, p in enumerate(s.phases) if n not in mlps), default=0)
    budget = len(sites(s.cfg, "pmu")) - others
    words = [sum(layer.k * layer.n for layer in s.phases[positions[0]].layers) for positions in repeated]
    least = [2 * len(s.phases[positions[0]].layers) for positions in repeated]
    if sum(least) > budget:
        return
    resident = list(s.phases)
    try:
        for positions, pmus in zip(repeated, _shares(budget, least, words)):
            first = resident[positions[0]] = s.phases[positions[0]].keeping_weights(pmus)
            for n in positions[1:]:
                resident[n] = s.phases[n].reading_weights_of(first)
    except MapError:  # an MLP does not fit its share of the PMUs: every run loads its weights
        return
    later = [n for positions in repeated for n in positions[1:]]
    if sum(s.cost(resident[n]) for n in later) < sum(s.cost(s.phases[n]) for n in later):
        s.phases = resident
