"""PCU configuration: the one layout that the RTL decodes, the golden model interprets and the mapper
encodes, and a validating encoder that builds it from named fields.

This is a *spec* module (no implementation): ``verif.golden`` and ``mapper`` import it.

Semantics (the contract of rtl/pcu.py and verif/golden/pcu.py)
---------------------------------------------------------------
A PCU *fires* once per iteration. A firing takes the heads of its required inputs and the current
counter values, and sends one vector of ``lanes`` words down ``stages`` stages.

* Register file: each lane has ``registers`` words. It enters stage 0 as all zeros. Stage ``s``
  computes ``op(a, b, c)`` in every lane (SIMD), writes the result to register ``dst`` and passes the
  others on unchanged. Operand sources: ``reg`` r (the register file entering the stage), ``vin`` k
  (lane element of vector input k's head), ``sin`` k (scalar input k's head, broadcast), ``ctr`` k
  (counter k; lane i sees ``value + i * stride`` if that counter is the spread one), ``lane`` (the lane
  index), ``const`` (the stage's constant), ``bvin`` k (word ``lane`` of vector input k's head, the
  stage's ``lane`` field, broadcast to every lane) and ``wgt`` (the weight this stage holds for the lane).
* Weights (the systolic mode): with ``weights`` enabled, vector input ``weights.src`` carries weight
  *tiles* of ``stages`` vectors each, vector s for stage s: operand ``wgt`` of stage s in lane l is word l
  of vector s of the current tile. A data firing needs a whole tile. The tile is released when counters
  0 .. level-1 all wrap in a firing (``weights.level``, as an input pops at its pop level), and the next
  firing uses the next tile. The weights input is read by nothing else (it is not a required input).
  With ``period`` p and ``phase`` q the unit keeps tile q of every p tiles of the stream and drops the
  others (one weight stream multicast to the p units of a chain, each taking its own tiles).
  With stage s computing ``ffma(bvin A lane o+s, wgt, reg 0)`` into register 0 (stage 0's addend a
  partial-sum vector input or ``const``), the lanes x stages functional units are a weight-stationary
  array: a firing is one row of A times a stages x lanes tile of weights, ``lanes * stages``
  multiply-adds, summed in stage order ``p = ffma(a[o+s], w[s][l], p)`` (one rounding each).
* Counters: counter 0 is the innermost. A disabled counter is held at its start and always wraps.
  After each data firing, counter 0 steps by ``stride`` (``lanes * stride`` when it is spread). A
  counter that reaches ``stop`` or beyond wraps to ``start`` and steps the next one. When every
  enabled counter wraps in the same firing, the chain is *done*: a token goes out on the control
  output. With ``wait_start``, each run of the chain first waits for a token on the control input.
* Inputs: an input in ``vin_required``/``sin_required`` must have a head for a data firing. It is
  popped when counters 0 .. level-1 all wrap in that firing (``pop_level`` = level; 0 = every firing,
  and always 0 in effect when no counter is enabled). An input that is not required is never read.
  An input in ``vin_lazy`` (required, pop level > 0) is waited for and read only on the firings that
  pop it and reads as zero on the others: a chain link takes its predecessor's partial sums at an
  output's last product, so it starts the output before they arrive. An input in ``vin_zero_first``
  (required) reads as zero on the firings where counter ``zero_counter`` is at its start value, and is
  waited for and popped as on the others: the head of a partial-sum ring (a chain whose last link's
  sums return to its first through a PMU FIFO) begins each output from zero in its first round of K
  while it drains the sums the ring holds from the run before.
* Reduction: ``reduce`` folds register ``src`` of the last stage across lanes with a tree of
  log2(lanes) levels. Level j combines lanes (2i, 2i+1) of level j-1, so with 4 lanes the result is
  ``(l0 op l1) op (l2 op l3)``, an order the golden model follows bit for bit.
* Accumulator: folds the reduction result (or, without a reduction, register ``src`` of every lane)
  over the firings of a *group*, starting from ``init``: acc = op(acc, x) in firing order. A group is
  ``fold`` firings, or, with ``fold_mode`` scalar, as many as the next word of scalar input
  ``fold_scalar`` says. A group of 0 firings emits ``init`` without consuming any input (an empty
  embedding bag gives zeros). The count word is taken before the group's first firing.
* Outputs: vector output k sends register ``reg`` of the last stage every data firing (``sel`` reg)
  or the accumulator at the end of each group (``sel`` acc). Scalar output k sends lane 0 of register
  ``reg`` (reg), the reduction result (red) every data firing, or lane 0 of the accumulator per group
  (acc).
* The firing also needs room for every output it will produce; nothing is dropped or duplicated.
  Outputs keep firing order.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

from amaranth import unsigned
from amaranth.lib import data, enum

from .config import ArrayConfig
from .layout_fields import check_round_trip, fields_of, signed32
from .ops import OP_BY_NAME, Op

__all__ = ["Src", "FoldMode", "VecOut", "ScaOut", "REDUCE_OPS", "pcu_layout", "Operand", "Stage", "Weights",
           "Counter", "Reduce", "Accumulate", "PcuProgram", "PcuConfigError", "decode", "program_of", "check",
           "enum_name", "operand_of", "counter_of", "stage_of", "bits_set", "pop_levels"]

REDUCE_OPS = ("add", "min", "max", "fadd", "fmin", "fmax")
"""Ops the reduction tree and the accumulator can perform."""


class Src(enum.Enum, shape=unsigned(3)):
    REG = 0
    VIN = 1
    SIN = 2
    CTR = 3
    LANE = 4
    CONST = 5
    BVIN = 6  # one lane of a vector input, broadcast (PCU only)
    WGT = 7  # the stage's weight for the lane (PCU only, with weights enabled)


class FoldMode(enum.Enum, shape=unsigned(1)):
    CONST = 0
    SCALAR = 1


class VecOut(enum.Enum, shape=unsigned(2)):
    OFF = 0
    REG = 1
    ACC = 2


class ScaOut(enum.Enum, shape=unsigned(2)):
    OFF = 0
    REG = 1
    RED = 2
    ACC = 3


FOLD_BITS = 16
PERIOD_BITS = 10  # weight tiles per turn of a multicast weight stream: up to 1023 units share one


def _range(n: int) -> range:
    return range(max(2, n))  # at least one bit, so every field exists in the bitstream


def operand_layout(cfg: ArrayConfig, registers: int) -> data.StructLayout:
    """An operand selector (source and index) of a unit with *registers* registers per lane."""
    index = _range(max(registers, cfg.vector_inputs, cfg.scalar_inputs, cfg.counters))
    return data.StructLayout({"src": Src, "index": index})


def counter_layout() -> data.StructLayout:
    """One counter of a chain (semantics: rtl/counters.py)."""
    return data.StructLayout({"enable": 1, "start": 32, "stop": 32, "stride": 32})


def pcu_layout(cfg: ArrayConfig) -> data.StructLayout:
    """The configuration layout of a PCU of *cfg*."""
    operand = operand_layout(cfg, cfg.registers)
    stage = data.StructLayout({"op": Op, "a": operand, "b": operand, "c": operand,
                               "dst": _range(cfg.registers), "const": 32, "lane": _range(cfg.lanes)})
    counter = counter_layout()
    level = _range(cfg.counters + 1)
    return data.StructLayout({
        "stages": data.ArrayLayout(stage, cfg.stages),
        "counters": data.ArrayLayout(counter, cfg.counters),
        "spread": data.StructLayout({"enable": 1, "counter": _range(cfg.counters)}),
        "fire": data.StructLayout({
            "vin_required": cfg.vector_inputs,
            "sin_required": cfg.scalar_inputs,
            "vin_pop_level": data.ArrayLayout(level, cfg.vector_inputs),
            "sin_pop_level": data.ArrayLayout(level, cfg.scalar_inputs),
            "vin_lazy": cfg.vector_inputs,
            "vin_zero_first": cfg.vector_inputs,
            "zero_counter": _range(cfg.counters),
            "wait_start": 1,
        }),
        "weights": data.StructLayout({"enable": 1, "src": _range(cfg.vector_inputs), "level": level,
                                      "period": PERIOD_BITS, "phase": PERIOD_BITS}),
        "reduce": data.StructLayout({"enable": 1, "op": Op, "src": _range(cfg.registers)}),
        "acc": data.StructLayout({"enable": 1, "op": Op, "init": 32, "src": _range(cfg.registers),
                                  "fold_mode": FoldMode, "fold": FOLD_BITS,
                                  "fold_scalar": _range(cfg.scalar_inputs)}),
        "vout": data.ArrayLayout(data.StructLayout({"sel": VecOut, "reg": _range(cfg.registers)}),
                                 cfg.vector_outputs),
        "sout": data.ArrayLayout(data.StructLayout({"sel": ScaOut, "reg": _range(cfg.registers)}),
                                 cfg.scalar_outputs),
        "seed": 32,
    })


class PcuConfigError(ValueError):
    """An invalid PCU configuration; the message names the stage or block and the field."""


# -- the named-field description that the encoder validates ------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Operand:
    src: str = "reg"  # reg, vin, sin, ctr, lane, const
    index: int = 0


def reg(r: int) -> Operand:
    return Operand("reg", r)


def vin(k: int) -> Operand:
    return Operand("vin", k)


def sin(k: int) -> Operand:
    return Operand("sin", k)


def ctr(k: int) -> Operand:
    return Operand("ctr", k)


def bvin(k: int) -> Operand:
    """Word ``Stage.lane`` of vector input *k*, broadcast to every lane."""
    return Operand("bvin", k)


LANE = Operand("lane")
CONST = Operand("const")
WGT = Operand("wgt")


@dataclasses.dataclass(frozen=True)
class Stage:
    op: str = "pass"
    a: Operand = Operand()
    b: Operand = Operand()
    c: Operand = Operand()
    dst: int = 0
    const: int = 0
    lane: int = 0  # the lane a ``bvin`` operand reads


@dataclasses.dataclass(frozen=True)
class Weights:
    """Weight tiles (``stages`` vectors each) on vector input *src*, one released per run of counters
    0 .. level-1; of every *period* tiles the unit keeps tile *phase*."""
    src: int
    level: int = 0
    period: int = 1
    phase: int = 0


@dataclasses.dataclass(frozen=True)
class Counter:
    start: int = 0
    stop: int = 1
    stride: int = 1


@dataclasses.dataclass(frozen=True)
class Reduce:
    op: str
    src: int = 0


@dataclasses.dataclass(frozen=True)
class Accumulate:
    op: str
    init: int = 0  # a 32-bit word (use the fp32 bits for fp ops)
    src: int = 0  # register read when there is no reduction
    fold: int = 1  # firings per group (fold_scalar None)
    fold_scalar: int | None = None  # scalar input giving each group's length


@dataclasses.dataclass(frozen=True)
class PcuProgram:
    """A PCU configuration by named fields. ``encode(cfg)`` validates it and returns the bits."""

    stages: Sequence[Stage] = ()
    counters: Sequence[Counter | None] = ()  # index = counter number; None = disabled
    spread: int | None = None  # counter whose value is spread across lanes
    vin_required: Sequence[int] = ()
    sin_required: Sequence[int] = ()
    vin_pop_level: dict[int, int] = dataclasses.field(default_factory=dict)
    sin_pop_level: dict[int, int] = dataclasses.field(default_factory=dict)
    vin_lazy: Sequence[int] = ()  # required inputs waited for and read only on the firings that pop them
    vin_zero_first: Sequence[int] = ()  # required inputs read as zero while counter zero_counter is at its start
    zero_counter: int = 0
    wait_start: bool = False
    weights: Weights | None = None
    reduce: Reduce | None = None
    accumulate: Accumulate | None = None
    vout: Sequence[tuple[str, int] | None] = ()  # per vector output: ("reg", r) | ("acc", 0) | None
    sout: Sequence[tuple[str, int] | None] = ()  # per scalar output: ("reg", r) | ("red", 0) | ("acc", 0)
    seed: int = 0

    def validate(self, cfg: ArrayConfig) -> None:
        _validate(self, cfg)

    def encode(self, cfg: ArrayConfig) -> int:
        """The configuration word (``pcu_layout(cfg).size`` bits) after validation."""
        _validate(self, cfg)
        layout = pcu_layout(cfg)
        return layout.const(_fields(self, cfg)).as_bits()


def _fail(where: str, field: str, message: str):
    raise PcuConfigError(f"PCU {where}, field '{field}': {message}")


def check_word(fail, where: str, field: str, value, signed: bool = False):
    """Calls *fail* (a unit's error constructor) unless *value* is a 32-bit (signed) integer."""
    lo, hi = (-(2**31), 2**31 - 1) if signed else (0, 2**32 - 1)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        fail(where, field, f"{value!r} is not a 32-bit {'signed ' if signed else ''}integer in [{lo}, {hi}]")


def check_counters(fail, prefix: str, counters) -> list[int]:
    """Validates the enabled counters of a chain (None: disabled); returns their indices."""
    enabled = [k for k, c in enumerate(counters) if c is not None]
    for k in enabled:
        c, where = counters[k], f"{prefix}counter {k}"
        for field in ("start", "stop", "stride"):
            check_word(fail, where, field, getattr(c, field), signed=True)
        if c.stride < 1:
            fail(where, "stride", f"{c.stride} must be at least 1")
        if c.stop <= c.start:
            fail(where, "stop", f"{c.stop} must be above start {c.start} (a counter runs at least once)")
    return enabled


def _check_word(where: str, field: str, value, signed: bool = False):
    check_word(_fail, where, field, value, signed)


def counter_fields(c: Counter | None) -> dict:
    """The layout fields of counter *c* (None: disabled)."""
    if c is None:
        return {"enable": 0, "start": 0, "stop": 1, "stride": 1}
    return {"enable": 1, "start": c.start & 0xFFFFFFFF, "stop": c.stop & 0xFFFFFFFF, "stride": c.stride & 0xFFFFFFFF}


_SOURCES = {"reg": "registers", "vin": "vector_inputs", "bvin": "vector_inputs", "sin": "scalar_inputs",
            "ctr": "counters"}


def _validate(p: PcuProgram, cfg: ArrayConfig) -> None:
    if len(p.stages) > cfg.stages:
        _fail("stages", "stages", f"{len(p.stages)} stages given, the PCU has {cfg.stages}")
    if len(p.counters) > cfg.counters:
        _fail("counters", "counters", f"{len(p.counters)} counters given, the PCU has {cfg.counters}")
    for name, given, limit in (("vin_required", p.vin_required, cfg.vector_inputs),
                               ("sin_required", p.sin_required, cfg.scalar_inputs)):
        for k in given:
            if not isinstance(k, int) or not 0 <= k < limit:
                _fail("firing rule", name, f"input {k!r} does not exist (the PCU has {limit})")
    enabled = [k for k, c in enumerate(p.counters) if c is not None]
    for name, levels, required in (("vin_pop_level", p.vin_pop_level, p.vin_required),
                                   ("sin_pop_level", p.sin_pop_level, p.sin_required)):
        for k, level in levels.items():
            if k not in required:
                _fail("firing rule", name, f"input {k} has a pop level but is not required")
            if not isinstance(level, int) or not 0 <= level <= cfg.counters:
                _fail("firing rule", name, f"level {level!r} of input {k} is not in [0, {cfg.counters}]")
    for k in p.vin_lazy:
        if k not in p.vin_required or not p.vin_pop_level.get(k):
            _fail("firing rule", "vin_lazy", f"input {k!r} is lazy but not required with a pop level > 0 "
                                             f"(a lazy input is waited for only on the firings that pop it)")
    for k in p.vin_zero_first:
        if k not in p.vin_required:
            _fail("firing rule", "vin_zero_first", f"input {k!r} reads zero in the first round but is not required")
        if k in p.vin_lazy:
            _fail("firing rule", "vin_zero_first", f"input {k} is lazy too (a lazy input is read on the firings that "
                                                   f"pop it only)")
    if p.vin_zero_first and p.zero_counter not in enabled:
        _fail("firing rule", "zero_counter", f"counter {p.zero_counter!r} is not enabled (its start value marks the "
                                             f"firings that read vin_zero_first as zero)")
    for s, stage in enumerate(p.stages):
        where = f"stage {s}"
        if stage.op not in OP_BY_NAME:
            _fail(where, "op", f"unknown op {stage.op!r}; valid ops: {', '.join(OP_BY_NAME)}")
        if not isinstance(stage.dst, int) or not 0 <= stage.dst < cfg.registers:
            _fail(where, "dst", f"register {stage.dst!r} does not exist (registers 0..{cfg.registers - 1})")
        _check_word(where, "const", stage.const)
        if not isinstance(stage.lane, int) or not 0 <= stage.lane < cfg.lanes:
            _fail(where, "lane", f"lane {stage.lane!r} does not exist (lanes 0..{cfg.lanes - 1})")
        for slot in "abc"[: OP_BY_NAME[stage.op].arity]:
            operand = getattr(stage, slot)
            if operand.src in _SOURCES:
                limit = getattr(cfg, _SOURCES[operand.src])
                if not isinstance(operand.index, int) or not 0 <= operand.index < limit:
                    _fail(where, slot, f"{operand.src} {operand.index!r} does not exist "
                                       f"({_SOURCES[operand.src]}: {limit})")
                if operand.src in ("vin", "bvin") and operand.index not in p.vin_required:
                    _fail(where, slot, f"reads vector input {operand.index}, which the firing rule does not require")
                if operand.src == "sin" and operand.index not in p.sin_required:
                    _fail(where, slot, f"reads scalar input {operand.index}, which the firing rule does not require")
                if operand.src == "ctr" and operand.index not in enabled:
                    _fail(where, slot, f"reads counter {operand.index}, which is not enabled")
            elif operand.src == "wgt":
                if p.weights is None:
                    _fail(where, slot, "reads the weights, which are not enabled")
            elif operand.src not in ("lane", "const"):
                _fail(where, slot, f"unknown operand source {operand.src!r}; "
                                   f"valid: reg, vin, bvin, sin, ctr, lane, const, wgt")
    check_counters(_fail, "", p.counters)
    w = p.weights
    if w is not None:
        if not isinstance(w.src, int) or not 0 <= w.src < cfg.vector_inputs:
            _fail("weights", "src", f"vector input {w.src!r} does not exist (the PCU has {cfg.vector_inputs})")
        if w.src in p.vin_required:
            _fail("weights", "src", f"vector input {w.src} carries weight tiles and cannot also be a data input")
        if not isinstance(w.level, int) or not 0 <= w.level <= cfg.counters:
            _fail("weights", "level", f"level {w.level!r} is not in [0, {cfg.counters}]")
        if not isinstance(w.period, int) or not 1 <= w.period < 2**PERIOD_BITS:
            _fail("weights", "period", f"{w.period!r} is not in [1, {2**PERIOD_BITS - 1}]")
        if not isinstance(w.phase, int) or not 0 <= w.phase < w.period:
            _fail("weights", "phase", f"{w.phase!r} is not in [0, period {w.period})")
    if p.spread is not None and p.spread not in enabled:
        _fail("counters", "spread", f"counter {p.spread!r} is not enabled")
    if p.reduce is not None:
        if p.reduce.op not in REDUCE_OPS:
            _fail("reduction", "op", f"{p.reduce.op!r} cannot reduce; valid: {', '.join(REDUCE_OPS)}")
        if not 0 <= p.reduce.src < cfg.registers:
            _fail("reduction", "src", f"register {p.reduce.src} does not exist")
    a = p.accumulate
    if a is not None:
        if a.op not in REDUCE_OPS:
            _fail("accumulator", "op", f"{a.op!r} cannot accumulate; valid: {', '.join(REDUCE_OPS)}")
        _check_word("accumulator", "init", a.init)
        if not 0 <= a.src < cfg.registers:
            _fail("accumulator", "src", f"register {a.src} does not exist")
        if a.fold_scalar is None:
            if not isinstance(a.fold, int) or not 1 <= a.fold < 2**FOLD_BITS:
                _fail("accumulator", "fold", f"{a.fold!r} is not in [1, {2**FOLD_BITS - 1}]")
        else:
            if not isinstance(a.fold_scalar, int) or not 0 <= a.fold_scalar < cfg.scalar_inputs:
                _fail("accumulator", "fold_scalar", f"scalar input {a.fold_scalar!r} does not exist")
            if a.fold_scalar in p.sin_required:
                _fail("accumulator", "fold_scalar", f"scalar input {a.fold_scalar} carries group lengths and "
                                                    f"cannot also be a data input")
    for name, outs, limit, kinds in (("vout", p.vout, cfg.vector_outputs, ("reg", "acc")),
                                     ("sout", p.sout, cfg.scalar_outputs, ("reg", "red", "acc"))):
        if len(outs) > limit:
            _fail("outputs", name, f"{len(outs)} given, the PCU has {limit}")
        for k, out in enumerate(outs):
            if out is None:
                continue
            kind, r = out
            if kind not in kinds:
                _fail(f"{name} {k}", "sel", f"{kind!r} is not one of {', '.join(kinds)}")
            if kind == "reg" and not 0 <= r < cfg.registers:
                _fail(f"{name} {k}", "reg", f"register {r} does not exist")
            if kind == "acc" and a is None:
                _fail(f"{name} {k}", "sel", "selects the accumulator, which is not enabled")
            if kind == "red" and p.reduce is None:
                _fail(f"{name} {k}", "sel", "selects the reduction, which is not enabled")
    if not any(o is not None for o in (*p.vout, *p.sout)):
        _fail("outputs", "vout/sout", "no output is enabled: the PCU would compute nothing observable")
    if not p.vin_required and not p.sin_required and not (enabled and p.wait_start):
        _fail("firing rule", "vin_required/sin_required", "no input is required and no counter run waits for a "
                                                          "start token: the PCU would fire without end")
    _check_word("configuration", "seed", p.seed)


def _operand(o: Operand) -> dict:
    return {"src": Src[o.src.upper()], "index": o.index}


def _fields(p: PcuProgram, cfg: ArrayConfig) -> dict:
    stages = list(p.stages) + [Stage()] * (cfg.stages - len(p.stages))
    counters = list(p.counters) + [None] * (cfg.counters - len(p.counters))
    a = p.accumulate
    outs_v = list(p.vout) + [None] * (cfg.vector_outputs - len(p.vout))
    outs_s = list(p.sout) + [None] * (cfg.scalar_outputs - len(p.sout))
    return {
        "stages": [{"op": Op[s.op.upper()], "a": _operand(s.a), "b": _operand(s.b), "c": _operand(s.c),
                    "dst": s.dst, "const": s.const, "lane": s.lane} for s in stages],
        "counters": [counter_fields(c) for c in counters],
        "spread": {"enable": int(p.spread is not None), "counter": p.spread or 0},
        "fire": {
            "vin_required": sum(1 << k for k in set(p.vin_required)),
            "sin_required": sum(1 << k for k in set(p.sin_required)),
            "vin_pop_level": [p.vin_pop_level.get(k, 0) for k in range(cfg.vector_inputs)],
            "sin_pop_level": [p.sin_pop_level.get(k, 0) for k in range(cfg.scalar_inputs)],
            "vin_lazy": sum(1 << k for k in set(p.vin_lazy)),
            "vin_zero_first": sum(1 << k for k in set(p.vin_zero_first)),
            "zero_counter": p.zero_counter if p.vin_zero_first else 0,
            "wait_start": int(p.wait_start),
        },
        "weights": {"enable": 0, "src": 0, "level": 0, "period": 1, "phase": 0} if p.weights is None else
                   {"enable": 1, "src": p.weights.src, "level": p.weights.level, "period": p.weights.period,
                    "phase": p.weights.phase},
        "reduce": {"enable": 0, "op": Op.PASS, "src": 0} if p.reduce is None else
                  {"enable": 1, "op": Op[p.reduce.op.upper()], "src": p.reduce.src},
        "acc": {"enable": 0, "op": Op.PASS, "init": 0, "src": 0, "fold_mode": FoldMode.CONST, "fold": 1,
                "fold_scalar": 0} if a is None else
               {"enable": 1, "op": Op[a.op.upper()], "init": a.init, "src": a.src,
                "fold_mode": FoldMode.CONST if a.fold_scalar is None else FoldMode.SCALAR,
                "fold": a.fold if a.fold_scalar is None else 0, "fold_scalar": a.fold_scalar or 0},
        "vout": [{"sel": VecOut.OFF, "reg": 0} if o is None else {"sel": VecOut[o[0].upper()], "reg": o[1]}
                 for o in outs_v],
        "sout": [{"sel": ScaOut.OFF, "reg": 0} if o is None else {"sel": ScaOut[o[0].upper()], "reg": o[1]}
                 for o in outs_s],
        "seed": p.seed,
    }


def decode(cfg: ArrayConfig, bits: int) -> data.Const:
    """The configuration word *bits* as a view with named fields (``.stages[0].op``, ...)."""
    layout = pcu_layout(cfg)
    if not isinstance(bits, int) or not 0 <= bits < 2**layout.size:
        raise PcuConfigError(f"a PCU configuration of {cfg.name} is a {layout.size}-bit word, got {bits!r}")
    return layout.from_bits(bits)


# -- from a configuration word back to the named fields --------------------------------------------------
def enum_name(fail, where: str, field: str, enum_type, code: int) -> str:
    """The lower-case name of *code* in *enum_type*; *fail* when the code names nothing."""
    try:
        return enum_type(code).name.lower()
    except ValueError:
        fail(where, field, f"code {code} is not a valid {enum_type.__name__} "
                           f"({', '.join(f'{e.value}: {e.name.lower()}' for e in enum_type)})")


def operand_of(fail, where: str, slot: str, f: dict) -> Operand:
    return Operand(enum_name(fail, where, slot, Src, f["src"]), f["index"])


def counter_of(f: dict) -> Counter | None:
    return Counter(signed32(f["start"]), signed32(f["stop"]), signed32(f["stride"])) if f["enable"] else None


def stage_of(fail, where: str, f: dict) -> Stage:
    return Stage(enum_name(fail, where, "op", Op, f["op"]), *(operand_of(fail, where, slot, f[slot]) for slot in "abc"),
                 dst=f["dst"], const=f["const"], lane=f.get("lane", 0))


def bits_set(mask: int) -> list[int]:
    """The inputs a ``*_required`` mask names."""
    return [k for k in range(mask.bit_length()) if mask >> k & 1]


def pop_levels(levels: list[int]) -> dict[int, int]:
    """The non-zero pop levels of a ``*_pop_level`` array, by input (what the encoders take)."""
    return {k: level for k, level in enumerate(levels) if level}


def program_of(cfg: ArrayConfig, bits: int) -> PcuProgram:
    """The named-field program of configuration word *bits* (not validated: see ``check``)."""
    f = fields_of(pcu_layout(cfg), decode(cfg, bits).as_bits())
    fire, red, acc, w = f["fire"], f["reduce"], f["acc"], f["weights"]
    accumulate = None
    if acc["enable"]:
        scalar = enum_name(_fail, "accumulator", "fold_mode", FoldMode, acc["fold_mode"]) == "scalar"
        accumulate = Accumulate(enum_name(_fail, "accumulator", "op", Op, acc["op"]), acc["init"], acc["src"],
                                fold=1 if scalar else acc["fold"], fold_scalar=acc["fold_scalar"] if scalar else None)

    def output(name, k, o, kinds):
        sel = enum_name(_fail, f"{name} {k}", "sel", kinds, o["sel"])
        return None if sel == "off" else (sel, o["reg"])

    return PcuProgram(
        stages=[stage_of(_fail, f"stage {s}", stage) for s, stage in enumerate(f["stages"])],
        counters=[counter_of(c) for c in f["counters"]],
        spread=f["spread"]["counter"] if f["spread"]["enable"] else None,
        vin_required=bits_set(fire["vin_required"]), sin_required=bits_set(fire["sin_required"]),
        vin_pop_level=pop_levels(fire["vin_pop_level"]), sin_pop_level=pop_levels(fire["sin_pop_level"]),
        vin_lazy=bits_set(fire["vin_lazy"]), vin_zero_first=bits_set(fire["vin_zero_first"]),
        zero_counter=fire["zero_counter"] if fire["vin_zero_first"] else 0, wait_start=bool(fire["wait_start"]),
        weights=Weights(w["src"], w["level"], w["period"], w["phase"]) if w["enable"] else None,
        reduce=Reduce(enum_name(_fail, "reduction", "op", Op, red["op"]), red["src"]) if red["enable"] else None,
        accumulate=accumulate,
        vout=[output("vout", k, o, VecOut) for k, o in enumerate(f["vout"])],
        sout=[output("sout", k, o, ScaOut) for k, o in enumerate(f["sout"])],
        seed=f["seed"])


def check(cfg: ArrayConfig, bits: int) -> None:
    """Refuses (PcuConfigError naming the stage or block and the field) a configuration word that the
    encoder would not write: the encoder's rules applied to the decoded program, then a round trip."""
    program = program_of(cfg, bits)
    program.validate(cfg)
    check_round_trip(pcu_layout(cfg), bits, program.encode(cfg), lambda field, message: _fail("word", field, message))
