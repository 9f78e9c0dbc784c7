"""Switch-grid regressions: random routes through a grid of switches (each route from a local input of
one switch to local outputs of others, along free tracks), random traffic with random gaps and
back-pressure, and a scoreboard: every destination receives exactly its source's words, in order.

Routes are found by breadth-first search over free outputs, so they are minimal in hops among the
free resources; a route that finds no free path is reported, not guessed.
"""

from __future__ import annotations

import collections
import dataclasses

import numpy as np
from amaranth import Shape

from rtl.config import ArrayConfig
from rtl.switch_layout import DIRECTIONS, OPPOSITE, SwitchConfigError, networks, port_index, switch_layout

from .streams import compare, cycle_budget, pack, run_stream_cases, unpack
from .tops import SWITCH_LOCAL
from .verilog import generate

__all__ = ["Route", "GridRouter", "run_grid_traffic", "random_routes"]

STEP = {"north": (-1, 0), "east": (0, 1), "south": (1, 0), "west": (0, -1)}


@dataclasses.dataclass(frozen=True)
class Route:
    source: tuple[int, int, int]  # (row, col, local input)
    sinks: tuple[tuple[int, int, int], ...]  # (row, col, local output) each


class GridRouter:
    """Claims switch outputs for routes on a rows x cols grid with ``tracks`` per direction and
    ``local`` local ports; ``configuration()`` gives the grid's configuration word."""

    def __init__(self, rows: int, cols: int, tracks: int, local: int):
        self.rows, self.cols, self.tracks, self.local = rows, cols, tracks, local
        self.select: dict[tuple[int, int, int], int] = {}  # (row, col, output index) -> input index + 1

    def _free(self, r, c, output):
        return (r, c, output) not in self.select

    def add(self, route: Route) -> None:
        """Claims a tree from the route's source to all its sinks (each sink by a shortest free path
        from the tree so far); raises SwitchConfigError naming the route when it cannot."""
        sr, sc, sk = route.source
        if not (0 <= sr < self.rows and 0 <= sc < self.cols and 0 <= sk < self.local):
            raise SwitchConfigError(f"route {route}: source {route.source} is not a local input of the grid")
        # tree: switch -> the input index by which the route enters it
        tree = {(sr, sc): port_index(self.tracks, None, sk)}
        claimed = []
        for sink in route.sinks:
            r, c, k = sink
            if not (0 <= r < self.rows and 0 <= c < self.cols and 0 <= k < self.local):
                raise SwitchConfigError(f"route {route}: sink {sink} is not a local output of the grid")
            out = port_index(self.tracks, None, k)
            if not self._free(r, c, out):
                raise SwitchConfigError(f"route {route}: local output {k} of switch ({r}, {c}) is taken")
            path = self._search(tree, (r, c))
            if path is None:
                for key in claimed:
                    del self.select[key]
                raise SwitchConfigError(f"route {route}: no free path to switch ({r}, {c})")
            for (pr, pc), output, (nr, nc), entry in path:
                self.select[(pr, pc, output)] = tree[(pr, pc)] + 1
                claimed.append((pr, pc, output))
                tree[(nr, nc)] = entry
            self.select[(r, c, out)] = tree[(r, c)] + 1
            claimed.append((r, c, out))

    def _search(self, tree, goal):
        """Hops [(switch, output, next switch, its input)] from the tree to *goal* over free outputs."""
        if goal in tree:
            return []
        previous = {}
        queue = collections.deque(tree)
        seen = set(tree)
        while queue:
            r, c = queue.popleft()
            for direction in DIRECTIONS:
                dr, dc = STEP[direction]
                nr, nc = r + dr, c + dc
                if not (0 <= nr < self.rows and 0 <= nc < self.cols) or (nr, nc) in seen:
                    continue
                for t in range(self.tracks):
                    output = port_index(self.tracks, direction, t)
                    if self._free(r, c, output):
                        seen.add((nr, nc))
                        previous[(nr, nc)] = ((r, c), output, port_index(self.tracks, OPPOSITE[direction], t))
                        queue.append((nr, nc))
                        break
                if (nr, nc) == goal and goal in previous:
                    hops, at = [], goal
                    while at not in tree:
                        (pr, pc), output, entry = previous[at]
                        hops.append(((pr, pc), output, at, entry))
                        at = (pr, pc)
                    return hops[::-1]
        return None

    def configuration(self) -> int:
        layout = switch_layout(self.tracks, self.local, self.local)
        word, bits, element = 0, layout.size, Shape.cast(layout.elem_shape).width
        for (r, c, output), value in self.select.items():
            word |= value << ((r * self.cols + c) * bits + output * element)
        return word


def random_routes(cfg: ArrayConfig, rng: np.random.Generator, count: int, multicast: float = 0.2):
    """Up to *count* random routes that fit together (sources and sinks distinct local ports)."""
    tracks = networks(cfg)["vector"].tracks
    router = GridRouter(cfg.rows, cfg.cols, tracks, SWITCH_LOCAL)
    ports = [(r, c, k) for r in range(cfg.rows) for c in range(cfg.cols) for k in range(SWITCH_LOCAL)]
    sources = [ports[i] for i in rng.permutation(len(ports))]
    sinks = [ports[i] for i in rng.permutation(len(ports))]
    routes = []
    for source in sources[:count]:
        fanout = 2 if rng.random() < multicast else 1
        want = tuple(sinks[:fanout])
        if len(want) < fanout:
            break
        route = Route(source, want)
        try:
            router.add(route)
        except SwitchConfigError:
            continue  # the grid is full along the way; another source may still fit
        sinks = sinks[fanout:]
        routes.append(route)
    return routes, router


def run_grid_traffic(cfg: ArrayConfig, cases, *, tag: str = "switch") -> list[dict]:
    """Each case: (name, routes, router, words per route, gap, stall, seed). Returns per case the
    problems found by the scoreboard and the cycles taken."""
    gen = generate("switch_grid", cfg)
    lanes = cfg.lanes
    jobs, expected = [], []
    for name, routes, router, n, gap, stall, seed in cases:
        rng = np.random.default_rng(seed)
        data = {route.source: rng.integers(0, 2**32, (n, lanes), dtype=np.uint64).astype(np.uint32)
                for route in routes}
        port = lambda kind, r, c, k: f"{kind}__{r}__{c}__{k}"  # noqa: E731
        sinks = [(sink, route.source) for route in routes for sink in route.sinks]
        jobs.append({
            "name": name, "seed": seed, "config": str(router.configuration()), "gap": gap, "stall": stall,
            "sources": {port("local_in", *route.source): pack(data[route.source]) for route in routes},
            "sinks": [port("local_out", *sink) for sink, _ in sinks], "expect": [n] * len(sinks),
            "drain": 16, "budget": cycle_budget(4 * n, gap, stall, 2 * (cfg.rows + cfg.cols)),
        })
        expected.append([(port("local_out", *sink), data[source]) for sink, source in sinks])
    records = run_stream_cases(gen, jobs, tag=tag)
    results = []
    for job, want, got in zip(jobs, expected, records):
        problems = [f"did not finish in {got['cycles']} cycles"] if got["timed_out"] else []
        for sink, words in want:
            problems += compare(sink, unpack(got["outputs"][sink], lanes), words)
        results.append({"name": job["name"], "routes": len(job["sources"]), "sinks": len(want),
                        "cycles": got["cycles"], "problems": problems})
    return results
