"""Placement: assigns the virtual units of a netlist (PCUs, PMUs, AGs, host port rows) to the array's
sites by simulated annealing on a cost of route length and congestion.

Sites: a PCU goes on a PCU tile (row + col even), a PMU on a PMU tile, an AG in a row (its switch is
the row's west tile, col 0), a host unit in a row (the row's host ports enter at the east tile). One
unit per site.

Cost: for each net (a source unit and its sink units), its weight times the half-perimeter of the
bounding box of its units' switches (the hops a route needs at least), plus ``congestion`` times the
overflow of an estimated routing demand: each net spreads its half-perimeter evenly over the tiles of
its bounding box, and a tile's demand beyond the network's ``tracks`` per direction (x 4 directions,
/ 2 since a hop uses an output of one switch) counts as overflow.

Annealing (the schedule of VPR, Betz and Rose 1997): moves swap two units of a kind or move one to a
free site of its kind; the starting temperature is 20 standard deviations of the cost change of random
moves; each temperature makes ``N^(4/3)`` moves (N the units); it cools by 0.5, 0.9, 0.95 or 0.8 as
more or fewer moves are accepted, and stops when it is below 0.5 % of the cost per net. Pinned units
never move. Deterministic for a seed.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from rdagen.rtl.spec.array_layout import tile_kind
from rdagen.rtl.spec.config import ArrayConfig

__all__ = ["Unit", "Net", "Placement", "PlacementError", "place", "sites"]

KINDS = ("pcu", "pmu", "ag", "host")


class PlacementError(ValueError):
    """A netlist that cannot be placed; the message names the unit, the pin or the kind."""


@dataclasses.dataclass(frozen=True)
class Unit:
    name: str
    kind: str  # pcu, pmu, ag, host


@dataclasses.dataclass(frozen=True)
class Net:
    source: str
    sinks: tuple[str, ...]
    weight: float = 1.0


@dataclasses.dataclass
class Placement:
    sites: dict[str, tuple[int, int]]  # unit -> (row, col) of its tile, or (row, 0) / (row, cols - 1) for AG / host
    cost: float  # weighted half-perimeter plus the congestion term
    wirelength: float  # the weighted half-perimeter alone
    initial_cost: float  # of the random starting placement
    moves: int
    temperatures: int
    kinds: dict[str, str]  # unit -> kind

    def grid(self, cfg: ArrayConfig, labels: dict | None = None) -> str:
        """The placement as text, a line per row: the row's AG unit, its tiles (PCU sites '.', PMU sites
        ':' when free), the row's host unit; unit names (or their *labels*) in columns as wide as the
        longest."""
        edge, tiles = {}, {}  # (kind, row) -> AG or host unit; (row, col) -> tile unit
        for unit, (r, c) in self.sites.items():
            name = (labels or {}).get(unit, unit)
            unit_kind = self.kinds[unit]
            if unit_kind in ("ag", "host"):
                edge[(unit_kind, r)] = name
            else:
                tiles[(r, c)] = name
        w = max([len(name) for name in [*edge.values(), *tiles.values()]] + [1])
        lines = []
        for r in range(cfg.rows):
            cells = [f"{edge.get(('ag', r), '-'):{w}} |"]
            cells += [f"{tiles.get((r, c), '.' if tile_kind(r, c) == 'pcu' else ':'):{w}}" for c in range(cfg.cols)]
            cells.append(f"| {edge.get(('host', r), '-')}")
            lines.append(" ".join(cells))
        return "\n".join(lines)


def sites(cfg: ArrayConfig, kind: str) -> list[tuple[int, int]]:
    """The sites of *kind*, as the (row, col) of the switch its routes start and end at."""
    if kind == "ag":
        return [(r, 0) for r in range(cfg.rows)]
    if kind == "host":
        return [(r, cfg.cols - 1) for r in range(cfg.rows)]
    return [(r, c) for r in range(cfg.rows) for c in range(cfg.cols) if tile_kind(r, c) == kind]


def _check(cfg, units, nets, pins, reserved=frozenset()):
    names = [u.name for u in units]
    seen = set()
    for u in units:
        if u.kind not in KINDS:
            raise PlacementError(f"unit {u.name!r}: unknown kind {u.kind!r}; valid: {', '.join(KINDS)}")
        if u.name in seen:
            raise PlacementError(f"unit name {u.name!r} is used twice")
        seen.add(u.name)
    for kind in KINDS:
        want, have = sum(u.kind == kind for u in units), [s for s in sites(cfg, kind) if (kind, s) not in reserved]
        if want > len(have):
            kept = len(sites(cfg, kind)) - len(have)
            raise PlacementError(f"{want} {kind.upper()} units do not fit the {cfg.rows}x{cfg.cols} array of "
                                 f"{cfg.name}, which has {len(have)} {kind.upper()} sites"
                                 f"{f' free ({kept} hold resident weights)' if kept else ''}")
    for net in nets:
        for name in (net.source, *net.sinks):
            if name not in seen:
                raise PlacementError(f"net from {net.source!r}: unit {name!r} is not in the netlist")
    kind_of = {u.name: u.kind for u in units}
    taken = {}
    for name, site in pins.items():
        if name not in seen:
            raise PlacementError(f"pin {name}={site}: no unit {name!r} in the netlist (units: {', '.join(names)})")
        if (kind_of[name], tuple(site)) in reserved:
            raise PlacementError(f"pin {name}={site}: the site holds resident weights")
        if tuple(site) not in sites(cfg, kind_of[name]):
            raise PlacementError(f"pin {name}={site}: not a {kind_of[name].upper()} site of the {cfg.rows}x{cfg.cols} "
                                 f"array of {cfg.name}")
        if (kind_of[name], tuple(site)) in taken:
            raise PlacementError(f"pin {name}={site}: {taken[(kind_of[name], tuple(site))]!r} is pinned there too")
        taken[(kind_of[name], tuple(site))] = name


class _State:
    """Positions and the incremental cost of a placement."""

    def __init__(self, cfg, units, nets, positions, congestion, tracks):
        self.cfg, self.nets, self.congestion = cfg, nets, congestion
        self.capacity = 2.0 * tracks  # outputs a tile's switch has per unit of demand (4 directions / 2)
        self.pos = positions  # unit index -> (row, col)
        # Lists, not arrays: _box runs millions of times, and iterating a list is 3x faster.
        self.net_units = [[int(u) for u in net[0]] for net in nets]
        self.weights = np.array([net[1] for net in nets], float)
        self.nets_of = [[] for _ in units]
        for i, members in enumerate(self.net_units):
            for u in set(members):
                self.nets_of[u].append(i)
        self.boxes = [self._box(i) for i in range(len(nets))]
        self.demand = np.zeros((cfg.rows, cfg.cols))
        for i in range(len(nets)):
            self._spread(i, +1)

    def _box(self, i):
        places = [self.pos[u] for u in self.net_units[i]]
        rows = [p[0] for p in places]
        cols = [p[1] for p in places]
        return min(rows), max(rows), min(cols), max(cols)

    def _spread(self, i, sign):
        r0, r1, c0, c1 = self.boxes[i]
        length = (r1 - r0) + (c1 - c0)
        if length:
            self.demand[r0:r1 + 1, c0:c1 + 1] += sign * self.weights[i] * length / ((r1 - r0 + 1) * (c1 - c0 + 1))

    def _length(self, i) -> float:
        r0, r1, c0, c1 = self.boxes[i]
        return self.weights[i] * ((r1 - r0) + (c1 - c0))

    def wirelength(self) -> float:
        return float(sum(self._length(i) for i in range(len(self.boxes))))

    def overflow(self) -> float:
        return float(np.maximum(self.demand - self.capacity, 0).sum())

    def cost(self) -> float:
        return self.wirelength() + self.congestion * self.overflow()

    def move(self, changes: dict) -> float:
        """Applies {unit: new position}; returns the cost change."""
        affected = sorted({i for u in changes for i in self.nets_of[u]})
        before = sum(self._length(i) for i in affected) + self.congestion * self.overflow()
        for i in affected:
            self._spread(i, -1)
        for u, p in changes.items():
            self.pos[u] = p
        for i in affected:
            self.boxes[i] = self._box(i)
            self._spread(i, +1)
        after = sum(self._length(i) for i in affected) + self.congestion * self.overflow()
        return after - before


def place(cfg: ArrayConfig, units: list[Unit], nets: list[Net], *, seed: int = 0, pins: dict | None = None,
          congestion: float = 2.0, tracks: int | None = None, effort: float = 1.0,
          reserved: frozenset = frozenset()) -> Placement:
    """Places *units* on the sites of *cfg* but the *reserved* ones ({(kind, (row, col))}: units that hold
    another phase's resident weights), pinned units (``pins``: {unit: (row, col)}) where pinned, minimising the cost
    of the module docstring. *tracks* (default: the vector network's) sizes the congestion estimate;
    *effort* scales the moves per temperature. PlacementError on a netlist that cannot fit or a bad pin."""
    pins = dict(pins or {})
    reserved = frozenset((kind, tuple(site)) for kind, site in reserved)
    _check(cfg, units, nets, pins, reserved)
    rng = np.random.default_rng(seed)
    index = {u.name: i for i, u in enumerate(units)}
    free = {kind: [s for s in sites(cfg, kind) if (kind, s) not in reserved and s not in {
        tuple(p) for n, p in pins.items() if units[index[n]].kind == kind}] for kind in KINDS}
    positions = {}
    for name, site in pins.items():
        positions[index[name]] = tuple(site)
    for kind in KINDS:
        movable = [i for i, u in enumerate(units) if u.kind == kind and u.name not in pins]
        order = rng.permutation(len(free[kind]))
        for i, k in zip(movable, order):
            positions[i] = free[kind][k]
    net_list = [([index[n.source], *(index[s] for s in n.sinks)], n.weight) for n in nets]
    state = _State(cfg, units, net_list, dict(positions), congestion, tracks or cfg.vector_tracks)
    initial = state.cost()
    movable = [i for i, u in enumerate(units) if u.name not in pins]
    occupant = {(units[i].kind, p): i for i, p in positions.items()}
    site_lists = {kind: [s for s in sites(cfg, kind) if (kind, s) not in reserved] for kind in KINDS}

    def propose():
        u = movable[int(rng.integers(len(movable)))]
        kind = units[u].kind
        target = site_lists[kind][int(rng.integers(len(site_lists[kind])))]
        other = occupant.get((kind, target))
        if other == u or (other is not None and units[other].name in pins):
            return None
        changes = {u: target}
        if other is not None:
            changes[other] = positions[u]
        return changes

    def commit(changes):
        for v in changes:
            occupant.pop((units[v].kind, positions[v]), None)
        for v, p in changes.items():
            positions[v] = p
        for v, p in changes.items():
            occupant[(units[v].kind, p)] = v

    moves = temperatures = 0
    if movable and net_list:
        deltas = []
        for _ in range(min(200, 20 * len(movable))):
            changes = propose()
            if changes:
                undo = {v: positions[v] for v in changes}
                deltas.append(state.move(changes))
                state.move(undo)
        temperature = 20 * float(np.std(deltas)) if deltas else 0.0
        # VPR's N^(4/3) moves per temperature, but at least 10 per unit: below 1,000 units N^(4/3) is
        # fewer, and a chain of 16 units then froze folded in one seed of 50 (wirelength 18-19, optimum 13).
        per_temperature = max(10, int(effort * max(10 * len(movable), len(movable) ** (4 / 3))))
        while temperature > 0.005 * state.cost() / len(net_list) and temperatures < 500:
            accepted = 0
            for _ in range(per_temperature):
                changes = propose()
                if not changes:
                    continue
                moves += 1
                undo = {v: positions[v] for v in changes}
                delta = state.move(changes)
                if delta <= 0 or rng.random() < math.exp(-delta / temperature):
                    commit(changes)
                    accepted += 1
                else:
                    state.move(undo)
            rate = accepted / per_temperature
            temperature *= 0.5 if rate > 0.96 else 0.9 if rate > 0.8 else 0.95 if rate > 0.15 else 0.8
            temperatures += 1
    return Placement({units[i].name: positions[i] for i in range(len(units))}, state.cost(), state.wirelength(),
                     initial, moves, temperatures, {u.name: u.kind for u in units})
