"""Running a mapped graph (mapper/program.py): every phase on the golden array model and, with a
harness, on the RTL, which is compared with the golden model bit for bit (host outputs, DRAM written,
errors, done tokens) phase by phase; the RTL's tensors feed the next phase. The graph's outputs are
then checked against the NumPy reference within the fp32 bound (mapper/frontend/graph.py)."""

from __future__ import annotations

import dataclasses
import time
from typing import Callable

import numpy as np

from rdagen.mapper.frontend.reference import error_bounds, reference
from rdagen.mapper.phases.phase import PhaseIO, PlacedPhase
from rdagen.mapper.program import PhaseRun, Program
from rdagen.rtl.spec.config_port import config_beats, describe_refusal
from rdagen.rtl.spec.memory import Memory
from rdagen.verif.golden.array import run_array as golden_array

from .array_run import program_loads
from .direct import DirectSession, Segment, run_direct
from .streams import DRAIN

__all__ = ["GraphRun", "run_program", "format_table", "format_phases", "golden_phase", "runs_alone"]

U32 = np.uint32


@dataclasses.dataclass
class GraphRun:
    outputs: dict  # output name -> float32 (from the RTL, or the golden model without a harness)
    max_error: dict  # output -> max |result - float64 reference|
    bound: dict  # output -> max fp32 bound
    within: dict  # output -> every element within its bound
    phases: list[PhaseRun]
    mismatches: list[str]  # RTL vs golden model, per phase
    harness: str | None
    seconds: float
    vcds: list[str]
    simulated: list[tuple[int, float]]  # per phase on the RTL: (cycles simulated, simulator seconds)
    dram: list[dict] = dataclasses.field(default_factory=list)  # per phase in the direct harness: what the memory saw

    @property
    def ok(self) -> bool:
        return not self.mismatches and all(self.within.values())

    @property
    def cycles(self) -> int:
        return sum(p.cycles + p.reconfiguration for p in self.phases)


def runs_alone(harness: str | None) -> bool:
    """*harness* runs each phase on its own (specialised, cocotb), so the PMUs keep nothing from one
    phase to the next (no systolic partial sums in PMU pairs, no resident weights: map the program
    with ``pmus_kept`` false); not the direct harness or the golden model alone (None), where the
    phases are one continuous run."""
    return harness not in (None, "direct")


def golden_phase(cfg, placed: PlacedPhase, io: PhaseIO, before=None):
    """The golden array model's run of a phase: (its ArrayResult, the DRAM regions ``io`` reads back).
    *before* (the ArrayResult of the phase before, in one continuous run): the DRAM it left lies under
    ``io``'s DRAM images, and the PMUs hold what it left in them."""
    memory = before.dram if before else {}
    dram = {}
    for row in {*memory, *io.dram}:
        images = io.dram.get(row, {})
        dram[row] = {a: [w] for a, w in memory.get(row, {}).items() if a not in images}
        dram[row].update(images)  # laid after what the phases before left, over it
    result = golden_array(cfg, placed.bitstream, io.sources, dram, pmus=before.pmus if before else None)
    readback = [np.array([result.dram.get(row, {}).get(base + i, 0) for i in range(count)], U32)
                for row, base, count in io.readback]
    return result, readback


