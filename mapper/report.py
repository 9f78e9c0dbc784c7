"""The mapping report of a program: units used per kind and phase, track links used per network, the
cost model's cycles, the placement as a text grid and as a PNG (matplotlib), and the files
``rdagen map`` writes (bitstreams, report.json, report.txt, placement.png)."""

from __future__ import annotations

import json
from pathlib import Path

from rdagen.rtl.spec.array_layout import tile_kind

from rdagen.mapper.backend.place import sites
from rdagen.mapper.program import Program

__all__ = ["describe_weights", "summary", "text_report", "write_outputs", "plot_placement"]


def describe_weights(program: Program) -> str:
    """Where the array takes each matmul weight from, by weight (a DLRM layer's as "bot_l.0") and phase."""
    by_where: dict[str, list[str]] = {}
    for weight, (where, phase) in program.weight_sources().items():
        by_where.setdefault(where, []).append(f"{weight.removesuffix('.weight^T')} ({phase})")
    return "; ".join(f"{where}: {', '.join(layers)}" for where, layers in by_where.items())


def summary(program: Program) -> dict:
    cfg = program.cfg
    totals = {kind: len(sites(cfg, kind)) for kind in ("pcu", "pmu", "ag", "host")}
    phases = []
    for n, p in enumerate(program.phases):
        phases.append({
            "phase": n, "name": p.phase.name, "nodes": [program.graph.nodes[i].output for i in p.phase.nodes],
            "units": p.phase.units_used(), "tracks": {net: list(t) for net, t in p.tracks.items()},
            "estimate_cycles": p.phase.estimate_cycles, "ideal_cycles": p.phase.ideal_cycles,
            "reconfiguration_cycles": program.reconfigurations[n], "bitstream_bytes": len(p.bitstream),
            "placement": {u: list(s) for u, s in p.placement.sites.items()}, "seed": p.seed,
            "wirelength": p.placement.wirelength})
    return {"config": cfg.name, "config_hash": cfg.hash, "seed": program.seed, "available": totals,
            "phases": phases, "estimate_cycles": program.estimate_cycles(), "ideal_cycles": program.ideal_cycles(),
            "pcus_used": program.pcus_used(), "map_seconds": round(program.map_seconds, 3),
            "weights": {w: {"from": where, "phase": phase} for w, (where, phase) in program.weight_sources().items()}}


def text_report(program: Program) -> str:
    cfg, s = program.cfg, summary(program)
    avail = s["available"]
    lines = [f"{len(program.phases)} phase(s) on {cfg.name} ({cfg.rows}x{cfg.cols}, {cfg.lanes} lanes), seed "
             f"{program.seed}, mapped in {program.map_seconds:.1f} s",
             f"{'phase':12} {'nodes':24} {'PCU':>7} {'PMU':>7} {'AG':>6} {'host':>6} {'vector':>9} {'scalar':>9} "
             f"{'control':>9} {'reconfig':>8} {'estimate':>9} {'ideal':>8}"]
    for p in s["phases"]:
        u, t = p["units"], p["tracks"]
        links = {n: f"{t[n][0]}/{t[n][1]}" for n in ("vector", "scalar", "control")}
        lines.append(f"{p['name']:12} {', '.join(p['nodes'])[:24]:24} {u['pcu']:>3}/{avail['pcu']:<3} "
                     f"{u['pmu']:>3}/{avail['pmu']:<3} {u['ag']:>2}/{avail['ag']:<3} {u['host']:>2}/{avail['host']:<3} "
                     f"{links['vector']:>9} {links['scalar']:>9} {links['control']:>9} {p['reconfiguration_cycles']:8d} "
                     f"{p['estimate_cycles']:9d} "
                     f"{p['ideal_cycles']:8d}")
    lines.append(f"cost model: {s['estimate_cycles']} cycles in all, {sum(program.reconfigurations)} of them loading "
                 f"configurations (reconfig: the units that change from the phase before; ideal {s['ideal_cycles']}); "
                 f"tracks: links used / links of the network")
    if s["weights"]:
        lines.append(f"matmul weights: {describe_weights(program)}")
    for n, p in enumerate(program.phases):
        prefix = p.phase.name + "."
        short = {u: u[len(prefix):] if u.startswith(prefix) else u for u in p.placement.sites}
        lines.append(f"\nphase {n} {p.phase.name}: AG | tiles (free PCU '.', free PMU ':') | host")
        lines.append(p.placement.grid(cfg, short))
    return "\n".join(lines)


def plot_placement(program: Program, path: Path) -> None:
    """One panel per phase: the tiles (PCU, PMU), AGs (west) and host rows (east), each used unit
    labelled and coloured by kind, and a line from every net's source to each sink."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfg = program.cfg
    n = len(program.phases)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols * (cfg.cols + 2) / 6, 4 * rows * cfg.rows / 5 + 0.6),
                             squeeze=False)
    colours = {"pcu": "#4c72b0", "pmu": "#55a868", "ag": "#c44e52", "host": "#8172b2"}

    def xy(kind, site):
        r, c = site
        return (-1 if kind == "ag" else cfg.cols if kind == "host" else c), -r

    for ax, placed in zip(axes.flat, program.phases):
        units, nets = placed.phase.netlist()
        kinds = {u.name: u.kind for u in units}
        s = placed.placement.sites
        for r in range(cfg.rows):
            for c in range(cfg.cols):
                ax.add_patch(plt.Rectangle((c - 0.4, -r - 0.4), 0.8, 0.8, fill=False, lw=0.5,
                                           ls="-" if tile_kind(r, c) == "pcu" else ":", ec="grey"))
        for net in nets:
            x0, y0 = xy(kinds[net.source], s[net.source])
            for sink in net.sinks:
                x1, y1 = xy(kinds[sink], s[sink])
                ax.plot([x0, x1], [y0, y1], lw=0.6, color="black", alpha=0.35)
        prefix = placed.phase.name + "."
        for name, kind in kinds.items():
            x, y = xy(kind, s[name])
            ax.add_patch(plt.Rectangle((x - 0.4, y - 0.4), 0.8, 0.8, color=colours[kind], alpha=0.8))
            ax.text(x, y, name.removeprefix(prefix), ha="center", va="center", fontsize=5, color="white")
        used = placed.phase.units_used()
        ax.set_title(f"{placed.phase.name}: {used['pcu']} PCUs, {used['pmu']} PMUs, {used['ag']} AGs", fontsize=8)
        ax.set_xlim(-1.6, cfg.cols + 0.6)
        ax.set_ylim(-cfg.rows + 0.4, 0.6)
        ax.set_aspect("equal")
        ax.axis("off")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle(f"{cfg.name}: AGs west, host rows east; PCU tiles solid, PMU tiles dotted", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


def write_outputs(program: Program, out: Path) -> list[Path]:
    """Writes the bitstreams, report.json, report.txt and placement.png into *out* (each through a
    temporary name, so nothing is half-written); returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for n, p in enumerate(program.phases):
        files[out / f"phase{n}-{p.phase.name}.bit"] = p.bitstream
    files[out / "report.json"] = json.dumps(summary(program), indent=1).encode()
    files[out / "report.txt"] = (text_report(program) + "\n").encode()
    written = []
    for path, data in files.items():
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        written.append(path)
    png = out / "placement.png"
    tmp = out / ".placement.tmp.png"
    plot_placement(program, tmp)
    tmp.replace(png)
    written.append(png)
    return written
