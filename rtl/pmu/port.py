"""One port of a PMU (rtl/pmu/__init__.py): from the firing rule to the bank requests."""

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..counters import counter_chain
from ..credited_fifo import CreditedFifo
from ..pipeline import delay, select
from ..spec.config import ArrayConfig
from ..spec.pcu_layout import Src
from ..spec.pmu_layout import PmuMode, pmu_layout
from ..spec.timing import pmu_request_queue_depth
from ..stage_pipeline import StagePipeline
from .bank_serialiser import BankSerialiser

__all__ = ["PmuPort"]


class PmuPort(wiring.Component):
    """The write or the read port of a PMU of *cfg*: issue (firing rule, counter chain, unit order,
    credits), address pipeline (``StagePipeline.for_pmu``), range check and buffer offset, request
    queue, bank-conflict serialiser (``BankSerialiser``) and the bank requests.

    Ports: ``configuration`` (static, the port's part of ``pmu_layout``), ``mode`` (static);
    ``first_unit`` (static: the unit count it starts from, a FIFO's fill for the write port);
    ``seeded`` (low in the first cycle after reset: the counters and unit counts load); the heads of the unit's input
    FIFOs (``vin_rdy``/``vin_data``, ``sin_rdy``/``sin_data``, ``ctrl_rdy``) and their pops
    (``vin_pop``, ``sin_pop``, ``ctrl_pop``); ``may_begin`` (the mode's order rule lets a new unit
    begin), ``out_room`` (read port: every enabled output FIFO has a credit; ``fire`` reserves one);
    ``fire``; ``started``/``done`` (units begun, units whose last access reached the banks; 32 bits,
    wrapping); per bank ``bank_hit`` (it serves a lane this cycle), ``bank_row``, ``bank_lane`` and,
    for the write port, ``bank_data``; ``finishing`` (an access's last grants), ``end`` (they end a
    unit), ``conflict`` (the access occupies the port another cycle), ``errors`` (lanes out of range
    in this cycle's access, but a write window's).

    Latency: an access reaches its banks ``3 + pmu_stages`` cycles after it fires (issue register,
    address stages, request queue, serialiser). Invariants: nothing stalls between firing and the
    banks (a firing needs a slot in the request queue that no access in flight holds); an access
    whose lanes pile up n deep on a bank occupies the port n cycles.
    """

    def __init__(self, cfg: ArrayConfig, is_write: bool):
        self.cfg, self.is_write = cfg, is_write
        self.bank_bits = (cfg.lanes - 1).bit_length()
        self.row_bits = (cfg.pmu_depth - 1).bit_length()
        self.queue_depth = pmu_request_queue_depth(cfg)
        L = cfg.lanes
        members = {
            "configuration": In(pmu_layout(cfg)["write" if is_write else "read"].shape), "mode": In(PmuMode),
            "first_unit": In(32), "seeded": In(1),
            "vin_rdy": In(1).array(cfg.vector_inputs), "vin_data": In(32 * L).array(cfg.vector_inputs),
            "sin_rdy": In(1).array(cfg.scalar_inputs), "sin_data": In(32).array(cfg.scalar_inputs),
            "ctrl_rdy": In(1), "may_begin": In(1), "out_room": In(1),
            "vin_pop": Out(1).array(cfg.vector_inputs), "sin_pop": Out(1).array(cfg.scalar_inputs), "ctrl_pop": Out(1),
            "fire": Out(1), "started": Out(32), "done": Out(32),
            "bank_hit": Out(1).array(L), "bank_row": Out(max(1, self.row_bits)).array(L),
            "bank_lane": Out(range(max(2, L))).array(L),
            "finishing": Out(1), "end": Out(1), "conflict": Out(1), "errors": Out(range(L + 1)),
        }
        if is_write:
            members["bank_data"] = Out(32).array(L)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        cfg, pc = self.cfg, self.configuration
        L, depth = cfg.lanes, cfg.pmu_depth
        words = L * depth
        is_fifo = self.mode == PmuMode.FIFO
        is_double = self.mode == PmuMode.DOUBLE
        limit = Mux(is_double, words // 2, words)
        started, done, fire = self.started, self.done, self.fire

        # -- issue -------------------------------------------------------------------------------------
        inputs_ok = Const(1)
        for k, rdy in enumerate(self.vin_rdy):
            inputs_ok &= ~pc.vin_required[k] | rdy
        for k, rdy in enumerate(self.sin_rdy):
            inputs_ok &= ~pc.sin_required[k] | rdy
        any_counter = Cat(x.enable for x in pc.counters).any()
        run_active = Signal()
        in_unit = Signal()
        start_needed = pc.wait_start & any_counter & ~run_active
        queue = m.submodules.queue = CreditedFifo(
            L * (1 + self.bank_bits + self.row_bits) + (32 * L if self.is_write else 0) + 1, self.queue_depth)
        room = queue.room & (Const(1) if self.is_write else self.out_room)
        m.d.comb += fire.eq(pc.enable & self.seeded & inputs_ok & (~start_needed | self.ctrl_rdy)
                            & (in_unit | self.may_begin) & room)

        values, carry = counter_chain(m, pc.counters, fire, ~self.seeded, name="ctr")
        run_end = any_counter & carry[-1]
        unit_end = is_fifo | run_end
        unit = Mux(in_unit, started - 1, started)[0:32]
        with m.If(fire):
            m.d.sync += in_unit.eq(~unit_end)
            with m.If(~in_unit):
                m.d.sync += started.eq(started + 1)
            with m.If(start_needed):
                m.d.sync += run_active.eq(1)
            with m.If(run_end):
                m.d.sync += run_active.eq(0)
        m.d.comb += self.ctrl_pop.eq(fire & start_needed)
        carry_at = lambda level: select(m, carry, level, 1, "carry_sel")  # noqa: E731
        for k, pop in enumerate(self.vin_pop):
            m.d.comb += pop.eq(fire & pc.vin_required[k] & carry_at(pc.vin_pop_level[k]))
        for k, pop in enumerate(self.sin_pop):
            m.d.comb += pop.eq(fire & pc.sin_required[k] & carry_at(pc.sin_pop_level[k]))

        def issued(value, what):
            r = Signal(len(value), name=f"issue_{what}")
            m.d.sync += r.eq(value)
            return r

        tags = {"end": issued(unit_end, "end"), "unit": issued(unit, "unit")}
        if self.is_write:
            lane_words = [select(m, [v[32 * i: 32 * i + 32] for v in self.vin_data], pc.data.index,
                                 name=f"data_vin_l{i}") for i in range(L)]
            scalar_word = select(m, list(self.sin_data), pc.data.index, name="data_sin")
            tags["data"] = issued(Cat(*[Mux(pc.data.src == Src.VIN, w, scalar_word) for w in lane_words]), "data")

        # -- address pipeline ----------------------------------------------------------------------------
        address = m.submodules.address = StagePipeline.for_pmu(cfg)
        m.d.comb += [address.stages.eq(pc.stages), address.valid.eq(issued(fire, "valid"))]
        m.d.comb += [address.vin[k].eq(issued(v, f"vin{k}")) for k, v in enumerate(self.vin_data)]
        m.d.comb += [address.sin[k].eq(issued(v, f"sin{k}")) for k, v in enumerate(self.sin_data)]
        m.d.comb += [address.ctr[k].eq(issued(v, f"ctr{k}")) for k, v in enumerate(values)]
        tags = {key: delay(m, v, address.latency, f"address_{key}") for key, v in tags.items()}
        valid = address.valid_out

        # -- range check, buffer offset, request queue -----------------------------------------------------
        slot = tags["unit"][0:self.row_bits] if self.row_bits else Const(0, 1)
        requests = []
        bad = []
        for lane in range(L):
            word = Mux(is_fifo, (slot << self.bank_bits) | lane, address.regs[0][32 * lane: 32 * lane + 32])
            active = ~pc.scalar | Const(lane == 0)
            in_range = word < limit
            bad.append(active & ~in_range & (~pc.window if self.is_write else Const(1)))  # a window drops silently
            physical = (word + Mux(is_double & tags["unit"][0], words // 2, 0))[0:self.bank_bits + self.row_bits]
            requests.append(Cat(active & in_range, physical))
        errors_here = Signal(range(L + 1))
        m.d.comb += errors_here.eq(sum(b.as_unsigned() for b in bad))
        m.d.comb += [self.errors.eq(Mux(valid, errors_here, 0)),
                     queue.w_en.eq(valid), queue.w_data.eq(Cat(*requests, tags["end"], tags.get("data", Const(0, 0)))),
                     queue.reserve.eq(fire)]

        # -- serialiser and bank requests --------------------------------------------------------------------
        extra = queue.width - (1 + self.bank_bits + self.row_bits) * L  # end flag, write data
        ser = m.submodules.serialiser = BankSerialiser(L, self.bank_bits, self.row_bits, extra)
        m.d.comb += [ser.access.valid.eq(queue.r_rdy), ser.access.payload.eq(queue.r_data),
                     queue.r_en.eq(ser.access.ready)]
        cur = ser.entry
        field = ser.field
        lane_row = [ser.row_of(cur, i) for i in range(L)]
        cur_end = cur[field * L]
        m.d.comb += [self.finishing.eq(ser.finishing), self.end.eq(ser.finishing & cur_end),
                     self.conflict.eq(ser.valid & ~ser.finishing)]
        with m.If(ser.finishing & cur_end):
            m.d.sync += done.eq(done + 1)
        cur_data = [cur[field * L + 1 + 32 * i: field * L + 33 + 32 * i] for i in range(L)] if self.is_write else []
        for b in range(L):
            lane_sel = ser.lane[b]
            m.d.comb += [self.bank_hit[b].eq(ser.valid & ser.hit[b]), self.bank_lane[b].eq(lane_sel),
                         self.bank_row[b].eq(select(m, lane_row, lane_sel, max(1, self.row_bits), f"bank{b}_row"))]
            if self.is_write:
                m.d.comb += self.bank_data[b].eq(select(m, cur_data, lane_sel, 32, f"bank{b}_data"))
        with m.If(~self.seeded):  # nothing fires or finishes in that cycle
            m.d.sync += [started.eq(self.first_unit), done.eq(self.first_unit)]
        return m
