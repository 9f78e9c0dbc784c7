"""The array's topology: which unit sits where, which unit port meets which switch port, and the order
of the configuration units. This is a *spec* module: the RTL (rtl/array.py), the builder, the golden
array model and the mapper read it.

Topology
--------
* Tiles (r, c), r < rows, c < cols, in a checkerboard: a PCU where r + c is even, a PMU elsewhere.
* One switch per tile and network (vector, scalar, control). A tile's unit ports meet its own switch:
  unit outputs are switch local inputs, unit inputs are switch local outputs.
* An AG on the west edge of every row (at switch (r, 0)): ``rdata`` into the vector network,
  ``wdata`` out of it, row indices ``idx`` out of the scalar network. Its read and write commands come
  from the host (``ag_cmd[r]``, ``ag_wcmd[r]``) and its AXI4 port is ``m_axi[r]``.
* Host streams on the east edge of every row (at switch (r, cols - 1)): ``vsend``/``ssend``/``csend``
  into the vector, scalar and control networks, ``vrecv``/``srecv``/``crecv`` out of them, and
  ``done`` out of the control network: the array itself takes and counts the tokens that arrive
  there (the ``done`` host register; rtl/array.py).
* Every switch of a network has the same number of local ports (the most any switch needs); the
  ports a position does not use are tied off.

An endpoint is ``(unit, row, col, port, index)``: unit ``pcu``, ``pmu``, ``ag`` or ``host`` (for
``ag`` and ``host``, col is the switch column they attach to).
"""

from __future__ import annotations

import functools

import numpy as np
from amaranth import Shape
from amaranth.lib import data

from .ag_layout import AgConfigError, ag_layout
from .ag_layout import check as check_ag
from .bitstream import NETWORKS, Address, BitstreamError, Kind, Plan, decode
from .config import ArrayConfig
from .pcu_layout import PcuConfigError, pcu_layout
from .pcu_layout import check as check_pcu
from .pmu_layout import PmuConfigError, pmu_layout
from .pmu_layout import check as check_pmu
from .switch_layout import DIRECTIONS, OPPOSITE, STEP, networks, switch_layout

__all__ = ["tile_kind", "site_name", "unit_name", "switch_ports", "local_counts", "configuration_units", "unit_layout", "plan", "load", "Endpoint",
           "unit_words", "connections", "pack_vectors", "unpack_vectors"]

Endpoint = tuple  # (unit, row, col, port, index)


def tile_kind(r: int, c: int) -> str:
    return "pcu" if (r + c) % 2 == 0 else "pmu"


def site_name(kind: str, row: int, col: int = 0) -> str:
    """The one name of a unit site, used by the array's Verilog (its instance: the VCD scope), the
    mapper's reports, grids and pictures: ``pcu_R_C``, ``pmu_R_C``, ``ag_R``; a host row ``host_R``
    (not an instance: the array's ports ``vsend__R``, ``vrecv__R``, ...)."""
    return f"{kind}_{row}" if kind in ("ag", "host") else f"{kind}_{row}_{col}"


def unit_name(address: Address) -> str:
    """The instance name of a configured unit in the array's Verilog (``site_name``)."""
    return site_name(address.kind.name.lower(), address.row, address.col)


def _unit_ports(cfg: ArrayConfig, kind: str, network: str) -> tuple[list, list]:
    """(outputs, inputs) of a tile unit on *network*: (port, index) pairs."""
    if network == "vector":
        outs = cfg.vector_outputs if kind == "pcu" else 1
        return ([("vout", k) for k in range(outs)] if kind == "pcu" else [("vout", 0)],
                [("vin", k) for k in range(cfg.vector_inputs)])
    if network == "scalar":
        return ([("sout", k) for k in range(cfg.scalar_outputs)] if kind == "pcu" else [("sout", 0)],
                [("sin", k) for k in range(cfg.scalar_inputs)])
    return [("ctrl_out", 0)], [("ctrl_in", 0)]


_EDGE = {  # network -> (AG outputs into the switch, AG inputs from it, host sends, host receives)
    "vector": ([("rdata", 0)], [("wdata", 0)], [("vsend", 0)], [("vrecv", 0)]),
    "scalar": ([], [("idx", 0)], [("ssend", 0)], [("srecv", 0)]),
    "control": ([], [], [("csend", 0)], [("crecv", 0), ("done", 0)]),
}


