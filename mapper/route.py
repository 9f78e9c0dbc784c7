"""Routing on a switch grid: claims switch outputs for routes (unicast and multicast trees) along free
tracks, by breadth-first search, so each path is minimal in hops among the free resources. A route
that finds no free path is refused with an error naming it, never guessed.

Imports only the spec (rtl/switch_layout.py).
"""

from __future__ import annotations

import collections
import dataclasses

from amaranth import Shape

from rdagen.rtl.switch_layout import DIRECTIONS, OPPOSITE, STEP, SwitchConfigError, port_index, switch_layout

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

    def add(self, route: Route) -> None:
        """Claims a tree from the route's source to all its sinks (each sink by a shortest free path
        from the tree so far); raises SwitchConfigError naming the route when it cannot."""
        sr, sc, sk = route.source
        if not (0 <= sr < self.rows and 0 <= sc < self.cols and 0 <= sk < self.local_in):
            raise SwitchConfigError(f"route {route}: source {route.source} is not a local input of the grid")
        # tree: switch -> the input index by which the route enters it
        tree = {(sr, sc): port_index(self.tracks, None, sk)}
        claimed = []
        for sink in route.sinks:
            r, c, k = sink
            if not (0 <= r < self.rows and 0 <= c < self.cols and 0 <= k < self.local_out):
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

    def switch_word(self, r: int, c: int) -> int:
        """The configuration word of switch (r, c) (``switch_layout``: one select per output)."""
        layout = switch_layout(self.tracks, self.local_in, self.local_out)
        element = Shape.cast(layout.elem_shape).width
        return sum(value << (output * element) for (sr, sc, output), value in self.select.items()
                   if (sr, sc) == (r, c))

    def configuration(self) -> int:
        """The configuration of the whole grid: every switch's word, row by row."""
        bits = switch_layout(self.tracks, self.local_in, self.local_out).size
        return sum(self.switch_word(r, c) << ((r * self.cols + c) * bits)
                   for r in range(self.rows) for c in range(self.cols))
