"""The address generator and coalescing unit (AG/CU): turns read commands or embedding-row indices into
AXI4 INCR read bursts and returns the words as vectors, in request order. Semantics: rtl/spec/ag_layout.py.

Datapath::

    cmd/idx FIFO -> request (address, length, range check) -> fetch FIFO -> burst former
    (rtl/burst_former.py: coalesces waiting contiguous requests, cuts at 256 beats and 4 KB) -> AR
    R -> beat FIFO -> realigner (request info FIFO: word offset, length) -> vector FIFO -> rdata

DRAM errors: an R beat answered SLVERR or DECERR enters the realigner as zeros (its data is never passed
on) and adds one to ``errors``; so does every B response of SLVERR or DECERR. EXOKAY counts as OKAY.

Throughput: one beat per cycle on R when the DRAM delivers it; one request per cycle into the burst
former; a request that starts off a beat boundary costs the realigner one extra cycle. Up to
``MAX_OUTSTANDING`` bursts in flight. The AXI ID is always 0, so bursts return in order.
"""

from amaranth import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .spec.ag_layout import COMMAND, MAX_OUTSTANDING, AgMode, ag_layout, axi_size
from .burst_former import ADDRESS_BITS, FETCH, BurstFormer
from .spec.config import ArrayConfig
from .buffered_fifo import BufferedFifo
from .pipeline import input_fifo, select

__all__ = ["AG", "axi4_signature", "ADDRESS_BITS", "ID_BITS"]

ID_BITS = 4
OFFSET_BITS = 5  # word offset within a beat (lanes <= 32: the 1024-bit AXI4 maximum)
INFO = data.StructLayout({"offset": OFFSET_BITS, "length": 32, "beats": 33, "ok": 1})
"""A request as the realigners see it: word offset in its first beat, words, beats, performed."""


