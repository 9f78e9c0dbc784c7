"""What a sweep gives a person: a table (CSV and Markdown, one row per point and workload, refused and
failed ones with their reason) and plots (PNG): per workload the Pareto front of area (NAND2
equivalents by synthesis, with ``area``; else the array's multiply-add peak, lanes x stages x PCUs,
and the axis says so) against throughput, and the multiply-add utilisation against each varied
field. Drawn from the store alone (``rdagen sweep --report STORE``)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from rdagen.sim.paths import write_atomic

__all__ = ["table_rows", "pareto", "write_report"]

_COLUMNS = ("workload", "status", "cycles", "latency_us", "per_s", "per", "mac_utilization", "pcus_used", "pcus",
            "functional_units", "phases", "source", "rtl_cycles", "model_error", "rtl_skipped", "area_nand2",
            "area_cells", "area_memory_bits", "longest_path", "area_source", "per_s_per_mgate", "seconds", "reason")


def table_rows(rows: list[dict]) -> tuple[list[str], list[dict]]:
    """(columns, rows) of the table: the varied fields first, in the order they appear."""
    fields = list(dict.fromkeys(f for r in rows for f in r["point"]))
    out = []
    for r in rows:
        m = r["metrics"]
        out.append({**{f: r["point"].get(f, "") for f in fields}, "workload": r["workload"]["name"],
                    "status": r["status"], "reason": r["reason"], "seconds": r["seconds"],
                    **{c: m.get(c, "") for c in _COLUMNS if c in m}})
    return [*fields, *_COLUMNS], out


def pareto(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points (cost, value) that no other point beats: no other has cost <= and value >=
    with one of them strict. In order of cost."""
    front = []
    for i, (c, v) in enumerate(points):
        if not any((c2 <= c and v2 >= v) and (c2 < c or v2 > v) for j, (c2, v2) in enumerate(points) if j != i):
            front.append(i)
    return sorted(front, key=lambda i: points[i])


def write_report(rows: list[dict], out: Path) -> list[Path]:
    """results.csv, results.md, pareto.png and utilisation.png in *out*; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    columns, table = table_rows(rows)
    text = io.StringIO()
    writer = csv.DictWriter(text, columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(table)
    written = [write_atomic(out / "results.csv", text.getvalue())]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(r.get(c, "")) for c in columns) + " |" for r in table]
    written.append(write_atomic(out / "results.md", "\n".join(lines) + "\n"))
    written += _plots(rows, out)
    return written


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value).replace("|", "/")


def _plots(rows: list[dict], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in rows if r["status"] == "ok"]
    workloads = list(dict.fromkeys(r["workload"]["name"] for r in ok))
    if not workloads:
        return []
    written = []
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    fields = list(dict.fromkeys(f for r in ok for f in r["point"]))
    # One panel per workload, stacked, so that the front's labels (the point's values in the order of
    # *fields*) have the page's width.
    fig, axes = plt.subplots(len(workloads), 1, figsize=(8, 3.6 * len(workloads)), squeeze=False)
    for ax, name in zip(axes[:, 0], workloads):
        mine = [r for r in ok if r["workload"]["name"] == name]
        by_area = all("area_nand2" in r["metrics"] for r in mine)
        xy = [(r["metrics"]["area_nand2"] / 1e6 if by_area else r["metrics"]["functional_units"], r["metrics"]["per_s"])
              for r in mine]
        ax.scatter(*zip(*xy), s=18, color="0.6", label="points")
        front = pareto(xy)
        ax.plot([xy[i][0] for i in front], [xy[i][1] for i in front], "o-", color="C3", label="Pareto front")
        for i in front:
            ax.annotate(" / ".join(str(mine[i]["point"].get(f, "")) for f in fields), xy[i], fontsize=7,
                        textcoords="offset points", xytext=(4, -3))
        ax.set(title=f"{name}: front labelled {' / '.join(fields)}" if fields else name,
               xlabel="area (millions of NAND2 equivalents, synthesis)" if by_area else
               "multiply-add peak per cycle (lanes x stages x PCUs; no area measured)",
               ylabel=f"{mine[0]['metrics']['per']}/s (cost model)", xscale="log", yscale="log")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_locator(LogLocator(subs=(1, 2, 5)))
            axis.set_major_formatter(ScalarFormatter())
            axis.set_minor_formatter(NullFormatter())
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "pareto.png", dpi=120)
    plt.close(fig)
    written.append(out / "pareto.png")
    useful = [r for r in ok if r["metrics"].get("mac_utilization") is not None]
    if fields and useful:
        fig, axes = plt.subplots(1, len(fields), figsize=(4 * len(fields), 3.6), squeeze=False)
        for ax, field in zip(axes[0], fields):
            for n, name in enumerate(workloads):
                mine = [r for r in useful if r["workload"]["name"] == name]
                if mine:
                    ax.scatter([r["point"][field] for r in mine], [100 * r["metrics"]["mac_utilization"] for r in mine],
                               s=16, color=f"C{n}", label=name)
            ax.set(xlabel=field, ylabel="multiply-adds / peak (%)")
            ax.set_xticks(sorted({r["point"][field] for r in useful}))
        axes[0][0].legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "utilisation.png", dpi=120)
        plt.close(fig)
        written.append(out / "utilisation.png")
    return written
