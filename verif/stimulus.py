"""Operand sets for the arithmetic regressions: corner values (crossed exhaustively) and random mixes."""

from __future__ import annotations

import numpy as np

from rdagen.rtl.spec.ops import OP_BY_NAME

__all__ = ["FP_CORNERS", "INT_CORNERS", "operands", "is_float_op"]

U32 = np.uint32


def _f(*values) -> list[int]:
    return [int(v) for v in np.array(values, dtype=np.float32).view(U32)]


def _signed(words) -> list[int]:
    return [w for x in words for w in (x, x ^ 0x80000000)]


FP_CORNERS = np.array(sorted(set(_signed([
    0x00000000,             # zero
    0x00000001, 0x00000002, 0x00400000, 0x007FFFFF,  # subnormals (read as zero)
    0x00800000, 0x00800001, 0x00FFFFFF, 0x01000000,  # smallest normals
    0x7F7FFFFF, 0x7F7FFFFE, 0x7F000000, 0x7EFFFFFF,  # largest finite, 2^127, below
    0x7F800000,             # infinity
    0x7FC00000, 0x7FC00001, 0x7FFFFFFF,              # quiet NaNs
    0x7F800001, 0x7FA00000, 0x7FBFFFFF,              # signalling NaNs
    *_f(1.0, 2.0, 0.5, 0.25, 3.0, 1.5, 0.75, 2.0**23, 2.0**24, 2.0**31, 2.0**-24, 2.0**-125, 2.0**-63,
        2.0**64, 2.0**-64, 2.0**100, 2.0**-100),
    *_f(1.0 + 2.0**-23, 1.0 - 2.0**-24, 2.0 - 2.0**-23, 2.0**31 - 128, 2.0**31 + 256, 0.1, 1.0 / 3.0),
    # exact ties for fp32 -> bf16 rounding: even/odd kept bit, exactly halfway, just below, just above
    0x3F808000, 0x3F818000, 0x3F807FFF, 0x3F808001, 0x3F80FFFF, 0x7F7F8000, 0x7F7F7FFF, 0x00808000,
]))), dtype=U32)
"""fp32 corner words, both signs of each."""

INT_CORNERS = np.array(sorted({w & 0xFFFFFFFF for w in [
    0, 1, 2, 3, 5, 7, 15, 16, 30, 31, 32, 33, 63, 255, 256, 0xFFFF, 0x10000, 0x00FFFFFF, 0x01000000,
    0x01000001, 0x01000003, 0x7FFFFF80, 0x7FFFFFBF, 0x7FFFFFC0,  # i2f ties and carries
    0x55555555, 0xAAAAAAAA, 0x7FFFFFFF, 0x80000000, 0x80000001, -1, -2, -31, -32, -0x01000001,
]}), dtype=U32)
"""int32 corner words (also the integer inputs of i2f)."""

_INT_INPUT_OPS = {"i2f"}


def is_float_op(name: str) -> bool:
    """Whether the op reads fp32 operands (all fp ops and the fp32 -> x conversions)."""
    info = OP_BY_NAME[name]
    return info.op_class.name in ("fadd", "fmul", "fcmp", "cvt", "ffma") and name not in _INT_INPUT_OPS


