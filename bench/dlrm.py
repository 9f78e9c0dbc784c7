"""Benchmark of DLRM inference: a small model on the array of the configuration (default ``small``) on
the RTL (direct harness, every phase bit-exact against the golden array model, the probabilities
within the fp32 bound of the NumPy DLRM) at batch 1, 8 and 64; and the Criteo Kaggle and MLPerf
Terabyte models on ``plasticine`` by the cost model at batch 1 to 64, beside their lower bounds, in
the two schedules (mapper/program.py SCHEDULES): ``phases``, each batch a program of its own, kernel
by kernel; ``spatial``, 4 batches pipelined through one program (phases side by side where they fit,
the MLP weights loaded once and kept resident in PMUs where that is cheaper). Per batch: the latency
is a steady batch's span (its first phase's start to its last's end, a batch after the first), the
throughput the program's batches over its cycles. Writes
bench/results/dlrm-<config>.json and a plot of latency and throughput against the batch size,
bench/results/dlrm-<config>.png, with NVIDIA's published Triton figures for the Terabyte model.

Figures per batch: cycles (RTL, configuration loads included), latency and samples/s at 1 GHz, the
multiply-add utilisation (the MLPs' and the interaction's multiply-adds over cycles x the physical
peak: every PCU lane-stage one multiply-add per cycle), and for the projections the lower bound (DRAM
words over the AGs' bandwidth, the weights read once from the PMUs, the critical path, the
multiply-adds at the peak)."""

from __future__ import annotations

import time

from rdagen.mapper.apps.dlrm import MODELS, Arch, lower_bound, random_batch, reference_weights
from rdagen.rtl.spec.config import ArrayConfig, preset
from rdagen.sim.dlrm_run import GPU_REFERENCES, format_projection, format_results, project, run_batch

from .arith import RESULTS, write_result

__all__ = ["run"]

BATCHES = (1, 8, 64)
PROJECTED_BATCHES = (1, 4, 8, 16, 64)
PROGRAM_BATCHES = 4  # batches through one program in the spatial projection
SCHEDULE_RUNS = (("phases", 1, False), ("spatial", PROGRAM_BATCHES, True))
"""(schedule, batches per program, pipelined) of each projection."""
CLOCK_GHZ = 1.0
TRITON_V100_MS = {1: 0.855, 8: 0.943, 64: 1.214}
"""NVIDIA DeepLearningExamples, DLRM on Triton (the MLPerf Terabyte model, V100 32 GB, TorchScript fp32):
median end-to-end latency per request batch, client to server and back."""


def rtl_model(cfg: ArrayConfig) -> Arch:
    """The model run on the RTL: D = lanes, three tables, bottom 13-32-D, top 16-1, dot, bags of 4."""
    return Arch(cfg.lanes, (1000, 2000, 500), (13, 32, cfg.lanes), (16, 1), "dot", 4)


