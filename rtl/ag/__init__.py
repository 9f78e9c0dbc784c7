"""The address generator and coalescing unit (AG/CU): turns read commands or embedding-row indices into
AXI4 INCR read bursts and returns the words as vectors, in request order. Semantics: rtl/spec/ag_layout.py.

Datapath::

    cmd/idx FIFO -> request (address, length, range check) -> fetch FIFO -> burst former
    (burst_former.py: coalesces waiting contiguous requests, cuts at 256 beats and 4 KB) -> AR
    R -> beat FIFO -> realigner (request info FIFO: word offset, length) -> vector FIFO -> rdata

DRAM errors: an R beat answered SLVERR or DECERR enters the realigner as zeros (its data is never passed
on) and adds one to ``errors``; so does every B response of SLVERR or DECERR. EXOKAY counts as OKAY.

Throughput: one beat per cycle on R when the DRAM delivers it; one request per cycle into the burst
former; a request that starts off a beat boundary costs the realigner one extra cycle. Up to
``MAX_OUTSTANDING`` bursts in flight. A write burst leaves as soon as data waits for it (the burst
former's ``flush``): it joins only the requests already there, so a stream of one-beat writes, one a
cycle (an embedding bag of one index each), goes at a beat a cycle (waiting for joins stalled it a
few cycles a burst: 256 such bags on ``small`` took 337 cycles, now 300). The AXI ID is always 0, so bursts return in order.

Parts, each a component with its own test: ``Requests`` (requests.py) and ``BurstFormer``
(burst_former.py) for each direction, ``ReadRealigner`` and ``WriteAligner`` (realigners.py).
"""

from amaranth import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..buffered_fifo import BufferedFifo
from ..pipeline import input_fifo
from ..spec.ag_layout import COMMAND, MAX_OUTSTANDING, AgMode, ag_layout, axi_size
from ..spec.config import ArrayConfig
from .burst_former import ADDRESS_BITS, BurstFormer
from .realigners import ReadRealigner, WriteAligner
from .requests import Requests

__all__ = ["AG", "axi4_signature", "ADDRESS_BITS", "ID_BITS"]

