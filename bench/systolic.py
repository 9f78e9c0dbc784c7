"""Benchmark of the systolic mode: one PCU (rtl/spec/systolic.py) and GEMMs through the mapper
(mapper/phases/systolic.py). Writes bench/results/systolic-<config>.json.

* ``pcu``: one PCU's RTL, a stream of 256 rows of A through weight tiles that reload while the PCU
  computes, no input gaps and no back-pressure. ``macs_per_cycle`` counts the multiply-adds of the
  stream (rows x lanes x stages, every stage an ffma) over the cycles from its first result to its
  last; ``cycles_from_reset`` adds the pipeline fill and the first tile's load. The peak is lanes x
  stages.
* ``config``: the configuration port (a lane per row): the beats that load a whole ``plasticine``
  array (with the seal), and the share of a program's cycles lost to reconfiguration for a program of
  8 configurations on ``small``'s RTL (a chain of 8 matmuls of different widths, each phase running
  longer than a load), run as one direct-harness run: each load streams into the shadow context
  while the phase before runs, so what remains is the swap and any beats the run before did not hide.
* ``ring_parts``: GEMMs whose ring the tiling splits in K parts (phases/ring.py), on the RTL of ``small``
  and ``medium`` (direct harness, DDR4) against the cost model (``model_error``).
* ``gemm``: M = N = K GEMMs mapped in the systolic mode: on ``small`` 64 and 128 on the RTL (direct
  harness, checked against the golden model; 64 also with its partial sums in DRAM and in PMUs), 96
  on ``medium``'s RTL (the tiling's choice, and with them in PMUs), on ``plasticine`` 256 and 1024 by
  the cost model (1024 also in PMUs), all on the default DDR4 memory; ``partial_sums`` says where
  they waited between K sections (the tiling's choice, ``ring`` where it fits, unless forced). Cycles include the
  configuration load; ``ideal_cycles`` = M N K / (lanes x stages x PCUs), the physical peak of the
  whole array.
"""

from __future__ import annotations

import numpy as np

from rdagen.mapper.frontend.graph import GraphBuilder
from rdagen.mapper.frontend.inputs import check_inputs, random_inputs
from rdagen.mapper.backend.place import sites
from rdagen.mapper.program import map_graph
from rdagen.rtl.spec.config import ArrayConfig, preset
from rdagen.rtl.spec.systolic import systolic_depth
from rdagen.sim.pcu_regression import run_cases, systolic_case

from .arith import write_result

__all__ = ["run"]

ROWS = 256
GEMMS = (("small", 64, "rtl", "auto"), ("small", 64, "rtl", "dram"), ("small", 64, "rtl", "pmu"),
         ("small", 128, "rtl", "auto"), ("medium", 96, "rtl", "auto"), ("medium", 96, "rtl", "pmu"),
         ("plasticine", 256, "model", "auto"), ("plasticine", 1024, "model", "auto"),
         ("plasticine", 1024, "model", "pmu"))
"""config, M = N = K, source, where the partial sums wait between K sections (mapper/phases/systolic.py)"""
PARTS = (("small", (8, 128, 8)), ("small", (8, 200, 12)), ("small", (16, 64, 8)), ("small", (17, 31, 19)),
         ("small", (4, 128, 20)), ("small", (32, 96, 24)), ("medium", (64, 256, 32)), ("medium", (48, 200, 48)))
"""config, (M, K, N): rings whose K the tiling puts in parts (phases/ring.py), on the RTL against the model"""
TILINGS = ((256, 1), (64, 4), (32, 8), (16, 16), (8, 32))  # rows per tile, tiles: the weight reloads


def run(cfg: ArrayConfig, *, seed: int = 1, log=print):
    rng = np.random.default_rng(seed)
    log(f"[systolic] one PCU of {cfg.name}: {ROWS} rows of A, weight tiles reloaded while it computes")
    cases = [systolic_case(cfg, rng, rows=rows, tiles=tiles, name=f"{tiles}x{rows}") for rows, tiles in TILINGS]
    results = run_cases(cfg, cases, tag="bench-systolic")
    failed = [f"{r.name}: {r.problems}" for r in results if not r.ok]
    if failed:
        raise AssertionError(f"systolic cases failed: {failed}")
    peak = cfg.lanes * cfg.stages
    depth = systolic_depth(cfg)
    streams = []
    log(f"{'tiles x rows':>13} {'MACs':>8} {'cycles':>7} {'MACs/cycle':>11} {'of peak':>8} {'from reset':>11}")
    for (rows, tiles), r in zip(TILINGS, results):
        span = r.last_out - r.first_out + 1
        macs = r.firings * depth * cfg.lanes
        streams.append({"rows_per_tile": rows, "tiles": tiles, "rows": r.firings, "macs": macs, "cycles": span,
                        "macs_per_cycle": round(macs / span, 3), "utilization": round(macs / span / peak, 4),
                        "cycles_from_reset": r.last_out})
        log(f"{tiles:>6} x {rows:<4} {macs:8d} {span:7d} {macs / span:11.2f} {100 * macs / span / peak:7.1f}% "
            f"{r.last_out:11d}")
    steady = [s for s in streams if s["rows_per_tile"] >= 32]  # the goal: tiles of 32 rows or more
    worst = min(steady, key=lambda s: s["macs_per_cycle"])
    gemm = [gemm_row(preset(config), (size,) * 3, source, psums, seed, log) for config, size, source, psums in GEMMS]
    parts = [gemm_row(preset(config), shape, "rtl", "ring", seed, log) for config, shape in PARTS]
    return write_result("systolic", cfg, {
        "pcu": {"macs_per_cycle": worst["macs_per_cycle"], "peak_macs_per_cycle": peak, "source": "rtl",
                "streams": streams},
        "config": config_row(seed, log), "gemm": gemm, "ring_parts": parts})


