"""Benchmark of DLRM inference: a small model on the array of the configuration (default ``small``) on
the RTL (direct harness, every phase bit-exact against the golden array model, the probabilities
within the fp32 bound of the NumPy DLRM) at batch 1, 8 and 64, and the Criteo Kaggle model on
``plasticine`` by the cost model at the same batches, beside its lower bound, as the mapper chooses
(``--mlp-weights auto``) and with every MLP in one MLP phase, its weights resident in PMUs. Writes
bench/results/dlrm-<config>.json and a plot of latency and throughput against the batch size,
bench/results/dlrm-<config>.png.

Figures per batch: cycles (RTL, configuration loads included), latency and samples/s at 1 GHz, the
multiply-add utilisation (the MLPs' and the interaction's multiply-adds over cycles x the physical
peak: every PCU lane-stage one multiply-add per cycle), and for the projection the lower bound (DRAM
words over the AGs' bandwidth, the weights read once from the PMUs, the critical path, the
multiply-adds at the peak)."""

from __future__ import annotations

import time

from rdagen.mapper.apps.dlrm import KAGGLE, Arch, lower_bound, random_batch, reference_weights
from rdagen.rtl.spec.config import ArrayConfig, preset
from rdagen.sim.dlrm_run import GPU_REFERENCES, format_projection, format_results, project, run_batch

from .arith import RESULTS, write_result

__all__ = ["run"]

BATCHES = (1, 8, 64)
CLOCK_GHZ = 1.0


def rtl_model(cfg: ArrayConfig) -> Arch:
    """The model run on the RTL: D = lanes, three tables, bottom 13-32-D, top 16-1, dot, bags of 4."""
    return Arch(cfg.lanes, (1000, 2000, 500), (13, 32, cfg.lanes), (16, 1), "dot", 4)


def _plot(rtl: list[dict], projected: list[dict], resident: list[dict], cfg: ArrayConfig, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (lat, thr) = plt.subplots(1, 2, figsize=(11, 4.2))
    for rows, label, marker in ((rtl, f"small model on {cfg.name}, RTL", "o"),
                                (projected, "Criteo Kaggle on plasticine, cost model", "s"),
                                (resident, "the same, MLP weights resident (MLP phases)", "^")):
        b = [r["batch"] for r in rows]
        lat.plot(b, [r["latency_us"] for r in rows], marker=marker, label=label)
        thr.plot(b, [r["samples_per_second"] for r in rows], marker=marker, label=label)
    b = [r["batch"] for r in projected]
    lat.plot(b, [r["lower_bound"]["cycles"] / (CLOCK_GHZ * 1e3) for r in projected], "k--",
             label="Kaggle lower bound, plasticine")
    thr.plot(b, [r["batch"] / (r["lower_bound"]["cycles"] / (CLOCK_GHZ * 1e3)) * 1e6 for r in projected], "k--",
             label="Kaggle lower bound, plasticine")
    lat.axhline(855, color="tab:red", lw=0.8, label="V100 batch 1 (0.855 ms)")
    for ax, title, unit in ((lat, "latency per batch", "us"), (thr, "throughput", "samples/s")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("batch size")
        ax.set_ylabel(unit)
        ax.set_title(f"DLRM {title} at {CLOCK_GHZ:g} GHz")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
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
    started = time.perf_counter()
    projected, resident = (project(KAGGLE, plasticine, BATCHES, seed=seed, weight_seed=123, mlp_weights=choice,
                                   progress=lambda step: log(f"[dlrm] Kaggle projection ({choice} MLP weights): {step}"))
                           for choice in ("auto", "resident"))
    map_seconds = time.perf_counter() - started
    for r in projected + resident:
        r["latency_us"] = r["cycles"] / (CLOCK_GHZ * 1e3)
        r["samples_per_second"] = round(r["batch"] / r["cycles"] * CLOCK_GHZ * 1e9)
    log(format_projection(projected, CLOCK_GHZ))
    log("with every MLP resident in the PMUs of one MLP phase (--mlp-weights resident):")
    log(format_projection(resident, CLOCK_GHZ))
    png = RESULTS / f"dlrm-{cfg.name}.png"
    RESULTS.mkdir(parents=True, exist_ok=True)
    _plot(rtl, projected, resident, cfg, png)
    path = write_result("dlrm", cfg, {
        "clock_ghz": CLOCK_GHZ,
        "rtl_model": {"D": arch.sparse_feature_size, "tables": list(arch.embedding_sizes), "bottom": list(arch.mlp_bot),
                      "top": list(arch.top_layers), "interaction": arch.interaction, "lookups": arch.indices_per_lookup},
        "rtl": rtl, "kaggle_plasticine_projection": projected, "kaggle_plasticine_projection_resident": resident,
        "projection_map_seconds": round(map_seconds, 1),
        "gpu_references": list(GPU_REFERENCES), "plot": str(png)})
    log(f"[dlrm] wrote {path} and {png}")
    return {"rtl": rtl, "projection": projected}