ID_BITS = 4


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
    Latency and throughput: the module's docstring (one beat per cycle on R, one request per cycle).
    Invariants: vectors leave in request order (AXI ID 0); a refused request or an error beat gives
    zeros, never another request's data, and counts in ``errors``.
    """

    def __init__(self, cfg: ArrayConfig):
        self.cfg = cfg
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

    def _requests(self, m, name, valid, address, length, ok) -> Requests:
        requests = m.submodules[f"{name}_requests"] = Requests(self.cfg)
        m.d.comb += [requests.valid.eq(valid), requests.address.eq(address), requests.length.eq(length),
                     requests.ok.eq(ok)]
        return requests

    def _bursts(self, m, name, requests, axi_valid, axi_ready, axi_addr, axi_len, completed, flush=0) -> BurstFormer:
        """The burst former of one direction, fed by its requests' fetch FIFO, driving the address channel."""
        former = m.submodules[f"{name}_bursts"] = BurstFormer(self.cfg)
        m.d.comb += [former.fetch.valid.eq(requests.fetch_rdy), former.fetch.payload.eq(requests.fetch_data),
                     requests.fetch_pop.eq(former.fetch.ready), former.ready.eq(axi_ready),
                     former.completed.eq(completed), former.flush.eq(flush),
                     axi_valid.eq(former.valid), axi_addr.eq(former.addr), axi_len.eq(former.len)]
        return former

    def elaborate(self, platform):
        m = Module()
        cfg, c, axi = self.cfg, self.configuration, self.m_axi
        L = cfg.lanes

        # -- reads: commands or row indices -> AR bursts ---------------------------------------------------
        cmd = input_fifo(m, "cmd_fifo", self.cmd, COMMAND.size, cfg.fifo_depth)
        idx = input_fifo(m, "idx_fifo", self.idx, 32, cfg.fifo_depth)
        gather = c.mode == AgMode.GATHER
        command = COMMAND(cmd.r_data)
        address = Signal(33)  # words; bit 32 set only for a refused request
        length = Signal(32)
        ok = Signal()
        m.d.comb += [
            address.eq(Mux(gather, c.table_base + idx.r_data * c.row_words, command.base)),
            length.eq(Mux(gather, c.row_words, command.length)),
            ok.eq(Mux(gather, idx.r_data < c.rows, (command.base + command.length) <= 2**32)),
        ]
        reads = self._requests(m, "read", Mux(gather, idx.r_rdy, cmd.r_rdy), address, length, ok)
        m.d.comb += [cmd.r_en.eq(reads.take & ~gather), idx.r_en.eq(reads.take & gather)]
        self._bursts(m, "read", reads, axi.arvalid, axi.arready, axi.araddr, axi.arlen,
                     axi.rvalid & axi.rready & axi.rlast)
        m.d.comb += [axi.arid.eq(0), axi.arburst.eq(1), axi.arsize.eq(axi_size(cfg))]

        # -- R beats -> vectors in request order ------------------------------------------------------------
        beat_fifo = m.submodules.beat_fifo = BufferedFifo(32 * L, 8)
        # SLVERR (2) and DECERR (3) have bit 1 set: such a beat's data is not data.
        r_failed = axi.rvalid & axi.rready & axi.rresp[1]
        m.d.comb += [beat_fifo.w_data.eq(Mux(axi.rresp[1], 0, axi.rdata)), beat_fifo.w_en.eq(axi.rvalid),
                     axi.rready.eq(beat_fifo.w_rdy)]
        out = m.submodules.out_fifo = BufferedFifo(32 * L, 4)
        m.d.comb += [self.rdata.valid.eq(out.r_rdy), self.rdata.payload.eq(out.r_data), out.r_en.eq(self.rdata.ready)]
        realigner = m.submodules.realigner = ReadRealigner(cfg)
        m.d.comb += [realigner.info_rdy.eq(reads.info_rdy), realigner.info_data.eq(reads.info_data),
                     reads.info_pop.eq(realigner.info_pop),
                     realigner.beat_rdy.eq(beat_fifo.r_rdy), realigner.beat_data.eq(beat_fifo.r_data),
                     beat_fifo.r_en.eq(realigner.beat_pop),
                     realigner.out_rdy.eq(out.w_rdy), out.w_en.eq(realigner.out_en), out.w_data.eq(realigner.out_data)]

        # -- writes: commands -> AW bursts; vectors -> realigned W beats with strobes ----------------------
        wcmd = input_fifo(m, "wcmd_fifo", self.wcmd, COMMAND.size, cfg.fifo_depth)
        wvec = input_fifo(m, "wdata_fifo", self.wdata, 32 * L, cfg.fifo_depth)
        wc = COMMAND(wcmd.r_data)
        writes = self._requests(m, "write", wcmd.r_rdy, wc.base, wc.length, (wc.base + wc.length) <= 2**32)
        m.d.comb += wcmd.r_en.eq(writes.take)
        beats_wait = Signal()  # data is here and no burst is out to carry it: send the segment unjoined
        bursts = self._bursts(m, "write", writes, axi.awvalid, axi.awready, axi.awaddr, axi.awlen,
                              axi.bvalid & axi.bready, beats_wait)
        m.d.comb += [axi.awid.eq(0), axi.awburst.eq(1), axi.awsize.eq(axi_size(cfg)), axi.bready.eq(1)]
        lengths = m.submodules.wlen_fifo = BufferedFifo(9, MAX_OUTSTANDING)
        m.d.comb += [lengths.w_en.eq(bursts.issue), lengths.w_data.eq(bursts.beats)]

        wbeats = m.submodules.wbeat_fifo = BufferedFifo(36 * L, 4)
        m.d.comb += beats_wait.eq(wbeats.r_rdy | wvec.r_rdy)
        aligner = m.submodules.aligner = WriteAligner(cfg)
        m.d.comb += [aligner.info_rdy.eq(writes.info_rdy), aligner.info_data.eq(writes.info_data),
                     writes.info_pop.eq(aligner.info_pop),
                     aligner.vec_rdy.eq(wvec.r_rdy), aligner.vec_data.eq(wvec.r_data), wvec.r_en.eq(aligner.vec_pop),
                     aligner.beat_room.eq(wbeats.w_rdy), wbeats.w_en.eq(aligner.beat_en),
                     wbeats.w_data.eq(aligner.beat_data)]
        # W: the beats of each burst, wlast on the burst's last.
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
        m.d.sync += self.errors.eq(self.errors + reads.refused + writes.refused + r_failed + b_failed)
        return m
