"""The op table is consistent with the RTL units and the golden model, and the generator is sound."""

import numpy as np

from amaranth import Shape

from rdagen.rtl.arith import UNIT_CLASSES, FunctionalUnit
from rdagen.rtl.spec.ops import FU_LATENCY, OP_BITS, OP_CLASSES, OPS, Op, lfsr_seed, lfsr_step


def test_codes_are_contiguous_and_fit():
    assert [op.code for op in OPS] == list(range(len(OPS)))
    assert len(OPS) <= 2**OP_BITS and Shape.cast(Op).width == OP_BITS
    assert {m.name.lower(): m.value for m in Op} == {op.name: op.code for op in OPS}


def test_units_state_the_class_latency():
    for cls in OP_CLASSES.values():
        assert UNIT_CLASSES[cls.unit].latency == cls.latency, cls
    assert FunctionalUnit.latency == FU_LATENCY == max(c.latency for c in OP_CLASSES.values())


def test_generator_never_zero_and_vectorizes():
    assert all(lfsr_seed(seed, lane) for seed in (0, 1, 0xFFFFFFFF, 0x9E3779B9) for lane in range(64))
    states = [lfsr_seed(12345, lane) for lane in range(8)]
    vector = lfsr_step(np.array(states, dtype=np.uint32))
    assert vector.tolist() == [lfsr_step(s) for s in states]
    # no short cycle from a typical state (period 2^32 - 1 in theory)
    s = states[0]
    seen = set()
    for _ in range(100_000):
        s = lfsr_step(s)
        assert s not in seen
        seen.add(s)
