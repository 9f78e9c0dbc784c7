"""The PMU read port's return path: bank read data gathered into the access's vector."""

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..pipeline import delay

__all__ = ["ReadReturn"]


class ReadReturn(wiring.Component):
    """Gathers an access's words from the banks, which answer the cycle after they are asked.

    Ports: per bank ``hit`` (it served a lane in the cycle before), ``lane`` (which; both as the
    port's ``bank_hit``/``bank_lane`` in the cycle of the request: they are delayed here), ``data``
    (its read port's word, valid the cycle after the request); ``finishing`` (the access's last
    grants were made this cycle); ``vector`` (the access's words by lane, lanes not addressed 0) and
    ``complete`` (``vector`` is whole: the cycle after ``finishing``).
    Latency: one cycle from the last bank request to ``complete``; one access per cycle.
    Invariants: the gathered words are cleared with ``complete``, so an access never sees another's.
    """

    def __init__(self, lanes: int):
        self.lanes = lanes
        super().__init__({"hit": In(1).array(lanes), "lane": In(range(max(2, lanes))).array(lanes),
                          "data": In(32).array(lanes), "finishing": In(1),
                          "vector": Out(32 * lanes), "complete": Out(1)})

    def elaborate(self, platform):
        m = Module()
        L = self.lanes
        collect = [Signal(32, name=f"collect_l{i}") for i in range(L)]
        returning = [(delay(m, self.hit[b], 1, f"bank{b}_hit"), delay(m, self.lane[b], 1, f"bank{b}_lane"),
                      self.data[b]) for b in range(L)]
        merged = []
        for i in range(L):
            value = collect[i]
            for hit, lane_sel, word in returning:
                value = Mux(hit & (lane_sel == i), word, value)
            merged.append(value)
        complete = delay(m, self.finishing, 1, "complete")
        for i in range(L):
            m.d.sync += collect[i].eq(Mux(complete, 0, merged[i]))
        m.d.comb += [self.vector.eq(Cat(*merged)), self.complete.eq(complete)]
        return m