def run_program(program: Program, arrays: dict, *, harness: str | None = "direct", waves: bool = False,
                scope: str = "", anonymous: bool = False, memory: Memory | None = None,
                progress: Callable[[str], None] | None = None, tag: str = "graph", gap: float = 0.0,
                stall: float = 0.0, seed: int = 0) -> GraphRun:
    """Runs *program* on the checked input *arrays*: the golden model alone (*harness* None) or the RTL
    in the ``direct`` or ``cocotb`` harness, or ``specialised`` (the direct harness on a model of the
    array specialised to each phase's bitstream: sim/direct.py), checked against the golden model phase
    by phase. On cocotb, host inputs pause with probability *gap* and host outputs with *stall* (random
    from *seed*). With *waves*, each phase's RTL run writes a VCD (of unit *scope* alone if given: direct
    and specialised harnesses; Yosys's anonymous nets only with *anonymous*). The DRAM behind the AGs
    is *memory* (rtl/spec/memory.py; default: the one the program was estimated for)."""
    memory = memory or program.memory
    kept = [p.phase.name for p in program.phases if p.phase.pmu_state]
    if kept and runs_alone(harness):
        raise ValueError(f"phase {kept[0]} reads what the phase before left in the PMUs, which needs one continuous "
                         f"run (the direct harness or the golden model); the {harness} harness runs each phase on "
                         f"its own: map it for that harness (partial sums in DRAM or a ring, no resident weights)")
    if scope and harness not in ("direct", "specialised"):
        raise ValueError(f"a trace scope ({scope}) needs the direct or specialised harness, not {harness}")
    cfg = program.cfg
    estimates = {id(p): e for p, e in zip(program.phases, program.estimates)}
    mismatches, vcds, simulated, drams = [], [], [], []
    started = time.perf_counter()
    loaded = {}  # the configuration the array holds: the phase before's (its registers keep it)

    def backend(placed: PlacedPhase, io: PhaseIO):
        name = placed.phase.name
        # One continuous run keeps DRAM and the PMUs from phase to phase; so does the golden model then.
        golden, golden_readback = golden_phase(cfg, placed, io, loaded.get("golden"))
        if harness in (None, "direct"):
            loaded["golden"] = golden
        if golden.errors:
            mismatches.append(f"{name}: the golden model counts {golden.errors} errors (refused accesses)")
        if golden.done_tokens != io.done_tokens:
            mismatches.append(f"{name}: the golden model sends {golden.done_tokens} done tokens, the phase "
                              f"expects {io.done_tokens}")
        if harness is None:
            return golden.outputs, golden_readback, 0
        work = 4 * estimates[id(placed)] + 1000
        sim_started = time.perf_counter()
        previous, loaded["bitstream"] = loaded.get("bitstream"), placed.bitstream
        if harness == "direct":  # one run of the whole program, each configuration loaded during the one before
            n = len(loaded.setdefault("records", []))
            beats = session_loads()
            segment = Segment(io.sources, io.sinks, io.dram, tuple(io.readback), io.done_tokens, work,
                              [beats[0]] if n == 0 else [], beats[n + 1] if n + 1 < len(beats) else [])
            record = session().run(segment)
            if record["refused"]:
                mismatches.append(f"{name}: the configuration port refused the load: "
                                  f"{describe_refusal(record['refused'], record['refused_lanes'])}")
            reconfiguration = record["load_cycles"] + (loaded["records"][-1]["quiet_beats"] if n else 0)
            loaded["records"].append(record)
        elif harness == "specialised":
            record = run_direct(cfg, placed.bitstream, sources=io.sources, sinks=io.sinks, dram=io.dram, work=work,
                                done_tokens=io.done_tokens, tag=tag, waves=waves, scope=scope,
                                anonymous=anonymous, memory=memory, readback=io.readback,
                                specialised=True, previous=previous)
        else:
            from .array_run import run_array

            record = run_array(cfg, placed.bitstream, sources=io.sources, sinks=io.sinks, dram=io.dram, work=work,
                               done_tokens=io.done_tokens, tag=tag, waves=waves, readback=io.readback, gap=gap,
                               stall=stall, seed=seed, previous=previous, memory=memory)
        simulated.append((record["cycles"], record.get("seconds", time.perf_counter() - sim_started)))
        if "dram" in record:
            drams.append(record["dram"])
        if record.get("vcd") and record["vcd"] not in vcds:  # the direct harness: one VCD of the whole program
            vcds.append(record["vcd"])
        if record["timed_out"]:
            mismatches.append(f"{name}: the RTL run timed out after {record['cycles']} cycles")
        regs = record["registers"]
        if regs["errors"]:
            mismatches.append(f"{name}: the RTL counts {regs['errors']} errors")
        if io.done_tokens and not regs["done"]:
            mismatches.append(f"{name}: the RTL's done register stayed low")
        for port, n in io.sinks.items():
            got, want = [int(v) for v in record["outputs"].get(port, [])], [int(v) for v in golden.outputs.get(port, [])]
            if got != want:
                first = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
                mismatches.append(f"{name}: host output {port} differs from the golden model at transfer {first} "
                                  f"({len(got)} transfers, golden {len(want)})")
        for (row, base, count), got, want in zip(io.readback, record["readback"], golden_readback):
            if not np.array_equal(np.asarray(got, U32), want):
                first = int(np.flatnonzero(np.asarray(got, U32) != want)[0])
                mismatches.append(f"{name}: DRAM of AG {row} differs from the golden model at word {base + first} "
                                  f"(RTL {int(got[first]):#010x}, golden {int(want[first]):#010x})")
        run = max(0, record["cycles"] - DRAIN)
        return (record["outputs"], record["readback"], run) + ((reconfiguration,) if harness == "direct" else ())

    def session_loads():
        if "beats" not in loaded:
            loaded["beats"] = [config_beats(cfg, w) for w in program_loads(cfg, program.bitstreams)]
        return loaded["beats"]

    def session():
        if "session" not in loaded:
            loaded["session"] = DirectSession(cfg, memory=memory, tag=tag, waves=waves, scope=scope,
                                              anonymous=anonymous)
        return loaded["session"]

    try:
        outputs, runs = program.execute(arrays, backend, progress)
    finally:
        if "session" in loaded:
            loaded["session"].close()
    values, bounds = reference(program.graph, arrays), error_bounds(program.graph, arrays)
    max_error, bound, within = {}, {}, {}
    for name, got in outputs.items():
        error = np.abs(got.astype(np.float64) - values[name])
        same_nan = np.isnan(got) & np.isnan(values[name])
        max_error[name] = float(np.where(same_nan, 0, error).max(initial=0))
        bound[name] = float(bounds[name].max(initial=0))
        within[name] = bool(np.all(same_nan | (error <= bounds[name])))
    return GraphRun(outputs, max_error, bound, within, runs, mismatches, harness, time.perf_counter() - started, vcds,
                    simulated, drams)


