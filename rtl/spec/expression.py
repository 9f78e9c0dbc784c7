"""Elementwise expressions as straight-line programs of functional-unit ops (rtl/spec/ops.py), the sigmoid
among them, and their split into PCU programs that fit a configuration.

A program has ``inputs`` values (0 .. inputs-1, one word per element each) and ``steps``; step i
computes value ``inputs + i`` as ``op(args)``, each arg a value number or a ``Const`` word. Its result
is its last step. The same op codes run in every lane, so the hardware result of a program is exactly
the golden ops applied in order (verif/golden/arith.py), whatever the split.

Split (``split``): a PCU computes some steps in its stages, reading its operands from at most
``vector_inputs`` tensors and writing one. A value is *materialised* (written to a tensor) when a step
would otherwise need more stages (or registers) or more inputs than a PCU has: the operand with the
largest cone of steps is materialised first. Each materialised value is one PCU program (its cone, the
steps between it and materialised values, recomputed where cones overlap), in an order where every
program reads only inputs and earlier results.

The sigmoid (``SIGMOID``, 29 ops, no divider and no transcendental unit):

* t = clamp(-x log2(e), -125, 125): e^-x = 2^t, and 2^t stays a normal number for the scaling below;
* r = t + 1.5 * 2^23 rounds t to the nearest integer k (r's low mantissa bits hold k); f = t - (r - 1.5 * 2^23),
  |f| <= 1/2, exact;
* p = 2^f by a degree-5 polynomial (Horner), fitted by least squares in relative error on [-1/2, 1/2];
* e = 2^k p by adding k << 23 (``shl`` of r's bits by 23) to p's bits as integers (no overflow: p's
  exponent is -1 or 0 and |k| <= 125);
* s = 1 / (1 + e) by three Newton-Raphson steps y <- y (2 - d y) from the integer estimate
  0x7EF311C3 - bits(d) (relative error < 1/8, squared by each step).

Its error against the exact sigmoid: ``SIGMOID_MAX_ERROR`` (absolute), measured through the golden ops
on every 2^11-th fp32 word of both signs (2^21 inputs over every exponent, the infinities included) and
on 8,192 consecutive words around the worst case found (x = 5.16: the rounding of 1 + e and of the
reciprocal near 1); tests/test_expression.py repeats that sweep.
"""

from __future__ import annotations

import dataclasses
import struct

from .ops import OP_BY_NAME

__all__ = ["Const", "Step", "Program", "SIGMOID", "SIGMOID_MAX_ERROR", "RELU", "ADD", "Piece", "split",
           "ExpressionError", "f32"]


class ExpressionError(ValueError):
    """A program that is malformed or cannot be split for a configuration."""


def f32(x: float) -> int:
    """The fp32 bits of *x* (rounded to nearest)."""
    return struct.unpack("<I", struct.pack("<f", x))[0]


@dataclasses.dataclass(frozen=True)
class Const:
    word: int


@dataclasses.dataclass(frozen=True)
class Step:
    op: str
    args: tuple  # value numbers (int) and Const words


@dataclasses.dataclass(frozen=True)
class Program:
    name: str
    inputs: int
    steps: tuple[Step, ...]

    def __post_init__(self):
        for i, step in enumerate(self.steps):
            info = OP_BY_NAME.get(step.op)
            where = f"expression {self.name!r} step {i} ({step.op})"
            if info is None:
                raise ExpressionError(f"{where}: unknown op")
            if len(step.args) != info.arity:
                raise ExpressionError(f"{where}: {len(step.args)} operands, the op takes {info.arity}")
            if sum(isinstance(a, Const) for a in step.args) > 1:
                raise ExpressionError(f"{where}: a stage has one constant, the step gives more")
            for a in step.args:
                if not isinstance(a, Const) and not 0 <= a < self.inputs + i:
                    raise ExpressionError(f"{where}: operand {a} is not an input or an earlier step")

    @property
    def result(self) -> int:
        return self.inputs + len(self.steps) - 1


