"""The buffer of one switch output: a two-entry FIFO in registers (``head``, ``tail``, ``level``).

Same interface and timing as ``amaranth.lib.fifo.SyncFIFO(depth=2)``, which it replaced so that its
whole state is three named registers: the formal proofs (verif/formal.py) relate them to a reference
queue, and every state of them is one the FIFO can be in (``level`` <= 2 is an invariant they prove).

Latency: a word written in cycle t can be read in cycle t + 1. Throughput: one word per cycle in and
out. ``w_rdy`` is ``level != 2`` and ``r_rdy`` is ``level != 0``: neither depends on ``w_en`` or
``r_en`` (no combinational path through a hop).
"""

from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["HopBuffer"]


class HopBuffer(wiring.Component):
    """A two-entry FIFO of *width* bits in registers: one switch output.

    Ports: ``w_data``/``w_en``/``w_rdy``, ``r_data``/``r_en``/``r_rdy``. Latency: one cycle from write to
    ``r_rdy``; one word per cycle in and out. Invariants: ``level <= 2``; ``w_rdy = level != 2`` and
    ``r_rdy = level != 0``, so no ready or valid path crosses a hop (verif/formal.py proves them).
    """

    def __init__(self, width: int):
        if not isinstance(width, int) or width < 1:
            raise ValueError(f"HopBuffer width = {width!r} is invalid: must be an integer >= 1")
        self.width = width
        super().__init__({
            "w_data": In(width), "w_en": In(1), "w_rdy": Out(1),
            "r_data": Out(width), "r_en": In(1), "r_rdy": Out(1),
        })
        self.head = Signal(width)
        self.tail = Signal(width)
        self.level = Signal(range(3))

    def elaborate(self, platform):
        m = Module()
        m.d.comb += [self.w_rdy.eq(self.level != 2), self.r_rdy.eq(self.level != 0), self.r_data.eq(self.head)]
        push = self.w_en & self.w_rdy
        pop = self.r_en & self.r_rdy
        with m.If(push & ~pop):
            m.d.sync += self.level.eq(self.level + 1)
            with m.If(self.level == 0):
                m.d.sync += self.head.eq(self.w_data)
            with m.Else():
                m.d.sync += self.tail.eq(self.w_data)
        with m.Elif(pop & ~push):
            m.d.sync += [self.level.eq(self.level - 1), self.head.eq(self.tail)]
        with m.Elif(pop & push):  # level 1: the word replaces the head (at level 2 nothing is pushed)
            m.d.sync += self.head.eq(self.w_data)
        return m