def format_table(program: Program, run: GraphRun) -> str:
    """Per output: max error and bound; then ``format_phases``."""
    lines = [f"{'output':14} {'shape':14} {'max error':>11} {'bound':>11}  check"]
    for name in run.outputs:
        lines.append(f"{name:14} {str(list(run.outputs[name].shape)):14} {run.max_error[name]:11.3g} "
                     f"{run.bound[name]:11.3g}  {'ok' if run.within[name] else 'OUT OF BOUND'}")
    return "\n".join(lines + ["", format_phases(program, run)])


def format_phases(program: Program, run: GraphRun) -> str:
    """Per phase: PCUs, cycles (RTL; "-" on the golden model alone), cost-model estimate (of the run's
    own DRAM traffic: mapper/phases/dram.py), ideal, configuration load; and the totals."""
    cfg = program.cfg
    pcus = sum((r + c) % 2 == 0 for r in range(cfg.rows) for c in range(cfg.cols))
    lines = []
    w = max([12] + [len(r.name) for r in run.phases])  # phases that share a configuration: "a+b"
    lines.append(f"{'phase':{w}} {'PCUs':>9} {'cycles':>9} {'estimate':>9} {'ideal':>9} {'reconfig':>9}")
    for placed, r in zip(program.phases, run.phases):
        used = placed.phase.units_used()["pcu"]
        cycles = f"{r.cycles:9d}" if run.harness else f"{'-':>9}"
        lines.append(f"{r.name:{w}} {f'{used}/{pcus}':>9} {cycles} {r.estimate:9d} {r.ideal:9d} {r.reconfiguration:9d}")
    total = f"{run.cycles:9d}" if run.harness else f"{'-':>9}"
    estimate = sum(r.estimate for r in run.phases) + sum(program.reconfigurations)  # of this run's traffic
    lines.append(f"{'total':{w}} {f'{program.pcus_used()}/{pcus}':>9} {total} {estimate:9d} "
                 f"{program.ideal_cycles():9d}")
    return "\n".join(lines)
