"""The address generator and coalescing unit (AG/CU): turns read commands or embedding-row indices into
AXI4 INCR read bursts and returns the words as vectors, in request order. Semantics: rtl/ag_layout.py.

Datapath::

    cmd/idx FIFO -> request (address, length, range check) -> fetch FIFO -> burst former (coalesces
    waiting contiguous requests, cuts at 256 beats and 4 KB) -> AR
    R -> beat FIFO -> realigner (request info FIFO: word offset, length) -> vector FIFO -> rdata

Throughput: one beat per cycle on R when the DRAM delivers it; one request per cycle into the burst
former; a request that starts off a beat boundary costs the realigner one extra cycle. Up to
``MAX_OUTSTANDING`` bursts in flight. The AXI ID is always 0, so bursts return in order.
"""

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from .ag_layout import COMMAND, MAX_OUTSTANDING, AgMode, ag_layout, beat_bytes, max_burst_beats
from .config import ArrayConfig
from .pipeline import input_fifo, select

__all__ = ["AG", "axi4_read_signature", "ADDRESS_BITS", "ID_BITS"]

ADDRESS_BITS = 34  # 2^32 words of 4 bytes
ID_BITS = 4


def axi4_read_signature(data_bits: int) -> wiring.Signature:
    """The read half of an AXI4 manager interface (AR and R channels), as seen by the manager."""
    return wiring.Signature({
        "arid": Out(ID_BITS), "araddr": Out(ADDRESS_BITS), "arlen": Out(8), "arsize": Out(3), "arburst": Out(2),
        "arvalid": Out(1), "arready": In(1),
        "rid": In(ID_BITS), "rdata": In(data_bits), "rresp": In(2), "rlast": In(1), "rvalid": In(1), "rready": Out(1),
    })