def axi4_signature(data_bits: int) -> wiring.Signature:
    """An AXI4 manager interface (AW, W, B, AR and R channels), as seen by the manager."""
    return wiring.Signature({
        "awid": Out(ID_BITS), "awaddr": Out(ADDRESS_BITS), "awlen": Out(8), "awsize": Out(3), "awburst": Out(2),
        "awvalid": Out(1), "awready": In(1),
        "wdata": Out(data_bits), "wstrb": Out(data_bits // 8), "wlast": Out(1), "wvalid": Out(1), "wready": In(1),
        "bid": In(ID_BITS), "bresp": In(2), "bvalid": In(1), "bready": Out(1),
        "arid": Out(ID_BITS), "araddr": Out(ADDRESS_BITS), "arlen": Out(8), "arsize": Out(3), "arburst": Out(2),
        "arvalid": Out(1), "arready": In(1),
        "rid": In(ID_BITS), "rdata": In(data_bits), "rresp": In(2), "rlast": In(1), "rvalid": In(1), "rready": Out(1),
    })


class AG(wiring.Component):
    """An AG of ArrayConfig *cfg*: a ``32 * lanes``-bit AXI4 manager ``m_axi`` that reads and writes.

    Ports: ``configuration`` (static, ``ag_layout(cfg)``), ``cmd`` (read commands), ``idx`` (row
    indices), ``rdata`` (vectors), ``wcmd`` and ``wdata`` (write commands and their vectors), ``m_axi``,
    and ``errors`` (refused requests plus DRAM error responses, wrapping).
    """

    def __init__(self, cfg: ArrayConfig):
        self.cfg = cfg
        self.lane_bits = (cfg.lanes - 1).bit_length()
        super().__init__({
            "configuration": In(ag_layout(cfg)),
            "cmd": In(stream.Signature(COMMAND)),
            "idx": In(stream.Signature(32)),
            "rdata": Out(stream.Signature(data.ArrayLayout(32, cfg.lanes))),
            "wcmd": In(stream.Signature(COMMAND)),
            "wdata": In(stream.Signature(data.ArrayLayout(32, cfg.lanes))),
            "m_axi": Out(axi4_signature(32 * cfg.lanes)),
            "errors": Out(32),
        })

    def _requests(self, m, name, valid, address, length, ok):
        """Splits each request into the realigner's info (word offset, length, beats) and the burst
        former's fetch entry (first beat, beats, whether it starts and ends on a beat boundary).
        Returns (take, info FIFO, fetch FIFO, refused): *take* pops the source."""
        L, lb = self.cfg.lanes, self.lane_bits
        end = Signal(34, name=f"{name}_end")
        m.d.comb += end.eq(address + length)
        first_beat = address >> lb
        beats = Signal(33, name=f"{name}_beats")
        m.d.comb += beats.eq(Mux(length == 0, 0, ((end + L - 1) >> lb) - first_beat))
        info = m.submodules[f"{name}_info_fifo"] = BufferedFifo(INFO.size, MAX_OUTSTANDING * 2)
        fetch = m.submodules[f"{name}_fetch_fifo"] = BufferedFifo(FETCH.size, 4)
        needs_fetch = ok & (beats != 0)
        take = valid & info.w_rdy & (~needs_fetch | fetch.w_rdy)
        low = lambda v: v[0:lb] if lb else Const(0, 1)  # noqa: E731
        m.d.comb += [
            info.w_en.eq(take), fetch.w_en.eq(take & needs_fetch),
            info.w_data.eq(Cat(low(address), Const(0, OFFSET_BITS - max(1, lb)), length, beats, ok)),
            fetch.w_data.eq(Cat(first_beat[0:32], beats, low(address) == 0, low(end) == 0)),
        ]
        return take, info, fetch, take & ~ok

    @staticmethod
    def _bursts(m, name, cfg, fetch, axi_valid, axi_ready, axi_addr, axi_len, completed) -> BurstFormer:
        """The burst former of one direction (rtl/burst_former.py), fed by the *fetch* FIFO, driving the
        address channel."""
        former = m.submodules[f"{name}_bursts"] = BurstFormer(cfg)
        m.d.comb += [former.fetch.valid.eq(fetch.r_rdy), former.fetch.payload.eq(fetch.r_data),
                     fetch.r_en.eq(former.fetch.ready), former.ready.eq(axi_ready), former.completed.eq(completed),
                     axi_valid.eq(former.valid), axi_addr.eq(former.addr), axi_len.eq(former.len)]
        return former

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
        take, info, fetch, refused = self._requests(m, "read", head_valid, address, length, ok)
        m.d.comb += [cmd.r_en.eq(take & ~gather), idx.r_en.eq(take & gather)]
        self._bursts(m, "read", cfg, fetch, axi.arvalid, axi.arready, axi.araddr, axi.arlen,
                     axi.rvalid & axi.rready & axi.rlast)
        m.d.comb += [axi.arid.eq(0), axi.arburst.eq(1), axi.arsize.eq(axi_size(cfg))]

        # -- realigner ---------------------------------------------------------------------------------------
        beat_fifo = m.submodules.beat_fifo = BufferedFifo(32 * L, 8)
        # SLVERR (2) and DECERR (3) have bit 1 set: such a beat's data is not data.
        r_failed = axi.rvalid & axi.rready & axi.rresp[1]
        m.d.comb += [beat_fifo.w_data.eq(Mux(axi.rresp[1], 0, axi.rdata)), beat_fifo.w_en.eq(axi.rvalid),
                     axi.rready.eq(beat_fifo.w_rdy)]
        out = m.submodules.out_fifo = BufferedFifo(32 * L, 4)
        m.d.comb += [self.rdata.valid.eq(out.r_rdy), self.rdata.payload.eq(out.r_data), out.r_en.eq(self.rdata.ready)]

        req = INFO(info.r_data)
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

        # -- writes: commands -> AW bursts; vectors -> realigned W beats with strobes ----------------------
        wcmd = input_fifo(m, "wcmd_fifo", self.wcmd, COMMAND.size, cfg.fifo_depth)
        wvec = input_fifo(m, "wdata_fifo", self.wdata, 32 * L, cfg.fifo_depth)
        wc = COMMAND(wcmd.r_data)
        wtake, winfo, wfetch, wrefused = self._requests(m, "write", wcmd.r_rdy, wc.base, wc.length,
                                                         (wc.base + wc.length) <= 2**32)
        m.d.comb += wcmd.r_en.eq(wtake)
        writes = self._bursts(m, "write", cfg, wfetch, axi.awvalid, axi.awready, axi.awaddr, axi.awlen,
                              axi.bvalid & axi.bready)
        m.d.comb += [axi.awid.eq(0), axi.awburst.eq(1), axi.awsize.eq(axi_size(cfg)),
                     axi.bready.eq(1)]
        lengths = m.submodules.wlen_fifo = BufferedFifo(9, MAX_OUTSTANDING)
        m.d.comb += [lengths.w_en.eq(writes.issue), lengths.w_data.eq(writes.beats)]

        wreq = INFO(winfo.r_data)
        woffset = wreq.offset if lb else Const(0, 1)
        vectors = (wreq.length + L - 1) >> lb
        k = Signal(33)  # beats (or, for a refused request, vectors) done in this request
        pos = Signal(signed(35))  # request word index of the beat's word 0: k * L - offset
        position = Mux(k == 0, -woffset, pos)  # unary minus widens: offsets up to lanes - 1 stay positive
        need_vector = k < vectors
        cur = Mux(need_vector, wvec.r_data, 0)
        prev_vec = Signal(32 * L)
        beat_words, strobes = [], []
        for w in range(L):
            options = [word(cur, w - o) if w >= o else word(prev_vec, L - o + w) for o in range(L)]
            beat_words.append(select(m, options, woffset, name=f"wrealign_w{w}"))
            j = position + w
            strobes.append(Mux((j >= 0) & (j < wreq.length), 0xF, 0))
        wbeats = m.submodules.wbeat_fifo = BufferedFifo(36 * L, 4)
        nothing_w = wreq.length == 0
        refused_w = ~wreq.ok & ~nothing_w
        step = winfo.r_rdy & ~nothing_w & (~need_vector | wvec.r_rdy) & (refused_w | wbeats.w_rdy)
        done_w = Mux(wreq.ok, k + 1 == wreq.beats, k + 1 == vectors)
        m.d.comb += [
            wbeats.w_en.eq(step & wreq.ok), wbeats.w_data.eq(Cat(*beat_words, *strobes)),
            wvec.r_en.eq(step & need_vector),
            winfo.r_en.eq((winfo.r_rdy & nothing_w) | (step & done_w)),
        ]
        with m.If(step):
            m.d.sync += [prev_vec.eq(cur), k.eq(Mux(done_w, 0, k + 1)), pos.eq(position + L)]
        sent = Signal(9)
        last_beat = sent + 1 == lengths.r_data
        m.d.comb += [
            axi.wvalid.eq(wbeats.r_rdy & lengths.r_rdy), axi.wdata.eq(wbeats.r_data[0:32 * L]),
            axi.wstrb.eq(wbeats.r_data[32 * L:]), axi.wlast.eq(last_beat),
        ]
        with m.If(axi.wvalid & axi.wready):
            m.d.comb += wbeats.r_en.eq(1)
            m.d.sync += sent.eq(Mux(last_beat, 0, sent + 1))
            m.d.comb += lengths.r_en.eq(last_beat)
        b_failed = axi.bvalid & axi.bready & axi.bresp[1]
        m.d.sync += self.errors.eq(self.errors + refused + wrefused + r_failed + b_failed)
        return m
