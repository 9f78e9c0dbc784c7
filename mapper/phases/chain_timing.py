"""The timing of a chain of PCUs on its placed routes: when each vector leaves each queue between the
stream's sources (AG reads) and its last PCU, computed vector by vector from the units' rules.

A chain whose source multicasts to PCUs at different depths (an elementwise phase's pieces,
mapper/phases/eltwise.py) runs at the pace its queues allow: a multicast leaves a switch only when
every output it goes to has room, so the words waiting for the deeper consumer fill that branch's hop
buffers and input FIFO while the chain between them computes. How many words a branch holds depends on
the routes' lengths, so the pace depends on the placement (up to 1.5x apart between placements of one
phase on small). The queues and their rules (rtl/spec/timing.py, rtl/hop_buffer.py,
rtl/buffered_fifo.py, rtl/credited_fifo.py):

* a switch output (a hop buffer): 2 words; a word written in cycle t leaves from t + 1; it is written
  only when the buffer held fewer than 2 at the start of the cycle; a switch input leaves for all the
  outputs selecting it in one cycle, when every one has room;
* a unit input FIFO: ``fifo_depth`` words; readable 2 cycles after its write;
* a PCU fires when every input FIFO has a word and it holds a credit of its output FIFO
  (``pcu_output_depth`` words, a credit returns when a word leaves); the result is readable
  ``pcu_latency`` + 2 cycles after the firing;
* an AG read sends a vector a cycle (DRAM bandwidth is priced apart, mapper/phases/dram.py); the
  last PCU's sinks (AG write, host) always take.

Each vector's times depend on the vector's arrivals and on earlier vectors' departures downstream
(room), so the vectors are computed in order, the units in chain order (a max-plus recurrence); past
``SIMULATED`` vectors the pace of the last quarter of them continues.
"""

from __future__ import annotations

import dataclasses

from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.timing import pcu_latency, pcu_output_depth

__all__ = ["ChainUnit", "chain_span", "chain_pace", "SIMULATED"]

HOP_WORDS = 2  # words a switch output's hop buffer holds (rtl/hop_buffer.py)
FIFO_READ = 2  # cycles from a unit input FIFO's write to its read (rtl/buffered_fifo.py)
SIMULATED = 256  # vectors computed one by one; the pace of the last quarter extrapolates the rest


@dataclasses.dataclass(frozen=True)
class ChainUnit:
    """A unit of a stream: an AG read (``pcu`` False) or a PCU reading the units at *inputs*
    (positions in the stream's unit list, each an earlier one), one vector per firing. *routes*: per
    sink (its position and input index), the switch outputs from this unit to it."""
    pcu: bool
    inputs: tuple[int, ...]
    routes: tuple[tuple[int, int, tuple], ...]  # (sink unit, its input index, switch outputs)


def chain_span(cfg: ArrayConfig, units: list[ChainUnit], vectors: int, first: int) -> float:
    """Cycles from unit *first*'s first result readable to the last unit's last result leaving, for
    *vectors* vectors through the stream *units* (in dependency order, the last the chain's end)."""
    count = min(vectors, SIMULATED)
    fire, out = _departures(cfg, units, count)
    end = out[-1][count - 1]
    if vectors > count:
        end += (vectors - count) * _pace(out[-1])
    return end - (fire[first][0] + pcu_latency(cfg) + FIFO_READ)


def chain_pace(cfg: ArrayConfig, units: list[ChainUnit]) -> float:
    """Cycles between two vectors leaving the last unit in the steady state, the sources sending one
    a cycle."""
    return _pace(_departures(cfg, units, SIMULATED)[1][-1])


def _pace(leaving: list[float]) -> float:
    quarter = max(1, len(leaving) // 4)
    return (leaving[-1] - leaving[-1 - quarter]) / quarter if len(leaving) > quarter else 1.0


def _departures(cfg: ArrayConfig, units: list[ChainUnit], count: int) -> tuple[list[list[float]], list[list[float]]]:
    """Per unit, the cycle of each of *count* vectors' firing (a PCU's; an AG's send) and of its
    leaving the unit into its routes (module docstring)."""
    latency, credits = pcu_latency(cfg) + FIFO_READ, pcu_output_depth(cfg)
    fire = [[0.0] * count for _ in units]
    out = [[0.0] * count for _ in units]
    arrive = {}  # (unit, input index) -> the cycle each vector is written into that input FIFO
    hops = {}  # switch output -> the cycle each vector leaves it
    trees = []  # per unit: [(switch output, its parent or None, its children, the sink it ends at or None)]
    for unit in units:
        nodes, seen = [], {}
        for sink, k, path in unit.routes:
            for j, hop in enumerate(path):
                if hop not in seen:
                    seen[hop] = len(nodes)
                    nodes.append([hop, path[j - 1] if j else None, [], None])
                    if j:
                        nodes[seen[path[j - 1]]][2].append(hop)
            nodes[seen[path[-1]]][3] = (sink, k)
            arrive[(sink, k)] = [0.0] * count
        for node in nodes:
            hops[node[0]] = [0.0] * count
        trees.append(nodes)
    firsts = [[node[0] for node in nodes if node[1] is None] for nodes in trees]  # per unit: its routes' first outputs
    for i in range(count):
        for u, unit in enumerate(units):
            if unit.pcu:
                t = max(arrive[(u, k)][i] + FIFO_READ for k in range(len(unit.inputs)))
                if i:
                    t = max(t, fire[u][i - 1] + 1)
                if i >= credits:
                    t = max(t, out[u][i - credits] + 1)
                fire[u][i] = t
                ready = t + latency
            else:
                fire[u][i] = ready = float(i)
            out[u][i] = max([ready] + ([out[u][i - 1] + 1] if i else [])
                            + [hops[hop][i - HOP_WORDS] + 1 for hop in firsts[u] if i >= HOP_WORDS])
            for hop, parent, children, sink in trees[u]:
                t = max((hops[parent][i] if parent else out[u][i]) + 1, hops[hop][i - 1] + 1 if i else 0)
                room = [hops[c][i - HOP_WORDS] + 1 for c in children if i >= HOP_WORDS]
                if sink is not None and units[sink[0]].pcu and i >= cfg.fifo_depth:
                    room.append(fire[sink[0]][i - cfg.fifo_depth] + 1)
                hops[hop][i] = max([t] + room)
                if sink is not None:
                    arrive[sink][i] = hops[hop][i]
    return fire, out
