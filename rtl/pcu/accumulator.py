"""The PCU's accumulator: one word per lane folded over the firings of a group."""

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..arith import FunctionalUnit
from ..spec.config import ArrayConfig
from ..spec.ops import Op

__all__ = ["Accumulator"]


class Accumulator(wiring.Component):
    """Per lane, ``acc <- op(first ? init : acc, x)`` on every ``fire``; ``next`` is the new value in the
    same cycle (the functional units have no registers: a fold closes in one cycle, which makes this
    the PCU's critical path).

    Ports: ``fire`` (fold ``x`` in this cycle), ``first`` (the firing opens a group: fold into
    ``init``), ``op``, ``init`` (static), ``x`` (the lanes' words), ``seed``/``reseed`` (the
    stochastic-rounding generators'), ``next`` (``op(base, x)``, combinational).
    Latency: ``next`` is combinational; the register holds it from the cycle after ``fire``.
    Invariants: the register changes only on ``fire``; a group's first fold ignores what it holds.
    """

    def __init__(self, cfg: ArrayConfig):
        self.lanes = cfg.lanes
        vector = data.ArrayLayout(32, cfg.lanes)
        super().__init__({"fire": In(1), "first": In(1), "op": In(Op), "init": In(32), "x": In(vector),
                          "seed": In(32), "reseed": In(1), "next": Out(vector)})

    def elaborate(self, platform):
        m = Module()
        acc = Signal(32 * self.lanes)
        out = []
        for lane in range(self.lanes):
            fu = m.submodules[f"acc_lane{lane}"] = FunctionalUnit(lane=lane, registered=False, static_op=True)
            base = Mux(self.first, self.init, acc[32 * lane: 32 * lane + 32])
            m.d.comb += [fu.i.valid.eq(self.fire), fu.i.op.eq(self.op), fu.i.a.eq(base), fu.i.b.eq(self.x[lane]),
                         fu.seed.eq(self.seed), fu.reseed.eq(self.reseed)]
            out.append(fu.o.data)
        m.d.comb += self.next.eq(Cat(*out))
        with m.If(self.fire):
            m.d.sync += acc.eq(self.next)
        return m