def switch_ports(cfg: ArrayConfig, network: str, r: int, c: int) -> tuple[list, list]:
    """(local inputs, local outputs) of switch (r, c) on *network*, as endpoints, in port order."""
    if network not in NETWORKS:
        raise ValueError(f"unknown network {network!r}; valid: {', '.join(NETWORKS)}")
    kind = tile_kind(r, c)
    outs, ins = _unit_ports(cfg, kind, network)
    inputs = [(kind, r, c, p, k) for p, k in outs]
    outputs = [(kind, r, c, p, k) for p, k in ins]
    ag_out, ag_in, host_send, host_recv = _EDGE[network]
    if c == 0:
        inputs += [("ag", r, c, p, k) for p, k in ag_out]
        outputs += [("ag", r, c, p, k) for p, k in ag_in]
    if c == cfg.cols - 1:
        inputs += [("host", r, c, p, k) for p, k in host_send]
        outputs += [("host", r, c, p, k) for p, k in host_recv]
    return inputs, outputs


@functools.lru_cache(maxsize=64)
def local_counts(cfg: ArrayConfig, network: str) -> tuple[int, int]:
    """Local inputs and outputs of every switch of *network* (the most any position needs)."""
    counts = [tuple(map(len, switch_ports(cfg, network, r, c))) for r in range(cfg.rows) for c in range(cfg.cols)]
    return max(n for n, _ in counts), max(n for _, n in counts)


def configuration_units(cfg: ArrayConfig) -> list[Address]:
    """The configurable units in configuration-port order (their index is the port's unit id): tiles
    row by row, then the AGs by row, then the switches of each network row by row."""
    units = [Address(Kind.PCU if tile_kind(r, c) == "pcu" else Kind.PMU, r, c)
             for r in range(cfg.rows) for c in range(cfg.cols)]
    units += [Address(Kind.AG, r, 0) for r in range(cfg.rows)]
    units += [Address(Kind.SWITCH, r, c, n) for n in NETWORKS for r in range(cfg.rows) for c in range(cfg.cols)]
    return units


def unit_layout(cfg: ArrayConfig, address: Address):
    """The configuration layout of the unit at *address*."""
    if address.kind == Kind.PCU:
        return pcu_layout(cfg)
    if address.kind == Kind.PMU:
        return pmu_layout(cfg)
    if address.kind == Kind.AG:
        return ag_layout(cfg)
    return switch_layout(networks(cfg)[address.network].tracks, *local_counts(cfg, address.network))


