"""Functional coverage of the arithmetic regression, sampled where stimulus and checked results meet:
after a run of the arithmetic bench, each counted vector (its result compared with the golden model)
is classed and sampled. One coverage group per op, ``arith.<op>``.

Bins, per op (rtl/spec/ops.py):

* fp ops of two operands (fadd, fsub, fmul, fmin, fmax, flt, feq): the cross of the classes of a and
  b; fp ops of one (fabs, fneg, f2i, f2bf, f2bf_sr): the class of a. Classes of an fp32 word: +0, -0,
  subnormal, min_normal (+-2^-126), normal, max_normal (+-(2 - 2^-23) 2^127), inf, nan.
* int ops of two operands (add ... mul): the cross of the int32 classes of a and b (0, 1, -1,
  positive, negative, max = 2^31 - 1, min = -2^31); select: that cross and its condition c (zero,
  nonzero); pass and i2f: the class of a.
* ffma: the cross of the classes of a, b and c; how much the sum cancels (``cancellation``: none,
  partial: the exact sum is nonzero and below half the larger of a x b and c in magnitude, total: it
  is zero though they are not).
* rounding ops (fadd, fsub, fmul, i2f, ffma): the class of the result against the exact value: exact, tie
  (the exact value halfway between two fp32 values), rounded, overflow (finite operands, infinite
  result), flushed (a nonzero exact value below the normal range, returned as zero: FTZ). Vectors with
  a NaN or infinite operand have no result class. The bins that cannot be hit are listed with why
  (``arith_group``).

The classes are computed from the words and the spec's semantics (DAZ: subnormal operands read as
zeros), never from the RTL.
"""

from __future__ import annotations

import numpy as np

from rdagen.rtl.spec.ops import OPS

from .group import Group, merge

__all__ = ["FP_CLASSES", "INT_CLASSES", "RESULT_CLASSES", "CANCELLATION", "fp_class", "int_class", "result_class",
           "cancellation_class", "sample_arith",
           "arith_coverage", "arith_group"]

FP_CLASSES = ("+0", "-0", "subnormal", "min_normal", "normal", "max_normal", "inf", "nan")
INT_CLASSES = ("0", "1", "-1", "positive", "negative", "max", "min")
RESULT_CLASSES = ("exact", "tie", "rounded", "overflow", "flushed")
FP_BINARY = ("fadd", "fsub", "fmul", "fmin", "fmax", "flt", "feq")
FP_UNARY = ("fabs", "fneg", "f2i", "f2bf", "f2bf_sr")
FP_TERNARY = ("ffma",)
CANCELLATION = ("none", "partial", "total")
INT_UNARY = ("pass", "i2f")
ROUNDING = ("fadd", "fsub", "fmul", "i2f", "ffma")
U32 = np.uint32


def fp_class(words: np.ndarray) -> np.ndarray:
    """Index into FP_CLASSES of every fp32 word."""
    w = np.asarray(words, U32)
    exp, man, sign = (w >> 23) & 0xFF, w & 0x7FFFFF, w >> 31
    magnitude = w & 0x7FFFFFFF
    return np.select(
        [magnitude == 0, (exp == 0), magnitude == 0x00800000, magnitude == 0x7F7FFFFF, (exp == 255) & (man == 0),
         exp == 255],
        [np.where(sign == 0, 0, 1), 2, 3, 5, 6, 7], default=4)


def int_class(words: np.ndarray) -> np.ndarray:
    """Index into INT_CLASSES of every int32 word."""
    v = np.asarray(words, U32).view(np.int32)
    return np.select([v == 0, v == 1, v == -1, v == 2**31 - 1, v == -2**31, v > 0], [0, 1, 2, 5, 6, 3], default=4)


def _read(words):
    """fp32 words as float64, subnormals as signed zeros (DAZ)."""
    w = np.asarray(words, U32)
    w = np.where(((w >> 23) & 0xFF) == 0, w & 0x80000000, w).astype(U32)
    with np.errstate(invalid="ignore"):  # signalling NaNs stay NaNs
        return w.view(np.float32).astype(np.float64)


def _exact_sum(x, y):
    """(s, e): the float64 sum of *x* and *y* and its error (TwoSum: s + e is the exact sum)."""
    s = x + y
    back = s - x
    return s, (x - (s - back)) + (y - back)


