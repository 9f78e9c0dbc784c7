"""The op table: the single definition of every functional-unit operation.

This is a *spec* module. The RTL (``rtl/arith.py``) decodes these codes, the golden model
(``verif/golden/arith.py``) implements these semantics, and the mapper will encode them. Nothing else
defines an opcode, an op class or a latency.

Data-type semantics (shared/ARCHITECTURE.md, "Data types and arithmetic"):

* int32: two's complement, wrapping. Comparisons are signed. Shift amounts are ``b & 31``.
  Boolean results are the words 1 and 0.
* fp32: IEEE-754 binary32 with round-to-nearest-even. Subnormal *inputs* are read as zero of the same
  sign (DAZ). Results are rounded to 24 significant bits as if the exponent range were unbounded, and a
  rounded result whose magnitude is below 2^-126 becomes zero of the same sign (FTZ, tininess after
  rounding). Results beyond the largest finite value become infinity. Every NaN result is the canonical
  quiet NaN 0x7FC00000, whatever the inputs' NaN payloads or signs. No exception flags.
  Rules that follow from these and hold for every op (tests/test_golden.py checks each):
  - DAZ applies to every fp input, comparisons and conversions included: feq(+subnormal, -0) = 1,
    flt(-subnormal, +subnormal) = 0, fmin/fmax return the flushed operand (a zero of its sign), and
    fmul(subnormal, inf) is NaN (0 x inf).
  - fmin/fmax: the canonical NaN when either input is NaN; -0 is ordered below +0.
  - Sign of an exact zero: x + (-x) and x - x give +0; (-0) + (-0) and (-0) - (+0) give -0.
  - FTZ keeps the sign of the rounded value: a negative result below 2^-126 becomes -0.
  - fabs and fneg of a NaN give the canonical NaN (the sign bit is not simply cleared or flipped).
  - ffma (a x b + c) rounds once: the exact a x b + c (no rounding, no flush of the product) is rounded
    to 24 bits and then flushed if below 2^-126. NaN when an operand is NaN, for inf x 0 (c whatever it
    is), and for an infinite product plus an infinity of the other sign. An exact zero result is +0,
    unless the product and c are zeros of the same sign (then that sign): (-0) x 1 + (-0) = -0,
    x x y + (-(x x y)) = +0. So ffma(a, b, -0) = fmul(a, b) and ffma(a, 1.0, c) = fadd(a, c).
* bf16: the upper 16 bits of a 32-bit word whose lower 16 bits are zero, so the fp32 datapath computes
  it. ``f2bf`` rounds an fp32 word to bf16 by round-to-nearest-even, ``f2bf_sr`` stochastically. Both
  read a subnormal input as zero (f2bf of a subnormal gives the zero of its sign). f2bf rounds finite
  magnitudes from 0x7F7F8000 up (the midpoint above bf16's largest finite value) to infinity;
  f2bf_sr may round any finite magnitude above 0x7F7F0000 to infinity (when the random bits carry).

Stochastic rounding: each lane owns a 32-bit xorshift generator (x ^= x << 13; x ^= x >> 17;
x ^= x << 5), a linear-feedback generator of period 2^32 - 1. ``lfsr_seed(seed, lane)`` gives its state
after a reseed. Each ``f2bf_sr`` op adds the upper 16 bits of the lane's current state to the (flushed)
operand's bits and clears the lower 16 bits; then the state steps once. The state steps only on
``f2bf_sr`` ops, so results depend on the op sequence and the seed, never on timing or stalls.
"""

from __future__ import annotations

import dataclasses

from amaranth import unsigned
from amaranth.lib import enum

__all__ = ["OpClass", "OpInfo", "OP_CLASSES", "OPS", "OP_BY_NAME", "Op", "OP_BITS", "FU_LATENCY",
           "CANONICAL_NAN", "lfsr_seed", "lfsr_step", "lfsr_lane_mix", "LFSR_SEED_MIX",
           "LFSR_ZERO_SUBSTITUTE", "op_info"]

CANONICAL_NAN = 0x7FC00000
LFSR_SEED_MIX = 0x9E3779B9  # golden-ratio constant: decorrelates the lanes' initial states
LFSR_ZERO_SUBSTITUTE = 0x6D2B79F5  # xorshift's all-zero state is a fixed point, so it is never used


def lfsr_lane_mix(lane: int) -> int:
    """The constant that *lane* XORs into the configured seed."""
    return ((lane + 1) * LFSR_SEED_MIX) & 0xFFFFFFFF


def lfsr_seed(seed: int, lane: int) -> int:
    """Initial generator state of *lane* for a configured 32-bit *seed*."""
    state = (seed & 0xFFFFFFFF) ^ lfsr_lane_mix(lane)
    return state if state else LFSR_ZERO_SUBSTITUTE


def lfsr_step(state: int) -> int:
    """One step of the 32-bit xorshift generator (13, 17, 5)."""
    state ^= (state << 13) & 0xFFFFFFFF
    state ^= state >> 17
    state ^= (state << 5) & 0xFFFFFFFF
    return state


@dataclasses.dataclass(frozen=True)
class OpClass:
    """Ops that share one hardware unit and one latency (cycles from operands in to result out)."""
    name: str
    latency: int
    unit: str  # the Amaranth component in rtl/arith.py that implements the class
    doc: str


@dataclasses.dataclass(frozen=True)
class OpInfo:
    name: str
    code: int
    op_class: OpClass
    arity: int  # operands read: a; a, b; or a, b, c
    semantics: str

    @property
    def latency(self) -> int:
        return self.op_class.latency


