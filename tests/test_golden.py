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


def _ffma_by_fractions(a: int, b: int, c: int) -> int:
    """ffma of three fp32 words worked out from the spec with exact rationals: DAZ, the exact a x b + c,
    rounded to 24 bits (ties to even, unbounded exponent), then FTZ and overflow; the sign of an exact
    zero; NaN for NaN operands, inf x 0 and inf - inf."""
    from fractions import Fraction

    def read(w):
        e, m, s = (w >> 23) & 0xFF, w & 0x7FFFFF, w >> 31
        if e == 255:
            return ("nan" if m else "inf"), s
        return (Fraction(0) if e == 0 else Fraction(m | 0x800000, 1 << 23) * Fraction(2) ** (e - 127)), s

    (x, sx), (y, sy), (z, sz) = read(a), read(b), read(c)
    if "nan" in (x, y, z) or ((x == "inf" and y == 0) or (x == 0 and y == "inf")):
        return 0x7FC00000
    if "inf" in (x, y):
        if z == "inf" and sz != sx ^ sy:
            return 0x7FC00000
        return ((sx ^ sy) << 31) | 0x7F800000
    if z == "inf":
        return (sz << 31) | 0x7F800000
    p = x * y * (-1 if sx ^ sy else 1)
    r = p + z * (-1 if sz else 1)
    if r == 0:
        return (1 << 31) if (p == 0 and z == 0 and (sx ^ sy) == sz == 1) else 0
    sign, r, e = int(r < 0), abs(r), 0
    while r >= 2:
        r, e = r / 2, e + 1
    while r < 1:
        r, e = r * 2, e - 1
    scaled = r * (1 << 23)
    mant, rest = divmod(scaled.numerator, scaled.denominator)
    rest = Fraction(rest, scaled.denominator)
    mant += rest > Fraction(1, 2) or (rest == Fraction(1, 2) and mant & 1)
    if mant == 1 << 24:
        mant, e = mant >> 1, e + 1
    if e < -126:
        return sign << 31
    if e > 127:
        return (sign << 31) | 0x7F800000
    return (sign << 31) | ((e + 127) << 23) | (mant & 0x7FFFFF)


def test_ffma_rounds_the_exact_sum_once(request):
    """ffma against exact rational arithmetic (not float64): random words with c near the product (where
    the sum cancels), products halfway between two fp32 values plus tiny c (the double-rounding trap), and
    the rules of the spec: one rounding, no flush of the product, zeros' signs, NaNs, and the identities
    ffma(a, b, -0) = fmul(a, b), ffma(a, 1, c) = fadd(a, c)."""
    rng = seeded_rng(request)
    words = []
    for _ in range(3000):
        ea, eb = (int(v) for v in rng.integers(1, 255, 2))
        ec = int(np.clip(ea + eb - 127 + rng.integers(-30, 31), 1, 254))
        a, b, c = ((int(rng.integers(0, 2)) << 31) | (e << 23) | int(rng.integers(0, 1 << 23)) for e in (ea, eb, ec))
        words.append((a, b, c))
    for _ in range(1000):  # 13-bit significands: products with 25 to 26 bits, often exactly halfway
        a, b = (int(f32_bits(1 + rng.integers(0, 1 << 12) * 2.0**-23)) for _ in range(2))
        words.append((a, b, int(f32_bits(rng.choice([2.0**-60, -2.0**-60, 2.0**-40, 0.0])))))
    specials = [0x0, 0x80000000, 0x00000001, 0x3F800000, 0xBF800000, 0x7F800000, 0xFF800000, 0x7FC00001,
                0x7F7FFFFF, 0x00800000, 0x0C000000]
    words += [(a, b, c) for a in specials for b in specials for c in specials]
    a, b, c = (np.array(col, np.uint32) for col in zip(*words))
    got = evaluate_op("ffma", a, b, c)
    want = np.array([_ffma_by_fractions(*w) for w in words], np.uint32)
    bad = np.flatnonzero(got != want)
    assert not len(bad), [(hex(a[i]), hex(b[i]), hex(c[i]), hex(got[i]), hex(want[i])) for i in bad[:5]]
    # 2^-100 x 2^-30 alone is flushed, but not inside the fused sum: 2^-126 + 2^-130 is rounded once
    tiny = lambda *v: np.array([int(f32_bits(x)) for x in v], np.uint32)  # noqa: E731
    assert evaluate_op("ffma", tiny(2.0**-100), tiny(2.0**-30), tiny(2.0**-126))[0] == f32_bits(2.0**-126 + 2.0**-130)
    x, y = rng.integers(0, 2**32, 5000, dtype=np.uint64).astype(np.uint32), rng.integers(0, 2**32, 5000, dtype=np.uint64).astype(np.uint32)
    assert np.array_equal(evaluate_op("ffma", x, y, np.full(5000, 0x80000000, np.uint32)), evaluate_op("fmul", x, y))
    assert np.array_equal(evaluate_op("ffma", x, np.full(5000, 0x3F800000, np.uint32), y), evaluate_op("fadd", x, y))
