"""Golden evaluation of an expression program (rtl/spec/expression.py): its steps applied in order by
the golden ops, on words (``np.uint32``), vectorised over arrays."""

from __future__ import annotations

import numpy as np

from rdagen.rtl.spec.expression import Const, Piece, Program

from .arith import evaluate_op

__all__ = ["evaluate", "evaluate_piece"]


def _run(program: Program, values: dict, steps) -> dict:
    n = program.inputs
    for number in steps:
        step = program.steps[number]
        args = [np.uint32(a.word) if isinstance(a, Const) else values[a] for a in step.args]
        values[n + number] = np.asarray(evaluate_op(step.op, *args), np.uint32)
    return values


def evaluate(program: Program, *inputs) -> np.ndarray:
    """The program's result for the input words *inputs*."""
    values = {k: np.asarray(v, np.uint32) for k, v in enumerate(inputs)}
    return _run(program, values, range(len(program.steps)))[program.result]


def evaluate_piece(program: Program, piece: Piece, values: dict) -> np.ndarray:
    """The value a piece writes, from the materialised *values* {value number: words} it reads."""
    return _run(program, {v: values[v] for v in piece.reads}, piece.steps)[piece.value]
