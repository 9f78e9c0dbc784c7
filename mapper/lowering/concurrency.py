"""Pass ``run_concurrently``: neighbouring phases that do not depend on one another and fit the array's
units together become one configuration (phases/concurrent.py) where the cost model finds it cheaper:
the longest part's run and one configuration load instead of each part's run and load one after the
other (``Lowering.cost``). The phases stay in order; a group grows while the next phase reads nothing
the group writes, it computes for the same copy of a graph of several (``Graph.copies``: a request or
batch runs after the one before, its latency its phases'), its units (PCUs, PMUs, AGs, host
rows) fit beside the group's and the PMUs that hold
resident weights, and it makes no placement for later phases (``ConcurrentPhase``). An MLP on resident
weights joins a group on its own units (``takes_placement``): a batch's embedding gathers run beside
its bottom MLP. With *concurrent* false (``lower``'s parameter) every phase keeps a configuration of
its own; with *pipelined* (``Lowering.pipelined``) the copies' phases may share configurations too
(``_pipeline_copies``)."""

from __future__ import annotations

from rdagen.mapper.backend.place import KINDS, sites
from rdagen.mapper.phases.concurrent import ConcurrentPhase, takes_placement
from rdagen.mapper.phases.phase import MapError, Phase

from .state import Lowering


def _alone(phase: Phase) -> bool:
    return phase.placement_key is not None and not takes_placement(phase)


def _fits(s: Lowering, parts: list[Phase]) -> bool:
    """The parts' units fit the array beside the PMUs other phases keep resident weights in (a bank
    that several resident phases share counted once, and not at all when a part uses it)."""
    own = {p.placement_key for p in parts if takes_placement(p)}
    owned = {name for p in s.phases if p.placement_key in own for name in p.resident_units()}
    kept = {name for p in s.phases if p.placement_key not in own for name in p.resident_units()} - owned
    used = [p.units_used() for p in parts]
    return all(sum(u[kind] for u in used) + (kind == "pmu") * len(kept) <= len(sites(s.cfg, kind)) for kind in KINDS)


def _sources(s: Lowering, tensors) -> set[str]:
    """The tensors phases write that *tensors* are made of: a concat's output (which no phase writes:
    the runner joins its inputs, mapper/program.py) stands for its inputs."""
    concats = {n.output: n.inputs for n in s.graph.nodes if n.op == "concat"}
    found, todo = set(), list(tensors)
    while todo:
        t = todo.pop()
        if t in concats:
            todo += concats[t]
        else:
            found.add(t)
    return found


def _copy(s: Lowering, phase: Phase) -> int:
    """The copy of a graph of several (``Graph.copies``: requests, batches) the phase computes for."""
    return s.graph.copy_of(min(phase.nodes, default=0))


def run_concurrently(s: Lowering) -> None:
    if not s.concurrent:
        return
    if s.pipelined:
        _pipeline_copies(s)
        return
    grouped: list[list[Phase]] = []
    for phase in s.phases:
        group = grouped[-1] if grouped else None
        if (group and not _alone(phase) and _copy(s, phase) == _copy(s, group[0])
                and _joins(s, group, phase, _sources(s, phase.reads))):
            group.append(phase)
        else:
            grouped.append([phase])
    s.phases = [group[0] if len(group) == 1 else ConcurrentPhase(tuple(group)) for group in grouped]


def _joins(s: Lowering, group: list[Phase], phase: Phase, needs: set[str]) -> bool:
    """*phase* (reading the tensors *needs* are made of) may join *group*: none of the group makes a
    placement for later phases, it reads nothing the group writes, the units fit, and it costs less."""
    return (not any(_alone(p) for p in group) and not {t for p in group for t in p.writes} & needs
            and _fits(s, group + [phase]) and _cheaper(s, group, phase))


def _cheaper(s: Lowering, group: list[Phase], phase: Phase) -> bool:
    """*phase* joining *group* costs less than running after it."""
    together = group + [phase]
    try:
        merged = ConcurrentPhase(tuple(together))
    except MapError:
        return False
    before = s.cost(group[0] if len(group) == 1 else ConcurrentPhase(tuple(group)))
    return s.cost(merged) < before + s.cost(phase)


def _pipeline_copies(s: Lowering) -> None:
    """Pipelined copies (``Lowering.pipelined``): each phase, in order, joins the earliest group after
    the groups of the phases it reads from (and of the phase that loaded its resident weights), and
    not before the last group of the copies before it, where it fits and is cheaper, whatever copy the
    group computes for, or starts a group at the end. So a request's phases run beside the last of the
    request before's where they fit: its gathers and bottom MLP beside the top MLP of the one before;
    and a request starts no earlier than that (its latency stays about two of its phases' runs).
    Resident MLPs of different placements then run side by side, which their placements allow
    (mapper/program.py places them on disjoint sites when pipelined); other parts that take a placement
    join a group only where no other placement is in it."""
    grouped: list[list[Phase]] = []
    placed: list[tuple[Phase, int]] = []  # each phase so far and its group
    last_group: dict[int, int] = {}  # copy: the last group holding one of its phases so far
    for phase in s.phases:
        needs = _sources(s, phase.reads)
        loader = getattr(phase, "loaded_by", None)
        copy = _copy(s, phase)
        earliest = max([1 + g for q, g in placed if set(q.writes) & needs or q is loader]
                       + [g for c, g in last_group.items() if c < copy] + [0])
        chosen = None if _alone(phase) else next(
            (g for g in range(earliest, len(grouped))
             if _placements_agree(grouped[g] + [phase]) and _joins(s, grouped[g], phase, needs)), None)
        if chosen is None:
            grouped.append([])
            chosen = len(grouped) - 1
        grouped[chosen].append(phase)
        placed.append((phase, chosen))
        last_group[copy] = max(last_group.get(copy, 0), chosen)
    s.phases = [group[0] if len(group) == 1 else ConcurrentPhase(tuple(group)) for group in grouped]


def _placements_agree(parts: list[Phase]) -> bool:
    """The parts that take an earlier placement may share a configuration: resident MLPs of different
    placements (placed apart when pipelined), or a single placement, never one placement twice."""
    keys = [p.placement_key for p in parts if takes_placement(p)]
    return len(set(keys)) == len(keys) and (len(keys) <= 1 or all(k[0] == "resident" for k in keys))