class AG(wiring.Component):
    """An AG of ArrayConfig *cfg*: a ``32 * lanes``-bit AXI4 read manager ``m_axi``.

    Ports: ``configuration`` (static, ``ag_layout(cfg)``), ``cmd`` (read commands), ``idx`` (row
    indices), ``rdata`` (vectors), ``m_axi``, and ``errors`` (refused requests, wrapping).
    """

    def __init__(self, cfg: ArrayConfig):
        self.cfg = cfg
        self.lane_bits = (cfg.lanes - 1).bit_length()
        self.max_beats = max_burst_beats(cfg)
        self.beats_per_4k = 4096 // beat_bytes(cfg)
        super().__init__({
            "configuration": In(ag_layout(cfg)),
            "cmd": In(stream.Signature(COMMAND)),
            "idx": In(stream.Signature(32)),
            "rdata": Out(stream.Signature(data.ArrayLayout(32, cfg.lanes))),
            "m_axi": Out(axi4_read_signature(32 * cfg.lanes)),
            "errors": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, c, axi = self.cfg, self.configuration, self.m_axi
        L, lb = cfg.lanes, self.lane_bits

        # -- requests ----------------------------------------------------------------------------------
        cmd = input_fifo(m, "cmd_fifo", self.cmd, COMMAND.size, cfg.fifo_depth)
        idx = input_fifo(m, "idx_fifo", self.idx, 32, cfg.fifo_depth)
        gather = c.mode == AgMode.GATHER
        command = COMMAND(cmd.r_data)
        head_valid = Mux(gather, idx.r_rdy, cmd.r_rdy)
        address = Signal(33)  # words; bit 32 set only for a refused request
        length = Signal(32)
        ok = Signal()
        m.d.comb += [
            address.eq(Mux(gather, c.table_base + idx.r_data * c.row_words, command.base)),
            length.eq(Mux(gather, c.row_words, command.length)),
            ok.eq(Mux(gather, idx.r_data < c.rows, (command.base + command.length) <= 2**32)),
        ]
        end = Signal(34)
        m.d.comb += end.eq(address + length)
        first_beat = address >> lb
        beats = Signal(33)
        m.d.comb += beats.eq(Mux(length == 0, 0, ((end + L - 1) >> lb) - first_beat))

        info_layout = data.StructLayout({"offset": max(1, lb), "length": 32, "beats": 33, "ok": 1})
        fetch_layout = data.StructLayout({"beat": 32, "beats": 33, "aligned_start": 1, "aligned_end": 1})
        info = m.submodules.info_fifo = fifo.SyncFIFOBuffered(width=info_layout.size, depth=MAX_OUTSTANDING * 2)
        fetch = m.submodules.fetch_fifo = fifo.SyncFIFOBuffered(width=fetch_layout.size, depth=4)
        needs_fetch = ok & (beats != 0)
        take = head_valid & info.w_rdy & (~needs_fetch | fetch.w_rdy)
        m.d.comb += [
            cmd.r_en.eq(take & ~gather), idx.r_en.eq(take & gather),
            info.w_en.eq(take), fetch.w_en.eq(take & needs_fetch),
            info.w_data.eq(Cat(address[0:lb] if lb else Const(0, 1), length, beats, ok)),
            fetch.w_data.eq(Cat(first_beat[0:32], beats, (address[0:lb] == 0) if lb else Const(1),
                                (end[0:lb] == 0) if lb else Const(1))),
        ]
        with m.If(take & ~ok):
            m.d.sync += self.errors.eq(self.errors + 1)

        # -- burst former ----------------------------------------------------------------------------------
        head = fetch_layout(fetch.r_data)
        seg_valid = Signal()
        seg_beat = Signal(32)
        seg_left = Signal(33)
        seg_end_aligned = Signal()
        absorbable = (seg_valid & fetch.r_rdy & head.aligned_start & seg_end_aligned
                      & (head.beat == (seg_beat + seg_left)[0:33]))
        to_boundary = self.beats_per_4k - (seg_beat & (self.beats_per_4k - 1))
        cap = Mux(to_boundary < self.max_beats, to_boundary, self.max_beats)
        burst = Mux(seg_left < cap, seg_left, cap)
        outstanding = Signal(range(MAX_OUTSTANDING + 1))
        ar_busy = Signal()
        ar_free = ~ar_busy | axi.arready
        issue = seg_valid & ar_free & (outstanding < MAX_OUTSTANDING) & ((burst == cap) | ~absorbable)
        left_after = seg_left - Mux(issue, burst, 0) + Mux(absorbable, head.beats, 0)
        load = fetch.r_rdy & ~absorbable & (~seg_valid | (left_after == 0))
        m.d.comb += fetch.r_en.eq(absorbable | load)
        with m.If(load):
            m.d.sync += [seg_valid.eq(1), seg_beat.eq(head.beat), seg_left.eq(head.beats),
                         seg_end_aligned.eq(head.aligned_end)]
        with m.Else():
            m.d.sync += [seg_valid.eq(left_after != 0), seg_beat.eq(seg_beat + Mux(issue, burst, 0)),
                         seg_left.eq(left_after)]
            with m.If(absorbable):
                m.d.sync += seg_end_aligned.eq(head.aligned_end)
        with m.If(issue):
            m.d.sync += [ar_busy.eq(1), axi.araddr.eq(seg_beat << (lb + 2)), axi.arlen.eq(burst - 1)]
        with m.Elif(axi.arready):
            m.d.sync += ar_busy.eq(0)
        m.d.comb += [axi.arvalid.eq(ar_busy), axi.arid.eq(0), axi.arburst.eq(1),
                     axi.arsize.eq((beat_bytes(cfg) - 1).bit_length())]
        burst_done = axi.rvalid & axi.rready & axi.rlast
        m.d.sync += outstanding.eq(outstanding + issue - burst_done)

        # -- realigner ---------------------------------------------------------------------------------------
        beat_fifo = m.submodules.beat_fifo = fifo.SyncFIFOBuffered(width=32 * L, depth=8)
        m.d.comb += [beat_fifo.w_data.eq(axi.rdata), beat_fifo.w_en.eq(axi.rvalid), axi.rready.eq(beat_fifo.w_rdy)]
        out = m.submodules.out_fifo = fifo.SyncFIFOBuffered(width=32 * L, depth=4)
        m.d.comb += [self.rdata.valid.eq(out.r_rdy), self.rdata.payload.eq(out.r_data), out.r_en.eq(self.rdata.ready)]

        req = info_layout(info.r_data)
        offset = req.offset if lb else Const(0, 1)
        prev = Signal(32 * L)
        have_prev = Signal()
        taken = Signal(33)  # beats of this request consumed
        left = Signal(33)  # words of this request not yet sent
        started = Signal()
        words_left = Mux(started, left, req.length)
        beats_taken = Mux(started, taken, 0)
        beat = beat_fifo.r_data
        word = lambda v, i: v[32 * i: 32 * i + 32]  # noqa: E731
        unaligned = offset != 0
        nothing = req.length == 0
        priming = req.ok & unaligned & ~have_prev & ~nothing
        need_next = req.ok & (beats_taken < req.beats) & ~priming
        next_word = Mux(need_next, beat, 0)
        lanes = []
        for w in range(L):
            options = [word(prev, w + o) if w + o < L else word(next_word, w + o - L) for o in range(L)]
            shifted = select(m, options, offset, name=f"realign_w{w}")
            value = Mux(unaligned, shifted, word(beat, w))
            lanes.append(Mux(req.ok & (w < words_left), value, 0))
        vector = Cat(*lanes)
        empty = info.r_rdy & nothing
        emit = info.r_rdy & ~empty & ~priming & out.w_rdy & (~need_next | beat_fifo.r_rdy)
        prime = info.r_rdy & priming & beat_fifo.r_rdy
        last = words_left <= L
        m.d.comb += [
            out.w_en.eq(emit), out.w_data.eq(vector),
            beat_fifo.r_en.eq(prime | (emit & need_next)),
            info.r_en.eq(empty | (emit & last)),
        ]
        with m.If(prime | (emit & need_next)):
            m.d.sync += [prev.eq(beat), taken.eq(beats_taken + 1), started.eq(1), left.eq(words_left)]
        with m.If(prime):
            m.d.sync += have_prev.eq(1)
        with m.If(emit):
            m.d.sync += [left.eq(words_left - L), started.eq(1)]
            with m.If(last):
                m.d.sync += [started.eq(0), have_prev.eq(0)]
        return m
