"""PMU configuration: the one layout that the RTL (rtl/pmu.py) decodes, the golden model
(verif/golden/pmu.py) interprets and the mapper encodes, and a validating encoder.

This is a *spec* module (no implementation).

Semantics (the contract of rtl/pmu.py and verif/golden/pmu.py)
---------------------------------------------------------------
Storage. ``lanes`` banks of ``pmu_depth`` words: W = lanes * pmu_depth words. Word address p lives in
bank ``p mod lanes``, row ``p div lanes``, so a vector of consecutive words hits every bank once. The
scratchpad starts as zeros after power-up; reset does not clear it.

Ports. A *write port* and a *read port*, each enabled by configuration, each with its own counter chain
(the chain semantics of rtl/counters.py) and firing rule: a port fires when every input it requires has
a head (and, with ``wait_start``, a start token was taken from ``ctrl_in`` for the current counter run).
Inputs are popped by level as in the PCU (``pop_level`` k: when counters 0 .. k-1 all wrap). An input
may be required by one port only. Only one port may wait for start tokens.

Addresses. A firing is one *access* of ``lanes`` lane requests. Lane i's word address comes from the
port's address pipeline: ``pmu_stages`` stages, each one int op of the op table (class ``int``) in every
lane on two address registers per lane that enter as zeros. Operand sources: ``reg`` r, ``vin`` k (lane
i's word of vector input k's head: per-lane addresses, gather and scatter), ``sin`` k (broadcast),
``ctr`` k (broadcast), ``lane`` (i), ``const``. The address is register 0 after the last stage. A
``scalar`` port performs lane 0 only.

Write data: lane i writes lane i's word of vector input k (``data`` vin k) or the head of scalar input k
(``data`` sin k, broadcast). Read results: the vector output carries all lanes (lanes not performed
read as 0), the scalar output lane 0; each is enabled on its own.

Modes (the order of the two ports):
* ``none``: the ports run independently; addresses in [0, W). Which port reaches a word first depends
  on timing, unless the traffic rules it out.
* ``buffer``: one buffer handed back and forth. Read run k starts after write run k has completed; write
  run k+1 starts after read run k has completed. Addresses in [0, W).
* ``double``: two buffers of W/2 words (rows [0, D/2) and [D/2, D)). Write run k fills buffer k mod 2;
  read run k reads buffer k mod 2 after write run k has completed; write run k+2 waits for read run k.
  Addresses in [0, W/2); the buffer offset is added by the PMU. So the writer fills one buffer while the
  reader drains the other, and each completed run swaps them.
* ``fifo``: the address pipeline is unused. A write firing appends a vector at the tail (row
  ``n mod pmu_depth`` for the n-th), a read firing takes the vector at the head; writes wait for room
  (``pmu_depth`` vectors), reads for data. With ``fifo_fill`` f the FIFO starts holding f vectors, rows
  0 .. f-1 as the scratchpad has them (the n-th write goes to row ``(f + n) mod pmu_depth``): a ring of
  partial sums whose first reader zeroes its first round (the PCU's ``vin_zero_first``) begins with f
  vectors to drain, and leaves f for the next run.
In ``buffer`` and ``double`` both ports must have enabled counters (a run is a full counter run).

Bank conflicts. The lanes of an access are served by bank, lowest lane first, one lane per bank per
cycle: an access occupies its port for max over banks of (lanes on that bank) cycles, at least 1. The
port's conflict counter (``write_conflicts``/``read_conflicts``) adds that number minus one. Lanes that
write the same word in one access write in lane order, so the highest lane's data stays.

Out-of-range addresses. A lane whose address (unsigned) is not below the mode's range is not performed:
its write is dropped, its read gives 0; ``errors`` counts such lanes. Nothing else changes. A write
port with ``window`` drops them without counting: it takes its window of a stream that carries other
units' words too (several PMUs on one multicast stream, each writing its own part: addresses
``position - base`` are out of range before the part).

Read during write. When the two ports access the same word in the same cycle, the read returns the
word as it was before the write (read-first).

Control output. One token per completed run (every access for ``fifo``) of the port ``done_port``.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

from amaranth import unsigned
from amaranth.lib import data, enum

from .config import ArrayConfig
from .layout_fields import check_round_trip, fields_of
from .ops import OP_BY_NAME, Op
from .pcu_layout import (Counter, Operand, Src, Stage, check_counters, check_word, counter_fields, counter_layout,
                         bits_set, counter_of, enum_name, operand_of, operand_layout, pop_levels, stage_of)

__all__ = ["PmuMode", "MODES", "DonePort", "ADDRESS_REGISTERS", "ADDRESS_OPS", "pmu_layout", "AddressStage", "Port",
           "PmuProgram", "PmuConfigError", "decode", "program_of", "check"]

ADDRESS_REGISTERS = 2
"""Address registers per lane in a PMU port's address pipeline."""

