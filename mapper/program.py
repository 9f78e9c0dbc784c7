"""Graph -> program: the graph's nodes lowered to phases (one bitstream each), every phase placed and
routed, and the runner's loop that executes them in order with the tensors kept in DRAM between them.

Lowering (mapper/lowering/): the named passes that turn nodes into phases.

Running (``Program.execute``): for each phase, the runner lays the tensors it reads into the DRAM
channels of its AGs and its host streams (``PlacedPhase.io``), runs it on a *backend* (the golden
array model or the RTL, in sim/), and takes the tensors it wrote from the DRAM read back and the host
outputs. The cycles of a program are the phases' run cycles plus each phase's reconfiguration: the
cycles of its configuration load that the phase before does not hide, and the swap. A phase's load
(the configuration-port writes of the units whose word differs from the phase before, the first
phase's configured units, and the seal: ``phase.reconfiguration_cycles``) streams into the shadow
context while the phase before runs (rtl/spec/config_port.py); the first phase's load is all exposed.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import time
from typing import Callable

import numpy as np

from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.config_port import SWAP_CYCLES
from rdagen.rtl.spec.memory import DDR4, Memory

from .frontend.graph import Graph
from .lowering import MATMUL_MODES, MLP_WEIGHTS, PARTIAL_SUMS, lower
from .phases.concurrent import takes_placement
from .phases.dram import DramTraffic, memory_bound, traffic
from .phases.phase import MapError, Phase, PhaseIO, PlacedPhase, place_and_route_group, reconfiguration_cycles

__all__ = ["Program", "PhaseRun", "map_graph", "lower", "MapError", "MLP_WEIGHTS", "MATMUL_MODES", "PARTIAL_SUMS",
           "SCHEDULES"]

SCHEDULES = ("spatial", "phases")
"""How a program takes the array: ``spatial`` (the dataflow schedule): independent phases share a
configuration where they fit and that is cheaper, MLP weights stay resident in PMUs from one run of
their layers to the next (loaded once per program, where the phases run as one continuous run), and,
pipelined, the phases of consecutive copies of the graph (requests, batches) run side by side;
``phases`` (kernel by kernel, what the spatial schedule is measured against): every phase a
configuration of its own, loading the weights it reads on every run."""


@dataclasses.dataclass
class PhaseRun:
    name: str
    cycles: int  # the run (start to the last output or write acknowledged)
    reconfiguration: int
    estimate: int
    ideal: int
    seconds: float


@dataclasses.dataclass
class Program:
    cfg: ArrayConfig
    graph: Graph
    phases: list[PlacedPhase]
    seed: int
    map_seconds: float
    memory: Memory = DDR4  # the DRAM the estimates are for (the runs' default too)
    schedule: str = "spatial"  # one of SCHEDULES
    pipelined: bool = False  # copies of the graph run side by side (the spatial schedule)

    def describe_schedule(self) -> str:
        return f"{self.schedule}{', copies pipelined' if self.pipelined else ''}"

    @property
    def bitstreams(self) -> list[bytes]:
        return [p.bitstream for p in self.phases]

    def pcus_used(self) -> int:
        """The most PCUs any phase occupies."""
        return max((p.phase.units_used()["pcu"] for p in self.phases), default=0)

    @functools.cached_property
    def loads(self) -> list[int]:
        """Each phase's configuration-load beats, after the phase before it (the first: after reset)."""
        before = [None] + [p.bitstream for p in self.phases[:-1]]
        return [reconfiguration_cycles(self.cfg, p.bitstream, b) for p, b in zip(self.phases, before)]

    @functools.cached_property
    def traffic(self) -> list[DramTraffic]:
        """Each phase's DRAM traffic: its run's AG commands and gathers, the program run on zero inputs
        (the traffic depends on the shapes alone)."""
        found = {}

        def backend(placed: PlacedPhase, io: PhaseIO):
            found[id(placed)] = traffic(self.cfg, io.sources, io.gathers)
            return ({port: [0] * n for port, n in io.sinks.items()},
                    [np.zeros(count, np.uint32) for _, _, count in io.readback], 0)

        zeros = {n: np.zeros(t.shape, np.float32 if t.dtype == "fp32" else np.int32)
                 for n, t in self.graph.inputs.items()}
        self._flow(zeros, backend)
        return [found[id(p)] for p in self.phases]

    @functools.cached_property
    def estimates(self) -> list[int]:
        """Each phase's run by the cost model on the program's memory (mapper/phases/dram.py)."""
        return [p.phase.memory_estimate(self.cfg, t, self.memory, p.placement.sites, p.paths)
                for p, t in zip(self.phases, self.traffic)]

    @functools.cached_property
    def reconfigurations(self) -> list[int]:
        """Each phase's reconfiguration cycles by the cost model: the beats of its load that the run of
        the phase before (its estimate) does not hide (the first phase: all of them), and the swap."""
        hidden = [0] + self.estimates[:-1]
        return [max(0, load - h) + SWAP_CYCLES for load, h in zip(self.loads, hidden)]

    def weight_sources(self) -> dict[str, tuple[str, str]]:
        """{matmul weight: (where the array takes it from, the first phase reading it)}, in phase order."""
        sources = {}
        for p in self.phases:
            for w, where in p.phase.weight_sources().items():
                sources.setdefault(w, (where, p.phase.name))
        return sources

    def estimate_cycles(self) -> int:
        return sum(self.estimates) + sum(self.reconfigurations)

    def phase_copies(self) -> list[tuple[int, ...]]:
        """Per phase, the copies of the graph (``Graph.copies``: requests, batches) it computes for: one,
        or several where a pipelined lowering ran copies side by side (run_concurrently)."""
        return [tuple(sorted({self.graph.copy_of(i) for i in p.phase.nodes})) or (0,) for p in self.phases]

    def per_copy(self, cycles: list[int]) -> list[int]:
        """Each copy's span of the per-phase *cycles*: from the start of its first phase to the end of
        its last (its phases' sum when the copies run one after the other)."""
        ends = list(itertools.accumulate(cycles))
        first, last = {}, {}
        for n, copies in enumerate(self.phase_copies()):
            for copy in copies:
                first.setdefault(copy, n)
                last[copy] = n
        return [ends[last[c]] - ends[first[c]] + cycles[first[c]] if c in first else 0
                for c in range(self.graph.copies)]

    def estimated_phases(self) -> list[int]:
        """Each phase's cycles by the cost model: its run and its reconfiguration."""
        return [e + r for e, r in zip(self.estimates, self.reconfigurations)]

    def estimated_copies(self) -> list[int]:
        """Each copy's cycles by the cost model: its phases' runs and reconfigurations."""
        return self.per_copy(self.estimated_phases())

    @functools.cached_property
    def ideals(self) -> list[int]:
        """Each phase's lower bound: its busiest unit's work at one firing (or DRAM beat) per cycle, and
        on the program's memory the read latency plus the bytes over the bandwidth (mapper/phases/dram.py)."""
        return [memory_bound(self.cfg, p.phase.ideal_cycles, t, self.memory) for p, t in zip(self.phases, self.traffic)]

    def ideal_cycles(self) -> int:
        return sum(self.ideals)

    def execute(self, arrays: dict, backend: Callable[[PlacedPhase, PhaseIO], tuple[dict, list, int]],
                progress: Callable[[str], None] | None = None) -> tuple[dict, list[PhaseRun]]:
        """Runs the phases in order on *backend* ((placed phase, its io) -> (host outputs, DRAM read back,
        cycles[, reconfiguration cycles measured])) from the checked input *arrays*; returns the graph's
        outputs (float32) and the runs (a reconfiguration the backend did not measure: the cost model's;
        each run's estimate of this run's traffic, mapper/phases/dram.py)."""
        estimates = {}

        def estimated(placed: PlacedPhase, io: PhaseIO):
            estimates[id(placed)] = placed.phase.memory_estimate(self.cfg, traffic(self.cfg, io.sources, io.gathers),
                                                                 self.memory, placed.placement.sites, placed.paths)
            return backend(placed, io)

        outputs, results = self._flow(arrays, estimated, progress)
        runs = [PhaseRun(placed.phase.name, cycles, measured[0] if measured else self.reconfigurations[n],
                         estimates[id(placed)], self.ideals[n], seconds)
                for n, (placed, (cycles, measured, seconds)) in enumerate(zip(self.phases, results))]
        return outputs, runs

    def _flow(self, arrays: dict, backend, progress=None) -> tuple[dict, list[tuple[int, list, float]]]:
        """The phases run in order on *backend*, each phase's tensors taken from the graph's inputs and
        weights and the phases before: the graph's outputs and each phase's (cycles, measured
        reconfiguration (empty or one), seconds)."""
        tensors = {**{n: np.asarray(a) for n, a in arrays.items()},
                   **{n: t.values for n, t in self.graph.weights.items()}}
        parts: dict[str, dict] = {}  # embedding outputs split over phases: {slice: columns}
        concats = {n.output: n.inputs for n in self.graph.nodes if n.op == "concat"}

        def materialise(name):
            if name in tensors:
                return tensors[name]
            if name in concats:
                tensors[name] = np.concatenate([materialise(p) for p in concats[name]], axis=1)
                return tensors[name]
            raise MapError(f"tensor {name!r} is read before any phase writes it (a mapper bug)")

        results = []
        for n, placed in enumerate(self.phases):
            phase = placed.phase
            if progress:
                progress(f"phase {n + 1}/{len(self.phases)} {phase.name}")
            for name in phase.reads:
                materialise(name)
            io = placed.io(tensors)
            started = time.perf_counter()
            outputs, readback, cycles, *measured = backend(placed, io)
            seconds = time.perf_counter() - started
            for name, value in placed.collect(outputs, readback).items():
                if isinstance(value, dict):
                    parts.setdefault(name, {}).update(value)
                    width = self.graph.tensors[name].shape[1]
                    slices = -(-width // self.cfg.lanes)
                    if len(parts[name]) == slices:
                        tensors[name] = np.concatenate([parts[name][c] for c in range(slices)], axis=1)
                else:
                    tensors[name] = value
            results.append((cycles, measured, seconds))
        return {name: np.asarray(materialise(name), np.float32) for name in self.graph.outputs}, results


def map_graph(graph: Graph, cfg: ArrayConfig, *, seed: int = 0, pins: dict | None = None,
              progress: Callable[[str], None] | None = None, mlp_weights: str = "auto",
              matmul_mode: str = "auto", memory: Memory = DDR4, partial_sums: str = "auto",
              pmus_kept: bool = True, concurrent: bool = True, pipelined: bool = False,
              schedule: str = "spatial") -> Program:
    """Lowers *graph* to phases and places and routes each (deterministic for a *seed*), estimated for
    the DRAM *memory* (rtl/spec/memory.py; the systolic tiling weighs its DRAM traffic on it, the lowering's other
    choices are made on the ideal memory); *partial_sums*: where systolic matmuls keep theirs (PARTIAL_SUMS);
    *pmus_kept*: the phases will run as one continuous run (``lower``); *concurrent*: independent phases
    may share a configuration (``lower``); *schedule*: one of SCHEDULES (``phases`` sets *concurrent* and
    *pmus_kept* false, and refuses *pipelined*). *pins*
    {unit name or graph node output: (row, col)} fixes sites: a node's name pins its phase's first PCU.
    Phases with the same ``placement_key`` (the sections of a systolic matmul) share one placement, and
    those of the same ``variant`` one bitstream; a resident unit named alike in several phases (the
    bank of W PMUs the resident rings share, phases/ring.py) takes the site the first placed gave it."""
    if schedule not in SCHEDULES:
        raise MapError(f"schedule {schedule!r}: valid: {', '.join(SCHEDULES)}")
    if schedule == "phases":
        if pipelined:
            raise MapError("pipelined copies run side by side: the spatial schedule, not phases")
        concurrent = pmus_kept = False
    started = time.perf_counter()
    phases = lower(graph, cfg, mlp_weights, matmul_mode, partial_sums, memory, pmus_kept, concurrent, pipelined)
    pins = dict(pins or {})
    known = {u.name for p in phases for u in p.netlist()[0]} | {graph.nodes[i].output for p in phases for i in p.nodes}
    for key in pins:
        if key not in known:
            raise MapError(f"pin {key!r}: no node output or unit of that name is placed (node outputs: "
                           f"{', '.join(sorted({graph.nodes[i].output for p in phases for i in p.nodes}))})")
    shared = {}  # {(placement key, variant) or the phase's position: its PlacedPhase (one bitstream)}

    def key(n: int, phase: Phase):
        return n if phase.placement_key is None else (phase.placement_key, phase.variant)

    reserved = set()  # {(kind, site)} of resident weights: placed first, then kept from every other phase
    held = {}  # resident units' names: their sites (a later resident phase naming one alike shares it: a bank)
    apart = set()  # pipelined: the sites the resident placements' later runs use, kept from the next resident ones
    makers = {}  # placement key: the position of the phase that makes the placement

    def place_group(n: int, phase: Phase) -> None:
        if progress:
            progress(f"placing and routing phase {n + 1}/{len(phases)} {phase.name}")
        taken = {}  # the units of parts that take an earlier phase's placement: its sites
        for part in getattr(phase, "parts", ()):
            if takes_placement(part):
                maker = makers[part.placement_key]
                made = shared[key(maker, phases[maker])].placement.sites
                taken.update({u.name: made[u.name] for u in part.netlist()[0]})
        taken.update({u.name: held[u.name] for u in phase.netlist()[0] if u.name in held})
        group = [phase]
        if phase.placement_key is not None:  # one phase of each variant of the key, placed together
            for other in phases[n + 1:]:
                if other.placement_key == phase.placement_key and other.variant not in {p.variant for p in group}:
                    group.append(other)
        kinds = {u.name: u.kind for u in phase.netlist()[0]}
        keep_out = reserved | apart if phase.rerun_units() else reserved
        group_placed = place_and_route_group(group, cfg, seed=seed + 1000 * n,
                                             pins=_phase_pins(graph, phase, pins) | taken,
                                             reserved=frozenset(keep_out - {(kinds[u], site) for u, site in taken.items()}))
        shared[n] = group_placed[0]
        for p in group_placed[1:]:
            shared[(p.phase.placement_key, p.phase.variant)] = p
        if phase.placement_key is not None:
            shared[(phase.placement_key, phase.variant)] = group_placed[0]
        reserved.update((kinds[name], group_placed[0].placement.sites[name]) for name in phase.resident_units())
        held.update({name: group_placed[0].placement.sites[name] for name in phase.resident_units()})
        if pipelined:  # resident MLPs of different requests run side by side
            sites = group_placed[0].placement.sites
            apart.update((kinds[name], sites[name]) for name in phase.rerun_units())

    for n, phase in enumerate(phases):
        if phase.placement_key is not None:
            makers.setdefault(phase.placement_key, n)
    for first in (True, False):  # the phases that keep resident weights first
        for n in range(len(phases)):
            if bool(phases[n].resident_units()) == first and key(n, phases[n]) not in shared:
                error = None
                while True:
                    try:
                        place_group(n, phases[n])
                        break
                    except MapError as exc:  # a phase with a leaner dataflow (Phase.simpler) tries that
                        error = error or exc
                        phases[n] = phases[n].simpler()
                        if phases[n] is None:  # the phase's own error, not its leanest variant's
                            raise error from None
    placed = [shared[key(n, phase)] for n, phase in enumerate(phases)]
    placed = [p if p.phase is phase else PlacedPhase(phase, p.placement, p.bitstream, p.tracks, p.seed, p.paths)
              for p, phase in zip(placed, phases)]
    return Program(cfg, graph, placed, seed, time.perf_counter() - started, memory, schedule, pipelined)


def _phase_pins(graph: Graph, phase: Phase, pins: dict) -> dict:
    units, _ = phase.netlist()
    names = {u.name for u in units}
    first_pcu = next((u.name for u in units if u.kind == "pcu"), None)
    out = {}
    for key, site in pins.items():
        if key in names:
            out[key] = site
        elif any(graph.nodes[i].output == key for i in phase.nodes) and first_pcu:
            out[first_pcu] = site
    return out
