"""Amaranth-simulator unit tests of each arithmetic unit against the golden model.

These run a sample of the corner cross product plus random operands per op (the Python simulator is
slow); the exhaustive corner cross product and the 200,000-pair random sweeps run on Verilator in
test_arith_regression.py.
"""

import numpy as np
import pytest

from rdagen.rtl.arith import UNIT_CLASSES, FunctionalUnit
from rdagen.rtl.spec.ops import FU_LATENCY, OP_BY_NAME, OPS
from rdagen.sim.amaranth_sim import run_unit
from rdagen.verif.golden.arith import evaluate, evaluate_op, sr_random_bits
from rdagen.verif.stimulus import operands

from .conftest import seeded_rng

SAMPLE = 300  # vectors of the corner cross product per op
RANDOM = 300  # random vectors per op


def _sample(name, rng):
    a, b, c = operands(name, rng, RANDOM)
    n_corner = len(a) - RANDOM
    keep = np.concatenate([rng.choice(n_corner, min(SAMPLE, n_corner), replace=False),
                           np.arange(n_corner, len(a))])
    return a[keep], b[keep], c[keep]


def _mismatch_report(name, a, b, got, want):
    bad = np.flatnonzero(got != want)
    lines = [f"  {name}(0x{a[i]:08x}, 0x{b[i]:08x}) = 0x{got[i]:08x}, golden 0x{want[i]:08x}" for i in bad[:10]]
    return f"{len(bad)} of {len(got)} mismatches:\n" + "\n".join(lines)


@pytest.mark.parametrize("unit_name", sorted(UNIT_CLASSES))
def test_unit_against_golden(unit_name, request):
    rng = seeded_rng(request)
    cls = UNIT_CLASSES[unit_name]
    ops = [op for op in OPS if op.op_class.unit == unit_name]
    codes, a, b, c, rand = [], [], [], [], []
    for op in ops:
        oa, ob, oc = _sample(op.name, rng)
        codes.append(np.full(len(oa), op.code))
        a.append(oa), b.append(ob), c.append(oc)
        rand.append(rng.integers(0, 2**16, len(oa)).astype(np.uint32))
    codes, a, b, c, rand = map(np.concatenate, (codes, a, b, c, rand))
    order = rng.permutation(len(codes))  # interleave the class's ops: no state leaks between them
    codes, a, b, c, rand = codes[order], a[order], b[order], c[order], rand[order]

    got = run_unit(cls(), codes, a, b, c, rand=rand if unit_name == "Convert" else None, gap_every=7)

    for op in ops:
        mask = codes == op.code
        want = evaluate_op(op.name, a[mask], b[mask], c[mask], rand[mask])
        assert np.array_equal(got[mask], want), f"{op.name}: " + _mismatch_report(
            op.name, a[mask], b[mask], got[mask], want)


def test_functional_unit_mixed_ops(request):
    """Every op, mixed in one stream through one FunctionalUnit, with stochastic rounding reseeded."""
    rng = seeded_rng(request)
    n = 40 * len(OPS)
    codes = rng.integers(0, len(OPS), n)
    a = np.empty(n, np.uint32)
    b = np.empty(n, np.uint32)
    c = np.empty(n, np.uint32)
    for op in OPS:
        mask = codes == op.code
        oa, ob, oc = operands(op.name, rng, int(mask.sum()), corners=False)
        a[mask], b[mask], c[mask] = oa, ob, oc
    lane, seed = 3, int(rng.integers(0, 2**32))
    got = run_unit(FunctionalUnit(lane=lane), codes, a, b, c, seed=seed, gap_every=5)
    want = evaluate(codes[:, None], a[:, None], b[:, None], c[:, None], seed=seed, lane0=lane)[:, 0]
    names = np.array([OPS[k].name for k in codes])
    bad = np.flatnonzero(got != want)
    assert not len(bad), "\n".join(f"{names[i]}(0x{a[i]:08x}, 0x{b[i]:08x}, 0x{c[i]:08x}) = 0x{got[i]:08x}, "
                                   f"golden 0x{want[i]:08x}" for i in bad[:10])
    assert FunctionalUnit.latency == FU_LATENCY


def test_stochastic_rounding_sequence_depends_only_on_sr_ops(request):
    """The generator steps on f2bf_sr ops only: inserting other ops does not change SR results."""
    seed = int(seeded_rng(request).integers(0, 2**32))
    sr = OP_BY_NAME["f2bf_sr"].code
    x = np.full(64, 0x3F80_7123, np.uint32)  # 1.0 + a fraction below the bf16 cut
    plain = run_unit(FunctionalUnit(lane=1), np.full(64, sr), x, x, x, seed=seed)
    mixed_codes = np.where(np.arange(128) % 2 == 0, sr, OP_BY_NAME["fadd"].code)
    mixed_x = np.repeat(x, 2)
    mixed = run_unit(FunctionalUnit(lane=1), mixed_codes, mixed_x, mixed_x, mixed_x, seed=seed)
    assert np.array_equal(plain, mixed[::2])
    assert len(set(plain.tolist())) == 2  # it rounds both up and down
    want = evaluate_op("f2bf_sr", x, rand16=sr_random_bits(np.full((64, 1), sr), seed, 1)[:, 0])
    assert np.array_equal(plain, want)


@pytest.mark.parametrize("unit_name", sorted(UNIT_CLASSES))
def test_combinational_variant_matches(unit_name, request):
    """registered=False (latency 0, used by the PCU accumulator) computes the same results."""
    rng = seeded_rng(request)
    ops = [op for op in OPS if op.op_class.unit == unit_name]
    codes = rng.choice([op.code for op in ops], 200)
    a, b, c = (np.empty(200, np.uint32) for _ in range(3))
    for op in ops:
        mask = codes == op.code
        a[mask], b[mask], c[mask] = operands(op.name, rng, int(mask.sum()), corners=False)
    rand = rng.integers(0, 2**16, 200).astype(np.uint32)
    unit = UNIT_CLASSES[unit_name](registered=False)
    assert unit.latency == 0
    got = run_unit(unit, codes, a, b, c, rand=rand if unit_name == "Convert" else None)
    for op in ops:
        mask = codes == op.code
        assert np.array_equal(got[mask], evaluate_op(op.name, a[mask], b[mask], c[mask], rand[mask])), op.name
