"""Benchmark of the graph mapper: fp32 GEMMs (M = N = K) mapped onto the array, run on the RTL (direct
harness, checked bit for bit against the golden array model and against NumPy within the bound) where
the size allows, and by the cost model beyond (the DLRM Kaggle model's mapping on plasticine is in the
dlrm benchmark); and chains of Linear layers as one MLP phase (weights resident in PMUs) on the RTL.
Writes bench/results/mapper-<config>.json.

Figures per GEMM: cycles of the matmul phase (start to the last DRAM write acknowledged), ideal =
M N K / (lanes x PCUs used), the fraction of ideal, PCUs used / total, the cost model's estimate and
its error against the RTL. Per MLP: the links of each layer, RTL cycles (start to the last output),
the cost model's and its error. Per SIMD matmul of the model's calibration set (``SIMD_SHAPES``, ideal
memory, the SIMD mode): each phase's RTL cycles, the cost model's and its error.
"""

from __future__ import annotations

import time

from rdagen.mapper.frontend.inputs import check_inputs, random_inputs
from rdagen.mapper.backend.place import sites
from rdagen.mapper.phases.phase import MapError
from rdagen.mapper.program import map_graph
from rdagen.mapper.apps.workloads import gemm_graph, mlp_graph
from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.memory import IDEAL
from rdagen.sim.graph_run import run_program

from .arith import write_result

__all__ = ["run"]

RTL_SIZES = (64, 128)
MODEL_SIZES = (256,)
MLPS = ((1, (13, 16, 8, 4)), (8, (13, 16, 8, 4)), (16, (8, 8, 4)), (16, (16, 16, 16)), (8, (30, 9, 30, 3)),
        (12, (7, 3, 10, 2)), (4, (10, 13, 18, 2, 16)))
"""(samples, widths) of the MLP phases run on the RTL: short and long layers, chains, 2 to 4 layers."""
SIMD_SHAPES = ((64, 32, 1), (32, 16, 8), (16, 64, 16), (8, 8, 8), (4, 100, 8), (48, 24, 4), (16, 16, 32),
               (128, 8, 2), (24, 40, 12), (64, 22, 32), (1, 64, 32), (1, 367, 64), (1, 100, 8), (2, 48, 24),
               (4, 32, 16), (8, 16, 64), (1, 16, 16), (2, 128, 4), (4, 200, 16), (8, 64, 32), (1, 512, 16),
               (3, 40, 40))
"""(M, K, N) of the SIMD matmuls the matmul phase's cost model is fitted on (mapper/phases/matmul.py):
GEMVs, one X block to 64, blocks paced by their writes or by their firings, chains."""


def simd_matmuls(cfg: ArrayConfig, seed: int, log) -> list[dict]:
    """Each of SIMD_SHAPES on the RTL (direct harness, ideal memory): every phase's cycles beside the
    cost model's (on tiny a row longer than a PMU is several phases)."""
    rows = []
    for m, k, n in SIMD_SHAPES:
        graph = gemm_graph(m, k, n)
        program = map_graph(graph, cfg, seed=seed, matmul_mode="simd", memory=IDEAL)
        result = run_program(program, check_inputs(graph, random_inputs(graph, seed)), harness="direct",
                             memory=IDEAL, tag="bench-mapper")
        if not result.ok:
            raise AssertionError(f"SIMD matmul {m} x {k} x {n} failed on {cfg.name}: {result.mismatches}")
        for placed, run in zip(program.phases, result.phases):
            rows.append({"mkn": [m, k, n], "phase": run.name, "tiling": str(getattr(placed.phase, "t", "")),
                         "rtl_cycles": run.cycles, "estimate_cycles": run.estimate,
                         "estimate_error": round(run.estimate / run.cycles - 1, 4)})
        log(f"[mapper] SIMD matmul {m} x {k} x {n} on {cfg.name}: {rows[-1]}")
    return rows


def run(cfg: ArrayConfig, *, seed: int = 1, log=print) -> dict:
    pcus = len(sites(cfg, "pcu"))
    gemms = []
    for n in RTL_SIZES + MODEL_SIZES:
        graph = gemm_graph(n, n, n)
        program = map_graph(graph, cfg, seed=seed)
        (placed,) = program.phases
        phase, (estimate,), (ideal,) = placed.phase, program.estimates, program.ideals
        row = {"n": n, "pcus_used": phase.units_used()["pcu"], "pcus": pcus, "ideal_cycles": ideal,
               "estimate_cycles": estimate, "tiling": str(phase.t), "on_rtl": n in RTL_SIZES,
               "memory": program.memory.name}
        if n in RTL_SIZES:
            started = time.perf_counter()
            result = run_program(program, check_inputs(graph, random_inputs(graph, seed)), harness="direct",
                                 tag="bench-mapper")
            if not result.ok:
                raise AssertionError(f"GEMM {n} failed on {cfg.name}: {result.mismatches} {result.max_error}")
            cycles = result.phases[0].cycles
            row.update(rtl_cycles=cycles, fraction_of_ideal=round(ideal / cycles, 4),
                       estimate_error=round(estimate / cycles - 1, 4), max_error=result.max_error["c"],
                       bound=result.bound["c"], seconds=round(time.perf_counter() - started, 1))
        else:
            row.update(fraction_of_ideal_estimated=round(ideal / estimate, 4))
        gemms.append(row)
        log(f"[mapper] GEMM {n} on {cfg.name}: {row}")
    mlps = []
    for m, widths in MLPS:
        graph = mlp_graph(m, widths, seed)
        try:
            program = map_graph(graph, cfg, seed=seed, mlp_weights="resident")
        except MapError as exc:
            log(f"[mapper] MLP {widths} x {m} does not fit {cfg.name}: {exc}")
            continue
        (placed,) = program.phases
        phase, (estimate,) = placed.phase, program.estimates
        result = run_program(program, check_inputs(graph, random_inputs(graph, seed)), harness="direct",
                             tag="bench-mapper")
        if not result.ok:
            raise AssertionError(f"MLP {widths} x {m} failed on {cfg.name}: {result.mismatches} {result.max_error}")
        cycles = result.phases[0].cycles
        row = {"samples": m, "widths": list(widths), "links": [t.chain for t in phase.tilings],
               "pcus_used": phase.units_used()["pcu"], "rtl_cycles": cycles, "estimate_cycles": estimate,
               "estimate_error": round(estimate / cycles - 1, 4), "max_error": max(result.max_error.values())}
        mlps.append(row)
        log(f"[mapper] MLP on {cfg.name}: {row}")
    simd = simd_matmuls(cfg, seed, log)
    worst = max(simd, key=lambda r: abs(r["estimate_error"]))
    log(f"[mapper] SIMD matmuls on {cfg.name}: {len(simd)} phases, the cost model's largest error "
        f"{100 * worst['estimate_error']:+.1f} % ({' x '.join(map(str, worst['mkn']))} {worst['phase']})")
    path = write_result("mapper", cfg, {"gemm": gemms, "mlp": mlps, "simd_matmuls": simd})
    log(f"[mapper] wrote {path}")
    return {"gemm": gemms, "mlp": mlps, "simd_matmuls": simd}
