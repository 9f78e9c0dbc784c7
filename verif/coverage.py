"""Functional coverage of the arithmetic regression (cocotb-coverage), sampled where stimulus and checked
results meet: after a run of the arithmetic bench, each counted vector (its result compared with the
golden model) is classed and sampled.

Bins, per op (rtl/ops.py):

* fp ops of two operands (fadd, fsub, fmul, fmin, fmax, flt, feq): the cross of the classes of a and
  b; fp ops of one (fabs, fneg, f2i, f2bf, f2bf_sr): the class of a. Classes of an fp32 word: +0, -0,
  subnormal, min_normal (+-2^-126), normal, max_normal (+-(2 - 2^-23) 2^127), inf, nan.
* rounding ops (fadd, fsub, fmul, i2f): the class of the result against the exact value: exact, tie
  (the exact value halfway between two fp32 values), rounded, overflow (finite operands, infinite
  result), flushed (a nonzero exact value below the normal range, returned as zero: FTZ). Vectors with
  a NaN or infinite operand have no result class. The bins that cannot be hit are listed with why
  (``UNREACHABLE``).

The classes are computed from the words and the spec's semantics (DAZ: subnormal operands read as
zeros), never from the RTL.
"""

from __future__ import annotations

import numpy as np
from cocotb_coverage.coverage import CoverCross, CoverPoint, coverage_db, coverage_section

__all__ = ["FP_CLASSES", "RESULT_CLASSES", "UNREACHABLE", "fp_class", "result_class", "sample_arith",
           "arith_coverage"]

FP_CLASSES = ("+0", "-0", "subnormal", "min_normal", "normal", "max_normal", "inf", "nan")
RESULT_CLASSES = ("exact", "tie", "rounded", "overflow", "flushed")
FP_BINARY = ("fadd", "fsub", "fmul", "fmin", "fmax", "flt", "feq")
FP_UNARY = ("fabs", "fneg", "f2i", "f2bf", "f2bf_sr")
ROUNDING = ("fadd", "fsub", "fmul", "i2f")
UNREACHABLE = {
    ("i2f", "overflow"): "an int32 is below 2^31 in magnitude, far inside the fp32 range",
    ("i2f", "flushed"): "a nonzero int32 is at least 1 in magnitude, never below the normal range",
}
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


def _read(words):
    """fp32 words as float64, subnormals as signed zeros (DAZ)."""
    w = np.asarray(words, U32)
    w = np.where(((w >> 23) & 0xFF) == 0, w & 0x80000000, w).astype(U32)
    with np.errstate(invalid="ignore"):  # signalling NaNs stay NaNs
        return w.view(np.float32).astype(np.float64)


def result_class(op: str, a: np.ndarray, b: np.ndarray, result: np.ndarray) -> np.ndarray:
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
            else:  # TwoSum: exact + err is the exact sum
                exact = x + y
                back = exact - x
                err = (x - (exact - back)) + (y - back)
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


def _prefix(op: str, scope: str) -> str:
    return f"arith.{scope}.{op}" if scope else f"arith.{op}"


def _items(op: str, scope: str) -> tuple[list, list[str]]:
    """The coverage items of *op* in *scope*, and the names of those whose bins are reported (the
    cross of two operands, not its two points)."""
    prefix = _prefix(op, scope)
    items, reported = [], []
    if op in FP_BINARY:
        items += [CoverPoint(f"{prefix}.a", xf=lambda a, b, r: a, bins=list(FP_CLASSES)),
                  CoverPoint(f"{prefix}.b", xf=lambda a, b, r: b, bins=list(FP_CLASSES)),
                  CoverCross(f"{prefix}.operands", items=[f"{prefix}.a", f"{prefix}.b"])]
        reported.append(f"{prefix}.operands")
    elif op in FP_UNARY:
        items.append(CoverPoint(f"{prefix}.operands", xf=lambda a, b, r: a, bins=list(FP_CLASSES)))
        reported.append(f"{prefix}.operands")
    if op in ROUNDING:
        items.append(CoverPoint(f"{prefix}.result", xf=lambda a, b, r: r, bins=list(RESULT_CLASSES)))
        reported.append(f"{prefix}.result")
    return items, reported


_SAMPLERS: dict = {}


def _sampler(op: str, scope: str):
    """(the sampling function of *op*'s items in *scope*, or None for an op without bins; reported names)."""
    if (op, scope) not in _SAMPLERS:
        items, reported = _items(op, scope)

        @coverage_section(*items)
        def sample(a, b, r):
            pass

        _SAMPLERS[op, scope] = (sample if items else None), reported
    return _SAMPLERS[op, scope]


def sample_arith(op_names: np.ndarray, a: np.ndarray, b: np.ndarray, results: np.ndarray, scope: str = "") -> None:
    """Samples checked vectors: *op_names* (the op of each vector), its operands and its result, into the
    coverage items of *scope* (a run's own items, so that runs in one process do not add to each other)."""
    for op in np.unique(op_names):
        op = str(op)
        sample, _ = _sampler(op, scope)
        if sample is None:
            continue
        mine = op_names == op
        ca = fp_class(a[mine]) if op in FP_BINARY + FP_UNARY else np.zeros(mine.sum(), int)
        cb = fp_class(b[mine]) if op in FP_BINARY else np.zeros(mine.sum(), int)
        cr = result_class(op, a[mine], b[mine], results[mine]) if op in ROUNDING else np.full(mine.sum(), -1)
        # One sample per distinct combination: the bins hit are what coverage closure asks.
        for ia, ib, ir in np.unique(np.stack([ca, cb, cr], axis=1), axis=0):
            sample(FP_CLASSES[ia], FP_CLASSES[ib], RESULT_CLASSES[ir] if ir >= 0 else None)


def arith_coverage(ops, scope: str = "") -> dict:
    """{"bins", "hit", "missing", "unreachable"} over the bins of *ops* (sampled so far in *scope*)."""
    bins = hit = 0
    missing, unreachable = [], []
    for op in ops:
        for item in _sampler(op, scope)[1]:
            detail = coverage_db[item].detailed_coverage
            for key, count in detail.items():
                label = key if isinstance(key, str) else "x".join(map(str, key))
                name = f"arith.{op}.{item.rsplit('.', 1)[1]}:{label}"  # the same name in every scope
                why = UNREACHABLE.get((op, key))
                if why:
                    unreachable.append({"bin": name, "why": why})
                elif count:
                    bins, hit = bins + 1, hit + 1
                else:
                    bins += 1
                    missing.append(name)
    return {"bins": bins, "hit": hit, "missing": missing, "unreachable": unreachable}
