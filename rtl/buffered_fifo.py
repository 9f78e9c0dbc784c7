"""A synchronous FIFO with a registered output: the queue behind every unit input and output.

Same interface and timing as ``amaranth.lib.fifo.SyncFIFOBuffered`` (which it replaced): ``depth - 1``
entries in a memory read synchronously, and one output register. Its state is named and visible
(``produce``, ``consume``, ``inner_level``, ``r_rdy``, ``storage``), so that the formal proofs
(verif/formal.py) can state the invariants that make them inductive: Amaranth's FIFO keeps its
pointers inside ``elaborate``, where no harness can reach them.

Latency: a word written into an empty FIFO in cycle t can be read in cycle t + 2 (one cycle through the
memory, one into the output register). Throughput: one word per cycle in and out. ``w_rdy`` is
``inner_level != depth - 1`` and ``r_rdy`` is a register: neither depends on ``w_en`` or ``r_en``.
Invariants: ``inner_level`` is ``produce - consume`` modulo ``depth - 1`` (``depth - 1`` when full),
``level = inner_level + r_rdy <= depth``.
"""

from amaranth import Module, Mux, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["BufferedFifo"]


def _next(pointer: Signal, size: int):
    return Mux(pointer == size - 1, 0, pointer + 1)


class BufferedFifo(wiring.Component):
    """A FIFO of *depth* words of *width* bits with a registered output.

    Ports: ``w_data``/``w_en``/``w_rdy`` (write side), ``r_data``/``r_en``/``r_rdy`` (read side),
    ``level``. Latency: two cycles from a write into an empty FIFO to ``r_rdy``; one word per cycle in
    and out. Invariants: ``inner_level = produce - consume`` modulo ``depth - 1`` (``depth - 1`` when
    full) and ``level = inner_level + r_rdy <= depth``; ``w_rdy`` and ``r_rdy`` depend on no enable
    (the module docstring; verif/formal.py proves them).
    """

    @staticmethod
    def validate(width, depth) -> None:
        """Raises ValueError naming the parameter that is not an integer in range."""
        for name, value, least in (("width", width, 1), ("depth", depth, 2)):
            if not isinstance(value, int) or value < least:
                raise ValueError(f"BufferedFifo {name} = {value!r} is invalid: must be an integer >= {least}")

    def __init__(self, width: int, depth: int):
        self.validate(width, depth)
        self.width, self.depth = width, depth
        super().__init__({
            "w_data": In(width), "w_en": In(1), "w_rdy": Out(1),
            "r_data": Out(width), "r_en": In(1), "r_rdy": Out(1),
            "level": Out(range(depth + 1)),
        })
        inner = depth - 1
        self.storage = memory.Memory(shape=width, depth=inner, init=[])
        self._write = self.storage.write_port()
        self._read = self.storage.read_port(domain="sync")
        self.produce = Signal(range(inner), name="produce")
        self.consume = Signal(range(inner), name="consume")
        self.inner_level = Signal(range(inner + 1), name="inner_level")

    def elaborate(self, platform):
        m = Module()
        m.submodules.storage = self.storage
        inner = self.depth - 1
        inner_rdy = self.inner_level != 0
        do_write = self.w_en & self.w_rdy
        do_inner_read = inner_rdy & (~self.r_rdy | self.r_en)
        m.d.comb += [
            self.w_rdy.eq(self.inner_level != inner),
            self._write.addr.eq(self.produce), self._write.data.eq(self.w_data), self._write.en.eq(do_write),
            self._read.addr.eq(self.consume), self._read.en.eq(do_inner_read), self.r_data.eq(self._read.data),
            self.level.eq(self.inner_level + self.r_rdy),
        ]
        with m.If(do_write):
            m.d.sync += self.produce.eq(_next(self.produce, inner))
        with m.If(do_inner_read):
            m.d.sync += [self.consume.eq(_next(self.consume, inner)), self.r_rdy.eq(1)]
        with m.Elif(self.r_en):
            m.d.sync += self.r_rdy.eq(0)
        with m.If(do_write & ~do_inner_read):
            m.d.sync += self.inner_level.eq(self.inner_level + 1)
        with m.If(do_inner_read & ~do_write):
            m.d.sync += self.inner_level.eq(self.inner_level - 1)
        return m
