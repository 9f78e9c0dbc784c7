"""Expression programs (rtl/spec/expression.py): the sigmoid's error against the exact function over a
sweep of fp32 inputs, and the split into PCU pieces: every piece fits its PCU, reads only inputs and
earlier pieces, and the pieces give the whole program's bits."""

import itertools

import numpy as np
import pytest

from rdagen.rtl.spec.expression import (ADD, RELU, SIGMOID, SIGMOID_MAX_ERROR, Const, ExpressionError, Program,
                                      Step, split)
from rdagen.verif.golden.arith import bits_f32, f32_bits
from rdagen.verif.golden.expression import evaluate, evaluate_piece

from .conftest import seeded_rng


def _exact_sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x.astype(np.float64)))


def test_the_sigmoid_is_within_its_stated_error_on_a_sweep_of_fp32_inputs():
    # Every 2^11-th fp32 word (both signs, every exponent: 2 x 2^20 inputs), plus the infinities and the
    # neighbourhood of the measured worst case.
    words = np.arange(0, 0x7F800000, 1 << 11, dtype=np.uint32)
    words = np.concatenate([words, words | np.uint32(0x80000000), np.uint32([0x7F800000, 0xFF800000]),
                            f32_bits(np.float32(5.1636477)) + np.arange(-4096, 4096).astype(np.uint32)])
    x = bits_f32(words)
    got = bits_f32(evaluate(SIGMOID, words)).astype(np.float64)
    error = np.abs(got - _exact_sigmoid(x))
    worst = int(np.argmax(error))
    print(f"sigmoid: max error {error.max():.3g} at x = {x[worst]!r}")
    assert error.max() <= SIGMOID_MAX_ERROR
    assert error.max() > SIGMOID_MAX_ERROR / 2  # the stated error is not loose by more than 2x
    assert np.all((got >= 0) & (got <= 1))


@pytest.mark.parametrize("stages, inputs", list(itertools.product([1, 2, 3, 4, 6, 16], [2, 3, 4])))
def test_the_pieces_fit_their_pcu_and_give_the_programs_bits(request, stages, inputs):
    rng = seeded_rng(request)
    words = f32_bits((rng.standard_normal(4096) * 10).astype(np.float32))
    whole = evaluate(SIGMOID, words)
    pieces = split(SIGMOID, stages, inputs)
    values = {0: words}
    for piece in pieces:
        assert 1 <= len(piece.steps) <= stages and len(piece.reads) <= inputs, piece
        assert all(v in values for v in piece.reads), f"{piece} reads a value no earlier piece wrote"
        values[piece.value] = evaluate_piece(SIGMOID, piece, values)
    assert pieces[-1].value == SIGMOID.result
    assert np.array_equal(values[SIGMOID.result], whole)
    if stages >= len(SIGMOID.steps):
        assert len(pieces) == 1


def test_one_step_programs_are_one_piece():
    assert split(RELU, 1, 1) == split(RELU, 4, 2)
    assert len(split(ADD, 1, 2)) == 1


def test_programs_and_splits_that_cannot_be_are_refused():
    with pytest.raises(ExpressionError, match="step 0 .*unknown op"):
        Program("p", 1, (Step("fdiv", (0, 0)),))
    with pytest.raises(ExpressionError, match="step 0 .*2 operands, the op takes 1"):
        Program("p", 1, (Step("fabs", (0, 0)),))
    with pytest.raises(ExpressionError, match="step 1 .*operand 3 is not an input or an earlier step"):
        Program("p", 1, (Step("fabs", (0,)), Step("fadd", (1, 3))))
    with pytest.raises(ExpressionError, match="one constant"):
        Program("p", 1, (Step("fadd", (Const(1), Const(2))),))
    with pytest.raises(ExpressionError, match="step 0 \\(select\\) reads 3 values; a PCU has 2 vector inputs"):
        split(Program("p", 3, (Step("select", (0, 1, 2)),)), 4, 2)
    with pytest.raises(ExpressionError, match="step 12 \\(fmul\\) reads 2 values; a PCU has 1 vector input$"):
        split(SIGMOID, 6, 1)
