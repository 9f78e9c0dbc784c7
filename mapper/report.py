"""The mapping report of a program: units used per kind and phase, track links used per network, the
cost model's cycles, the placement as a text grid of site names (the names of the VCD scopes:
``site_name``) with each unit's role, and the files ``rdagen map`` writes (bitstreams, report.json,
report.txt, placement.png: picture.py)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from rdagen.rtl.spec.array_layout import site_name

from rdagen.mapper.backend.place import sites
from rdagen.mapper.picture import plot_placement
from rdagen.mapper.program import Program

__all__ = ["describe_weights", "describe_tables", "describe_layers", "summary", "text_report", "write_outputs", "unit_sites"]


def describe_weights(program: Program) -> str:
    """Where the array takes each matmul weight from, by weight (a DLRM layer's as "bot_l.0") and phase."""
    by_where: dict[str, list[str]] = {}
    for weight, (where, phase) in program.weight_sources().items():
        by_where.setdefault(where, []).append(f"{weight.removesuffix('.weight^T')} ({phase})")
    return "; ".join(f"{where}: {', '.join(layers)}" for where, layers in by_where.items())


def describe_tables(program: Program) -> str:
    """What gathers each embedding table's rows, by what and phase (the first phase gathering it)."""
    first: dict[str, tuple[str, str]] = {}
    for p in program.phases:
        for table, where in p.phase.table_sources().items():
            first.setdefault(table, (where, p.phase.name))
    by_where: dict[tuple[str, str], list[str]] = {}
    for table, key in first.items():
        by_where.setdefault(key, []).append(table.removesuffix(".weight"))
    return "; ".join(f"{where} ({phase}): {', '.join(tables)}" for (where, phase), tables in by_where.items())


def describe_layers(program: Program) -> str:
    """The PCUs and PMUs of every layer of the phases of several (``Phase.layer_units``), by weight
    and the first phase computing it: how the array is shared among the layers."""
    first: dict[str, tuple[dict, str]] = {}
    for p in program.phases:
        for layer, units in p.phase.layer_units().items():
            first.setdefault(layer, (units, p.phase.name))
    return ", ".join(f"{layer.removesuffix('.weight^T')} {u['pcu']}/{u['pmu']} ({phase})"
                     for layer, (u, phase) in first.items())


def summary(program: Program) -> dict:
    cfg = program.cfg
    totals = {kind: len(sites(cfg, kind)) for kind in ("pcu", "pmu", "ag", "host")}
    phases = []
    for n, p in enumerate(program.phases):
        phases.append({
            "phase": n, "name": p.phase.name, "mode": p.phase.mode, "partial_sums": p.phase.partial_sums,
            "nodes": [program.graph.nodes[i].output for i in p.phase.nodes],
            "units": p.phase.units_used(), "layers": p.phase.layer_units(), "tracks": {net: list(t) for net, t in p.tracks.items()},
            "estimate_cycles": program.estimates[n], "ideal_cycles": program.ideals[n],
            "dram_bytes": program.traffic[n].bytes(cfg),
            "reconfiguration_cycles": program.reconfigurations[n], "bitstream_bytes": len(p.bitstream),
            "placement": {u: list(s) for u, s in p.placement.sites.items()}, "sites": unit_sites(p), "seed": p.seed,
            "wirelength": p.placement.wirelength})
    memory = program.memory
    return {"config": cfg.name, "config_hash": cfg.hash, "seed": program.seed, "schedule": program.schedule,
            "pipelined": program.pipelined, "available": totals,
            "memory": {"name": memory.name, "read_latency": memory.read_latency,
                       "bytes_per_cycle": memory.bytes_per_cycle},
            "phases": phases, "estimate_cycles": program.estimate_cycles(), "ideal_cycles": program.ideal_cycles(),
            "pcus_used": program.pcus_used(), "map_seconds": round(program.map_seconds, 3),
            "weights": {w: {"from": where, "phase": phase} for w, (where, phase) in program.weight_sources().items()}}


def text_report(program: Program) -> str:
    cfg, s = program.cfg, summary(program)
    avail = s["available"]
    w = max([12] + [len(p["name"]) for p in s["phases"]])  # phases that share a configuration: "a+b"
    lines = [f"{len(program.phases)} phase(s) on {cfg.name} ({cfg.rows}x{cfg.cols}, {cfg.lanes} lanes), schedule "
             f"{program.describe_schedule()}, seed {program.seed}, mapped in {program.map_seconds:.1f} s",
             f"{'phase':{w}} {'mode':8} {'nodes':24} {'PCU':>7} {'PMU':>7} {'AG':>6} {'host':>6} {'vector':>9} {'scalar':>9} "
             f"{'control':>9} {'reconfig':>8} {'estimate':>9} {'ideal':>8}"]
    for p in s["phases"]:
        u, t = p["units"], p["tracks"]
        links = {n: f"{t[n][0]}/{t[n][1]}" for n in ("vector", "scalar", "control")}
        lines.append(f"{p['name']:{w}} {p['mode'] or '-':8} {', '.join(p['nodes'])[:24]:24} {u['pcu']:>3}/{avail['pcu']:<3} "
                     f"{u['pmu']:>3}/{avail['pmu']:<3} {u['ag']:>2}/{avail['ag']:<3} {u['host']:>2}/{avail['host']:<3} "
                     f"{links['vector']:>9} {links['scalar']:>9} {links['control']:>9} {p['reconfiguration_cycles']:8d} "
                     f"{p['estimate_cycles']:9d} "
                     f"{p['ideal_cycles']:8d}")
    lines.append(f"cost model: {s['estimate_cycles']} cycles in all, {sum(program.reconfigurations)} of them loading "
                 f"configurations (reconfig: the units that change from the phase before; ideal {s['ideal_cycles']}) "
                 f"with DRAM {program.memory.describe()}; "
                 f"tracks: links used / links of the network; mode: how a matmul phase uses its PCUs (simd: a "
                 f"product per lane per cycle; systolic: lanes x stages multiply-adds per cycle)")
    if s["weights"]:
        lines.append(f"matmul weights: {describe_weights(program)}")
    if describe_layers(program):
        lines.append(f"layers' PCUs/PMUs: {describe_layers(program)}")
    sums = {p["name"]: p["partial_sums"] for p in s["phases"] if p["partial_sums"]}
    if sums:
        lines.append("systolic partial sums between K sections: " + "; ".join(
            f"{where}: {', '.join(n for n, w in sums.items() if w == kind)}"
            for kind, where in (("pmu", "in PMUs (two per chain)"), ("dram", "in DRAM"),
                                ("ring", "around a PMU FIFO per chain, one configuration"))
            if kind in sums.values()))
    lines.append("units by site: the site is the unit's VCD scope (TOP.rdagen_array.<site>; a host row's "
                 "streams are the array's ports <stream>__<row>)")
    for n, p in enumerate(program.phases):
        names = unit_sites(p)
        lines.append(f"\nphase {n} {p.phase.name}: AG | tiles (free PCU '.', free PMU ':') | host")
        lines.append(p.placement.grid(cfg, names))
        roles = [f"{site}={unit.partition('.')[2]}" for unit, site in
                 sorted(names.items(), key=lambda item: item[1])]
        lines += textwrap.wrap("roles: " + ", ".join(roles), 110, initial_indent="  ", subsequent_indent="    ")
    return "\n".join(lines)


def unit_sites(placed) -> dict[str, str]:
    """{unit of the phase: the site name it is placed at (``site_name``)}."""
    kinds = placed.placement.kinds
    return {u: site_name(kinds[u], r, c) for u, (r, c) in placed.placement.sites.items()}


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