def config_row(seed: int, log) -> dict:
    """Whole-array load on plasticine; the loading share of an 8-configuration program on small's RTL."""
    from rdagen.rtl.spec.array_layout import configuration_units, unit_layout
    from rdagen.rtl.spec.config_port import config_beats, config_port_writes
    from rdagen.sim.graph_run import run_program

    big = preset("plasticine")
    full = {a: (1 << unit_layout(big, a).size) - 1 for a in configuration_units(big)}
    full_load = len(config_beats(big, config_port_writes(big, full)))
    g = GraphBuilder()
    h, k = g.input("x", (64, 24)), 24
    for layer, width in enumerate((40, 24, 48, 16, 56, 32, 40, 24)):
        h, k = g.matmul(h, g.weight(f"w{layer}", shape=(k, width), seed=seed + layer)), width
    g.output(h)
    graph = g.graph()
    program = map_graph(graph, preset("small"), seed=seed, matmul_mode="simd")
    run = run_program(program, check_inputs(graph, random_inputs(graph, seed)), harness="direct", tag="bench-config")
    if not run.ok:
        raise AssertionError(f"the 8-configuration program: {run.mismatches}")
    cycles = sum(p.cycles for p in run.phases)
    loads = sum(p.reconfiguration for p in run.phases)
    row = {"full_load_cycles": full_load, "config": "plasticine", "program_phases": len(run.phases),
           "program_cycles": cycles + loads, "reconfiguration_cycles": loads,
           "reconfiguration_share": round(loads / (cycles + loads), 4), "shadow_context": True,
           "loads_beats": program.loads}
    log(f"configuration: plasticine whole array in {full_load} beats; {len(run.phases)} configurations on small "
        f"(loads of {', '.join(map(str, program.loads))} beats, each behind the phase before): {loads} of "
        f"{cycles + loads} cycles reconfiguring ({100 * row['reconfiguration_share']:.2f} %)")
    return row


def gemm_row(cfg: ArrayConfig, shape: tuple[int, int, int], source: str, partial_sums: str, seed: int, log) -> dict:
    """GEMM *shape* (M, K, N) on *cfg* in the systolic mode, its partial sums where *partial_sums* says:
    on the RTL (direct harness) or by the cost model, on the default memory (DDR4)."""
    from rdagen.sim.graph_run import run_program

    m, k, n = shape
    g = GraphBuilder()
    g.output(g.matmul(g.input("x", (m, k)), g.weight("w", shape=(k, n), seed=seed), name="y"))
    graph = g.graph()
    program = map_graph(graph, cfg, seed=seed, matmul_mode="systolic", partial_sums=partial_sums)
    pcus = len(sites(cfg, "pcu"))
    ideal = m * k * n / (cfg.lanes * cfg.stages * pcus)
    model = program.estimate_cycles()
    t = program.phases[0].phase.t
    row = {"config": cfg.name, "m": m, "n": n, "k": k, "sections": len(program.phases),
           "tiling": {"parts": t.parts, "groups": t.groups, "chain": t.chain, "blocks": t.blocks,
                      "rounds": t.rounds if t.psums == "ring" else len(t.sections)},
           "partial_sums": t.psums, "memory": program.memory.name,
           "pcus_used": program.pcus_used(), "pcus": pcus, "ideal_cycles": round(ideal), "model_cycles": model,
           "configuration_cycles": sum(program.reconfigurations), "source": source}
    if source == "rtl":
        run = run_program(program, check_inputs(graph, random_inputs(graph, seed)), harness="direct",
                          tag="bench-systolic")
        if not run.ok:
            raise AssertionError(f"GEMM {m} x {k} x {n} on {cfg.name}: {run.mismatches}")
        row["cycles"] = sum(p.cycles + p.reconfiguration for p in run.phases)
        row["model_error"] = round(model / row["cycles"] - 1, 4)
    else:
        row["cycles"] = model
    row["of_ideal"] = round(ideal / row["cycles"], 4)
    log(f"GEMM {m} x {k} x {n} on {cfg.name} ({source}, partial sums in {row['partial_sums']}, {row['memory']}, "
        f"{t.parts} parts of {t.groups} x {t.chain} links): "
        f"{row['cycles']} cycles, {row['sections']} sections on "
        f"{row['pcus_used']} of {pcus} PCUs, {100 * row['of_ideal']:.1f} % of the peak (ideal {round(ideal)})"
        + (f", cost model {model} ({100 * row['model_error']:+.1f} %)" if source == "rtl" else ""))
    return row