def _plot(rtl: list[dict], projections: dict, cfg: ArrayConfig, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (lat, thr) = plt.subplots(1, 2, figsize=(12, 4.6))
    series = [(rtl, f"small model on {cfg.name}, RTL", "o", "tab:gray", "-")]
    for (model, schedule), rows in projections.items():
        colour = "tab:blue" if model == "kaggle" else "tab:green"
        label = f"{model} on plasticine, " + ("phases schedule (a program per batch)" if schedule == "phases" else
                                              f"spatial schedule ({PROGRAM_BATCHES} batches pipelined per program)")
        series.append((rows, label, "s" if schedule == "phases" else "^", colour, "-" if schedule == "phases" else "--"))
    for rows, label, marker, colour, style in series:
        b = [r["batch"] for r in rows]
        lat.plot(b, [r["latency_us"] for r in rows], marker=marker, color=colour, ls=style, label=label)
        thr.plot(b, [r["samples_per_second"] for r in rows], marker=marker, color=colour, ls=style, label=label)
    for model, colour in (("kaggle", "tab:blue"), ("terabyte", "tab:green")):
        rows = projections[(model, "phases")]
        b = [r["batch"] for r in rows]
        cycles = [r["lower_bound"]["cycles"] for r in rows]
        lat.plot(b, [c / (CLOCK_GHZ * 1e3) for c in cycles], ":", color=colour, label=f"{model} lower bound")
        thr.plot(b, [n / c * CLOCK_GHZ * 1e9 for n, c in zip(b, cycles)], ":", color=colour, label=f"{model} lower bound")
    b = sorted(TRITON_V100_MS)
    lat.plot(b, [TRITON_V100_MS[n] * 1e3 for n in b], "x-", color="tab:red", label="terabyte, V100 Triton (published)")
    thr.plot(b, [n / TRITON_V100_MS[n] * 1e3 for n in b], "x-", color="tab:red", label="terabyte, V100 Triton (published)")
    for ax, title, unit in ((lat, "latency per batch", "us"), (thr, "throughput", "samples/s")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("batch size")
        ax.set_ylabel(unit)
        ax.set_title(f"DLRM {title} at {CLOCK_GHZ:g} GHz")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(cfg: ArrayConfig, *, seed: int = 1, log=print) -> dict:
    arch = rtl_model(cfg)
    weights = reference_weights(arch, 123)
    results, rtl = [], []
    for n, b in enumerate(BATCHES):
        started = time.perf_counter()
        r = run_batch(arch, weights, random_batch(arch, b, seed + n, fixed=True), cfg, harness="direct", seed=seed,
                      index=n, progress=lambda step: log(f"[dlrm] batch {b}: {step}"))
        if not r.ok:
            raise AssertionError(f"DLRM batch {b} on {cfg.name} failed: {r.mismatches}")
        results.append(r)
        bound = lower_bound(arch, cfg, b, arch.indices_per_lookup)
        rtl.append({"batch": b, "phases": r.phases, "cycles": r.cycles, "estimate": r.estimate,
                    "reconfiguration_cycles": r.reconfiguration,
                    "latency_us": r.cycles / (CLOCK_GHZ * 1e3), "samples_per_second": round(b / r.cycles * CLOCK_GHZ * 1e9),
                    "mac_utilization": round(bound.utilization(r.cycles), 5),
                    "pcus_used": r.pcus_used, "pcus": r.pcus, "max_error": r.max_error, "bound": r.bound,
                    "weights": r.weights,
                    "seconds": round(time.perf_counter() - started, 1)})
    log(format_results(results, CLOCK_GHZ))
    plasticine = preset("plasticine")
    projections, seconds = {}, {}
    for model in ("kaggle", "terabyte"):
        for schedule, batches, pipelined in SCHEDULE_RUNS:
            started = time.perf_counter()
            rows = project(MODELS[model], plasticine, PROJECTED_BATCHES, seed=seed, weight_seed=123, num_batches=batches,
                           pipelined=pipelined, schedule=schedule,
                           progress=lambda step: log(f"[dlrm] {model} projection ({schedule}): {step}"))
            seconds[f"{model}, {schedule}"] = round(time.perf_counter() - started, 1)
            for r in rows:
                steady = r["batch_cycles"][-2] if batches > 1 else r["batch_cycles"][0]
                r["latency_us"] = steady / (CLOCK_GHZ * 1e3)
                r["samples_per_second"] = round(r["batch"] / r["cycles"] * CLOCK_GHZ * 1e9)
            log(f"{model} on plasticine, {schedule} schedule, {batches} batch(es) per program:")
            log(format_projection(rows, CLOCK_GHZ))
            projections[(model, schedule)] = rows
    png = RESULTS / f"dlrm-{cfg.name}.png"
    RESULTS.mkdir(parents=True, exist_ok=True)
    _plot(rtl, projections, cfg, png)
    path = write_result("dlrm", cfg, {
        "clock_ghz": CLOCK_GHZ,
        "rtl_model": {"D": arch.sparse_feature_size, "tables": list(arch.embedding_sizes), "bottom": list(arch.mlp_bot),
                      "top": list(arch.top_layers), "interaction": arch.interaction, "lookups": arch.indices_per_lookup},
        "rtl": rtl,
        "projections": [{"model": model, "schedule": schedule, "batches_per_program": rows[0]["batches"], "rows": rows}
                        for (model, schedule), rows in projections.items()],
        "projection_seconds": seconds,
        "gpu_references": list(GPU_REFERENCES), "triton_v100_ms": TRITON_V100_MS, "plot": str(png)})
    log(f"[dlrm] wrote {path} and {png}")
    return {"rtl": rtl, "projections": projections}