def _random_fp(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Random fp32 operand pairs: a third uniform bit patterns, a third with nearby exponents (where
    additions cancel and round), a third mixing in corner values."""
    a = rng.integers(0, 2**32, n, dtype=np.uint64).astype(U32)
    b = rng.integers(0, 2**32, n, dtype=np.uint64).astype(U32)
    near = rng.random(n) < 1 / 3
    shift = rng.integers(-26, 27, n)
    exp_a = (a >> U32(23)) & U32(0xFF)
    exp_b = np.clip(exp_a.astype(np.int64) + shift, 1, 254).astype(U32)
    b = np.where(near, (b & U32(0x807FFFFF)) | (exp_b << U32(23)), b)
    corner = rng.random(n) < 1 / 6
    b = np.where(corner, rng.choice(FP_CORNERS, n), b)
    corner = rng.random(n) < 1 / 6
    a = np.where(corner, rng.choice(FP_CORNERS, n), a)
    return a.astype(U32), b.astype(U32)


FP_ADDEND_CORNERS = np.array(_signed([0x00000000, 0x00000001, 0x00800000, *_f(1.0, 1.5, 2.0**-100, 2.0**100),
                                      0x7F7FFFFF, 0x7F800000, 0x7FC00000, 0x7F800001]), dtype=U32)
"""A few fp32 words of every class (both signs): the third operand of ffma's corner cross product."""


def _random_addends(rng: np.random.Generator, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """ffma's c for random a and b: half near the product's magnitude, of either sign (where the sum
    cancels and the rounding of the exact sum matters), a third uniform bit patterns, the rest corners."""
    n = len(a)
    c = rng.integers(0, 2**32, n, dtype=np.uint64).astype(U32)
    exp_p = ((a >> U32(23)) & U32(0xFF)).astype(np.int64) + ((b >> U32(23)) & U32(0xFF)).astype(np.int64) - 127
    exp_c = np.clip(exp_p + rng.integers(-30, 31, n), 1, 254).astype(U32)
    near = rng.random(n) < 0.5
    c = np.where(near, (c & U32(0x807FFFFF)) | (exp_c << U32(23)), c)
    # the product itself, negated: total cancellation (an exact zero) or nearly
    cancel = rng.random(n) < 0.05
    with np.errstate(all="ignore"):  # NaN and infinite operands among the random words
        product = a.view(np.float32).astype(np.float64) * b.view(np.float32).astype(np.float64)
        exact_negation = (-product).astype(np.float32).view(U32)
    c = np.where(cancel, exact_negation, c)
    corner = rng.random(n) < 1 / 6
    return np.where(corner, rng.choice(FP_ADDEND_CORNERS, n), c).astype(U32)


def _random_int(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    a = rng.integers(0, 2**32, n, dtype=np.uint64).astype(U32)
    b = rng.integers(0, 2**32, n, dtype=np.uint64).astype(U32)
    small = rng.random(n) < 0.25  # shift amounts and small numbers
    b = np.where(small, rng.integers(0, 64, n).astype(U32), b)
    equal = rng.random(n) < 0.1
    b = np.where(equal, a, b)
    return a, b


def operands(name: str, rng: np.random.Generator, n_random: int, *, corners: bool = True):
    """(a, b, c) operand arrays for op *name*: the full cross product of corner values (for one-operand
    ops, every corner value) followed by *n_random* random ones."""
    info = OP_BY_NAME[name]
    values = FP_CORNERS if is_float_op(name) else INT_CORNERS
    parts_a, parts_b, parts_c = [], [], []
    if corners and name == "ffma":  # a x b x a few addends of every class
        ga, gb, gc = np.meshgrid(values, values, FP_ADDEND_CORNERS, indexing="ij")
        parts_a.append(ga.ravel())
        parts_b.append(gb.ravel())
        parts_c.append(gc.ravel())
    elif corners:
        if info.arity == 1:
            parts_a.append(values)
            parts_b.append(np.zeros_like(values))
        else:
            ga, gb = np.meshgrid(values, values, indexing="ij")
            parts_a.append(ga.ravel())
            parts_b.append(gb.ravel())
    if n_random:
        ra, rb = (_random_fp if is_float_op(name) else _random_int)(rng, n_random)
        parts_a.append(ra)
        parts_b.append(rb)
    if not parts_a:
        empty = np.zeros(0, U32)
        return empty, empty, empty
    a = np.concatenate(parts_a).astype(U32)
    b = np.concatenate(parts_b).astype(U32)
    if name == "ffma":
        return a, b, np.concatenate(parts_c + [_random_addends(rng, a[len(a) - n_random:], b[len(b) - n_random:])]).astype(U32)
    c = np.where(rng.random(len(a)) < 0.5, U32(0), rng.integers(0, 2**32, len(a), dtype=np.uint64).astype(U32))
    if name == "select":  # corners of c: zero, one, sign bit only
        c[: 3 * (len(c) // 4)] = np.resize(np.array([0, 1, 0x80000000], dtype=U32), 3 * (len(c) // 4))
        rng.shuffle(c)
    return a, b, c.astype(U32)
