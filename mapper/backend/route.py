"""Routing on a switch grid: claims switch outputs for routes (unicast and multicast trees).

Two ways, both leaving no state behind when they refuse (an error naming the route, never a guess):

* ``GridRouter.add``: one route at a time, by breadth-first search over the free tracks, so each path
  is minimal in hops among what earlier routes left.
* ``GridRouter.route_all``: a set of routes together by negotiated congestion (PathFinder, McMurchie
  and Ebeling 1995): every route is ripped up and re-routed in turn by a cheapest-tree search in which
  a switch output costs (1 + its history) x (1 + present factor x the other routes using it); the
  present factor grows each pass and an output that stays overused gains history, until no output is
  wanted by two routes (and, should that fail, one at a time in order, so it fits every set ``add``
  fits). Deterministic: routes in the given order, ties broken by coordinates.

A switch output (a direction track or a local output) selects one input, so it belongs to one route;
a route's tree enters each switch it uses by one input. Imports only the spec (rtl/spec/switch_layout.py).
"""

from __future__ import annotations

import collections
import dataclasses
import heapq

from amaranth import Shape

from rdagen.rtl.spec.switch_layout import DIRECTIONS, OPPOSITE, STEP, SwitchConfigError, port_index, switch_layout

__all__ = ["Route", "GridRouter"]

@dataclasses.dataclass(frozen=True)
class Route:
    source: tuple[int, int, int]  # (row, col, local input)
    sinks: tuple[tuple[int, int, int], ...]  # (row, col, local output) each


