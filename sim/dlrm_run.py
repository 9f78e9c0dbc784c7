"""``rdagen dlrm``: a DLRM (mapper/apps/dlrm.py) mapped and run on the array batch by batch, every phase
checked against the golden array model (bit for bit on the RTL) and the probabilities against the
independent NumPy DLRM (verif/golden/dlrm.py) within the graph's fp32 bound."""

from __future__ import annotations

import dataclasses
import time
from typing import Callable

import numpy as np

from rdagen.mapper.apps.dlrm import (Arch, batch_name, check_batch, dlrm_graph, graph_inputs, lower_bound, random_batch,
                                reference_weights, slice_batch)
from rdagen.mapper.frontend.inputs import check_inputs
from rdagen.mapper.backend.place import sites
from rdagen.mapper.program import map_graph
from rdagen.mapper.report import describe_layers, describe_tables, describe_weights
from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.memory import DDR4, Memory
from rdagen.verif.golden.dlrm import forward

from .graph_run import format_phases, run_program, runs_alone

__all__ = ["BatchResult", "run_batch", "run_batches", "split_batches", "format_results", "project", "format_projection",
           "GPU_REFERENCES", "PROJECTION_TABLE_ROWS"]

GPU_REFERENCES = ("V100, batch 1: 0.855 ms fp32 (NVIDIA DeepLearningExamples, Triton)", "A100: 0.14 ms at batch 2")
PROJECTION_TABLE_ROWS = 100_000
"""Table rows kept for a projection: the cost model depends on the indices per bag, not on the rows."""


@dataclasses.dataclass
class BatchResult:
    index: int
    samples: int
    phases: int
    cycles: int | None  # RTL cycles, reconfigurations included (None on the golden model alone)
    estimate: int  # the cost model's cycles
    reconfiguration: int  # of the cycles, configuration loads (the units that change phase to phase)
    pcus_used: int
    pcus: int
    probabilities: np.ndarray  # [B, n] from the array (n: the top MLP's last width)
    max_error: float  # max |array - independent NumPy DLRM|
    bound: float  # max of the graph's fp32 bound on the probabilities
    mismatches: list[str]
    seconds: float
    weights: str  # where the MLP weights come from (``describe_weights``)
    layers: str  # the PCUs and PMUs of each MLP layer (``describe_layers``)
    # the program's configurations: each one's cycles (RTL, or the cost model's) and the batches it
    # computes for (several when pipelined): sim/requests.py ``timeline``
    program_cycles: tuple[int, ...] = ()
    program_copies: tuple[tuple[int, ...], ...] = ()
    phase_table: str = ""  # the program's phases: RTL cycles beside the cost model's (``format_phases``)
    tables: str = ""  # what gathers each embedding table's rows (``describe_tables``)

    @property
    def ok(self) -> bool:
        return not self.mismatches


def split_batches(batch: dict, size: int, tables: int) -> list[dict]:
    """A checked batch cut into mini-batches of *size* samples (the last may be smaller)."""
    total = batch["dense_x"].shape[0]
    return [slice_batch(batch, start, min(total, start + size), tables) for start in range(0, total, size)]


