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
"""

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .arith import IntAlu
from .bank_serialiser import BankSerialiser
from .spec.config import ArrayConfig
from .counters import counter_chain
from .credited_fifo import CreditedFifo
from .spec.pcu_layout import Src
from .pipeline import delay, input_fifo, operand, select
from .spec.pmu_layout import ADDRESS_REGISTERS, DonePort, PmuMode, pmu_layout

__all__ = ["PMU"]


class PMU(wiring.Component):
    """A PMU of ArrayConfig *cfg* (lanes banks of pmu_depth words, pmu_stages address stages).

    Ports: ``configuration`` (static, layout ``pmu_layout(cfg)``), ``vin[k]``/``sin[k]`` (input
    streams), ``ctrl_in`` (start tokens), ``vout``/``sout`` (read data), ``ctrl_out`` (done tokens),
    and the status counters ``write_conflicts``, ``read_conflicts`` and ``errors`` (wrapping, 32 bits).
    """

    def __init__(self, cfg: ArrayConfig):
        self.cfg = cfg
        self.bank_bits = (cfg.lanes - 1).bit_length()
        self.row_bits = (cfg.pmu_depth - 1).bit_length()
        self.queue_depth = cfg.pmu_stages + 4
        self.out_depth = cfg.pmu_stages + 8 + cfg.fifo_depth
        vector = data.ArrayLayout(32, cfg.lanes)
        super().__init__({
            "configuration": In(pmu_layout(cfg)),
            "vin": In(stream.Signature(vector)).array(cfg.vector_inputs),
            "sin": In(stream.Signature(32)).array(cfg.scalar_inputs),
            "ctrl_in": In(stream.Signature(1)),
            "vout": Out(stream.Signature(vector)),
            "sout": Out(stream.Signature(32)),
            "ctrl_out": Out(stream.Signature(1)),
            "write_conflicts": Out(32),
            "read_conflicts": Out(32),
            "errors": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, c = self.cfg, self.configuration
        L, depth = cfg.lanes, cfg.pmu_depth
        words = L * depth

        vfifo = [input_fifo(m, f"vin{k}_fifo", self.vin[k], 32 * L, cfg.fifo_depth) for k in range(cfg.vector_inputs)]
        sfifo = [input_fifo(m, f"sin{k}_fifo", self.sin[k], 32, cfg.fifo_depth) for k in range(cfg.scalar_inputs)]
        cfifo = input_fifo(m, "ctrl_in_fifo", self.ctrl_in, 1, cfg.fifo_depth)

        seeded = Signal()
        m.d.sync += seeded.eq(1)
        is_fifo = c.mode == PmuMode.FIFO
        is_double = c.mode == PmuMode.DOUBLE
        buffers = Mux(c.mode == PmuMode.BUFFER, 1, Mux(is_double, 2, depth))
        limit = Mux(is_double, words // 2, words)

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

        banks = []
        for b in range(L):
            mem = m.submodules[f"bank{b}"] = memory.Memory(shape=32, depth=depth, init=[])
            banks.append((mem.write_port(), mem.read_port(transparent_for=())))

        units = {}  # per port: started and done counters (units: counter runs, or accesses in fifo mode)
        for name in ("write", "read"):
            units[name] = (Signal(32, name=f"{name}_started"), Signal(32, name=f"{name}_done"))
        w_started, w_done = units["write"]
        r_started, r_done = units["read"]
        # Whether a port may begin a unit (rtl/spec/pmu_layout.py, "Modes"); the counters wrap together.
        order_ok = {
            "write": (c.mode == PmuMode.NONE) | ((w_started - r_done)[0:32] < buffers),
            "read": (c.mode == PmuMode.NONE) | (w_done != r_started),
        }
        error_counts = []
        done_tokens = {}
        fifo_pops = {"vin": [Const(0)] * cfg.vector_inputs, "sin": [Const(0)] * cfg.scalar_inputs, "ctrl": Const(0)}

        for name in ("write", "read"):
            pc = getattr(c, name)
            is_write = name == "write"
            started, done = units[name]

            # -- issue ---------------------------------------------------------------------------------
            inputs_ok = Const(1)
            for k, f in enumerate(vfifo):
                inputs_ok &= ~pc.vin_required[k] | f.r_rdy
            for k, f in enumerate(sfifo):
                inputs_ok &= ~pc.sin_required[k] | f.r_rdy
            any_counter = Cat(x.enable for x in pc.counters).any()
            run_active = Signal(name=f"{name}_run_active")
            in_unit = Signal(name=f"{name}_in_unit")
            start_needed = pc.wait_start & any_counter & ~run_active
            queue = m.submodules[f"{name}_queue"] = CreditedFifo(
                L * (1 + self.bank_bits + self.row_bits) + (32 * L if is_write else 0) + 1, self.queue_depth)
            room = queue.room & (out_room if not is_write else Const(1))
            fire = Signal(name=f"{name}_fire")
            m.d.comb += fire.eq(pc.enable & seeded & inputs_ok & (~start_needed | cfifo.r_rdy)
                                & (in_unit | order_ok[name]) & room)

            values, carry = counter_chain(m, pc.counters, fire, ~seeded, name=f"{name}_ctr")
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
            fifo_pops["ctrl"] = fifo_pops["ctrl"] | (fire & start_needed)
            carry_at = lambda level: select(m, carry, level, 1, f"{name}_carry_sel")  # noqa: E731
            for k in range(cfg.vector_inputs):
                fifo_pops["vin"][k] = fifo_pops["vin"][k] | (fire & pc.vin_required[k] & carry_at(pc.vin_pop_level[k]))
            for k in range(cfg.scalar_inputs):
                fifo_pops["sin"][k] = fifo_pops["sin"][k] | (fire & pc.sin_required[k] & carry_at(pc.sin_pop_level[k]))

            def issued(value, what):
                r = Signal(len(value), name=f"{name}_issue_{what}")
                m.d.sync += r.eq(value)
                return r

            t_valid = issued(fire, "valid")
            t_end = issued(unit_end, "end")
            t_unit = issued(unit, "unit")
            t_vin = [issued(f.r_data, f"vin{k}") for k, f in enumerate(vfifo)]
            t_sin = [issued(f.r_data, f"sin{k}") for k, f in enumerate(sfifo)]
            t_ctr = [issued(v, f"ctr{k}") for k, v in enumerate(values)]
            if is_write:
                lane_words = [select(m, [f.r_data[32 * i: 32 * i + 32] for f in vfifo], pc.data.index,
                                     name=f"write_data_vin_l{i}") for i in range(L)]
                scalar_word = select(m, [f.r_data for f in sfifo], pc.data.index, name="write_data_sin")
                t_data = issued(Cat(*[Mux(pc.data.src == Src.VIN, w, scalar_word) for w in lane_words]), "data")

            # -- address pipeline ----------------------------------------------------------------------
            regs = [[Const(0, 32)] * L for _ in range(ADDRESS_REGISTERS)]
            ctx = {"valid": t_valid, "end": t_end, "unit": t_unit, **({"data": t_data} if is_write else {})}
            for s in range(cfg.pmu_stages):
                sc = pc.stages[s]
                results = []
                for lane in range(L):
                    alu = m.submodules[f"{name}_s{s}_l{lane}"] = IntAlu()
                    m.d.comb += [alu.i.valid.eq(ctx["valid"]), alu.i.op.eq(sc.op)]
                    for slot in "abc":
                        m.d.comb += getattr(alu.i, slot).eq(operand(
                            m, getattr(sc, slot), regs=[regs[r][lane] for r in range(ADDRESS_REGISTERS)], vins=t_vin,
                            sins=t_sin, ctrs=t_ctr, lane=lane, const=sc.const, name=f"{name}_s{s}_l{lane}_{slot}"))
                    results.append(alu.o.data)
                passed = [[delay(m, regs[r][lane], 1, f"{name}_s{s}_r{r}_l{lane}") for lane in range(L)]
                          for r in range(ADDRESS_REGISTERS)]
                regs = [[Mux(sc.dst == r, results[lane], passed[r][lane]) for lane in range(L)]
                        for r in range(ADDRESS_REGISTERS)]
                t_vin = [delay(m, v, 1, f"{name}_s{s}_vin") for v in t_vin]
                t_sin = [delay(m, v, 1, f"{name}_s{s}_sin") for v in t_sin]
                t_ctr = [delay(m, v, 1, f"{name}_s{s}_ctr") for v in t_ctr]
                ctx = {key: delay(m, v, 1, f"{name}_s{s}_{key}") for key, v in ctx.items()}

            # -- range check, buffer offset, request FIFO ----------------------------------------------
            slot = ctx["unit"][0:self.row_bits] if self.row_bits else Const(0, 1)
            requests = []
            bad = []
            for lane in range(L):
                address = Mux(is_fifo, (slot << self.bank_bits) | lane, regs[0][lane])
                active = ~pc.scalar | Const(lane == 0)
                in_range = address < limit
                bad.append(active & ~in_range)
                physical = (address + Mux(is_double & ctx["unit"][0], words // 2, 0))[0:self.bank_bits + self.row_bits]
                requests.append(Cat(active & in_range, physical))
            errors_here = Signal(range(L + 1), name=f"{name}_errors_here")
            m.d.comb += errors_here.eq(sum(b.as_unsigned() for b in bad))
            error_counts.append(Mux(ctx["valid"], errors_here, 0))
            m.d.comb += [queue.w_en.eq(ctx["valid"]),
                         queue.w_data.eq(Cat(*requests, ctx["end"], ctx.get("data", Const(0, 0))))]

            # -- serialiser ----------------------------------------------------------------------------
            extra = queue.width - (1 + self.bank_bits + self.row_bits) * L  # end flag, write data
            ser = m.submodules[f"{name}_serialiser"] = BankSerialiser(L, self.bank_bits, self.row_bits, extra)
            m.d.comb += [ser.access.valid.eq(queue.r_rdy), ser.access.payload.eq(queue.r_data),
                         queue.r_en.eq(ser.access.ready)]
            cur_valid, cur, finishing = ser.valid, ser.entry, ser.finishing
            field = ser.field
            lane_row = [ser.row_of(cur, i) for i in range(L)]
            cur_end = cur[field * L]
            cur_data = [cur[field * L + 1 + 32 * i: field * L + 33 + 32 * i] for i in range(L)] if is_write else []
            bank_lane = [(ser.hit[b], ser.lane[b]) for b in range(L)]
            m.d.comb += queue.reserve.eq(fire)
            counter = self.write_conflicts if is_write else self.read_conflicts
            with m.If(cur_valid & ~finishing):
                m.d.sync += counter.eq(counter + 1)
            with m.If(finishing & cur_end):
                m.d.sync += done.eq(done + 1)
            done_tokens[name] = finishing & cur_end

            for b, (wp, rp) in enumerate(banks):
                hit, lane_sel = bank_lane[b]
                row = select(m, lane_row, lane_sel, max(1, self.row_bits), f"{name}_bank{b}_row")
                if is_write:
                    m.d.comb += [wp.en.eq(cur_valid & hit), wp.addr.eq(row),
                                 wp.data.eq(select(m, cur_data, lane_sel, 32, f"write_bank{b}_data"))]
                else:
                    m.d.comb += [rp.en.eq(1), rp.addr.eq(row)]

            if not is_write:
                # Read data arrives the cycle after the bank access: collect it by lane.
                collect = [Signal(32, name=f"read_collect_l{i}") for i in range(L)]
                returning = [(delay(m, cur_valid & hit, 1, f"read_bank{b}_hit"), delay(m, lane_sel, 1, f"read_bank{b}_lane"),
                              rp.data) for b, ((hit, lane_sel), (_, rp)) in enumerate(zip(bank_lane, banks))]
                merged = []
                for i in range(L):
                    value = collect[i]
                    for hit, lane_sel, word in returning:
                        value = Mux(hit & (lane_sel == i), word, value)
                    merged.append(value)
                complete = delay(m, finishing, 1, "read_complete")
                for i in range(L):
                    m.d.sync += collect[i].eq(Mux(complete, 0, merged[i]))
                vector = Cat(*merged)
                for (f, enable), word in zip(outs, (vector, merged[0])):
                    m.d.comb += [f.w_en.eq(complete & enable), f.w_data.eq(word), f.reserve.eq(fire & enable)]

        for k, f in enumerate(vfifo):
            m.d.comb += f.r_en.eq(fifo_pops["vin"][k])
        for k, f in enumerate(sfifo):
            m.d.comb += f.r_en.eq(fifo_pops["sin"][k])
        m.d.comb += cfifo.r_en.eq(fifo_pops["ctrl"])

        m.d.sync += self.errors.eq(self.errors + sum(error_counts))

        tokens = Signal(16)
        token = Mux(c.done_port == DonePort.WRITE, done_tokens["write"], done_tokens["read"])
        m.d.comb += [self.ctrl_out.valid.eq(tokens != 0), self.ctrl_out.payload.eq(1)]
        m.d.sync += tokens.eq(tokens + token - (self.ctrl_out.valid & self.ctrl_out.ready))
        return m
