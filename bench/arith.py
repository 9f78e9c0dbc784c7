"""Benchmark of the arithmetic layer: Verilog generation time, Verilator build time, cocotb ops checked
per second, and the synthesis size and depth of the fp32 adder and multiplier.

Writes bench/results/arith-<config>.json. Run with ``make bench`` (or ``rdagen bench``).
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

from rdagen.rtl.spec.config import ArrayConfig
from rdagen.sim.arith_regression import make_plan, run_plan
from rdagen.sim.runner import build
from rdagen.sim.verilog import generate
from rdagen.synth.yosys import synthesize
from rdagen.sim.paths import BUILD, ROOT

__all__ = ["run", "RESULTS", "simulation_speed", "write_result"]

RESULTS = ROOT / "bench" / "results"


def run(cfg: ArrayConfig, *, seed: int = 1, fp_random: int = 50_000, log=print) -> Path:
    result: dict = {"benchmark": "arith", "config": cfg.name, "config_hash": cfg.hash,
                    "machine": platform.machine(), "python": platform.python_version(),
                    "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S")}

    log("[1/4] Verilog generation")
    generation = {}
    for name in ("fp_add", "fp_mul", "fu", "arith_harness"):
        started = time.perf_counter()
        gen = generate(name, cfg)
        generation[name] = {"seconds": round(time.perf_counter() - started, 3), "bytes": gen.path.stat().st_size}
    result["verilog_generation"] = generation

    log("[2/4] Verilator build (fresh, not from the cache)")
    builds = {}
    for name in ("fu", "arith_harness"):
        _, seconds = build(generate(name, cfg), "verilator", cached=False)
        builds[name] = {"seconds": round(seconds, 2)}
        log(f"      {name}: {seconds:.1f} s")
    result["verilator_build"] = builds

    log(f"[3/4] cocotb regression throughput ({fp_random} random vectors per fp op)")
    plan = make_plan(seed, fp_random=fp_random, int_random=fp_random // 10)
    reg = run_plan(plan, cfg, tag="bench")
    if reg.mismatches:
        raise AssertionError(f"benchmark regression found {reg.mismatches} mismatches: {reg.first_mismatches[:3]}")
    result["cocotb_regression"] = {
        "simulator": "verilator", "vectors": reg.vectors, "cycles": reg.cycles, "lanes": plan.lanes,
        "seconds": round(reg.sim_seconds, 2),
        "ops_checked_per_second": round(reg.vectors / reg.sim_seconds),
        "cycles_per_second": round(reg.cycles / reg.sim_seconds),
    }
    log(f"      {reg.vectors} vectors in {reg.sim_seconds:.1f} s: {reg.vectors / reg.sim_seconds:,.0f} ops/s")

    log("[4/4] synthesis of the fp32 adder and multiplier")
    synth = {}
    for name in ("fp_add", "fp_mul"):
        gen = generate(name, cfg)
        rep = synthesize(gen.path, gen.module, BUILD / "synth", unit=name, config=cfg.name, config_hash=cfg.hash)
        synth[name] = {k: rep[k] for k in ("cells", "flipflops", "longest_path", "seconds")}
        log(f"      {name}: {rep['cells']} cells, {rep['flipflops']} flip-flops, longest path {rep['longest_path']}")
    result["synth"] = synth

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"arith-{cfg.name}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    return out


def simulation_speed(label: str, run_cases, cases, log=print) -> dict:
    """Simulated cycles per second of *run_cases* (a regression host) over *cases*, with cocotb driving."""
    log(f"[{label}] simulation speed: {len(cases)} random configurations with random traffic")
    started = time.perf_counter()
    results = run_cases(cases)
    seconds = time.perf_counter() - started
    cycles = sum(r.cycles for r in results)
    log(f"      {cycles} cycles in {seconds:.1f} s: {cycles / seconds:,.0f} cycles/s (cocotb + Verilator)")
    return {"cases": len(results), "cycles": cycles, "seconds": round(seconds, 2),
            "cycles_per_second": round(cycles / seconds)}


def write_result(name: str, cfg: ArrayConfig, fields: dict) -> Path:
    """bench/results/<name>-<config>.json with the benchmark, config and config hash first."""
    out = RESULTS / f"{name}-{cfg.name}.json"
    RESULTS.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmark": name, "config": cfg.name, "config_hash": cfg.hash, **fields},
                              indent=2) + "\n")
    return out
