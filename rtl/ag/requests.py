"""The AG's request side: a request (address, length) split for the realigner and the burst former."""

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..buffered_fifo import BufferedFifo
from ..spec.ag_layout import MAX_OUTSTANDING
from ..spec.config import ArrayConfig
from .burst_former import FETCH

__all__ = ["Requests", "INFO", "OFFSET_BITS"]

OFFSET_BITS = 5  # word offset within a beat (lanes <= 32: the 1024-bit AXI4 maximum)
INFO = data.StructLayout({"offset": OFFSET_BITS, "length": 32, "beats": 33, "ok": 1})
"""A request as the realigners see it: word offset in its first beat, words, beats, performed."""


class Requests(wiring.Component):
    """Splits each request of one direction into the realigner's entry (``INFO``: word offset, length,
    beats, performed) and the burst former's (``FETCH``: first beat, beats, whether it starts and ends
    on a beat boundary), each in a FIFO of its own.

    Ports: ``valid``, ``address`` (words; bit 32 set only for a refused request), ``length`` (words),
    ``ok`` (the request is performed; a refused one still enters the info FIFO, so the realigner keeps
    the order, but fetches nothing); ``take`` (the request is taken this cycle: pop its source),
    ``refused`` (taken and not ok); the info FIFO's head (``info_rdy``/``info_data``, popped by
    ``info_pop``) and the fetch FIFO's (``fetch_rdy``/``fetch_data``/``fetch_pop``).
    Latency: an entry is at the FIFOs' heads the cycle after it is taken; one request per cycle while
    both FIFOs have room (info ``2 * MAX_OUTSTANDING`` entries, fetch 4).
    Invariants: every request taken enters the info FIFO in order; a request of length 0 or refused
    fetches nothing.
    """

    def __init__(self, cfg: ArrayConfig):
        self.lanes, self.lane_bits = cfg.lanes, (cfg.lanes - 1).bit_length()
        super().__init__({
            "valid": In(1), "address": In(33), "length": In(32), "ok": In(1), "take": Out(1), "refused": Out(1),
            "info_rdy": Out(1), "info_data": Out(INFO), "info_pop": In(1),
            "fetch_rdy": Out(1), "fetch_data": Out(FETCH), "fetch_pop": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        L, lb = self.lanes, self.lane_bits
        address, length, ok = self.address, self.length, self.ok
        end = Signal(34)
        m.d.comb += end.eq(address + length)
        first_beat = address >> lb
        beats = Signal(33)
        m.d.comb += beats.eq(Mux(length == 0, 0, ((end + L - 1) >> lb) - first_beat))
        info = m.submodules.info_fifo = BufferedFifo(INFO.size, MAX_OUTSTANDING * 2)
        fetch = m.submodules.fetch_fifo = BufferedFifo(FETCH.size, 4)
        needs_fetch = ok & (beats != 0)
        take = self.valid & info.w_rdy & (~needs_fetch | fetch.w_rdy)
        low = lambda v: v[0:lb] if lb else Const(0, 1)  # noqa: E731
        m.d.comb += [
            info.w_en.eq(take), fetch.w_en.eq(take & needs_fetch),
            info.w_data.eq(Cat(low(address), Const(0, OFFSET_BITS - max(1, lb)), length, beats, ok)),
            fetch.w_data.eq(Cat(first_beat[0:32], beats, low(address) == 0, low(end) == 0)),
            self.take.eq(take), self.refused.eq(take & ~ok),
            self.info_rdy.eq(info.r_rdy), self.info_data.eq(info.r_data), info.r_en.eq(self.info_pop),
            self.fetch_rdy.eq(fetch.r_rdy), self.fetch_data.eq(fetch.r_data), fetch.r_en.eq(self.fetch_pop),
        ]
        return m