def result_class(op: str, a: np.ndarray, b: np.ndarray, result: np.ndarray, c: np.ndarray | None = None) -> np.ndarray:
    """Index into RESULT_CLASSES of every vector of rounding op *op*, or -1 (a NaN or infinite operand,
    or a NaN result: no rounding happened)."""
    r32 = np.asarray(result, U32).view(np.float32)
    r = r32.astype(np.float64)
    if op == "i2f":
        exact, err = np.asarray(a, U32).view(np.int32).astype(np.float64), np.zeros(len(r))
        finite = np.ones(len(r), bool)
    else:
        x, y = _read(a), _read(b)
        if op == "fsub":
            y = -y
        finite = np.isfinite(x) & np.isfinite(y)
        with np.errstate(all="ignore"):
            if op == "fmul":
                exact, err = x * y, np.zeros(len(r))  # 24 x 24 significand bits: exact in float64
            elif op == "ffma":  # the product is exact; the sum with its error
                z = _read(c)
                finite &= np.isfinite(z)
                exact, err = _exact_sum(x * y, z)
            else:
                exact, err = _exact_sum(x, y)
    with np.errstate(all="ignore"):
        toward = np.nextafter(r32, np.where(exact > r, np.float32(np.inf), np.float32(-np.inf)).astype(np.float32))
        tie = (err == 0) & ((r + toward.astype(np.float64)) * 0.5 == exact) & (exact != r)
    nonzero = (exact != 0) | (err != 0)
    classes = np.select(
        [~finite | np.isnan(r),
         np.isinf(r),
         (r == 0) & nonzero,
         (exact == r) & (err == 0),
         tie],
        [-1, 3, 4, 0, 1], default=2)
    return classes


def cancellation_class(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Index into CANCELLATION of every ffma vector, or -1 (a NaN or infinite operand or product)."""
    with np.errstate(all="ignore"):
        p, z = _read(a) * _read(b), _read(c)
        s, e = _exact_sum(p, z)
        larger = np.maximum(np.abs(p), np.abs(z))
        finite = np.isfinite(p) & np.isfinite(z)
        total = (s == 0) & (e == 0) & (larger != 0)
        partial = ~total & (np.abs(s) < larger / 2)
    return np.where(finite, np.select([total, partial], [2, 1], default=0), -1)


def arith_group(op: str) -> Group:
    """The coverage group of *op*."""
    if op not in _GROUPS:
        points, crosses, unreachable = {}, {}, {}
        if op in FP_TERNARY:
            points = {"a": FP_CLASSES, "b": FP_CLASSES, "c": FP_CLASSES, "cancellation": CANCELLATION}
            crosses = {"operands": ("a", "b", "c")}
        elif op in FP_BINARY or (op not in FP_UNARY and op not in INT_UNARY):
            classes = FP_CLASSES if op in FP_BINARY else INT_CLASSES
            points = {"a": classes, "b": classes}
            crosses = {"operands": ("a", "b")}
        else:
            points = {"operands": FP_CLASSES if op in FP_UNARY else INT_CLASSES}
        if op == "select":
            points["condition"] = ("zero", "nonzero")
        if op in ROUNDING:
            points["result"] = RESULT_CLASSES
        if op == "i2f":
            unreachable = {
                ("result", "overflow"): "an int32 is below 2^31 in magnitude, far inside the fp32 range",
                ("result", "flushed"): "a nonzero int32 is at least 1 in magnitude, never below the normal range",
            }
        _GROUPS[op] = Group(f"arith.{op}", points, crosses, unreachable)
    return _GROUPS[op]


_GROUPS: dict[str, Group] = {}
_OPS = {op.name for op in OPS}


def sample_arith(op_names: np.ndarray, a: np.ndarray, b: np.ndarray, results: np.ndarray, scope: str = "",
                 c: np.ndarray | None = None) -> None:
    """Samples checked vectors: *op_names* (the op of each vector), its operands and its result, into the
    items of *scope* (a run's own items, so that runs in one process do not add to each other)."""
    c = np.zeros(len(a), U32) if c is None else np.asarray(c, U32)
    for op in np.unique(op_names):
        op = str(op)
        if op not in _OPS:
            raise ValueError(f"sample_arith: unknown op {op!r}")
        mine = op_names == op
        fp = op in FP_BINARY + FP_UNARY + FP_TERNARY
        ca = (fp_class if fp else int_class)(a[mine])
        cb = (fp_class if fp else int_class)(b[mine])
        cr = result_class(op, a[mine], b[mine], results[mine], c[mine]) if op in ROUNDING else np.full(mine.sum(), -1)
        if op in FP_TERNARY:  # the class of c, and how the sum cancels
            cc, cx = fp_class(c[mine]), cancellation_class(a[mine], b[mine], c[mine])
        else:  # select's condition
            cc, cx = (c[mine] != 0).astype(int), np.full(mine.sum(), -1)
        classes = FP_CLASSES if fp else INT_CLASSES
        group = arith_group(op)
        # One sample per distinct combination: the bins hit are what coverage closure asks.
        for ia, ib, ir, ic, ix in np.unique(np.stack([ca, cb, cr, cc, cx], axis=1), axis=0):
            event = {"a": classes[ia], "b": classes[ib], "operands": classes[ia],
                     "result": RESULT_CLASSES[ir] if ir >= 0 else None, "condition": ("zero", "nonzero")[min(ic, 1)],
                     "c": FP_CLASSES[ic], "cancellation": CANCELLATION[ix] if ix >= 0 else None}
            group.sample(scope, **{k: v for k, v in event.items() if k in group.points and v is not None})


def arith_coverage(ops, scope: str = "") -> dict:
    """{"bins", "hit", "missing", "unreachable"} over the groups of *ops* (sampled so far in *scope*)."""
    return merge([arith_group(op).report(scope) for op in ops])
