"""Phases: what one bitstream computes. A phase reads tensors from DRAM (or the host's input ports),
computes one or more graph nodes on the array and writes tensors back; the runner loads the phases'
bitstreams in order (mapper/program.py).

A ``Phase`` is the lowering of its nodes: a netlist of virtual units (for placement), the unit
programs and routes once the units have sites (``emit``), and the host streams and DRAM images of a
run (``io``) and how its results become tensors again (``collect``). ``place_and_route`` turns it into
a ``PlacedPhase`` with its bitstream.

Tensors in DRAM: row-major fp32 (int32 for indices). Each AG reaches its own DRAM channel; a phase
lists, per AG it uses, the regions it reads and writes, and the runner (the host, as a DMA engine
would) keeps every tensor between phases and lays it into the channels the next phase reads. A phase
may also read what the phase before left in the PMUs (``pmu_state``: a systolic matmul's partial sums
between K sections), which only a continuous run of the phases keeps (the direct harness, the golden
model).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from rdagen.rtl.spec.array_layout import configuration_units, plan, unit_words
from rdagen.rtl.spec.config_port import config_beats, config_lanes, config_port_writes
from rdagen.rtl.spec.bitstream import decode
from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.memory import Memory

from rdagen.mapper.backend.builder import ArrayBuilder, BuildError
from rdagen.mapper.frontend.graph import GraphError
from rdagen.mapper.backend.place import Net, Placement, PlacementError, Unit, place

from .dram import DramTraffic, memory_cycles

__all__ = ["MapError", "PhaseIO", "Phase", "PlacedPhase", "place_and_route", "place_and_route_group",
           "reconfiguration_cycles"]

U32, F32 = np.uint32, np.float32


class MapError(GraphError):
    """A graph that the mapper cannot put on the array; the message names the node or the resource."""


@dataclasses.dataclass
class PhaseIO:
    """One run of a phase: host input streams, DRAM images {AG row: {word address: words}}, host
    outputs expected {port: transfers}, DRAM regions to read back [(AG row, address, words)], the
    done tokens that end the run, and the rows the AGs in gather mode read {AG row: (the rows read in
    order, words per row)} (the cost model's DRAM traffic: mapper/phases/dram.py)."""
    sources: dict
    dram: dict
    sinks: dict
    readback: list
    done_tokens: int
    gathers: dict = dataclasses.field(default_factory=dict)


class Phase:
    """The lowering of some nodes; subclasses define the netlist, programs, streams and results."""
    name: str
    nodes: tuple[int, ...]  # graph node positions computed
    reads: tuple[str, ...]  # tensors read
    writes: tuple[str, ...]  # tensors written
    ideal_cycles: int  # the busiest unit's work at one firing (or DRAM beat) per cycle
    estimate_cycles: int  # the cost model (its rules in each phase kind's docstring)
    mode: str = ""  # how a matmul phase uses its PCUs ("simd", "systolic"); "" for the other kinds
    partial_sums: str = ""  # a systolic phase: where its partial sums wait between K sections ("dram", "pmu")
    dram_overlap: int = 0  # cycles of the start its first DRAM read's latency hides (mapper/phases/dram.py)
    placement_key = None  # phases with the same key share the first one's placement (one netlist)
    variant = None  # of those, phases with the same variant share one bitstream (the others emit their own)
    pmu_state = False  # reads what a phase before left in the PMUs: runs only as one continuous run
    placements = 1  # placements tried, each from its own seed: the one whose routes run fastest is kept

    def route_cycles(self, cfg: ArrayConfig, sites: dict, paths: dict) -> float:
        """What of its run depends on where its units and routes are (``placements`` > 1 ranks its
        placements by it)."""
        return 0.0

    def netlist(self) -> tuple[list[Unit], list[Net]]:
        raise NotImplementedError

    def emit(self, b: ArrayBuilder, s: dict) -> None:
        """Configures the units at their sites *s* and routes every net (BuildError when a route does not fit)."""
        raise NotImplementedError

    def io(self, s: dict, tensors: dict) -> PhaseIO:
        raise NotImplementedError

    def collect(self, s: dict, outputs: dict, readback: list) -> dict:
        """The tensors written, from the host outputs and the DRAM regions read back (``io``'s order)."""
        raise NotImplementedError

    def weight_sources(self) -> dict[str, str]:
        """The matmul weights the phase reads and where the array takes them from."""
        return {}

    def table_sources(self) -> dict[str, str]:
        """The embedding tables the phase gathers rows of and what gathers them."""
        return {}

    def memory_estimate(self, cfg: ArrayConfig, dram: DramTraffic, memory: Memory, sites: dict,
                        paths: dict | None) -> int:
        """Its cycles by the cost model on *memory* with its run's DRAM traffic *dram* (its units at
        *sites*, its vector routes' switch outputs *paths*, ``PlacedPhase.paths``, None before
        placement): mapper/phases/dram.py ``memory_cycles``."""
        return memory_cycles(cfg, self.estimate_cycles, dram, memory, self.dram_overlap)

    def resident_units(self) -> tuple[str, ...]:
        """Units whose contents later phases read (resident weights): no other phase may take their sites."""
        return ()

    def simpler(self) -> Phase | None:
        """The same computation on fewer units or routes, for when this one does not place and route
        (``map_graph`` tries it); None: there is none."""
        return None

    def rerun_units(self) -> tuple[str, ...]:
        """Of a phase whose placement later phases take (resident weights), the units those runs use."""
        return ()

    def units_used(self) -> dict[str, int]:
        units, _ = self.netlist()
        return {kind: sum(u.kind == kind for u in units) for kind in ("pcu", "pmu", "ag", "host")}

    def layer_units(self) -> dict[str, dict[str, int]]:
        """The PCUs and PMUs each layer of a phase of several takes, by its weight (an MLP phase's
        layers, its epilogue): how the phase shares the array among them. Empty for a phase of one."""
        return {}

    def unit_configuration_cycles(self, cfg: ArrayConfig) -> int:
        """Config-port cycles of the phase's PCUs, PMUs and AGs loaded whole (switches not counted), their
        words spread over the port's lanes: what the mapper weighs, before placement, against the
        cycles a phase saves."""
        words = _unit_words(cfg)
        return -(-sum(count * words.get(kind, 0) for kind, count in self.units_used().items()) // config_lanes(cfg))


@functools.cache
def _unit_words(cfg: ArrayConfig) -> dict[str, int]:
    """Configuration-port words of a unit of each kind ("pcu", "pmu", "ag", "switch")."""
    words = {}
    for address in configuration_units(cfg):
        words.setdefault(address.kind.name.lower(), unit_words(cfg, address))
    return words


@dataclasses.dataclass
class PlacedPhase:
    phase: Phase
    placement: Placement
    bitstream: bytes
    tracks: dict  # network -> switch outputs (track hops and local deliveries) its routes use
    seed: int
    paths: dict  # (source endpoint, sink endpoint) -> the vector network's switch outputs between them

    def io(self, tensors: dict) -> PhaseIO:
        return self.phase.io(self.placement.sites, tensors)

    def collect(self, outputs: dict, readback: list) -> dict:
        return self.phase.collect(self.placement.sites, outputs, readback)


def reconfiguration_cycles(cfg: ArrayConfig, bitstream: bytes, previous: bytes | None = None) -> int:
    """Cycles to load *bitstream* through the configuration port (a 32-bit write per lane and cycle,
    the lanes in parallel) into an array configured with *previous* (None: a reset array): the units
    whose word changes, each written whole (rtl/spec/array_layout.py ``config_port_writes``, what the
    loader writes), on their lanes (``config_beats``)."""
    before = decode(plan(cfg), previous) if previous is not None else None
    return len(config_beats(cfg, config_port_writes(cfg, decode(plan(cfg), bitstream), before)))


def place_and_route(phase: Phase, cfg: ArrayConfig, *, seed: int = 0, pins: dict | None = None,
                    attempts: int = 6) -> PlacedPhase:
    """Places the phase's units by annealing and routes its nets by negotiated congestion; when the
    routes do not fit, another placement (next seed, more weight on congestion) is tried."""
    return place_and_route_group([phase], cfg, seed=seed, pins=pins, attempts=attempts)[0]


def place_and_route_group(phases: list[Phase], cfg: ArrayConfig, *, seed: int = 0, pins: dict | None = None,
                          attempts: int = 6, reserved: frozenset = frozenset()) -> list[PlacedPhase]:
    """``place_and_route`` of phases that share one netlist (the first's) and so one placement, each
    emitting its own programs and routes on it: a placement is kept only when every phase's routes fit.
    No unit takes a *reserved* site ({(kind, site)}: resident weights of other phases). A first phase
    of several ``placements`` is placed that many times (seeds 101 apart), the fastest by its
    ``route_cycles`` kept (the first of equals)."""
    best = _place_and_route_group(phases, cfg, seed, pins, attempts, reserved)
    rank = lambda placed: placed[0].phase.route_cycles(cfg, placed[0].placement.sites, placed[0].paths)  # noqa: E731
    for choice in range(1, phases[0].placements):
        try:
            other = _place_and_route_group(phases, cfg, seed + 101 * choice, pins, attempts, reserved)
        except MapError:
            continue
        if rank(other) < rank(best):
            best = other
    return best


def _place_and_route_group(phases: list[Phase], cfg: ArrayConfig, seed: int, pins: dict | None, attempts: int,
                           reserved: frozenset) -> list[PlacedPhase]:
    units, nets = phases[0].netlist()
    problems = []
    for attempt in range(attempts):
        try:
            placement = place(cfg, units, nets, seed=seed + attempt, pins=pins, congestion=2.0 * (1 + attempt),
                              reserved=reserved)
        except PlacementError as exc:
            raise MapError(f"{phases[0].name}: placement: {exc}") from None
        placed = []
        for phase in phases:
            b = ArrayBuilder(cfg)
            try:
                phase.emit(b, placement.sites)
            except BuildError as exc:
                if not str(exc).startswith("routes on the"):  # a unit program the configuration refuses
                    raise MapError(f"{phase.name}: {exc}") from None
                problems.append(str(exc))
                break
            placed.append(PlacedPhase(phase, placement, b.bitstream(), {n: r.used() for n, r in b.routers.items()},
                                      seed + attempt, b.paths("vector")))
        if len(placed) == len(phases):
            return placed
    raise MapError(f"{phases[0].name}: the routes do not fit after {attempts} placements; the last: {problems[-1]}")
