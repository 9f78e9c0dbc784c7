"""Known-answer checks of the golden arithmetic model against independent references: NumPy's IEEE
float32 (where DAZ/FTZ cannot matter), Python integers and hand-computed values."""

import numpy as np
import pytest

from rdagen.rtl.spec.ops import OPS
from rdagen.verif.golden.arith import evaluate_op, f32_bits

from .conftest import seeded_rng

F = lambda *v: f32_bits(np.array(v, np.float32))  # noqa: E731


def _normal_operands(rng, n):
    return (rng.uniform(-1, 1, n) * 2.0 ** rng.integers(-60, 60, n)).astype(np.float32)


@pytest.mark.parametrize("name,np_op", [("fadd", np.add), ("fsub", np.subtract), ("fmul", np.multiply)])
def test_fp_ops_match_ieee_float32_in_the_normal_range(name, np_op, request):
    rng = seeded_rng(request)
    x, y = _normal_operands(rng, 100_000), _normal_operands(rng, 100_000)
    ieee = np_op(x, y)
    got = evaluate_op(name, f32_bits(x), f32_bits(y))
    normal = np.abs(ieee) >= np.float32(2.0**-126)
    assert normal.mean() > 0.9
    assert np.array_equal(got[normal], ieee[normal].view(np.uint32))
    tiny = ~normal  # subnormal or zero results: flushed, sign kept
    assert np.all((got[tiny] & 0x7FFFFFFF) == 0)


def test_hand_computed_values():
    ev = lambda op, a, b=None: [hex(v) for v in evaluate_op(op, a, b)]  # noqa: E731
    assert ev("fadd", F(1.0, 3.0, -0.0), F(2.0**-24, -3.0, -0.0)) == ["0x3f800000", "0x0", "0x80000000"]
    assert ev("fadd", F(1.0), F(3 * 2.0**-24)) == ["0x3f800002"]  # tie to even, upwards
    assert ev("fmul", F(2.0**-100, 3.0), F(2.0**-30, float("inf"))) == ["0x0", "0x7f800000"]
    assert ev("fmul", F(0.0), F(float("inf"))) == ["0x7fc00000"]
    assert ev("fadd", np.array([0x00000001], np.uint32), F(0.0)) == ["0x0"]  # subnormal input read as 0
    assert ev("fadd", F(3.0e38), F(3.0e38)) == ["0x7f800000"]
    # (1 - 2^-23) * 2^-126 (1 + 2^-23) = 2^-126 (1 - 2^-46) rounds up to the smallest normal and so
    # survives FTZ (tininess after rounding); (1 - 2^-24) * 2^-126 is exact, below 2^-126, and flushed.
    assert ev("fmul", F(1.0 - 2.0**-23), np.array([0x00800001], np.uint32)) == ["0x800000"]
    assert ev("fmul", F(1.0 - 2.0**-24), F(2.0**-126)) == ["0x0"]
    assert ev("fmin", F(0.0, -0.0), F(-0.0, 0.0)) == ["0x80000000", "0x80000000"]
    assert ev("fmax", F(0.0, -0.0), F(-0.0, 0.0)) == ["0x0", "0x0"]
    assert ev("feq", F(0.0), F(-0.0)) == ["0x1"] and ev("flt", F(-0.0), F(0.0)) == ["0x0"]
    assert ev("fabs", np.array([0xFF800001], np.uint32)) == ["0x7fc00000"]
    assert ev("f2bf", np.array([0x3F808000, 0x3F818000, 0x3F808001, 0x7F7FFFFF], np.uint32)) == \
        ["0x3f800000", "0x3f820000", "0x3f810000", "0x7f800000"]


def test_integer_conversions_match_python(request):
    rng = seeded_rng(request)
    ints = rng.integers(-(2**31), 2**31, 10_000).astype(np.int64)
    got = evaluate_op("i2f", ints.astype(np.int32).view(np.uint32)).view(np.float32)
    assert np.array_equal(got, ints.astype(np.float32))  # NumPy's int64 -> float32 rounds to nearest even
    floats = np.concatenate([rng.uniform(-3e9, 3e9, 10_000), [2.0**31, -(2.0**31), -0.99, 0.99, 1e30]])
    floats = floats.astype(np.float32)
    got = evaluate_op("f2i", f32_bits(floats)).view(np.int32)
    want = [max(-(2**31), min(2**31 - 1, int(float(f)))) for f in floats]
    assert got.tolist() == want
    assert evaluate_op("f2i", np.array([0x7FC00000, 0xFF800000], np.uint32)).tolist() == [0, 0x80000000]