ADDRESS_OPS = tuple(name for name, info in OP_BY_NAME.items() if info.op_class.name == "int")
"""Ops an address stage can perform (the integer ALU class of the op table)."""


class PmuMode(enum.Enum, shape=unsigned(2)):
    NONE = 0
    BUFFER = 1
    DOUBLE = 2
    FIFO = 3


class DonePort(enum.Enum, shape=unsigned(1)):
    WRITE = 0
    READ = 1


def pmu_layout(cfg: ArrayConfig) -> data.StructLayout:
    """The configuration layout of a PMU of *cfg*."""
    operand = operand_layout(cfg, ADDRESS_REGISTERS)
    stage = data.StructLayout({"op": Op, "a": operand, "b": operand, "c": operand,
                               "dst": range(ADDRESS_REGISTERS), "const": 32})
    level = range(max(2, cfg.counters + 1))
    port = {
        "enable": 1,
        "scalar": 1,
        "stages": data.ArrayLayout(stage, cfg.pmu_stages),
        "counters": data.ArrayLayout(counter_layout(), cfg.counters),
        "vin_required": cfg.vector_inputs,
        "sin_required": cfg.scalar_inputs,
        "vin_pop_level": data.ArrayLayout(level, cfg.vector_inputs),
        "sin_pop_level": data.ArrayLayout(level, cfg.scalar_inputs),
        "wait_start": 1,
    }
    return data.StructLayout({
        "mode": PmuMode,
        "write": data.StructLayout({**port, "data": operand, "window": 1}),
        "read": data.StructLayout({**port, "vout": 1, "sout": 1}),
        "done_port": DonePort,
        "fifo_fill": range(cfg.pmu_depth + 1),
    })


class PmuConfigError(ValueError):
    """An invalid PMU configuration; the message names the port, stage or field."""


AddressStage = Stage
"""An address stage has the fields of a PCU stage (op, operands a/b/c, dst, const); only int ops."""


@dataclasses.dataclass(frozen=True)
class Port:
    """One PMU port by named fields. ``data`` (write port only) is ``vin(k)`` or ``sin(k)``."""
    stages: Sequence[AddressStage] = ()
    counters: Sequence[Counter | None] = ()
    vin_required: Sequence[int] = ()
    sin_required: Sequence[int] = ()
    vin_pop_level: dict[int, int] = dataclasses.field(default_factory=dict)
    sin_pop_level: dict[int, int] = dataclasses.field(default_factory=dict)
    wait_start: bool = False
    scalar: bool = False
    data: Operand | None = None
    vout: bool = True
    sout: bool = False
    window: bool = False  # write port only: out-of-range lanes are dropped without counting an error


MODES = ("none", "buffer", "double", "fifo")


@dataclasses.dataclass(frozen=True)
class PmuProgram:
    """A PMU configuration by named fields. ``encode(cfg)`` validates it and returns the bits."""
    write: Port | None = None
    read: Port | None = None
    mode: str = "none"
    done_port: str = "read"
    fifo_fill: int = 0  # fifo mode: vectors the FIFO holds when it starts

    def validate(self, cfg: ArrayConfig) -> None:
        _validate(self, cfg)

    def encode(self, cfg: ArrayConfig) -> int:
        _validate(self, cfg)
        return pmu_layout(cfg).const(_fields(self, cfg)).as_bits()


def _fail(where: str, field: str, message: str):
    raise PmuConfigError(f"PMU {where}, field '{field}': {message}")


_SOURCES = {"reg": ("address registers", ADDRESS_REGISTERS), "vin": ("vector_inputs", None),
            "sin": ("scalar_inputs", None), "ctr": ("counters", None)}


