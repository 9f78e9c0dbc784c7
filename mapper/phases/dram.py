"""The DRAM terms of the cost model: what a phase's run costs on a memory with read latency and a
bandwidth limit (rtl/spec/memory.py), added to the phase kinds' own models, which are calibrated on
the ideal memory (a read beat the cycle after its request, no bandwidth limit).

A phase's DRAM traffic is read from the run it would make (``Phase.io``: the AG read and write
commands, and the gathers an embedding phase's AGs make). Only the gathers depend on the values: an
AG's burst former joins the gathers of consecutive table rows into one burst, so a run's traffic
(``Program.execute``) can have fewer bursts than the program's, which is read on zero-valued tensors
of the graph's shapes (every gather a burst: the most a run can make). On a
memory of read latency ``lat`` and ``bw`` bytes per cycle for all AGs together:

    cycles = max(estimate + max(0, (lat - 1) x round_trips - overlap),  [lat] + bytes / bw)

* ``round_trips``: the read round trips on the phase's critical path. An AG keeps ``MAX_OUTSTANDING``
  bursts in flight (rtl/spec/ag_layout.py) and a phase's first outputs wait for its first reads, so a
  phase pays the latency once per ``MAX_OUTSTANDING`` bursts of its busiest AG (none without reads).
  Measured on the RTL (direct harness, every phase of the DLRM suite's models and systolic GEMMs on
  ``tiny`` and ``small``, read latency 101 and 201 cycles): each phase's cycles grow by exactly one
  latency per 100 cycles of latency; an interaction phase with 24 reads on one AG by two.
* ``[lat] + bytes / bw``: every read and write beat crosses the shared bandwidth once, after the read
  latency when the phase reads (a phase that only writes waits for no read).

A phase kind whose start does work that does not wait for DRAM hides that much of its first read's
latency (``Phase.dram_overlap``): a SIMD matmul phase, whose PCUs take the rows of X from the host
while the weights' first read is on its way, 16 to 53 cycles on ``tiny`` and ``small`` (the model
takes the least).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from rdagen.rtl.spec.ag_layout import MAX_OUTSTANDING, beat_bytes, max_burst_beats
from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.memory import Memory

__all__ = ["AgTraffic", "DramTraffic", "traffic", "memory_cycles", "memory_bound"]

PAGE = 4096  # an AXI4 burst never crosses a 4 KB boundary


@dataclasses.dataclass(frozen=True)
class AgTraffic:
    read_bursts: int
    read_beats: int
    write_beats: int
    gathers: tuple = ()  # a gathering AG's read bursts in order, each (table rows, beats)


@dataclasses.dataclass(frozen=True)
class DramTraffic:
    ags: dict  # {AG row: AgTraffic}

    def bytes(self, cfg: ArrayConfig) -> int:
        return beat_bytes(cfg) * sum(a.read_beats + a.write_beats for a in self.ags.values())

    def round_trips(self) -> int:
        return max((-(-a.read_bursts // MAX_OUTSTANDING) for a in self.ags.values() if a.read_bursts), default=0)


def _burst_beats(cfg: ArrayConfig, beat: int, last: int):
    """The beats of each burst the burst former (rtl/ag/burst_former.py) cuts beats [*beat*, *last*)
    into: at most ``max_burst_beats``, never across a 4 KB page."""
    per_page = PAGE // beat_bytes(cfg)
    while beat < last:
        take = min(last - beat, max_burst_beats(cfg), per_page - beat % per_page)
        yield take
        beat += take


def _bursts(cfg: ArrayConfig, base_word: int, words: int) -> tuple[int, int]:
    """(bursts, beats) of one AG command: *words* 32-bit words from word address *base_word*."""
    if words <= 0:
        return 0, 0
    width = beat_bytes(cfg)
    first, last = 4 * base_word // width, -(-4 * (base_word + words) // width)
    return sum(1 for _ in _burst_beats(cfg, first, last)), last - first


def _commands(values) -> list[tuple[int, int]]:
    """(base word, words) of each command word (``base | length << 32``)."""
    return [(int(v) & 0xFFFFFFFF, int(v) >> 32) for v in values]


def _gather_bursts(cfg: ArrayConfig, rows: np.ndarray, words: int) -> list[tuple[int, int]]:
    """The read bursts, each (table rows, beats), of an AG gathering table *rows* (in order) of *words*
    words each, rows *words* apart from address 0: the burst former (rtl/ag/burst_former.py) joins a
    request that starts where the waiting one ends, so a run of consecutive rows (5, 6, 7) is one burst
    (cut at 4 KB pages and the longest burst) when the rows end on a beat; only then."""
    per_row = -(-4 * words // beat_bytes(cfg))
    if len(rows) == 0 or (4 * words) % beat_bytes(cfg):
        return [(1, per_row)] * len(rows)
    starts = np.flatnonzero(np.diff(rows, prepend=rows[0] - 2) != 1)  # each run's first gather
    return [(-(-beats // per_row), beats) for start, n in zip(starts, np.diff(np.append(starts, len(rows))))
            for beats in _burst_beats(cfg, int(rows[start]) * per_row, int(rows[start] + n) * per_row)]


def traffic(cfg: ArrayConfig, sources: dict, gathers: dict) -> DramTraffic:
    """The traffic of a run from its host *sources* ({port: transfers}: the AGs' ``ag_cmd__ROW`` read
    and ``ag_wcmd__ROW`` write commands) and *gathers* ({AG row: (the rows read in order, words per
    row)})."""
    counts: dict[int, list[int]] = {}
    for port, values in sources.items():
        kind, _, row = port.partition("__")
        if kind not in ("ag_cmd", "ag_wcmd"):
            continue
        entry = counts.setdefault(int(row), [0, 0, 0])
        for base, words in _commands(values):
            bursts, beats = _bursts(cfg, base, words)
            if kind == "ag_cmd":
                entry[0] += bursts
                entry[1] += beats
            else:
                entry[2] += beats
    gathered = {}
    for row, (rows, words) in gathers.items():
        entry = counts.setdefault(int(row), [0, 0, 0])
        gathered[int(row)] = tuple(_gather_bursts(cfg, np.asarray(rows, np.int64), words))
        entry[0] += len(gathered[int(row)])
        entry[1] += sum(beats for _, beats in gathered[int(row)])
    return DramTraffic({row: AgTraffic(*c, gathered.get(row, ())) for row, c in sorted(counts.items())})


def _floor(cfg: ArrayConfig, dram: DramTraffic, memory: Memory) -> int:
    """What the memory alone takes: the read latency when the phase reads, plus every byte it moves over
    the bandwidth."""
    moved = 0 if memory.bytes_per_cycle is None else dram.bytes(cfg) / memory.bytes_per_cycle
    return int(np.ceil((memory.read_latency if dram.round_trips() else 0) + moved))


def memory_cycles(cfg: ArrayConfig, estimate: int, dram: DramTraffic, memory: Memory, overlap: int = 0) -> int:
    """The phase's cycles on *memory*, from its cost-model *estimate* on the ideal memory; *overlap*:
    the cycles of the phase's start that its first read's latency hides (``Phase.dram_overlap``)."""
    latency_bound = estimate + max(0, (memory.read_latency - 1) * dram.round_trips() - overlap)
    return max(latency_bound, _floor(cfg, dram, memory))


def memory_bound(cfg: ArrayConfig, ideal: int, dram: DramTraffic, memory: Memory) -> int:
    """The phase's lower bound on *memory*: its busiest unit's work (*ideal*) and what the memory alone
    takes (the read latency when it reads, plus every byte it moves over the bandwidth)."""
    return max(ideal, _floor(cfg, dram, memory))