def test_int_ops_match_python(request):
    """Every op of the int and imul classes against Python integers, on random words and corner values."""
    rng = seeded_rng(request)
    corners = [0, 1, 2, 31, 32, 33, 0x7FFFFFFF, 0x80000000, 0x80000001, 0xFFFFFFFF, 0xFFFFFFFE]
    a = np.concatenate([rng.integers(0, 2**32, 3000, dtype=np.uint64), np.repeat(corners, len(corners))]).astype(np.uint32)
    b = np.concatenate([rng.integers(0, 2**32, 3000, dtype=np.uint64), np.tile(corners, len(corners))]).astype(np.uint32)
    c = np.concatenate([rng.integers(0, 3, 3000), np.tile([0, 1, 0x80000000, 5], len(corners) ** 2 // 4 + 1)
                        [: len(corners) ** 2]]).astype(np.uint32)
    s = lambda w: w - (1 << 32) if w >> 31 else w  # noqa: E731
    m = 0xFFFFFFFF
    checks = {
        "pass": lambda x, y, z: x,
        "add": lambda x, y, z: (x + y) & m,
        "sub": lambda x, y, z: (x - y) & m,
        "and": lambda x, y, z: x & y,
        "or": lambda x, y, z: x | y,
        "xor": lambda x, y, z: x ^ y,
        "shl": lambda x, y, z: (x << (y & 31)) & m,
        "shr": lambda x, y, z: x >> (y & 31),
        "sra": lambda x, y, z: (s(x) >> (y & 31)) & m,
        "min": lambda x, y, z: x if s(x) < s(y) else y,
        "max": lambda x, y, z: x if s(x) > s(y) else y,
        "lt": lambda x, y, z: int(s(x) < s(y)),
        "eq": lambda x, y, z: int(x == y),
        "select": lambda x, y, z: x if z != 0 else y,
        "mul": lambda x, y, z: (x * y) & m,
    }
    int_ops = {op.name for op in OPS if op.op_class.name in ("int", "imul")}
    assert set(checks) == int_ops, sorted(int_ops ^ set(checks))
    for name, ref in checks.items():
        got = evaluate_op(name, a, b, c).tolist()
        assert got == [ref(int(x), int(y), int(z)) for x, y, z in zip(a, b, c)], name


def test_stated_semantics_of_zeros_subnormals_and_nans():
    """Every rule rtl/spec/ops.py states beyond IEEE (DAZ in comparisons and conversions, NaN and signed-zero
    handling of fmin/fmax, signs of exact zeros and of flushed results, NaN in fabs/fneg, bf16 overflow),
    against values worked out by hand from the spec."""
    U = lambda *v: np.array(v, np.uint32)  # noqa: E731
    ev = lambda op, *args: [hex(v) for v in evaluate_op(op, *args)]  # noqa: E731
    sub, nsub, nan = 0x00000001, 0x80400000, 0x7FC00000
    # DAZ in comparisons and conversions
    assert ev("feq", U(sub, sub), U(0x80000000, 0x0)) == ["0x1", "0x1"]
    assert ev("flt", U(nsub, 0x80000000), U(sub, sub)) == ["0x0", "0x0"]
    assert ev("f2bf", U(sub, nsub)) == ["0x0", "0x80000000"]
    assert ev("f2bf_sr", U(sub, nsub), None, None, U(0xFFFF, 0xFFFF)) == ["0x0", "0x80000000"]
    assert ev("fmin", U(sub, nsub), U(0x3F800000, 0x0)) == ["0x0", "0x80000000"]
    assert ev("fmax", U(nsub), U(0xBF800000)) == ["0x80000000"]
    assert ev("fmul", U(sub, nsub), U(0x7F800000, 0xFF800000)) == [hex(nan)] * 2
    # fmin/fmax: canonical NaN from either side, whatever its payload and sign; -0 below +0
    for op in ("fmin", "fmax"):
        assert ev(op, U(0x7FC00001, 0x3F800000, 0xFF800001), U(0x3F800000, 0xFFC12345, 0x0)) == [hex(nan)] * 3
    assert ev("fmin", U(0x0, 0x80000000), U(0x80000000, 0x0)) == ["0x80000000"] * 2
    assert ev("fmax", U(0x0, 0x80000000), U(0x80000000, 0x0)) == ["0x0"] * 2
    # signs of exact zeros
    one, mone = 0x3F800000, 0xBF800000
    assert ev("fsub", U(one, mone, 0x0, 0x80000000, 0x80000000), U(one, mone, 0x0, 0x0, 0x80000000)) == \
        ["0x0", "0x0", "0x0", "0x80000000", "0x0"]
    assert ev("fadd", U(one, 0x80000000, 0x80000000), U(mone, 0x80000000, 0x0)) == ["0x0", "0x80000000", "0x0"]
    # FTZ keeps the sign of the rounded value
    assert ev("fmul", U(0x80800000, 0x00800000, 0x00800000), U(0x3F000000, 0xBF000000, 0x3F000000)) == \
        ["0x80000000", "0x80000000", "0x0"]
    assert ev("fsub", U(0x00800000), U(0x00800001)) == ["0x80000000"]  # -2^-149 flushed to -0
    # fabs and fneg of any NaN: the canonical NaN
    assert ev("fabs", U(0xFFC00001, 0x7F800001, 0xFFFFFFFF)) == [hex(nan)] * 3
    assert ev("fneg", U(0x7FC00000, 0xFF800001, 0x7FFFFFFF)) == [hex(nan)] * 3
    # bf16 overflow: RNE from the midpoint above the largest finite bf16; SR whenever the bits carry
    assert ev("f2bf", U(0x7F7F7FFF, 0x7F7F8000, 0x7F7FFFFF, 0xFF7F8000)) == \
        ["0x7f7f0000", "0x7f800000", "0x7f800000", "0xff800000"]
    assert ev("f2bf_sr", U(0x7F7F0000, 0x7F7F0001, 0x7F7F0001, 0xFF7FFFFF), None, None,
              U(0xFFFF, 0xFFFE, 0xFFFF, 0x0001)) == ["0x7f7f0000", "0x7f7f0000", "0x7f800000", "0xff800000"]
