"""Benchmark of the whole array: Verilog generation and Verilator build times, the DLRM kernels'
cycles against ideal, and simulated cycles per second with cocotb (Python drives every host stream
and the AGs' AxiRams each cycle) and with the direct C++ harness (a long GEMV). Writes
bench/results/array-<config>.json.

The build time is the one recorded when the model was built (``.built`` in its build directory), so a
cached model reports its original build.
"""

from __future__ import annotations

import time

import numpy as np

from rdagen.mapper.kernels import KERNELS, build, gemv
from rdagen.rtl.config import ArrayConfig
from rdagen.sim.array_run import format_kernel_table, run_kernel
from rdagen.sim.direct import build_direct
from rdagen.sim.runner import build as build_model
from rdagen.sim.verilog import generate

from .arith import write_result

__all__ = ["run"]


def run(cfg: ArrayConfig, *, seed: int = 1, harness: str = "cocotb", log=print):
    """*harness* ``direct`` runs the kernels in the direct harness too (no cocotb build: large arrays)."""
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
    results = [run_kernel(build(name, cfg, seed), seed=seed, tag="bench", harness=harness) for name in KERNELS]
    log(format_kernel_table(results))
    failed = [r.name for r in results if not r.ok]
    if failed:
        raise AssertionError(f"kernels failed on the array: {failed}: {[r.problems for r in results]}")
    cocotb_cycles = sum(r.sim_cycles for r in results)
    cocotb_seconds = sum(r.sim_seconds for r in results)
    log(f"[array] {harness}: {cocotb_cycles} cycles in {cocotb_seconds:.1f} s: "
        f"{cocotb_cycles / cocotb_seconds:,.0f} cycles/s over the three kernels (start-up included)")
    # A long GEMV in the direct harness (no Python per cycle): the steady-state speed of the model.
    rows = 2048
    long = run_kernel(gemv(cfg, np.random.default_rng(seed), m=rows), seed=seed, tag="bench-long", harness="direct")
    if not long.ok:
        raise AssertionError(f"the long GEMV failed on the array: {long.problems}")
    cycles, sim_seconds = long.sim_cycles, long.sim_seconds
    direct_build = float((direct_exe.parent.parent / "build_seconds").read_text()) if (
        direct_exe.parent.parent / "build_seconds").exists() else direct_seconds
    log(f"[array] direct harness (built in {direct_build:.0f} s): GEMV of {rows} rows, {long.cycles} cycles "
        f"({100 * long.utilization:.1f} % of ideal), {cycles} cycles in {sim_seconds:.2f} s: "
        f"{cycles / sim_seconds:,.0f} cycles/s")
    return write_result("array", cfg, {
        "tiles": [cfg.rows, cfg.cols], "lanes": cfg.lanes,
        "verilog_bytes": gen.path.stat().st_size,
        "generate_seconds": round(generated, 1) if gen.seconds else None,
        "build_seconds": round(build_seconds, 1) if build_seconds else None,
        "kernel_harness": harness,
        "kernels": [{"kernel": r.name, "cycles": r.cycles, "ideal": r.ideal, "utilization": round(r.utilization, 4),
                     "max_error": r.max_error, "bound": r.bound} for r in results],
        "kernel_runs": {"cycles": cocotb_cycles, "seconds": round(cocotb_seconds, 2),
                   "cycles_per_second": round(cocotb_cycles / cocotb_seconds)},
        "direct": {"build_seconds": round(direct_build, 1), "gemv_rows": rows, "cycles": long.cycles,
                   "ideal": long.ideal, "utilization": round(long.utilization, 4), "simulated_cycles": cycles,
                   "seconds": round(sim_seconds, 3), "cycles_per_second": round(cycles / sim_seconds)},
    })