OP_CLASSES = {c.name: c for c in [
    OpClass("int", 1, "IntAlu", "int32 add/sub/logic/shift/compare/select"),
    OpClass("imul", 2, "IntMul", "int32 multiply, low 32 bits"),
    OpClass("fcmp", 1, "FpCompare", "fp32 min/max/compare/abs/neg"),
    OpClass("fadd", 3, "FpAdd", "fp32 add and subtract"),
    OpClass("fmul", 3, "FpMul", "fp32 multiply"),
    OpClass("cvt", 2, "Convert", "int32<->fp32 and fp32->bf16 conversions"),
    OpClass("ffma", 3, "FpFma", "fp32 fused multiply-add"),
]}

_C = OP_CLASSES
# (name, class, arity, semantics). The code of an op is its index in this list; 0 is `pass`, the op
# an unconfigured stage performs.
_TABLE = [
    ("pass", _C["int"], 1, "a"),
    ("add", _C["int"], 2, "a + b mod 2^32"),
    ("sub", _C["int"], 2, "a - b mod 2^32"),
    ("and", _C["int"], 2, "a & b"),
    ("or", _C["int"], 2, "a | b"),
    ("xor", _C["int"], 2, "a ^ b"),
    ("shl", _C["int"], 2, "a << (b & 31), low 32 bits"),
    ("shr", _C["int"], 2, "a >> (b & 31), logical"),
    ("sra", _C["int"], 2, "a >> (b & 31), arithmetic"),
    ("min", _C["int"], 2, "signed minimum"),
    ("max", _C["int"], 2, "signed maximum"),
    ("lt", _C["int"], 2, "1 if a < b (signed) else 0"),
    ("eq", _C["int"], 2, "1 if a == b else 0"),
    ("select", _C["int"], 3, "a if c != 0 else b"),
    ("mul", _C["imul"], 2, "a * b, low 32 bits (same for signed and unsigned)"),
    ("fadd", _C["fadd"], 2, "a + b, RNE, DAZ/FTZ; +0 for an exact zero sum of opposite signs"),
    ("fsub", _C["fadd"], 2, "a - b, RNE, DAZ/FTZ; +0 for x - x, -0 for (-0) - (+0)"),
    ("fmul", _C["fmul"], 2, "a * b, RNE, DAZ/FTZ (subnormal x inf is NaN); FTZ keeps the sign"),
    ("fmin", _C["fcmp"], 2, "minimum (DAZ: a subnormal comes back as a zero); canonical NaN if either is NaN; -0 < +0"),
    ("fmax", _C["fcmp"], 2, "maximum (DAZ: a subnormal comes back as a zero); canonical NaN if either is NaN; -0 < +0"),
    ("flt", _C["fcmp"], 2, "1 if a < b else 0 (DAZ); 0 if either is NaN; -0 == +0"),
    ("feq", _C["fcmp"], 2, "1 if a == b else 0 (DAZ: feq(+subnormal, -0) = 1); 0 if either is NaN; -0 == +0"),
    ("fabs", _C["fcmp"], 1, "|a| (DAZ; NaN -> canonical NaN)"),
    ("fneg", _C["fcmp"], 1, "-a (DAZ; NaN -> canonical NaN)"),
    ("i2f", _C["cvt"], 1, "int32 -> fp32, RNE"),
    ("f2i", _C["cvt"], 1, "fp32 -> int32, toward zero, saturating; NaN -> 0"),
    ("f2bf", _C["cvt"], 1, "fp32 -> bf16 (upper half), RNE, DAZ (subnormal -> signed zero); from 0x7F7F8000 up -> inf"),
    ("f2bf_sr", _C["cvt"], 1, "fp32 -> bf16 (upper half), stochastic rounding from the lane generator, DAZ; "
                              "above 0x7F7F0000 may give inf"),
    # appended, so that every earlier op keeps its code (and every bitstream its meaning)
    ("ffma", _C["ffma"], 3, "a * b + c rounded once, RNE, DAZ inputs, FTZ result; NaN for a NaN, inf * 0 or "
                            "inf - inf; an exact zero is +0 unless a * b and c are zeros of one sign"),
]

OPS: tuple[OpInfo, ...] = tuple(OpInfo(name, code, cls, arity, sem)
                                for code, (name, cls, arity, sem) in enumerate(_TABLE))
OP_BY_NAME: dict[str, OpInfo] = {op.name: op for op in OPS}
OP_BITS = max(1, (len(OPS) - 1).bit_length())

FU_LATENCY = max(c.latency for c in OP_CLASSES.values())
"""Latency of a FunctionalUnit: every class result is delayed to this, so a stage's ops never collide."""


def _make_enum():
    namespace = enum.EnumType.__prepare__("Op", (enum.Enum,), shape=unsigned(OP_BITS))
    for op in OPS:
        namespace[op.name.upper()] = op.code
    namespace["__doc__"] = "Functional-unit opcodes (generated from the op table)."
    namespace["__module__"] = __name__
    return enum.EnumType("Op", (enum.Enum,), namespace, shape=unsigned(OP_BITS))


Op = _make_enum()


def op_info(name: str) -> OpInfo:
    """The op called *name*; an unknown name raises ``ValueError`` listing the valid ones."""
    try:
        return OP_BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown op {name!r}; valid ops: {', '.join(OP_BY_NAME)}") from None


def table_markdown() -> str:
    """The op table as Markdown (for the docs and `rdagen ops`)."""
    rows = ["| code | op | class | latency | operands | semantics |", "|---|---|---|---|---|---|"]
    rows += [f"| {op.code} | `{op.name}` | {op.op_class.name} | {op.latency} | {op.arity} | "
             f"{op.semantics.replace('|', chr(92) + '|')} |"
             for op in OPS]
    return "\n".join(rows)
