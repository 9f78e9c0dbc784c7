"""Benchmark of the whole array: Verilog generation and Verilator build times, the workloads' cycles
(mapped by the mapper) against ideal and the cost model, and simulated cycles per second with cocotb
(Python drives every host stream and the AGs' AxiRams each cycle) and with the direct C++ harness (a
long GEMM), on the generic model and on the model specialised to the GEMM's bitstream. Writes
bench/results/array-<config>.json.

The build time is the one recorded when the model was built (``.built`` in its build directory), so a
cached model reports its original build.
"""

from __future__ import annotations

import json
import time

from rdagen.mapper.frontend.graph import GraphBuilder
from rdagen.mapper.frontend.inputs import check_inputs, random_inputs
from rdagen.mapper.program import map_graph
from rdagen.mapper.apps.workloads import WORKLOADS, workload
from rdagen.rtl.spec.config import ArrayConfig
from rdagen.sim.graph_run import format_table, run_program
from rdagen.sim.direct import build_direct, specialised_model
from rdagen.sim.runner import build as build_model
from rdagen.sim.verilog import generate

from .arith import write_result

__all__ = ["run"]


def _build_steps(exe) -> dict:
    """Verilating and C++ seconds and the build's peak memory (MB), as recorded when it was built."""
    path = exe.parent.parent / "build_steps.json"
    return json.loads(path.read_text()) if path.exists() else {}


def run(cfg: ArrayConfig, *, seed: int = 1, harness: str = "cocotb", log=print):
    """*harness* ``direct`` runs the kernels in the direct harness too (no cocotb build: large arrays),
    ``specialised`` on models specialised to each phase (the generic direct model still runs the long
    GEMM)."""
    started = time.perf_counter()
    gen = generate("array", cfg)
    generated = time.perf_counter() - started
    log(f"[array] {cfg.rows}x{cfg.cols} array of {cfg.name}: Verilog {gen.path.stat().st_size / 1e6:.1f} MB "
        f"({'generated in %.0f s' % generated if gen.seconds else 'from the cache'}); Verilator build ...")
    build_seconds = None
    if harness == "cocotb":
        build_dir, seconds = build_model(gen)
        build_seconds = seconds or float((build_dir / ".built").read_text())
        log(f"[array] Verilator build for cocotb {build_seconds:.0f} s"
            f"{'' if seconds else ' (cached model; recorded at its build)'}")
    direct_exe, direct_seconds = build_direct(gen, cfg)
    results = []
    for name in WORKLOADS:
        graph, arrays = workload(name, cfg, seed)
        program = map_graph(graph, cfg, seed=seed)
        results.append((name, program, run_program(program, arrays, harness=harness, seed=seed, tag="bench")))
        log(format_table(program, results[-1][2]))
    failed = [name for name, _, r in results if not r.ok]
    if failed:
        raise AssertionError(f"workloads failed on the array: {failed}: {[r.mismatches for _, _, r in results]}")
    kernel_cycles = sum(c for _, _, r in results for c, _ in r.simulated)
    kernel_seconds = sum(t for _, _, r in results for _, t in r.simulated)
    log(f"[array] {harness}: {kernel_cycles} cycles in {kernel_seconds:.1f} s: "
        f"{kernel_cycles / kernel_seconds:,.0f} cycles/s over the workloads (start-up included)")
    # A long GEMM in the direct harness (no Python per cycle): the steady-state speed of the model.
    rows = 512 if cfg.lanes * cfg.rows * cfg.cols <= 512 else 64  # plasticine's generic model: ~20 cycles/s
    g = GraphBuilder()
    k = min(cfg.pmu_words // 4, 16 * cfg.lanes) - 1
    g.output(g.matmul(g.input("x", (rows, k)), g.weight("w", shape=(k, 4 * cfg.lanes), seed=seed), name="y"))
    long_graph = g.graph()
    long_program = map_graph(long_graph, cfg, seed=seed)
    long_inputs = check_inputs(long_graph, random_inputs(long_graph, seed))
    long = run_program(long_program, long_inputs, harness="direct",
                       tag="bench-long")
    if not long.ok:
        raise AssertionError(f"the long GEMM failed on the array: {long.mismatches}")
    ((cycles, sim_seconds),) = long.simulated
    (phase,) = long.phases
    direct_build = float((direct_exe.parent.parent / "build_seconds").read_text()) if (
        direct_exe.parent.parent / "build_seconds").exists() else direct_seconds
    log(f"[array] direct harness (built in {direct_build:.0f} s): GEMM of {rows} x {k} x {4 * cfg.lanes}, "
        f"{phase.cycles} cycles ({100 * phase.ideal / phase.cycles:.1f} % of ideal), {cycles} cycles in "
        f"{sim_seconds:.2f} s: {cycles / sim_seconds:,.0f} cycles/s")
    # The same GEMM on the model specialised to its bitstream (a build of its own), which must give the
    # same cycles (tests/test_array.py checks every handshake's cycle).
    spec_gen = specialised_model(cfg, long_program.phases[0].bitstream)
    spec_exe, _ = build_direct(spec_gen, cfg)
    spec_build = float((spec_exe.parent.parent / "build_seconds").read_text())
    spec = run_program(long_program, long_inputs, harness="specialised",
                       tag="bench-long-spec")
    ((spec_cycles, spec_sim_seconds),) = spec.simulated
    if not spec.ok or spec_cycles != cycles:
        raise AssertionError(f"the specialised model differs: {spec.mismatches}, {spec_cycles} vs {cycles} cycles")
    log(f"[array] specialised model (Verilog {spec_gen.path.stat().st_size / 1e6:.1f} MB, built in {spec_build:.0f} s): "
        f"the same {spec_cycles} cycles in {spec_sim_seconds:.2f} s: {spec_cycles / spec_sim_seconds:,.0f} cycles/s "
        f"({spec_cycles / spec_sim_seconds / (cycles / sim_seconds):.1f}x the generic model)")
    return write_result("array", cfg, {
        "tiles": [cfg.rows, cfg.cols], "lanes": cfg.lanes,
        "verilog_bytes": gen.path.stat().st_size,
        "generate_seconds": round(generated, 1) if gen.seconds else None,
        "build_seconds": round(build_seconds, 1) if build_seconds else None,
        "kernel_harness": harness,
        "kernels": [{"kernel": name, "phases": len(p.phases), "cycles": r.cycles, "ideal": p.ideal_cycles(),
                     "estimate": p.estimate_cycles(), "pcus_used": p.pcus_used(),
                     "max_error": max(r.max_error.values()), "bound": max(r.bound.values())} for name, p, r in results],
        "kernel_runs": {"cycles": kernel_cycles, "seconds": round(kernel_seconds, 2),
                        "cycles_per_second": round(kernel_cycles / kernel_seconds)},
        "direct": {"build_seconds": round(direct_build, 1), **_build_steps(direct_exe), "gemm_rows": rows,
                   "cycles": phase.cycles,
                   "ideal": phase.ideal, "utilization": round(phase.ideal / phase.cycles, 4), "simulated_cycles": cycles,
                   "seconds": round(sim_seconds, 3), "cycles_per_second": round(cycles / sim_seconds)},
        "direct_specialised": {"build_seconds": round(spec_build, 1), **_build_steps(spec_exe),
                               "simulated_cycles": spec_cycles, "seconds": round(spec_sim_seconds, 3),
                               "cycles_per_second": round(spec_cycles / spec_sim_seconds)},
    })
