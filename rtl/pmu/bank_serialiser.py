"""The bank-conflict serialiser of a PMU port (rtl/pmu/port.py): serves one access (``lanes`` lane requests,
each an active bit, a bank and a row) over the banks, each bank taking the lowest pending lane that
addresses it every cycle, until every active lane has been served; then the next access.

An entry of ``access`` is, per lane i, ``active`` (bit ``field * i``), ``bank`` and ``row``, followed by
``extra`` bits the serialiser carries along (the PMU's end-of-unit flag and write data); ``entry`` is
the access being served. Per bank b, ``hit[b]`` says it serves lane ``lane[b]`` this cycle.

Invariants (verif/formal.py proves them): every active lane of an access is served exactly once, on
its own bank, and an inactive lane never; a bank serves at most one lane per cycle; ``finishing``
rises in the cycle of the access's last grants. Latency: an access is served from the cycle after it
is taken. Throughput: one access per cycle when no two active lanes share a bank; n cycles when n
lanes share one.
"""

from amaranth import Cat, Const, Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["BankSerialiser"]


class BankSerialiser(wiring.Component):
    """Serves one access of *lanes* lane requests over the banks, the lowest pending lane per bank
    each cycle.

    Ports: ``access`` (stream of entries: per lane an active bit, a bank and a row, then *extra* bits),
    ``valid``/``entry`` (the access being served), ``finishing`` (its last grants are this cycle),
    ``hit[b]``/``lane[b]`` (bank b serves lane ``lane[b]`` this cycle). Latency: an access is served
    from the cycle after it is taken; one access per cycle without conflicts, n cycles when n active
    lanes share a bank. Invariants (verif/formal.py): every active lane is served exactly once, on its
    own bank, an inactive lane never, a bank serves at most one lane per cycle.
    """

    def __init__(self, lanes: int, bank_bits: int, row_bits: int, extra: int):
        for name, value, lo in (("lanes", lanes, 1), ("bank_bits", bank_bits, 0), ("row_bits", row_bits, 0),
                                ("extra", extra, 0)):
            if not isinstance(value, int) or value < lo:
                raise ValueError(f"BankSerialiser {name} = {value!r} is invalid: must be an integer >= {lo}")
        self.lanes, self.bank_bits, self.row_bits = lanes, bank_bits, row_bits
        self.field = 1 + bank_bits + row_bits
        width = self.field * lanes + extra
        super().__init__({
            "access": In(stream.Signature(width)),
            "valid": Out(1), "entry": Out(width), "finishing": Out(1),
            "hit": Out(lanes), "lane": Out(data.ArrayLayout(range(max(2, lanes)), lanes)),
        })
        self.pending = Signal(lanes)

    def bank_of(self, entry, i):
        return entry[self.field * i + 1: self.field * i + 1 + self.bank_bits]

    def row_of(self, entry, i):
        return entry[self.field * i + 1 + self.bank_bits: self.field * (i + 1)]

    def elaborate(self, platform):
        m = Module()
        L, cur, pending = self.lanes, self.entry, self.pending
        granted = [Const(0)] * L
        for b in range(L):
            taken = Const(0)
            hits = []
            for i in range(L):
                hit = self.valid & pending[i] & ((self.bank_of(cur, i) == b) if self.bank_bits else Const(1))
                hits.append(hit & ~taken)
                taken = taken | hit
            granted = [g | h for g, h in zip(granted, hits)]
            for i in reversed(range(L)):
                with m.If(hits[i]):
                    m.d.comb += self.lane[b].eq(i)
            m.d.comb += self.hit[b].eq(taken)
        remaining = pending & ~Cat(*granted)
        m.d.comb += self.finishing.eq(self.valid & (remaining == 0))
        load = ~self.valid | self.finishing
        m.d.comb += self.access.ready.eq(load)
        with m.If(load):
            m.d.sync += [self.valid.eq(self.access.valid), cur.eq(self.access.payload),
                         pending.eq(Cat(self.access.payload[self.field * i] for i in range(L)))]
        with m.Else():
            m.d.sync += pending.eq(remaining)
        return m
