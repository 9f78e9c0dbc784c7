"""The pattern memory unit: a banked scratchpad with a write port and a read port, each with a counter
chain, an integer address pipeline and a bank-conflict serialiser. Semantics: rtl/spec/pmu_layout.py.

Datapath of a port, one access (``lanes`` lane requests) per firing::

    input FIFOs -> issue (firing rule, order, credits; counters step) -> address pipeline
    (``pmu_stages`` IntAlu stages per lane) -> range check, buffer offset -> request FIFO
    -> serialiser (per bank, the lowest pending lane each cycle) -> banks -> (read) output FIFOs

Latency: a write reaches its bank 3 + ``pmu_stages`` cycles after it fires, the same for a read's bank
access; the read's vector is in the output FIFO two cycles after its last bank access.
Throughput: one access per cycle per port when no two performed lanes share a bank; an access whose
lanes pile up n deep on one bank takes n cycles. The two ports work in parallel (each bank has a write
and a read port); a read and a write of the same word in the same cycle read the old word.

Nothing stalls inside: a port fires only when its request FIFO (and, for reads, every enabled output
FIFO) has a slot not yet promised to an access in flight.

Parts, each a component with its own test: ``PmuPort`` (port.py: issue, address pipeline, request queue,
``BankSerialiser``) for each port and ``ReadReturn`` (read_return.py) behind the read port's banks.
"""

from amaranth import Const, Module, Mux, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import Out

from ..credited_fifo import CreditedFifo
from ..pipeline import input_fifo, stream_unit_ports
from ..spec.config import ArrayConfig
from ..spec.pmu_layout import DonePort, PmuMode, pmu_layout
from ..spec.timing import pmu_output_depth
from .port import PmuPort
from .read_return import ReadReturn

__all__ = ["PMU"]


class PMU(wiring.Component):
    """A PMU of ArrayConfig *cfg* (lanes banks of pmu_depth words, pmu_stages address stages).

    Ports: ``configuration`` (static, layout ``pmu_layout(cfg)``), ``vin[k]``/``sin[k]`` (input
    streams), ``ctrl_in`` (start tokens), ``vout``/``sout`` (read data), ``ctrl_out`` (done tokens),
    and the status counters ``write_conflicts``, ``read_conflicts`` and ``errors`` (wrapping, 32 bits).
    Latency: the module's docstring (a bank access 3 + ``pmu_stages`` cycles after firing). Invariants:
    nothing stalls inside (credits); a read and a write of one word in one cycle read the old word.
    """

    def __init__(self, cfg: ArrayConfig):
        self.cfg = cfg
        self.out_depth = pmu_output_depth(cfg)
        super().__init__({**stream_unit_ports(cfg, pmu_layout(cfg), vector_outputs=None, scalar_outputs=None),
                          "write_conflicts": Out(32), "read_conflicts": Out(32), "errors": Out(32)})

    def elaborate(self, platform):
        m = Module()
        cfg, c = self.cfg, self.configuration
        L, depth = cfg.lanes, cfg.pmu_depth

        vfifo = [input_fifo(m, f"vin{k}_fifo", self.vin[k], 32 * L, cfg.fifo_depth) for k in range(cfg.vector_inputs)]
        sfifo = [input_fifo(m, f"sin{k}_fifo", self.sin[k], 32, cfg.fifo_depth) for k in range(cfg.scalar_inputs)]
        cfifo = input_fifo(m, "ctrl_in_fifo", self.ctrl_in, 1, cfg.fifo_depth)
        seeded = Signal()
        m.d.sync += seeded.eq(1)

        # Output FIFOs of the read port, and their credits.
        outs = []
        for name, port, width, enable in (("vout", self.vout, 32 * L, c.read.vout),
                                          ("sout", self.sout, 32, c.read.sout)):
            f = m.submodules[f"{name}_fifo"] = CreditedFifo(width, self.out_depth)
            m.d.comb += [port.valid.eq(f.r_rdy), port.payload.eq(f.r_data), f.r_en.eq(port.ready)]
            outs.append((f, enable))
        out_room = Const(1)
        for f, enable in outs:
            out_room &= ~enable | f.room

        ports = {name: PmuPort(cfg, is_write=name == "write") for name in ("write", "read")}
        for name, port in ports.items():
            m.submodules[name] = port
            m.d.comb += [port.configuration.eq(getattr(c, name)), port.mode.eq(c.mode), port.seeded.eq(seeded),
                         port.first_unit.eq(c.fifo_fill if name == "write" else 0),
                         port.ctrl_rdy.eq(cfifo.r_rdy), port.out_room.eq(out_room)]
            for k, f in enumerate(vfifo):
                m.d.comb += [port.vin_rdy[k].eq(f.r_rdy), port.vin_data[k].eq(f.r_data)]
            for k, f in enumerate(sfifo):
                m.d.comb += [port.sin_rdy[k].eq(f.r_rdy), port.sin_data[k].eq(f.r_data)]
        write, read = ports["write"], ports["read"]
        # Whether a port may begin a unit (rtl/spec/pmu_layout.py, "Modes"); the counters wrap together.
        buffers = Mux(c.mode == PmuMode.BUFFER, 1, Mux(c.mode == PmuMode.DOUBLE, 2, depth))
        m.d.comb += [write.may_begin.eq((c.mode == PmuMode.NONE) | ((write.started - read.done)[0:32] < buffers)),
                     read.may_begin.eq((c.mode == PmuMode.NONE) | (write.done != read.started))]
        for k, f in enumerate(vfifo):
            m.d.comb += f.r_en.eq(write.vin_pop[k] | read.vin_pop[k])
        for k, f in enumerate(sfifo):
            m.d.comb += f.r_en.eq(write.sin_pop[k] | read.sin_pop[k])
        m.d.comb += cfifo.r_en.eq(write.ctrl_pop | read.ctrl_pop)

        # The banks: a write port and a read port each; a read and a write of a word in one cycle read the old word.
        ret = m.submodules.read_return = ReadReturn(L)
        for b in range(L):
            mem = m.submodules[f"bank{b}"] = memory.Memory(shape=32, depth=depth, init=[])
            wp, rp = mem.write_port(), mem.read_port(transparent_for=())
            m.d.comb += [wp.en.eq(write.bank_hit[b]), wp.addr.eq(write.bank_row[b]), wp.data.eq(write.bank_data[b]),
                         rp.en.eq(1), rp.addr.eq(read.bank_row[b]),
                         ret.hit[b].eq(read.bank_hit[b]), ret.lane[b].eq(read.bank_lane[b]), ret.data[b].eq(rp.data)]
        m.d.comb += ret.finishing.eq(read.finishing)
        for (f, enable), word in zip(outs, (ret.vector, ret.vector[0:32])):
            m.d.comb += [f.w_en.eq(ret.complete & enable), f.w_data.eq(word), f.reserve.eq(read.fire & enable)]

        for counter, port in ((self.write_conflicts, write), (self.read_conflicts, read)):
            with m.If(port.conflict):
                m.d.sync += counter.eq(counter + 1)
        m.d.sync += self.errors.eq(self.errors + write.errors + read.errors)

        tokens = Signal(16)
        token = Mux(c.done_port == DonePort.WRITE, write.end, read.end)
        m.d.comb += [self.ctrl_out.valid.eq(tokens != 0), self.ctrl_out.payload.eq(1)]
        m.d.sync += tokens.eq(tokens + token - (self.ctrl_out.valid & self.ctrl_out.ready))
        return m