def unit_words(cfg: ArrayConfig, address: Address) -> int:
    """32-bit configuration-port words that load the unit at *address* whole."""
    return -(-unit_layout(cfg, address).size // 32)


def check_units(cfg: ArrayConfig, words: dict) -> None:
    """Refuses, with a BitstreamError naming the unit and the field, a PCU, PMU or AG word that its
    encoder would not write (an operand beyond the configuration, an op code that names nothing, ...):
    the unit's own ``check``, the encoder's rules. All-zero words are unconfigured units."""
    checks = {Kind.PCU: (check_pcu, PcuConfigError), Kind.PMU: (check_pmu, PmuConfigError),
              Kind.AG: (check_ag, AgConfigError)}
    for address, word in sorted(words.items()):
        if address.kind in checks and word:
            check, error = checks[address.kind]
            try:
                check(cfg, word)
            except error as exc:
                raise BitstreamError(f"{address}: {exc}", "unit_field") from None


def load(cfg: ArrayConfig, bitstream: bytes) -> tuple[dict, dict]:
    """(words, connections) of a bitstream for the array of *cfg*, or a BitstreamError: the container
    (bitstream.decode), every unit word (``check_units``) and every switch select (``connections``)."""
    words = decode(plan(cfg), bitstream)
    check_units(cfg, words)
    return words, connections(cfg, words)


@functools.lru_cache(maxsize=16)
def plan(cfg: ArrayConfig) -> Plan:
    """The bitstream plan of the array of *cfg*: every configurable unit with its size in bits (made
    once per configuration: a large array has thousands of units; treat it as read-only)."""
    return Plan(cfg, {a: unit_layout(cfg, a).size for a in configuration_units(cfg)})


def connections(cfg: ArrayConfig, words: dict) -> dict[str, dict[Endpoint, Endpoint]]:
    """Per network, the source endpoint that feeds each receiving endpoint, traced through the switch
    selects of *words* ({Address: configuration word}, as ``bitstream.decode`` gives them).

    A switch configuration that would lose or block words is refused with a BitstreamError naming the
    switch and output: a select that names no input, an input beyond the grid's edge or a tied-off
    local port, a selected output that no switch or unit takes (words would stall there), an input
    that no route drives, or a loop of selects that no unit feeds."""
    result = {}
    for network in NETWORKS:
        tracks = networks(cfg)[network].tracks
        n_in, n_out = local_counts(cfg, network)
        directional = 4 * tracks
        width = Shape.cast(range(directional + n_in + 1)).width
        select = {}  # (r, c, output) -> input index
        for r in range(cfg.rows):
            for c in range(cfg.cols):
                word = words.get(Address(Kind.SWITCH, r, c, network), 0)
                for output in range(directional + n_out):
                    value = word >> (output * width) & ((1 << width) - 1)
                    if value:
                        select[(r, c, output)] = value - 1

        def where(r, c, output):
            if output < directional:
                return f"{network} switch ({r}, {c}) output {DIRECTIONS[output // tracks]} {output % tracks}"
            return f"{network} switch ({r}, {c}) local output {output - directional}"

        def driver(r, c, output):
            """The source endpoint or the upstream (r, c, output) of a selected output."""
            i = select[(r, c, output)]
            if i >= directional:
                inputs = switch_ports(cfg, network, r, c)[0]
                if i - directional >= len(inputs):
                    what = "is a tied-off local port" if i < directional + n_in else "does not exist"
                    raise BitstreamError(f"{where(r, c, output)} selects input {i + 1}, which {what}", "select_range")
                return inputs[i - directional]
            direction, track = DIRECTIONS[i // tracks], i % tracks
            dr, dc = STEP[direction]
            nr, nc = r + dr, c + dc
            if not (0 <= nr < cfg.rows and 0 <= nc < cfg.cols):
                raise BitstreamError(f"{where(r, c, output)} selects its {direction} input, beyond the array's edge",
                                     "beyond_edge")
            upstream = (nr, nc, DIRECTIONS.index(OPPOSITE[direction]) * tracks + track)
            if upstream not in select:
                raise BitstreamError(f"{where(r, c, output)} selects its {direction} input {track}, which no "
                                     f"route drives", "undriven_input")
            return upstream

        taken = {}  # (r, c, output) of a direction output -> whether the neighbour selects its link
        for (r, c, i) in list(select):
            driver(r, c, i)  # validates every select
        for (r, c, i), value in select.items():
            if value < directional:
                dr, dc = STEP[DIRECTIONS[value // tracks]]
                taken[(r + dr, c + dc, DIRECTIONS.index(OPPOSITE[DIRECTIONS[value // tracks]]) * tracks
                       + value % tracks)] = True
        sinks, reached = {}, set()
        for (r, c, output) in select:
            if output < directional:
                if (r, c, output) not in taken:
                    raise BitstreamError(f"{where(r, c, output)} is selected but no switch takes its words",
                                         "unconsumed_output")
                continue
            outputs = switch_ports(cfg, network, r, c)[1]
            if output - directional >= len(outputs):
                raise BitstreamError(f"{where(r, c, output)} is selected but the port is tied off", "tied_off_output")
            at, seen = (r, c, output), set()
            while len(at) == 3:
                if at in seen:
                    raise BitstreamError(f"{where(*at)} is part of a loop of selects that no unit feeds",
                                         "select_loop")
                seen.add(at)
                at = driver(*at)
            reached |= seen
            sinks[outputs[output - directional]] = at
        for at in select:
            if at not in reached:
                raise BitstreamError(f"{where(*at)} is selected but its words reach no unit (a loop of selects)",
                                     "select_loop")
        result[network] = sinks
    return result


def pack_vectors(vectors) -> list[int]:
    """(n, lanes) words -> n vector-port payloads (lane 0 in the low bits): the format of every vector
    stream the host or a test drives or reads."""
    return [int.from_bytes(np.asarray(v, "<u4").tobytes(), "little") for v in vectors]


def unpack_vectors(values, lanes: int) -> np.ndarray:
    """n vector-port payloads -> (n, lanes) words."""
    raw = b"".join(int(v).to_bytes(4 * lanes, "little") for v in values)
    return np.frombuffer(raw, "<u4").reshape(-1, lanes).astype(np.uint32)
