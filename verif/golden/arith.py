"""NumPy golden model of the functional-unit ops (rtl/spec/ops.py), written from the spec, not from the RTL.

Every function takes and returns ``np.uint32`` words, vectorized over arrays.

How the fp32 results are obtained, independently of the hardware algorithm:

* add, sub, mul and int->fp32 are computed in float64 and then rounded to 24 significant bits with an
  unbounded exponent (``_round_f64_to_f32``). Products of two 24-bit significands and int32 values are
  exact in float64. Sums may be rounded twice (to 53 bits, then to 24), which is innocuous because
  53 >= 2 * 24 + 2 (Figueroa, "When is double rounding innocuous?", 1995), so every result is the
  correctly rounded one.
* FTZ then applies to the rounded result (|r| < 2^-126 -> signed zero), overflow gives infinity, every
  NaN is 0x7FC00000.
* fp32 -> bf16 (RNE) goes through ml_dtypes.bfloat16.
* ffma: the product a x b is exact in float64; the sum s = a x b + c is computed in float64 together with
  its exact error e (TwoSum: s + e is the exact sum). Rounding s to 24 bits gives the correctly rounded
  exact sum unless s lies exactly halfway between two fp32 neighbours and e is not zero: then s is
  first moved one float64 step towards the exact sum (``_ffma``).
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

from rdagen.rtl.spec.ops import CANONICAL_NAN, OPS, OP_BY_NAME, lfsr_seed, lfsr_step

__all__ = ["evaluate", "evaluate_op", "sr_random_bits", "daz", "is_nan", "f32_bits", "bits_f32"]

U32 = np.uint32
SIGN = U32(0x80000000)


def f32_bits(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float32).view(U32)


def bits_f32(w) -> np.ndarray:
    return np.asarray(w, dtype=U32).view(np.float32)


def is_nan(w: np.ndarray) -> np.ndarray:
    return ((w & U32(0x7F800000)) == U32(0x7F800000)) & ((w & U32(0x007FFFFF)) != 0)


def daz(w: np.ndarray) -> np.ndarray:
    """Subnormal inputs read as zero of the same sign."""
    return np.where((w & U32(0x7F800000)) == 0, w & SIGN, w).astype(U32)


def _to_f64(w: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):  # signalling NaNs
        return daz(w).view(np.float32).astype(np.float64)


def _round_f64_to_f32(x: np.ndarray) -> np.ndarray:
    """Round float64 values to fp32 words: RNE to 24 bits, unbounded exponent, then FTZ/overflow/NaN."""
    x = np.asarray(x, dtype=np.float64)
    bits = x.view(np.uint64)
    sign = (bits >> np.uint64(63)).astype(U32) << U32(31)
    mag = bits & np.uint64(0x7FFFFFFFFFFFFFFF)
    # Round the 52-bit fraction to 23 bits, to nearest, ties to even; a carry ripples into the exponent.
    drop = np.uint64(29)
    lsb = (mag >> drop) & np.uint64(1)
    mag = (mag + np.uint64((1 << 28) - 1) + lsb) >> drop << drop
    exp = (mag >> np.uint64(52)).astype(np.int64) - 1023
    frac = ((mag >> drop) & np.uint64(0x7FFFFF)).astype(U32)
    normal = sign | ((exp + 127).clip(0, 255).astype(U32) << U32(23)) | frac
    out = np.where(exp > 127, sign | U32(0x7F800000), normal)
    out = np.where(exp < -126, sign, out)  # FTZ; also exact zeros
    return np.where(np.isnan(x), U32(CANONICAL_NAN), out).astype(U32)


def _bool(x: np.ndarray) -> np.ndarray:
    return x.astype(U32)


def _fadd(a, b):
    with np.errstate(invalid="ignore", over="ignore"):
        return _round_f64_to_f32(_to_f64(a) + _to_f64(b))


def _fsub(a, b):
    with np.errstate(invalid="ignore", over="ignore"):
        return _round_f64_to_f32(_to_f64(a) - _to_f64(b))


def _fmul(a, b):
    with np.errstate(invalid="ignore", over="ignore"):
        return _round_f64_to_f32(_to_f64(a) * _to_f64(b))


def _ffma(a, b, c):
    x, y, z = _to_f64(a), _to_f64(b), _to_f64(c)
    with np.errstate(invalid="ignore", over="ignore"):
        p = x * y  # 48 significant bits at most: exact
        s = p + z
        back = s - p
        e = (p - (s - back)) + (z - back)  # TwoSum (Knuth): s + e == p + z exactly, for finite p and z
        bits = s.view(np.uint64)
        # halfway between two fp32 values: the 29 float64 fraction bits below fp32's are 1000...0
        halfway = (bits & np.uint64((1 << 29) - 1)) == np.uint64(1 << 28)
        nudge = np.isfinite(s) & np.isfinite(e) & (e != 0) & halfway
        s = np.where(nudge, np.nextafter(s, np.where(e > 0, np.inf, -np.inf)), s)
    return _round_f64_to_f32(s)


def _fminmax(a, b, want_min: bool):
    x, y = _to_f64(a), _to_f64(b)
    da, db = daz(a), daz(b)
    pick_a = (x < y) if want_min else (x > y)
    out = np.where(pick_a, da, db)
    # Both zero: -0 is the smaller one.
    both_zero = (x == 0) & (y == 0)
    zero = (da | db) & SIGN if want_min else (da & db) & SIGN
    out = np.where(both_zero, zero, out)
    return np.where(is_nan(a) | is_nan(b), U32(CANONICAL_NAN), out).astype(U32)


def _sr_bf16(a, rand16):
    """Stochastic rounding to bf16 per the spec: add 16 random bits below the cut, then truncate."""
    w = daz(a).astype(np.uint64)
    out = ((w + np.asarray(rand16, dtype=np.uint64)) & np.uint64(0xFFFF0000)).astype(U32)
    return np.where(is_nan(a), U32(CANONICAL_NAN), out).astype(U32)


def _rne_bf16(a):
    with np.errstate(over="ignore", invalid="ignore"):
        bf = bits_f32(daz(a)).astype(ml_dtypes.bfloat16)
    out = bf.view(np.uint16).astype(U32) << U32(16)
    return np.where(is_nan(a), U32(CANONICAL_NAN), out).astype(U32)


def _f2i(a):
    x = _to_f64(a)
    with np.errstate(invalid="ignore"):
        t = np.trunc(np.nan_to_num(x, nan=0.0, posinf=2.0**31, neginf=-(2.0**31)))
    t = np.clip(t, -(2.0**31), 2.0**31 - 1)
    return t.astype(np.int64).astype(U32)


def _i2f(a):
    return _round_f64_to_f32(a.view(np.int32).astype(np.float64))


def _s(x):
    return x.view(np.int32)


_BINARY = {
    "pass": lambda a, b, c: a,
    "add": lambda a, b, c: a + b,
    "sub": lambda a, b, c: a - b,
    "and": lambda a, b, c: a & b,
    "or": lambda a, b, c: a | b,
    "xor": lambda a, b, c: a ^ b,
    "shl": lambda a, b, c: a << (b & U32(31)),
    "shr": lambda a, b, c: a >> (b & U32(31)),
    "sra": lambda a, b, c: (_s(a) >> _s(b & U32(31))).view(U32),
    "min": lambda a, b, c: np.minimum(_s(a), _s(b)).view(U32),
    "max": lambda a, b, c: np.maximum(_s(a), _s(b)).view(U32),
    "lt": lambda a, b, c: _bool(_s(a) < _s(b)),
    "eq": lambda a, b, c: _bool(a == b),
    "select": lambda a, b, c: np.where(c != 0, a, b),
    "mul": lambda a, b, c: (a.astype(np.uint64) * b.astype(np.uint64)).astype(U32),
    "fadd": lambda a, b, c: _fadd(a, b),
    "fsub": lambda a, b, c: _fsub(a, b),
    "fmul": lambda a, b, c: _fmul(a, b),
    "fmin": lambda a, b, c: _fminmax(a, b, True),
    "fmax": lambda a, b, c: _fminmax(a, b, False),
    "flt": lambda a, b, c: _bool((_to_f64(a) < _to_f64(b)) & ~is_nan(a) & ~is_nan(b)),
    "feq": lambda a, b, c: _bool((_to_f64(a) == _to_f64(b)) & ~is_nan(a) & ~is_nan(b)),
    "fabs": lambda a, b, c: np.where(is_nan(a), U32(CANONICAL_NAN), daz(a) & ~SIGN),
    "fneg": lambda a, b, c: np.where(is_nan(a), U32(CANONICAL_NAN), daz(a) ^ SIGN),
    "i2f": lambda a, b, c: _i2f(a),
    "f2i": lambda a, b, c: _f2i(a),
    "f2bf": lambda a, b, c: _rne_bf16(a),
    "ffma": lambda a, b, c: _ffma(a, b, c),
}
assert set(_BINARY) | {"f2bf_sr"} == set(OP_BY_NAME), "golden model and op table disagree"


def evaluate_op(name: str, a, b=None, c=None, rand16=None) -> np.ndarray:
    """Result words of op *name* on operand arrays (b, c default to zero).

    ``f2bf_sr`` needs *rand16*, the 16 random bits each operation uses (see ``sr_random_bits``).
    """
    a = np.asarray(a, dtype=U32)
    b = np.zeros_like(a) if b is None else np.asarray(b, dtype=U32)
    c = np.zeros_like(a) if c is None else np.asarray(c, dtype=U32)
    if name == "f2bf_sr":
        if rand16 is None:
            raise ValueError("f2bf_sr needs the random bits of each rounding (rand16)")
        return _sr_bf16(a, rand16)
    if name not in _BINARY:
        raise ValueError(f"unknown op {name!r}; valid ops: {', '.join(OP_BY_NAME)}")
    with np.errstate(over="ignore"):
        return np.asarray(_BINARY[name](a, b, c), dtype=U32)


def sr_random_bits(codes: np.ndarray, seed: int, lane0: int = 0) -> np.ndarray:
    """Random bits used by each f2bf_sr op in a stream of shape (cycles, lanes) after a reseed.

    Lane ``j`` of the array is generator lane ``lane0 + j``. Entries that are not f2bf_sr are 0.
    """
    codes = np.asarray(codes)
    sr = codes == OP_BY_NAME["f2bf_sr"].code
    index = np.cumsum(sr, axis=0) - 1  # which use of its lane's generator each op is
    uses = int(sr.sum(axis=0).max(initial=0))
    lanes = codes.shape[1]
    state = np.array([lfsr_seed(seed, lane0 + j) for j in range(lanes)], dtype=U32)
    history = np.zeros((max(uses, 1), lanes), dtype=U32)
    for k in range(uses):
        history[k] = state >> U32(16)
        state = lfsr_step(state)
    picked = np.take_along_axis(history, np.maximum(index, 0), axis=0)
    return np.where(sr, picked, 0).astype(U32)


def evaluate(codes, a, b, c, seed: int = 0, lane0: int = 0) -> np.ndarray:
    """Results of a stream of ops of shape (cycles, lanes), one op per lane per cycle, after a reseed."""
    codes = np.asarray(codes)
    a, b, c = (np.asarray(x, dtype=U32) for x in (a, b, c))
    rand = sr_random_bits(codes, seed, lane0)
    out = np.zeros(codes.shape, dtype=U32)
    for op in OPS:
        mask = codes == op.code
        if mask.any():
            out[mask] = evaluate_op(op.name, a[mask], b[mask], c[mask], rand[mask])
    return out
