"""An output FIFO whose slots are promised ahead (credits): the queue behind every PCU and PMU output.

A unit reserves a slot (``reserve``) in the cycle it starts the work whose result the slot will hold,
and only while ``room`` says a slot is free; the result is written (``w_en``) some cycles later, from a
pipeline that cannot wait. ``pending`` counts the slots promised and not yet read out:

    pending' = pending + reserve - (r_en & r_rdy),    room = pending < depth.

Invariant (proven in verif/formal.py, ``unit.credits``): pending = promised writes not yet made + words
in the FIFO. So if every write spends a promise, a write always finds ``w_rdy`` high: no result is
lost and the pipeline never stalls; the FIFO (rtl/buffered_fifo.py) keeps the words in order.

Latency and throughput: those of BufferedFifo; ``room`` is a register compare (no path from ``reserve``,
``w_en`` or ``r_en``).
"""

from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .buffered_fifo import BufferedFifo

__all__ = ["CreditedFifo"]


class CreditedFifo(wiring.Component):
    """An output FIFO of *depth* words whose slots are promised ahead.

    Ports: ``reserve`` (promise a slot) and ``room`` (a slot is free to promise), the write side
    ``w_data``/``w_en``/``w_rdy`` and the read side ``r_data``/``r_en``/``r_rdy``. Latency: that of
    ``BufferedFifo``; ``room`` is a register compare. Invariant (``unit.credits`` in verif/formal.py):
    ``pending`` = promised writes not yet made + words in the FIFO, so a write that spends a promise
    always finds ``w_rdy``.
    """

    def __init__(self, width: int, depth: int):
        BufferedFifo.validate(width, depth)  # before any part is made
        self.fifo = BufferedFifo(width, depth)
        self.width, self.depth = width, depth
        super().__init__({
            "reserve": In(1), "room": Out(1),
            "w_data": In(width), "w_en": In(1), "w_rdy": Out(1),
            "r_data": Out(width), "r_en": In(1), "r_rdy": Out(1),
        })
        self.pending = Signal(range(depth + 1), name="pending")

    def elaborate(self, platform):
        m = Module()
        f = m.submodules.fifo = self.fifo
        m.d.comb += [
            f.w_data.eq(self.w_data), f.w_en.eq(self.w_en), self.w_rdy.eq(f.w_rdy),
            self.r_data.eq(f.r_data), f.r_en.eq(self.r_en), self.r_rdy.eq(f.r_rdy),
            self.room.eq(self.pending < self.depth),
        ]
        m.d.sync += self.pending.eq(self.pending + self.reserve - (self.r_en & self.r_rdy))
        return m
