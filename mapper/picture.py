"""The placement picture of a program (``placement.png``): a panel per phase with the array's tiles,
each used unit labelled with its site name (the VCD scope, ``site_name``) and its role in the phase,
and every net drawn along the switch tracks it was routed on, read back from the phase's bitstream:
an arrow per hop in the direction the data flows, into the unit at each sink, a colour per network.

Each tile is drawn as its unit (a box, upper left) and its switches (a point, lower right) where the
tracks meet; parallel tracks and the three networks are drawn side by side so that none hides another.
"""

from __future__ import annotations

from pathlib import Path

from rdagen.rtl.spec.array_layout import local_counts, plan, site_name, switch_ports, tile_kind
from rdagen.rtl.spec.bitstream import Kind, decode
from rdagen.rtl.spec.switch_layout import DIRECTIONS, STEP, networks, selects

from rdagen.mapper.program import Program

__all__ = ["plot_placement", "hops"]

NETWORK_COLOURS = {"vector": "#1f77b4", "scalar": "#d62728", "control": "#2ca02c"}
UNIT_COLOURS = {"pcu": "#9ecae1", "pmu": "#a1d99b", "ag": "#fcae91", "host": "#cbc9e2"}
SWITCH = (0.28, -0.28)  # the switch point's offset from the tile centre
UNIT = (-0.12, 0.12)  # the unit box's centre offset
BOX = 0.5  # the unit box's side


def hops(cfg, bitstream: bytes) -> list[tuple[str, tuple, tuple]]:
    """The routed hops of a bitstream: (network, from, to), each end ("switch", r, c, direction,
    track) or a unit endpoint (kind, r, c, port, index) of ``switch_ports``."""
    found, nets = [], networks(cfg)
    for address, word in decode(plan(cfg), bitstream).items():
        if address.kind != Kind.SWITCH:
            continue
        r, c, t = address.row, address.col, nets[address.network].tracks
        ins, outs = switch_ports(cfg, address.network, r, c)
        for out, inp in selects(word, t, *local_counts(cfg, address.network)).items():
            if inp >= 4 * t:  # from a unit into this switch
                found.append((address.network, ins[inp - 4 * t], ("switch", r, c, None, 0)))
            if out < 4 * t:
                direction = DIRECTIONS[out // t]
                dr, dc = STEP[direction]
                found.append((address.network, ("switch", r, c, direction, out % t),
                              ("switch", r + dr, c + dc, direction, out % t)))
            else:
                found.append((address.network, ("switch", r, c, None, 0), outs[out - 4 * t]))
    return found


def _unit_xy(cfg, kind: str, r: int, c: int) -> tuple[float, float]:
    if kind == "ag":
        return -1.0, -r
    if kind == "host":
        return float(cfg.cols), -r
    return c + UNIT[0], -r + UNIT[1]


def _end_xy(cfg, end, network: str, tracks: int, hop_direction: str | None) -> tuple[float, float]:
    """Where a hop's end is drawn: a switch point shifted by network, direction and track, or a unit box."""
    kind, r, c, direction, track = end
    if kind != "switch":
        return _unit_xy(cfg, kind, r, c)
    x, y = c + SWITCH[0], -r + SWITCH[1]
    direction = direction or hop_direction
    if direction is None:
        return x, y
    # side by side: the networks, then the tracks, and the two directions of a link on either side
    lane = list(NETWORK_COLOURS).index(network) * (tracks + 1) + track + 1
    side = 1 if direction in ("east", "south") else -1
    shift = side * 0.035 * lane
    return (x, y + shift) if direction in ("east", "west") else (x + shift, y)


def plot_placement(program: Program, path: Path) -> None:
    """Writes the placement picture of *program* to *path* (module docstring)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch, Rectangle

    cfg = program.cfg
    n = len(program.phases)
    cols = min(n, 2)
    rows = -(-n // cols)
    scale = 1.25
    fig, axes = plt.subplots(rows, cols, figsize=(scale * cols * (cfg.cols + 2.4), scale * rows * (cfg.rows + 1.2) + 0.8),
                             squeeze=False)
    tracks = {name: net.tracks for name, net in networks(cfg).items()}
    for ax, placed in zip(axes.flat, program.phases):
        for r in range(cfg.rows):
            for c in range(cfg.cols):
                ax.add_patch(Rectangle((c - 0.47, -r - 0.47), 0.94, 0.94, fill=False, lw=0.4, ec="#bbbbbb",
                                       ls="-" if tile_kind(r, c) == "pcu" else ":"))
                ax.plot(c + SWITCH[0], -r + SWITCH[1], "s", ms=2, color="#777777")
        kinds = placed.placement.kinds
        prefix = placed.phase.name + "."
        for unit, (r, c) in placed.placement.sites.items():
            kind = kinds[unit]
            x, y = _unit_xy(cfg, kind, r, c)
            ax.add_patch(Rectangle((x - BOX / 2, y - BOX / 2), BOX, BOX, color=UNIT_COLOURS[kind], ec="#444444", lw=0.5))
            ax.text(x, y + 0.08, site_name(kind, r, c), ha="center", va="center", fontsize=5.5, weight="bold")
            ax.text(x, y - 0.1, unit.removeprefix(prefix), ha="center", va="center", fontsize=4.5)
        for network, start, end in hops(cfg, placed.bitstream):
            hop = start[3] if start[0] == "switch" else end[3]
            p0 = _end_xy(cfg, start, network, tracks[network], hop)
            p1 = _end_xy(cfg, end, network, tracks[network], hop)
            ax.add_patch(FancyArrowPatch(p0, p1, arrowstyle="-|>", mutation_scale=5, lw=0.7,
                                         color=NETWORK_COLOURS[network], shrinkA=0 if start[0] == "switch" else 9,
                                         shrinkB=2 if end[0] == "switch" else 9))
        used = placed.phase.units_used()
        ax.set_title(f"{placed.phase.name}: {used['pcu']} PCUs, {used['pmu']} PMUs, {used['ag']} AGs", fontsize=9)
        ax.set_xlim(-1.6, cfg.cols + 0.6)
        ax.set_ylim(-cfg.rows + 0.4, 0.6)
        ax.set_aspect("equal")
        ax.axis("off")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    legend = [Line2D([0], [0], color=colour, lw=1.5, label=f"{name} network") for name, colour in NETWORK_COLOURS.items()]
    fig.legend(handles=legend, loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.suptitle(f"{cfg.name}: AGs west, host rows east; units labelled site (VCD scope) and role; "
                 f"nets along their routed tracks", fontsize=9)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(path, dpi=160)
    plt.close(fig)
