"""cocotb regressions of the arithmetic units on Verilator (and Icarus), bit-exact against the golden model.

The seed of each test is printed; rerun with ``pytest --seed N``.
"""

import numpy as np
import pytest

from rdagen.rtl.spec.config import preset
from rdagen.rtl.spec.ops import OPS
from rdagen.sim.arith_regression import FP_RANDOM, INT_RANDOM, explicit_plan, format_table, make_plan, run_plan
from rdagen.sim.runner import icarus_available
from rdagen.verif.coverage import arith_coverage
from rdagen.verif.stimulus import FP_ADDEND_CORNERS, FP_CORNERS, INT_CORNERS

from .conftest import coverage_result, test_seed

pytestmark = pytest.mark.cocotb

SMALL = preset("small")
N_SR = 100_000


def _check(reg):
    print(format_table(reg))
    for line in reg.first_mismatches:
        print("MISMATCH", line)
    assert reg.mismatches == 0, f"{reg.mismatches} mismatches, first: {reg.first_mismatches[:3]}"


FP_BINARY = ("fadd", "fsub", "fmul", "fmin", "fmax", "flt", "feq")
FP_UNARY = ("fabs", "fneg", "f2i", "f2bf", "f2bf_sr")


@pytest.mark.parametrize("name", [op.name for op in OPS])
def test_op_corners_and_random_on_verilator(name, request):
    """One op: the full cross product of corner values, then random operands (>= 200,000 for fp ops),
    all 32 lanes per cycle, with idle cycles interleaved."""
    seed = test_seed(request)
    print(f"[seed] {seed}")
    plan = make_plan(seed, ops=[name], mixed_cycles=0)
    reg = run_plan(plan, SMALL, tag=f"op-{name}")
    _check(reg)
    (row,) = reg.rows
    if name in FP_BINARY:
        assert row.vectors >= FP_RANDOM + len(FP_CORNERS) ** 2
    elif name == "ffma":  # the corner cross of a and b with a few addends of every class, then random
        assert row.vectors >= FP_RANDOM + len(FP_CORNERS) ** 2 * len(FP_ADDEND_CORNERS)
    elif name in FP_UNARY:
        assert row.vectors >= FP_RANDOM + len(FP_CORNERS)
    elif name == "i2f":
        assert row.vectors >= FP_RANDOM + len(INT_CORNERS)
    else:
        assert row.vectors >= INT_RANDOM
    assert reg.cycles > len(plan.expected)  # idle cycles were interleaved
    coverage = arith_coverage([name], reg.coverage_scope)  # every operand-class and result-class bin, or listed unreachable
    print(f"functional coverage of {name}: {coverage['hit']} of {coverage['bins']} bins, unreachable "
          f"{[u['bin'] for u in coverage['unreachable']]}")
    coverage_result(f"arith.{name}", coverage)
    assert not coverage["missing"] and not coverage["contradicted"], (coverage["missing"], coverage["contradicted"])


def test_all_ops_interleaved_on_verilator(request):
    """Random ops in every lane and cycle: no op disturbs another's result or the SR generators."""
    seed = test_seed(request)
    print(f"[seed] {seed}")
    reg = run_plan(make_plan(seed, fp_random=0, int_random=0, corners=False, mixed_cycles=8_000), SMALL,
                   tag="mixed")
    _check(reg)
    assert reg.vectors == 8_000 * 32


def _sr_plan(seed, value):
    return explicit_plan(seed, "f2bf_sr", np.full(N_SR, value, np.uint32))


def test_stochastic_rounding_statistics_and_repeatability(request):
    """100,000 stochastic roundings of one value: the mean is within 5 standard errors of the exact
    value (a false alarm about once in 1.7 million seeds); a second run with the same seed gives the same
    bits and another seed other bits; RNE never rounds it up; a bf16-exact value is left unchanged."""
    seed = test_seed(request)
    print(f"[seed] {seed}")
    x = 0x3F804CCD  # 1 + 0.3000 ulp(bf16): between 1.0 and 1 + 2^-7
    lo, hi = 0x3F800000, 0x3F810000
    exact = float(np.uint32(x).view(np.float32))
    first = run_plan(_sr_plan(seed, x), SMALL, tag="sr1")
    _check(first)
    got = first.results.ravel()
    assert set(np.unique(got).tolist()) == {lo, hi}
    values = got.view(np.float32).astype(np.float64)
    p = (x & 0xFFFF) / 65536
    step = float(np.uint32(hi).view(np.float32)) - float(np.uint32(lo).view(np.float32))
    standard_error = step * np.sqrt(p * (1 - p) / N_SR)
    print(f"mean {values.mean():.9f}, exact {exact:.9f}, standard error {standard_error:.2e}")
    assert abs(values.mean() - exact) < 5 * standard_error

    again = run_plan(_sr_plan(seed, x), SMALL, tag="sr2")
    assert np.array_equal(again.results, first.results)
    other = run_plan(_sr_plan(seed ^ 0x5A5A5A5A, x), SMALL, tag="sr3")
    assert not np.array_equal(other.results, first.results)

    rne = run_plan(explicit_plan(seed, "f2bf", np.full(1024, x, np.uint32)), SMALL, tag="rne")
    _check(rne)
    assert np.all(rne.results == lo)  # RNE: always the nearer neighbour; SR: the farther one 30 % of the time
    assert 0.29 < (got == hi).mean() < 0.31
    exact_bf16 = run_plan(_sr_plan(seed, 0xC0490000), SMALL, tag="srx")
    assert np.all(exact_bf16.results == 0xC0490000)


def test_icarus_gives_the_same_bits_as_verilator(request):
    """A subset (every op: all corners, some random, a mixed block) on both simulators: same bits."""
    if not icarus_available():
        pytest.skip("Icarus Verilog (iverilog) is not installed: apt-get install -y iverilog "
                    "(.ci/run installs it, so CI runs this test)")
    seed = test_seed(request)
    print(f"[seed] {seed}")
    plan = make_plan(seed, fp_random=1_000, int_random=200, mixed_cycles=100)
    verilator = run_plan(plan, SMALL, simulator="verilator", tag="xsim")
    icarus = run_plan(plan, SMALL, simulator="icarus", tag="xsim")
    _check(verilator)
    _check(icarus)
    assert np.array_equal(verilator.results, icarus.results)
    print(f"{icarus.vectors} vectors, identical on Verilator and Icarus")