def run_batches(arch: Arch, weights: dict, batches: list[dict], cfg: ArrayConfig, *, harness: str | None, seed: int,
                progress: Callable[[str], None] | None = None, mlp_weights: str = "auto",
                memory: Memory = DDR4, pipelined: bool = False, schedule: str = "spatial") -> list[BatchResult]:
    """The batches one after the other in ONE program (mapper/apps/dlrm.py ``dlrm_graph`` of them all):
    MLP weights the mapper keeps resident are loaded once, by the first batch's phases. Each phase
    computes for one batch (the lowering keeps the batches' phases apart, in batch order), or, when
    *pipelined*, a batch's phases may run beside the batch before's (``map_graph``): a batch's cycles
    are its span, from its first phase's start to its last's end. *schedule*: one of SCHEDULES
    (mapper/program.py; ``phases``: every batch loads its weights again)."""
    started = time.perf_counter()
    batches = [check_batch(arch, batch, f"batch {n}") for n, batch in enumerate(batches)]
    graph = dlrm_graph(arch, weights, *batches)
    arrays = check_inputs(graph, graph_inputs(arch, *batches), source="the batches")
    program = map_graph(graph, cfg, seed=seed, progress=progress, mlp_weights=mlp_weights, memory=memory,
                        pmus_kept=not runs_alone(harness),
                        pipelined=pipelined, schedule=schedule)
    run = run_program(program, arrays, harness=harness, progress=progress, tag="dlrm")
    owner = program.phase_copies()
    estimates = [p.estimate + r for p, r in zip(run.phases, program.reconfigurations)]  # of the batches' traffic
    measured = [p.cycles + p.reconfiguration for p in run.phases] if harness else None
    spans = program.per_copy(measured) if harness else None
    estimated_spans = program.per_copy(estimates)
    seconds = time.perf_counter() - started
    results = []
    for n, batch in enumerate(batches):
        mine = [i for i, b in enumerate(owner) if n in b]
        got = run.outputs[batch_name("p", n)]
        want = forward(weights, batch["dense_x"], batch["lS_o"], [batch[f"lS_i_{k}"] for k in range(arch.tables)],
                       arch.interaction)
        error = np.abs(got.astype(np.float64) - want)
        mismatches = list(run.mismatches) if n == 0 else []
        # The graph's bound holds against its float64 reference, which computes the same model as the
        # independent DLRM up to float64 rounding (far below 1e-12 at these sizes).
        bound = run.bound[batch_name("p", n)]
        if not np.all(error <= bound + 1e-12):
            worst = np.unravel_index(int(np.argmax(error)), error.shape)
            mismatches.append(f"batch {n}, sample {worst[0]}, output {worst[1]}: probability {got[worst]:.9g}, the "
                              f"NumPy DLRM {want[worst]:.9g} (error {error[worst]:.3g} beyond the bound {bound:.3g})")
        results.append(BatchResult(n, got.shape[0], len(mine), spans[n] if harness else None, estimated_spans[n],
                                   sum(program.reconfigurations[i] for i in mine),
                                   max((program.phases[i].phase.units_used()["pcu"] for i in mine), default=0),
                                   len(sites(cfg, "pcu")), got, float(error.max()), bound, mismatches,
                                   seconds / len(batches), describe_weights(program), describe_layers(program),
                                   tuple(measured or estimates), tuple(owner), format_phases(program, run),
                                   describe_tables(program)))
    return results


def run_batch(arch: Arch, weights: dict, batch: dict, cfg: ArrayConfig, *, harness: str | None, seed: int,
              index: int = 0, progress: Callable[[str], None] | None = None, mlp_weights: str = "auto",
              memory: Memory = DDR4) -> BatchResult:
    """One batch in a program of its own (``run_batches``), numbered *index*."""
    batch = check_batch(arch, batch, f"batch {index}")
    result, = run_batches(arch, weights, [batch], cfg, harness=harness, seed=seed, progress=progress,
                          mlp_weights=mlp_weights, memory=memory)
    return dataclasses.replace(result, index=index)


def format_results(results: list[BatchResult], clock_ghz: float) -> str:
    """One row per batch: cycles (RTL, or the cost model's when only the golden model ran), of them the
    configuration loads (config), latency at the clock, samples/s, PCUs used, max error against the
    NumPy DLRM and its bound."""
    lines = [f"{'batch':>5} {'samples':>7} {'phases':>6} {'cycles':>9} {'estimate':>9} {'config':>7} {'latency us':>10} "
             f"{'samples/s':>11} {'PCUs':>7} {'max error':>10} {'bound':>9}  check"]
    for r in results:
        cycles = r.cycles if r.cycles is not None else r.estimate
        latency = cycles / (clock_ghz * 1e3)
        lines.append(f"{r.index:5d} {r.samples:7d} {r.phases:6d} {str(r.cycles) if r.cycles is not None else '-':>9} "
                     f"{r.estimate:9d} {r.reconfiguration:7d} {latency:10.2f} {r.samples / latency * 1e6:11,.0f} {f'{r.pcus_used}/{r.pcus}':>7} "
                     f"{r.max_error:10.3g} {r.bound:9.3g}  {'ok' if r.ok else 'FAIL'}")
    if len(results) > 1:
        cycles = sum(r.cycles if r.cycles is not None else r.estimate for r in results)
        samples = sum(r.samples for r in results)
        lines.append(f"all {len(results)} batches: {cycles} cycles, {samples / cycles * clock_ghz * 1e9:,.0f} samples/s")
    if any(r.cycles is None for r in results):
        lines.append("(golden model only: latency and samples/s from the cost model's cycles)")
    for weights in dict.fromkeys(r.weights for r in results):
        lines.append(f"MLP weights: {weights}")
    for tables in dict.fromkeys(r.tables for r in results if r.tables):
        lines.append(f"tables gathered by {tables}")
    for layers in dict.fromkeys(r.layers for r in results if r.layers):
        lines.append(f"MLP layers' PCUs/PMUs: {layers}")
    return "\n".join(lines)


