"""Known-answer checks of the golden arithmetic model against independent references: NumPy's IEEE
float32 (where DAZ/FTZ cannot matter), Python integers and hand-computed values."""

import numpy as np
import pytest

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
    rng = seeded_rng(request)
    a = rng.integers(0, 2**32, 5000, dtype=np.uint64).astype(np.uint32)
    b = rng.integers(0, 2**32, 5000, dtype=np.uint64).astype(np.uint32)
    s = lambda w: w - (1 << 32) if w >> 31 else w  # noqa: E731
    checks = {
        "mul": lambda x, y: (x * y) & 0xFFFFFFFF,
        "sra": lambda x, y: (s(x) >> (y & 31)) & 0xFFFFFFFF,
        "shl": lambda x, y: (x << (y & 31)) & 0xFFFFFFFF,
        "lt": lambda x, y: int(s(x) < s(y)),
        "min": lambda x, y: x if s(x) < s(y) else y,
        "sub": lambda x, y: (x - y) & 0xFFFFFFFF,
    }
    for name, ref in checks.items():
        got = evaluate_op(name, a, b).tolist()
        assert got == [ref(int(x), int(y)) for x, y in zip(a, b)], name