def _validate_port(name: str, p: Port, cfg: ArrayConfig, mode: str) -> None:
    where = f"{name} port"
    if len(p.stages) > cfg.pmu_stages:
        _fail(where, "stages", f"{len(p.stages)} stages given, the address pipeline has {cfg.pmu_stages}")
    if len(p.counters) > cfg.counters:
        _fail(where, "counters", f"{len(p.counters)} counters given, the PMU has {cfg.counters}")
    for field, given, limit in (("vin_required", p.vin_required, cfg.vector_inputs),
                                ("sin_required", p.sin_required, cfg.scalar_inputs)):
        for k in given:
            if not isinstance(k, int) or not 0 <= k < limit:
                _fail(where, field, f"input {k!r} does not exist (the PMU has {limit})")
    for field, levels, required in (("vin_pop_level", p.vin_pop_level, p.vin_required),
                                    ("sin_pop_level", p.sin_pop_level, p.sin_required)):
        for k, level in levels.items():
            if k not in required:
                _fail(where, field, f"input {k} has a pop level but is not required")
            if not isinstance(level, int) or not 0 <= level <= cfg.counters:
                _fail(where, field, f"level {level!r} of input {k} is not in [0, {cfg.counters}]")
    enabled = check_counters(_fail, f"{where} ", p.counters)

    def check_operand(stage_where, slot, operand):
        if operand.src in _SOURCES:
            what, limit = _SOURCES[operand.src]
            limit = limit or getattr(cfg, what)
            if not isinstance(operand.index, int) or not 0 <= operand.index < limit:
                _fail(stage_where, slot, f"{operand.src} {operand.index!r} does not exist ({what}: {limit})")
            if operand.src == "vin" and operand.index not in p.vin_required:
                _fail(stage_where, slot, f"reads vector input {operand.index}, which the firing rule does not require")
            if operand.src == "sin" and operand.index not in p.sin_required:
                _fail(stage_where, slot, f"reads scalar input {operand.index}, which the firing rule does not require")
            if operand.src == "ctr" and operand.index not in enabled:
                _fail(stage_where, slot, f"reads counter {operand.index}, which is not enabled")
        elif operand.src not in ("lane", "const"):
            _fail(stage_where, slot, f"unknown operand source {operand.src!r}; valid: reg, vin, sin, ctr, lane, const")

    for s, stage in enumerate(p.stages):
        stage_where = f"{where} stage {s}"
        if stage.op not in ADDRESS_OPS:
            _fail(stage_where, "op", f"{stage.op!r} is not an address op; valid: {', '.join(ADDRESS_OPS)}")
        if not isinstance(stage.dst, int) or not 0 <= stage.dst < ADDRESS_REGISTERS:
            _fail(stage_where, "dst", f"register {stage.dst!r} does not exist (registers 0..{ADDRESS_REGISTERS - 1})")
        check_word(_fail, stage_where, "const", stage.const)
        for slot in "abc"[: OP_BY_NAME[stage.op].arity]:
            check_operand(stage_where, slot, getattr(stage, slot))
    if name == "write":
        if p.data is None or p.data.src not in ("vin", "sin"):
            _fail(where, "data", f"{p.data!r}: the write data must come from vin(k) or sin(k)")
        check_operand(where, "data", p.data)
    elif not (p.vout or p.sout):
        _fail(where, "vout/sout", "neither the vector nor the scalar output is enabled")
    if name == "read" and p.window:
        _fail(where, "window", "only a write port takes a window of its stream (a read out of range gives 0 "
                               "and counts an error)")
    if mode in ("buffer", "double") and not enabled:
        _fail(where, "counters", f"mode {mode!r} hands buffers over per counter run: enable a counter")
    if mode == "fifo" and p.scalar:
        _fail(where, "scalar", "a FIFO moves whole vectors")
    paced = name == "read" and mode != "none"  # the mode's order paces the reader by the writer
    if not paced and not p.vin_required and not p.sin_required and not (enabled and p.wait_start):
        _fail(where, "vin_required/sin_required", "no input is required and no counter run waits for a start "
                                                  "token: the port would fire without end")


def _validate(p: PmuProgram, cfg: ArrayConfig) -> None:
    if p.mode not in MODES:
        _fail("configuration", "mode", f"unknown mode {p.mode!r}; valid: {', '.join(MODES)}")
    if p.done_port not in ("write", "read"):
        _fail("configuration", "done_port", f"{p.done_port!r} is not 'write' or 'read'")
    if p.write is None and p.read is None:
        _fail("configuration", "write/read", "no port is enabled: the PMU would do nothing")
    if p.mode != "none" and (p.write is None or p.read is None):
        _fail("configuration", "mode", f"mode {p.mode!r} orders a write port and a read port: enable both")
    if not isinstance(p.fifo_fill, int) or not 0 <= p.fifo_fill <= cfg.pmu_depth:
        _fail("configuration", "fifo_fill", f"{p.fifo_fill!r} is not in [0, {cfg.pmu_depth}] (vectors of the FIFO)")
    if p.fifo_fill and p.mode != "fifo":
        _fail("configuration", "fifo_fill", f"{p.fifo_fill} vectors to start with: only a FIFO (mode 'fifo') starts "
                                            f"filled; the mode is {p.mode!r}")
    if p.mode == "double" and cfg.pmu_depth < 2:
        _fail("configuration", "mode", "double buffering needs at least 2 rows")
    for name, port in (("write", p.write), ("read", p.read)):
        if port is not None:
            _validate_port(name, port, cfg, p.mode)
    if p.write is not None and p.read is not None:
        for kind in ("vin", "sin"):
            shared = set(getattr(p.write, f"{kind}_required")) & set(getattr(p.read, f"{kind}_required"))
            if shared:
                _fail("configuration", f"{kind}_required", f"input {kind} {min(shared)} is required by both ports; "
                                                           f"an input feeds one port")
        if p.write.wait_start and p.read.wait_start:
            _fail("configuration", "wait_start", "both ports wait for start tokens; ctrl_in feeds one port")