class GridRouter:
    """Claims switch outputs for routes on a rows x cols grid of one network with ``tracks`` per
    direction, ``local_in`` local inputs and ``local_out`` local outputs per switch;
    ``configuration()`` gives the grid's configuration word, ``switch_word(r, c)`` one switch's."""

    def __init__(self, rows: int, cols: int, tracks: int, local_in: int, local_out: int):
        self.rows, self.cols, self.tracks = rows, cols, tracks
        self.local_in, self.local_out = local_in, local_out
        self.select: dict[tuple[int, int, int], int] = {}  # (row, col, output index) -> input index + 1

    def _free(self, r, c, output):
        return (r, c, output) not in self.select

    def _check_ends(self, route: Route) -> None:
        """Refuses a route whose source or sinks are not local ports of the grid, or whose sink is taken."""
        sr, sc, sk = route.source
        if not (0 <= sr < self.rows and 0 <= sc < self.cols and 0 <= sk < self.local_in):
            raise SwitchConfigError(f"route {route}: source {route.source} is not a local input of the grid")
        if len(set(route.sinks)) != len(route.sinks) or not route.sinks:
            raise SwitchConfigError(f"route {route}: give one or more distinct sinks")
        for sink in route.sinks:
            r, c, k = sink
            if not (0 <= r < self.rows and 0 <= c < self.cols and 0 <= k < self.local_out):
                raise SwitchConfigError(f"route {route}: sink {sink} is not a local output of the grid")
            if not self._free(r, c, port_index(self.tracks, None, k)):
                raise SwitchConfigError(f"route {route}: local output {k} of switch ({r}, {c}) is taken")

    def add(self, route: Route) -> None:
        """Claims a tree from the route's source to all its sinks (each sink by a shortest free path
        from the tree so far); raises SwitchConfigError naming the route when it cannot, leaving the
        grid as it was."""
        self._check_ends(route)
        sr, sc, sk = route.source
        # tree: switch -> the input index by which the route enters it
        tree = {(sr, sc): port_index(self.tracks, None, sk)}
        claimed = {}
        for r, c, k in route.sinks:
            path = self._search(tree, (r, c), claimed)
            if path is None:
                raise SwitchConfigError(f"route {route}: no free path to switch ({r}, {c})")
            for (pr, pc), output, (nr, nc), entry in path:
                claimed[(pr, pc, output)] = tree[(pr, pc)] + 1
                tree[(nr, nc)] = entry
            claimed[(r, c, port_index(self.tracks, None, k))] = tree[(r, c)] + 1
        self.select.update(claimed)  # only once every sink has its path

    def route_all(self, routes, max_passes: int = 60) -> None:
        """Claims trees for all *routes* together by negotiated congestion (module docstring), around
        what earlier ``add`` calls claimed. Raises SwitchConfigError, leaving the grid as it was, when a
        route's ends are bad, two routes share a sink, a sink cannot be reached at all, or congestion
        remains after *max_passes* passes (naming the outputs still wanted by two routes)."""
        routes = list(routes)
        for route in routes:
            self._check_ends(route)
        owner = {}
        for route in routes:
            for sink in route.sinks:
                if sink in owner:
                    raise SwitchConfigError(f"routes {owner[sink]} and {route} both end at local output {sink[2]} "
                                            f"of switch ({sink[0]}, {sink[1]})")
                owner[sink] = route
        sources = collections.Counter(route.source for route in routes)
        shared = [s for s, n in sources.items() if n > 1]
        if shared:
            raise SwitchConfigError(f"{sources[shared[0]]} routes start at local input {shared[0][2]} of switch "
                                    f"({shared[0][0]}, {shared[0][1]}); give one route with all its sinks")
        history: dict = collections.defaultdict(float)
        use: dict = collections.Counter()  # output -> routes using it
        trees: list[dict] = [{} for _ in routes]
        present = 0.5
        for _ in range(max_passes):
            for i, route in enumerate(routes):
                use.subtract(trees[i].keys())
                trees[i] = self._cheapest_tree(route, use, history, present)
                use.update(trees[i].keys())
            overused = sorted(key for key, n in use.items() if n > 1)
            if not overused:
                for tree in trees:
                    self.select.update(tree)
                return
            for key in overused:
                history[key] += 1.0
            present *= 1.8
        # Negotiation is a heuristic: before refusing, try the routes one at a time in order, so that
        # route_all fits at least every set that ``add`` fits.
        greedy = GridRouter(self.rows, self.cols, self.tracks, self.local_in, self.local_out)
        greedy.select = dict(self.select)
        try:
            for route in routes:
                greedy.add(route)
        except SwitchConfigError:
            pass
        else:
            self.select = greedy.select
            return
        r, c, output = overused[0]
        users = [str(route) for route, tree in zip(routes, trees) if (r, c, output) in tree]
        raise SwitchConfigError(f"the routes do not fit: after {max_passes} passes {len(overused)} switch outputs are "
                                f"still wanted by two routes, e.g. {self.describe(output)} of switch ({r}, {c}) by "
                                f"{' and '.join(users[:2])}")

    def describe(self, output: int) -> str:
        """A switch output by name: 'east track 1' or 'local output 0'."""
        if output >= 4 * self.tracks:
            return f"local output {output - 4 * self.tracks}"
        return f"{DIRECTIONS[output // self.tracks]} track {output % self.tracks}"

    def _cheapest_tree(self, route: Route, use, history, present) -> dict:
        """{(row, col, output): select} of the route's tree: each sink joined to the tree so far by the
        cheapest path under the congestion costs. Outputs claimed before ``route_all`` are walls."""
        sr, sc, sk = route.source
        tree = {(sr, sc): port_index(self.tracks, None, sk)}
        claimed = {}

        def cost(key):
            return (1.0 + history[key]) * (1.0 + present * use[key])

        for r, c, k in route.sinks:
            best = {at: 0.0 for at in tree}
            previous = {}
            heap = [(0.0, at) for at in sorted(tree)]
            while heap:
                d, at = heapq.heappop(heap)
                if at == (r, c):
                    break
                if d > best[at]:
                    continue
                for direction in DIRECTIONS:
                    dr, dc = STEP[direction]
                    nr, nc = at[0] + dr, at[1] + dc
                    if not (0 <= nr < self.rows and 0 <= nc < self.cols):
                        continue
                    for t in range(self.tracks):
                        key = (*at, port_index(self.tracks, direction, t))
                        if key in self.select or key in claimed:
                            continue
                        nd = d + cost(key)
                        if nd < best.get((nr, nc), float("inf")):
                            best[(nr, nc)] = nd
                            previous[(nr, nc)] = (at, key[2], port_index(self.tracks, OPPOSITE[direction], t))
                            heapq.heappush(heap, (nd, (nr, nc)))
            if (r, c) not in tree and (r, c) not in previous:
                raise SwitchConfigError(f"route {route}: no path to switch ({r}, {c}) past the outputs claimed "
                                        f"before")
            hops, at = [], (r, c)
            while at not in tree:
                before, output, entry = previous[at]
                hops.append((before, output, at, entry))
                at = before
            for before, output, after, entry in reversed(hops):
                claimed[(*before, output)] = tree[before] + 1
                tree[after] = entry
            claimed[(r, c, port_index(self.tracks, None, k))] = tree[(r, c)] + 1
        return claimed

    def _search(self, tree, goal, claimed):
        """Hops [(switch, output, next switch, its input)] from the tree to *goal* over the outputs that
        are free and not in *claimed* (this route's so far)."""
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
                    if self._free(r, c, output) and (r, c, output) not in claimed:
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

    def paths(self, sources: list[tuple[int, int, int]]) -> dict[tuple, dict[tuple, tuple[tuple[int, int, int], ...]]]:
        """{source (row, col, local input): {sink (row, col, local output): the switch outputs (row, col,
        output) a word from the source passes on its way there, in order}} for each of *sources*: its
        claimed tree walked from the source (each output a hop buffer, rtl/hop_buffer.py; the last the
        sink's local output)."""
        selects = collections.defaultdict(list)  # (row, col, input + 1) -> outputs selecting it
        for (r, c, output), value in self.select.items():
            selects[(r, c, value)].append(output)
        trees = {}
        for source in sources:
            found = trees[source] = {}
            todo = [(source[0], source[1], port_index(self.tracks, None, source[2]), ())]
            while todo:
                r, c, entry, before = todo.pop()
                for output in sorted(selects[(r, c, entry + 1)]):
                    path = before + ((r, c, output),)
                    if output >= 4 * self.tracks:
                        found[(r, c, output - 4 * self.tracks)] = path
                        continue
                    direction, track = DIRECTIONS[output // self.tracks], output % self.tracks
                    dr, dc = STEP[direction]
                    todo.append((r + dr, c + dc, port_index(self.tracks, OPPOSITE[direction], track), path))
        return trees

    def switch_word(self, r: int, c: int) -> int:
        """The configuration word of switch (r, c) (``switch_layout``: one select per output)."""
        layout = switch_layout(self.tracks, self.local_in, self.local_out)
        element = Shape.cast(layout.elem_shape).width
        return sum(value << (output * element) for (sr, sc, output), value in self.select.items()
                   if (sr, sc) == (r, c))

    def used(self) -> tuple[int, int]:
        """(track links used, track links in all): the direction outputs the routes claim, out of
        rows x cols x 4 x tracks (deliveries to local outputs are not counted)."""
        links = sum(output < 4 * self.tracks for (_, _, output) in self.select)
        return links, self.rows * self.cols * 4 * self.tracks

    def configuration(self) -> int:
        """The configuration of the whole grid: every switch's word, row by row."""
        bits = switch_layout(self.tracks, self.local_in, self.local_out).size
        return sum(self.switch_word(r, c) << ((r * self.cols + c) * bits)
                   for r in range(self.rows) for c in range(self.cols))