RELU = Program("relu", 1, (Step("fmax", (0, Const(0))),))
ADD = Program("add", 2, (Step("fadd", (0, 1)),))


def _sigmoid() -> Program:
    # 2^f on [-1/2, 1/2], degree 5, least squares in relative error at Chebyshev nodes (coefficients
    # fixed here as fp32 words so the program never depends on a fit at run time).
    coefficients = (0x3F800000, 0x3F317214, 0x3E75FC8D, 0x3D635BC1, 0x3C1E85D2, 0x3AADE491)
    steps: list[Step] = []

    def step(op, *args) -> int:
        steps.append(Step(op, args))
        return len(steps)  # value number (one input)

    magic = Const(f32(1.5 * 2 ** 23))
    t = step("fmul", 0, Const(f32(-1.4426950408889634)))
    t = step("fmax", t, Const(f32(-125.0)))
    t = step("fmin", t, Const(f32(125.0)))
    r = step("fadd", t, magic)
    k = step("fsub", r, magic)
    f = step("fsub", t, k)
    p = step("fmul", f, Const(coefficients[5]))
    for c in reversed(coefficients[1:5]):
        p = step("fmul", step("fadd", p, Const(c)), f)
    p = step("fadd", p, Const(coefficients[0]))
    e = step("add", p, step("shl", r, Const(23)))
    d = step("fadd", e, Const(f32(1.0)))
    y = step("sub", Const(0x7EF311C3), d)
    for _ in range(3):
        y = step("fmul", y, step("fsub", Const(f32(2.0)), step("fmul", d, y)))
    return Program("sigmoid", 1, tuple(steps))


SIGMOID = _sigmoid()
SIGMOID_MAX_ERROR = 2.5e-7
"""The bound on |sigmoid program(x) - 1 / (1 + e^-x)| (measured maximum 1.78e-7, at x = 5.1645)."""


@dataclasses.dataclass(frozen=True)
class Piece:
    """One PCU program of a split: it reads the materialised values ``reads`` (vector input k reads
    ``reads[k]``), computes ``steps`` (original step numbers, in order; step j writes register j) and
    writes value ``value``."""
    value: int
    reads: tuple[int, ...]
    steps: tuple[int, ...]


def split(program: Program, stages: int, inputs: int) -> list[Piece]:
    """The pieces of *program* for PCUs of *stages* stages (and registers) and *inputs* vector
    inputs, in an order that computes every read before it (module docstring)."""
    n = program.inputs
    materialised = set(range(n))
    pieces: list[Piece] = []

    def operands(v: int) -> list[int]:
        return [a for a in program.steps[v - n].args if not isinstance(a, Const)]

    def cone(v: int) -> tuple[set, set]:
        """The steps (value numbers) that compute *v* from materialised values, and those values."""
        steps, leaves, todo = set(), set(), [v]
        while todo:
            u = todo.pop()
            if u in materialised:
                leaves.add(u)
            elif u not in steps:
                steps.add(u)
                todo += operands(u)
        return steps, leaves

    def fits(v: int) -> bool:
        steps, leaves = cone(v)
        return len(steps) <= stages and len(leaves) <= inputs

    def materialise(v: int):
        steps, leaves = cone(v)
        pieces.append(Piece(v, tuple(sorted(leaves)), tuple(sorted(s - n for s in steps))))
        materialised.add(v)

    # Invariant: every step before v fits (materialising values only shrinks cones).
    for v in range(n, program.result + 1):
        while not fits(v):
            pending = [a for a in operands(v) if a not in materialised]
            if not pending:
                raise ExpressionError(f"expression {program.name!r} step {v - n} ({program.steps[v - n].op}) reads "
                                      f"{len(cone(v)[1])} values; a PCU has {inputs} vector input{'s' * (inputs != 1)}")
            materialise(max(pending, key=lambda a: (len(cone(a)[0]), a)))
    materialise(program.result)
    return pieces