def _operand(o: Operand) -> dict:
    return {"src": Src[o.src.upper()], "index": o.index}


def _port_fields(p: Port | None, cfg: ArrayConfig) -> dict:
    p = p or Port()
    stages = list(p.stages) + [AddressStage()] * (cfg.pmu_stages - len(p.stages))
    counters = list(p.counters) + [None] * (cfg.counters - len(p.counters))
    return {
        "scalar": int(p.scalar),
        "stages": [{"op": Op[s.op.upper()], "a": _operand(s.a), "b": _operand(s.b), "c": _operand(s.c),
                    "dst": s.dst, "const": s.const & 0xFFFFFFFF} for s in stages],
        "counters": [counter_fields(c) for c in counters],
        "vin_required": sum(1 << k for k in set(p.vin_required)),
        "sin_required": sum(1 << k for k in set(p.sin_required)),
        "vin_pop_level": [p.vin_pop_level.get(k, 0) for k in range(cfg.vector_inputs)],
        "sin_pop_level": [p.sin_pop_level.get(k, 0) for k in range(cfg.scalar_inputs)],
        "wait_start": int(p.wait_start),
    }


def _fields(p: PmuProgram, cfg: ArrayConfig) -> dict:
    write = {**_port_fields(p.write, cfg), "enable": int(p.write is not None),
             "data": _operand(p.write.data if p.write is not None else Operand()),
             "window": int(p.write is not None and p.write.window)}
    read = {**_port_fields(p.read, cfg), "enable": int(p.read is not None),
            "vout": int(p.read is not None and p.read.vout), "sout": int(p.read is not None and p.read.sout)}
    return {"mode": PmuMode[p.mode.upper()], "write": write, "read": read,
            "done_port": DonePort[p.done_port.upper()], "fifo_fill": p.fifo_fill}


def decode(cfg: ArrayConfig, bits: int) -> data.Const:
    """The configuration word *bits* as a view with named fields."""
    layout = pmu_layout(cfg)
    if not isinstance(bits, int) or not 0 <= bits < 2**layout.size:
        raise PmuConfigError(f"a PMU configuration of {cfg.name} is a {layout.size}-bit word, got {bits!r}")
    return layout.from_bits(bits)


def program_of(cfg: ArrayConfig, bits: int) -> PmuProgram:
    """The named-field program of configuration word *bits* (not validated: see ``check``)."""
    f = fields_of(pmu_layout(cfg), decode(cfg, bits).as_bits())

    def port(name):
        p, where = f[name], f"{name} port"
        if not p["enable"]:
            return None
        extra = ({"data": operand_of(_fail, where, "data", p["data"]), "window": bool(p["window"])} if name == "write"
                 else {"vout": bool(p["vout"]), "sout": bool(p["sout"])})
        return Port(stages=[stage_of(_fail, f"{where} stage {s}", stage) for s, stage in enumerate(p["stages"])],
                    counters=[counter_of(c) for c in p["counters"]],
                    vin_required=bits_set(p["vin_required"]), sin_required=bits_set(p["sin_required"]),
                    vin_pop_level=pop_levels(p["vin_pop_level"]), sin_pop_level=pop_levels(p["sin_pop_level"]),
                    wait_start=bool(p["wait_start"]), scalar=bool(p["scalar"]), **extra)

    return PmuProgram(write=port("write"), read=port("read"),
                      mode=enum_name(_fail, "configuration", "mode", PmuMode, f["mode"]),
                      done_port=enum_name(_fail, "configuration", "done_port", DonePort, f["done_port"]),
                      fifo_fill=f["fifo_fill"])


def check(cfg: ArrayConfig, bits: int) -> None:
    """Refuses (PmuConfigError naming the port, stage and field) a configuration word that the encoder
    would not write: the encoder's rules applied to the decoded program, then a round trip."""
    program = program_of(cfg, bits)
    program.validate(cfg)
    check_round_trip(pmu_layout(cfg), bits, program.encode(cfg), lambda field, message: _fail("word", field, message))