def project(arch: Arch, cfg: ArrayConfig, batch_sizes: tuple[int, ...], *, seed: int, weight_seed: int,
            progress: Callable[[str], None] | None = None, mlp_weights: str = "auto",
            matmul_mode: str = "auto", memory: Memory = DDR4, num_batches: int = 1, pipelined: bool = False,
            schedule: str = "spatial") -> list[dict]:
    """The cost model's cycles for *arch* mapped on *cfg* at each batch size (bags of exactly N
    indices; tables capped at PROJECTION_TABLE_ROWS rows), beside the lower bound. With *num_batches*
    > 1, of that many batches through one program (``run_batches``): the cycles per batch are the
    program's over the batches (the first batch's loads included), ``program_cycles`` the whole.
    *pipelined*, *schedule*: as ``run_batches``."""
    capped = dataclasses.replace(arch, embedding_sizes=tuple(min(n, PROJECTION_TABLE_ROWS) for n in arch.embedding_sizes))
    weights = reference_weights(capped, weight_seed)
    rows = []
    for b in batch_sizes:
        batches = [check_batch(capped, random_batch(capped, b, seed + n, fixed=True), f"batch of {b}")
                   for n in range(num_batches)]
        graph = dlrm_graph(capped, weights, *batches)
        labelled = (lambda step, b=b: progress(f"batch {b}: {step}")) if progress else None
        program = map_graph(graph, cfg, seed=seed, progress=labelled, mlp_weights=mlp_weights, matmul_mode=matmul_mode,
                            memory=memory, pipelined=pipelined, schedule=schedule)
        bound = lower_bound(arch, cfg, b, arch.indices_per_lookup, memory)
        total = program.estimate_cycles()
        cycles = round(total / num_batches)
        rows.append({"batch": b, "batches": num_batches, "schedule": program.schedule, "pipelined": program.pipelined,
                     "phases": len(program.phases), "cycles": cycles,
                     "program_cycles": total,
                     "batch_cycles": program.estimated_copies(),
                     "reconfiguration_cycles": round(sum(program.reconfigurations) / num_batches),
                     "pcus_used": program.pcus_used(),
                     "pcus": len(sites(cfg, "pcu")), "lower_bound": dataclasses.asdict(bound) | {
                         "compute_cycles": bound.compute_cycles, "cycles": bound.cycles},
                     "mac_utilization": bound.utilization(cycles),
                     "weights": describe_weights(program), "tables": describe_tables(program),
                     "layers": describe_layers(program),
                     "modes": sorted({p.phase.mode for p in program.phases if p.phase.mode}),
                     "timeline": (program.estimated_phases(),
                                  program.phase_copies())})
    return rows


def format_projection(rows: list[dict], clock_ghz: float) -> str:
    lines = [f"{'batch':>5} {'phases':>6} {'cycles':>9} {'of which reconfig':>17} {'latency us':>10} {'samples/s':>12} "
             f"{'bound cycles':>12} {'(DRAM/weights/path/MACs)':>24} {'x bound':>7} {'MAC util':>8}"]
    for r in rows:
        b = r["lower_bound"]
        latency = r["cycles"] / (clock_ghz * 1e3)
        lines.append(f"{r['batch']:5d} {r['phases']:6d} {r['cycles']:9,d} {r['reconfiguration_cycles']:17,d} {latency:10.2f} "
                     f"{r['batch'] / latency * 1e6:12,.0f} {b['cycles']:12,d} "
                     f"{'%d/%d/%d/%d' % (b['dram_cycles'], b['weight_cycles'], b['critical_path_cycles'], b['compute_cycles']):>24} "
                     f"{r['cycles'] / b['cycles']:7.1f} {100 * r['mac_utilization']:7.2f}%")
    if rows:
        lines.append(f"schedule: {rows[0]['schedule']}{', batches (requests) pipelined' if rows[0]['pipelined'] else ''}")
    if rows and rows[0].get("batches", 1) > 1:
        lines.append(f"{rows[0]['batches']} batches through one program: cycles and reconfiguration per batch are "
                     f"the program's over its batches, phases the program's (" + ", ".join(
                         f"batch {r['batch']}: {r['program_cycles']:,d} cycles in all" for r in rows) + ")")
    for weights in dict.fromkeys(r["weights"] for r in rows):
        lines.append(f"MLP weights: {weights}")
    for r in rows:
        lines.append(f"tables gathered at batch {r['batch']} by {r['tables']}")
    for r in rows:
        if r["layers"]:
            lines.append(f"MLP layers' PCUs/PMUs at batch {r['batch']}: {r['layers']}")
    lines.append("published GPU figures: " + "; ".join(GPU_REFERENCES))
    return "\n".join(lines)
