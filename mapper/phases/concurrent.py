"""Concurrent phases: phases that do not depend on one another, configured together in ONE bitstream
and run at the same time on disjoint units (the first step of a spatial schedule: several layers
live on the array at once, each with its own PCUs, PMUs, AGs and host rows).

A ``ConcurrentPhase`` is the union of its parts: their netlists (unit names already carry each part's
name), their programs and routes emitted into one builder (each part's routes around the ones before),
their host streams, DRAM images and read-backs side by side (each keyed by its own units' sites), and
the sum of their done tokens. It runs until the slowest part is done: its cost model is the longest
part's on the memory (each part's estimate and the read latency of its own AGs' traffic), or the bytes
of every part over the memory's bandwidth where that is longer (mapper/phases/dram.py); its lower
bound the largest part's.
"""

from __future__ import annotations

from rdagen.mapper.backend.builder import ArrayBuilder
from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.memory import Memory

from .dram import DramTraffic, memory_bound
from .phase import MapError, Phase, PhaseIO

__all__ = ["ConcurrentPhase", "takes_placement"]


def takes_placement(phase: Phase) -> bool:
    """*phase* runs on a placement an earlier phase of its ``placement_key`` made, reading what that one
    left in the PMUs (an MLP on resident weights, a systolic matmul's later K section): as a part, its
    units are pinned to that placement's sites (mapper/program.py ``map_graph``)."""
    return phase.placement_key is not None and phase.pmu_state


class ConcurrentPhase(Phase):
    """*parts*: phases none of which reads what another writes, and none that makes a placement for
    later phases (``placement_key``) or keeps weights resident; a part may take an earlier phase's
    placement (``takes_placement``)."""

    def __init__(self, parts: tuple[Phase, ...]):
        for part in parts:
            if (part.placement_key is not None or part.resident_units()) and not takes_placement(part):
                raise MapError(f"{part.name}: makes a placement or keeps weights for later phases; it runs alone")
        keys = [p.placement_key for p in parts if p.placement_key is not None]
        if len(keys) != len(set(keys)):
            raise MapError(f"{self._names(parts)}: two parts take one placement: they cannot run concurrently")
        written = {t: p.name for p in parts for t in p.writes}
        for part in parts:
            for t in part.reads:
                if t in written:
                    raise MapError(f"{part.name} reads {t!r}, which {written[t]} writes: they cannot run concurrently")
        self.parts = tuple(parts)
        self.name = self._names(parts)
        self.nodes = tuple(i for p in parts for i in p.nodes)
        self.reads = tuple(t for p in parts for t in p.reads)
        self.writes = tuple(t for p in parts for t in p.writes)
        self.ideal_cycles = max(p.ideal_cycles for p in parts)
        self.estimate_cycles = max(p.estimate_cycles for p in parts)
        self.dram_overlap = min(p.dram_overlap for p in parts)
        self.mode = "+".join(sorted({p.mode for p in parts if p.mode}))
        self.pmu_state = any(p.pmu_state for p in parts)
        self._readbacks: tuple[int, ...] = ()  # entries of each part's read-back, in io's order

    @staticmethod
    def _names(parts) -> str:
        return "+".join(p.name for p in parts)

    def simpler(self) -> ConcurrentPhase | None:
        """The parts with the first that has a leaner dataflow taking it (``Phase.simpler``)."""
        for n, part in enumerate(self.parts):
            lean = part.simpler()
            if lean is not None:
                return ConcurrentPhase(self.parts[:n] + (lean,) + self.parts[n + 1:])
        return None

    def netlist(self):
        units, nets = [], []
        for part in self.parts:
            u, n = part.netlist()
            units += u
            nets += n
        return units, nets

    def emit(self, b: ArrayBuilder, s: dict) -> None:
        for part in self.parts:
            part.emit(b, s)

    def io(self, s: dict, tensors: dict) -> PhaseIO:
        ios = [part.io(s, tensors) for part in self.parts]
        merged = PhaseIO({}, {}, {}, [], 0, {})
        for part, io in zip(self.parts, ios):
            for name, mine, theirs in (("host stream", io.sources, merged.sources), ("DRAM channel", io.dram, merged.dram),
                                       ("host output", io.sinks, merged.sinks), ("gather", io.gathers, merged.gathers)):
                taken = set(mine) & set(theirs)
                if taken:
                    raise MapError(f"{self.name}: {part.name} uses {name} {sorted(taken)[0]} of another part (a mapper bug)")
                theirs.update(mine)
            merged.readback += io.readback
            merged.done_tokens += io.done_tokens
        self._readbacks = tuple(len(io.readback) for io in ios)
        return merged

    def collect(self, s: dict, outputs: dict, readback: list) -> dict:
        tensors, start = {}, 0
        for part, count in zip(self.parts, self._readbacks):
            tensors.update(part.collect(s, outputs, readback[start:start + count]))
            start += count
        return tensors

    def weight_sources(self) -> dict[str, str]:
        return {w: where for p in self.parts for w, where in p.weight_sources().items()}

    def table_sources(self) -> dict[str, str]:
        return {t: where for p in self.parts for t, where in p.table_sources().items()}

    def memory_estimate(self, cfg: ArrayConfig, dram: DramTraffic, memory: Memory, sites: dict,
                        paths: dict | None) -> int:
        longest = 0
        for part in self.parts:
            rows = {sites[u.name][0] for u in part.netlist()[0] if u.kind == "ag"}
            mine = DramTraffic({row: t for row, t in dram.ags.items() if row in rows})
            longest = max(longest, part.memory_estimate(cfg, mine, memory, sites, paths))
        return max(longest, memory_bound(cfg, 0, dram, memory))

    def layer_units(self) -> dict[str, dict[str, int]]:
        return {layer: units for part in self.parts for layer, units in part.layer_units().items()}

    def resident_units(self) -> tuple[str, ...]:
        """Those of a part on resident weights (which later phases read there too)."""
        return tuple(u for p in self.parts for u in p.resident_units())
