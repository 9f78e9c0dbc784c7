"""Golden model of the whole array: interprets a bitstream functionally (values and order, no timing) by
composing the unit golden models along the routes the switch selects make.

The array is a Kahn process network: every unit is a deterministic function of its input streams whose
outputs only grow as its inputs grow. The model runs every configured unit's golden model on the
streams its inputs currently carry, hands the outputs along the routes (rtl/spec/array_layout.py
``connections``; a multicast gives every sink the whole stream), and repeats until no stream grows.
The result is what the RTL produces when every stream is consumed (no route backs up for good).

Streams: vector streams are (n, lanes) words, scalar streams words, control streams token counts.
Host ports use the names of the array top (``vsend__0``, ``ssend__1``, ``ag_cmd__0``, ``vrecv__1``,
...) and the formats of sim/array_run.py: a vector as one integer (lane 0 in the low bits), a command
as ``base | length << 32``, a token as 1.

DRAM: one word-addressed memory per AG row (each AG has its own AXI port). Reads see the memory as it
was before the run; writes are applied after it (the AG does not order reads against writes).

Refused, with an ArrayModelError naming the unit: a unit that fires without any input (its output
would be unbounded), a unit output that carries words but is routed nowhere, or routed to an input its
unit never reads, a PCU or PMU that takes fewer words from an input than the route sends it (the rest
would stay in the route or back it up and stall its source: timing this model does not have), a
network that does not settle. A bitstream that fails to decode, holds a unit word its encoder would
not write, or whose switch selects would lose or block words raises the BitstreamError of
rtl/spec/bitstream.py and rtl/spec/array_layout.py.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from rdagen.rtl.spec.ag_layout import AgMode
from rdagen.rtl.spec.ag_layout import decode as decode_ag
from rdagen.rtl.spec.array_layout import configuration_units, load, pack_vectors, unpack_vectors
from rdagen.rtl.spec.bitstream import Kind
from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.pcu_layout import FoldMode, ScaOut, VecOut
from rdagen.rtl.spec.pcu_layout import decode as decode_pcu
from rdagen.rtl.spec.pmu_layout import PmuMode
from rdagen.rtl.spec.pmu_layout import decode as decode_pmu

from .ag import run_ag, run_ag_writes
from .pcu import run_pcu
from .pmu import run_pmu

__all__ = ["ArrayModelError", "ArrayResult", "run_array"]

U32 = np.uint32
HOST_INPUTS = {"vsend": "vector", "ssend": "scalar", "csend": "control"}
HOST_OUTPUTS = {"vrecv": "vector", "srecv": "scalar", "crecv": "control"}


class ArrayModelError(ValueError):
    """A configuration the functional model cannot give a meaning to; the message names the unit."""


@dataclasses.dataclass
class ArrayResult:
    outputs: dict[str, list[int]]  # routed host output port -> its transfers
    dram: dict[int, dict[int, int]]  # AG row -> {word address: word} after the run's writes
    errors: int  # the sum of the units' error counters (the ``errors`` host register)
    done_tokens: int  # control tokens that reach the rows' ``done`` ports (the ``done`` host register)
    rounds: int  # passes over the units until no stream grew
    pmus: dict = dataclasses.field(default_factory=dict)  # (row, col) -> a PMU's scratchpad after the run


def _empty(cfg: ArrayConfig, network: str):
    return {"vector": np.zeros((0, cfg.lanes), U32), "scalar": np.zeros(0, U32), "control": 0}[network]


def _counters_enabled(view) -> bool:
    return any(int(counter.enable) for counter in view.counters)


def run_array(cfg: ArrayConfig, bitstream: bytes, sources: dict | None = None, dram: dict | None = None,
              max_rounds: int = 1000, max_firings: int = 1_000_000, pmus: dict | None = None) -> ArrayResult:
    """Run the array configured by *bitstream* on host *sources* ({port: transfers}) and *dram*
    ({AG row: {word address: words}}) until no stream grows, its PMUs' scratchpads holding *pmus*
    ({(row, col): words by address}; zeros where not given: a reset array) when it starts (a
    configuration swap keeps them: rtl/spec/config_port.py). A PCU or PMU that would fire
    *max_firings* times or more is refused (ArrayModelError) rather than cut short."""
    words, routes = load(cfg, bitstream)
    sources = dict(sources or {})
    L = cfg.lanes
    memory = {int(row): {} for row in range(cfg.rows)}
    for row, regions in (dram or {}).items():
        if not 0 <= int(row) < cfg.rows:
            raise ArrayModelError(f"DRAM given for AG row {row}; the array has rows 0..{cfg.rows - 1}")
        for base, values in regions.items():
            for i, w in enumerate(np.asarray(values, U32).ravel()):
                memory[int(row)][int(base) + i] = int(w)

    streams = {}  # source endpoint -> its stream
    for name, values in sources.items():
        port, _, row = name.partition("__")
        if not row.isdigit() or int(row) >= cfg.rows or port not in (*HOST_INPUTS, "ag_cmd", "ag_wcmd"):
            raise ArrayModelError(f"unknown host input {name!r}: valid are vsend__r, ssend__r, csend__r, "
                                  f"ag_cmd__r, ag_wcmd__r for rows r < {cfg.rows}")
        if port in HOST_INPUTS:
            endpoint = ("host", int(row), cfg.cols - 1, port, 0)
            streams[endpoint] = {"vector": lambda v: unpack_vectors(v, L), "scalar": lambda v: np.asarray(v, U32),
                                 "control": len}[HOST_INPUTS[port]](values)

    def stream_into(network, sink):
        source = routes[network].get(sink)
        return streams.get(source, _empty(cfg, network)) if source else _empty(cfg, network)

    units = [a for a in configuration_units(cfg) if a.kind != Kind.SWITCH and words.get(a, 0)]
    for address in units:
        _check_bounded(cfg, address, words[address])

    def commands(name):
        return [(int(v) & 0xFFFFFFFF, int(v) >> 32) for v in sources.get(name, [])]

    consumed = {}  # unit input endpoint -> words the unit takes from it (its last evaluation)
    scratchpads = dict(pmus or {})  # an unconfigured PMU keeps what it holds

    def evaluate(address, final=False):
        """{output endpoint: stream} of one unit on the current streams (and its error count)."""
        r, c = address.row, address.col
        if address.kind in (Kind.PCU, Kind.PMU):
            unit = address.kind.name.lower()
            vins = [stream_into("vector", (unit, r, c, "vin", k)) for k in range(cfg.vector_inputs)]
            sins = [stream_into("scalar", (unit, r, c, "sin", k)) for k in range(cfg.scalar_inputs)]
            tokens = stream_into("control", (unit, r, c, "ctrl_in", 0))
            if address.kind == Kind.PCU:
                out = run_pcu(cfg, words[address], vins, sins, start_tokens=tokens, max_firings=max_firings)
                firings = out.firings
                result = {(unit, r, c, "vout", k): v for k, v in enumerate(out.vout)}
                result.update({(unit, r, c, "sout", k): s for k, s in enumerate(out.sout)})
                errors = 0
            else:
                out = run_pmu(cfg, words[address], vins, sins, start_tokens=tokens, max_firings=max_firings,
                              memory=(pmus or {}).get((r, c)))
                scratchpads[(r, c)] = out.memory  # the last evaluation's: the whole run's
                firings = out.write_firings + out.read_firings
                result = {(unit, r, c, "vout", 0): out.vout, (unit, r, c, "sout", 0): out.sout}
                errors = out.errors
            if firings >= max_firings:
                raise ArrayModelError(f"{address} fires {max_firings} times or more: the model refuses rather than "
                                      f"cut the run short (raise max_firings for longer runs)")
            result[(unit, r, c, "ctrl_out", 0)] = out.done_tokens
            inputs = [("vin", k) for k in range(cfg.vector_inputs)] + [("sin", k) for k in range(cfg.scalar_inputs)]
            for (port, k), taken in zip([*inputs, ("ctrl_in", 0)], out.consumed):
                consumed[(unit, r, c, port, k)] = taken
            return result, errors
        # AG
        mode = AgMode(decode_ag(cfg, words[address]).mode)
        indices = stream_into("scalar", ("ag", r, 0, "idx", 0)) if mode == AgMode.GATHER else ()
        read = run_ag(cfg, words[address], memory[r], commands=commands(f"ag_cmd__{r}") if mode == AgMode.READ else (),
                      indices=indices)
        errors = read.errors
        if final:
            wdata = stream_into("vector", ("ag", r, 0, "wdata", 0))
            complete, need = [], 0
            for base, length in commands(f"ag_wcmd__{r}"):
                need += -(-length // L)
                if need > len(wdata):
                    break
                complete.append((base, length))
            wcmds = commands(f"ag_wcmd__{r}")
            if len(complete) < len(wcmds):
                raise ArrayModelError(f"{address}: its write commands take {need} or more vectors from wdata (command "
                                      f"{len(complete)} is short), the route brings {len(wdata)}: the write would "
                                      f"wait for ever")
            taken = sum(-(-n // L) for _, n in complete)
            consumed[("ag", r, 0, "wdata", 0)] = taken
            errors += run_ag_writes(cfg, memory[r], complete, wdata[:taken])
        return {("ag", r, 0, "rdata", 0): read.vectors}, errors

    def size(stream):
        return stream if isinstance(stream, int) else len(stream)

    for rounds in range(1, max_rounds + 1):
        grew = False
        for address in units:
            for endpoint, stream in evaluate(address)[0].items():
                grew |= size(stream) != (size(streams[endpoint]) if endpoint in streams else 0)
                streams[endpoint] = stream
        if not grew:
            break
    else:
        raise ArrayModelError(f"the array's streams still grow after {max_rounds} passes over its units "
                              f"(a feedback loop that never settles)")

    routed = {source for net in routes.values() for source in net.values()}
    errors = 0
    consumed.clear()
    for address in units:
        produced, unit_errors = evaluate(address, final=True)
        errors += unit_errors
        for endpoint, stream in produced.items():
            if endpoint[3] != "ctrl_out" and size(stream) and endpoint not in routed:
                raise ArrayModelError(f"{address}: its {endpoint[3]} {endpoint[4]} carries {size(stream)} words "
                                      f"but is routed nowhere (the unit would stall once its output FIFO fills)")
    for network, sinks in routes.items():
        for sink, source in sinks.items():
            stream = streams.get(source, _empty(cfg, network))
            if size(stream) and sink[0] != "host" and not _reads(cfg, words, sink):
                raise ArrayModelError(f"{network} route from {source} to {sink}: the unit never reads that input, "
                                      f"so the route backs up and stalls its source")
            if sink in consumed and consumed[sink] < size(stream):
                raise ArrayModelError(f"{network} route from {source} to {sink}: {size(stream)} words are sent, the "
                                      f"unit takes {consumed[sink]}; the rest would stay in the route or back it "
                                      f"up and stall its source, which this model does not time")
    outputs, done_tokens = {}, 0
    for network, sinks in routes.items():
        for sink, source in sinks.items():
            if sink[3] == "done":
                done_tokens += streams.get(source, 0)
            elif sink[0] == "host":
                stream = streams.get(source, _empty(cfg, network))
                name = f"{sink[3]}__{sink[1]}"
                outputs[name] = (pack_vectors(stream) if network == "vector" else
                                 [int(w) for w in stream] if network == "scalar" else [1] * stream)
    return ArrayResult(outputs=outputs, dram=memory, errors=errors, done_tokens=done_tokens, rounds=rounds,
                       pmus=scratchpads)


def _reads(cfg: ArrayConfig, words: dict, endpoint: tuple) -> bool:
    """Whether the unit at *endpoint* ever takes words from that input under its configuration."""
    unit, r, c, port, k = endpoint
    kind = {"pcu": Kind.PCU, "pmu": Kind.PMU, "ag": Kind.AG}[unit]
    word = words.get(next(a for a in configuration_units(cfg) if (a.kind, a.row, a.col) == (kind, r, c)), 0)
    if not word:
        return False
    if unit == "ag":
        return port == "wdata" or AgMode(decode_ag(cfg, word).mode) == AgMode.GATHER
    if unit == "pcu":
        v = decode_pcu(cfg, word)
        scalar_fold = int(v.acc.enable) and v.acc.fold_mode == FoldMode.SCALAR and int(v.acc.fold_scalar) == k
        weights = bool(int(v.weights.enable)) and int(v.weights.src) == k
        return {"vin": bool(int(v.fire.vin_required) >> k & 1) or weights,
                "sin": bool(int(v.fire.sin_required) >> k & 1) or bool(scalar_fold),
                "ctrl_in": bool(int(v.fire.wait_start)) and _counters_enabled(v)}[port]
    v = decode_pmu(cfg, word)
    ports = [p for p in (v.write, v.read) if int(p.enable)]
    return {"vin": any(int(p.vin_required) >> k & 1 for p in ports),
            "sin": any(int(p.sin_required) >> k & 1 for p in ports),
            "ctrl_in": any(int(p.wait_start) and _counters_enabled(p) for p in ports)}[port]


def _check_bounded(cfg: ArrayConfig, address, word: int) -> None:
    """Refuses a unit that fires without any input: its outputs would be unbounded streams."""
    if address.kind == Kind.PCU:
        c = decode_pcu(cfg, word)
        needs = (int(c.fire.vin_required) or int(c.fire.sin_required)
                 or (int(c.acc.enable) and c.acc.fold_mode == FoldMode.SCALAR)
                 or (int(c.fire.wait_start) and _counters_enabled(c)))
        produces = any(o.sel != VecOut.OFF for o in c.vout) or any(o.sel != ScaOut.OFF for o in c.sout)
        if not needs and (produces or _counters_enabled(c)):
            raise ArrayModelError(f"{address} fires without any input (no required input, no start token): "
                                  f"its outputs would be unbounded")
    elif address.kind == Kind.PMU:
        c = decode_pmu(cfg, word)
        # Outside mode none the read port only follows the write port's runs or vectors.
        for name in ("write", "read") if c.mode == PmuMode.NONE else ("write",):
            port = getattr(c, name)
            needs = (int(port.vin_required) or int(port.sin_required)
                     or (int(port.wait_start) and _counters_enabled(port)))
            if int(port.enable) and not needs:
                raise ArrayModelError(f"{address}: the {name} port fires without any input (no required input, "
                                      f"no start token): it would never stop")
