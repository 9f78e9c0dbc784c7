"""PCU: the pattern compute unit, a multistage reconfigurable SIMD pipeline (shared/ARCHITECTURE.md §2).

The configuration (``configuration``, layout ``rtl.pcu_layout.pcu_layout(cfg)``) is static while the unit
runs; its semantics are stated in rtl/spec/pcu_layout.py and are implemented here as follows.

Structure, input to output::

    vin/sin/ctrl_in -> input FIFOs (depth cfg.fifo_depth)
      -> issue (firing rule, counter chain, group lengths, output credits)
      -> stages 0..S-1 (lanes FunctionalUnits each, FU_LATENCY cycles per stage)
      -> reduction tree (log2(lanes) levels of FunctionalUnits, FU_LATENCY cycles each)
      -> accumulator (combinational FunctionalUnit per lane: a fold closes in one cycle)
      -> output FIFOs -> vout/sout;  done tokens -> ctrl_out

Timing:

* Latency, firing to output FIFO write: ``1 + FU_LATENCY * (stages + log2(lanes))`` cycles
  (``PCU.latency``); the output is visible one cycle later.
* Throughput: one firing per cycle while the required inputs have data and the outputs have room.
* No stalls inside: a firing reserves a slot in every output FIFO it will write (credits), so the
  pipeline never has to stop and nothing is lost or duplicated. Output FIFOs hold ``latency + 2 +
  fifo_depth`` entries so that credits never limit throughput while the consumer keeps up.
* The cycle after reset reseeds the stochastic-rounding generators and loads the counters; firing
  starts the cycle after.

The accumulator's functional unit has no registers, so its logic is on one cycle's path: that is the
critical path of the unit, to pipeline with partial sums when timing needs it.
"""

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .arith import FunctionalUnit
from .spec.config import ArrayConfig
from .counters import counter_chain
from .credited_fifo import CreditedFifo
from .spec.ops import FU_LATENCY
from .spec.pcu_layout import FoldMode, ScaOut, VecOut, pcu_layout
from .pipeline import delay, input_fifo, operand, select

__all__ = ["PCU", "pcu_latency"]


def pcu_latency(cfg: ArrayConfig) -> int:
    """Cycles from a firing to its output FIFO write (the output is visible one cycle later)."""
    return 1 + FU_LATENCY * (cfg.stages + (cfg.lanes - 1).bit_length())


class PCU(wiring.Component):
    """A PCU of ArrayConfig *cfg* (lanes, stages, registers, counters, inputs, outputs, FIFO depth).

    Ports: ``configuration`` (static, layout ``pcu_layout(cfg)``), ``vin[k]``/``sin[k]`` (input streams), ``vout[k]``/
    ``sout[k]`` (output streams), ``ctrl_in`` (start tokens), ``ctrl_out`` (done tokens).
    """

    def __init__(self, cfg: ArrayConfig):
        self.cfg = cfg
        self.levels = (cfg.lanes - 1).bit_length()  # reduction tree depth
        self.latency = pcu_latency(cfg)
        self.out_depth = self.latency + 2 + cfg.fifo_depth
        vector = data.ArrayLayout(32, cfg.lanes)
        super().__init__({
            "configuration": In(pcu_layout(cfg)),
            "vin": In(stream.Signature(vector)).array(cfg.vector_inputs),
            "sin": In(stream.Signature(32)).array(cfg.scalar_inputs),
            "ctrl_in": In(stream.Signature(1)),
            "vout": Out(stream.Signature(vector)).array(cfg.vector_outputs),
            "sout": Out(stream.Signature(32)).array(cfg.scalar_outputs),
            "ctrl_out": Out(stream.Signature(1)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, c = self.cfg, self.configuration
        L, S = cfg.lanes, cfg.stages

        # -- input FIFOs ---------------------------------------------------------------------------
        vfifo = [input_fifo(m, f"vin{k}_fifo", self.vin[k], 32 * L, cfg.fifo_depth) for k in range(cfg.vector_inputs)]
        sfifo = [input_fifo(m, f"sin{k}_fifo", self.sin[k], 32, cfg.fifo_depth) for k in range(cfg.scalar_inputs)]
        cfifo = input_fifo(m, "ctrl_in_fifo", self.ctrl_in, 1, cfg.fifo_depth)

        # -- issue: group lengths, firing rule, credits, counters ----------------------------------
        seeded = Signal()
        m.d.sync += seeded.eq(1)
        vreq = c.fire.vin_required
        sreq = c.fire.sin_required
        acc_on = c.acc.enable
        scalar_mode = c.acc.fold_mode == FoldMode.SCALAR
        remaining = Signal(32)
        need_group = acc_on & (remaining == 0)
        fold_rdy = select(m, [f.r_rdy for f in sfifo], c.acc.fold_scalar, 1, "fold_rdy")
        fold_word = select(m, [f.r_data for f in sfifo], c.acc.fold_scalar, 32, "fold_word")
        count = Mux(scalar_mode, fold_word, c.acc.fold)
        empty_group = need_group & scalar_mode & (count == 0)
        remaining_eff = Mux(need_group, count, remaining)
        last = acc_on & (remaining_eff == 1)
        group_ok = ~need_group | ~scalar_mode | fold_rdy

        inputs_ok = Const(1)
        for k, f in enumerate(vfifo):
            inputs_ok &= ~vreq[k] | f.r_rdy
        for k, f in enumerate(sfifo):
            inputs_ok &= ~sreq[k] | f.r_rdy

        enabled = Cat(x.enable for x in c.counters)
        any_counter = enabled.any()
        run_active = Signal()
        start_needed = any_counter & c.fire.wait_start & ~run_active
        start_ok = ~start_needed | cfifo.r_rdy

        # Output FIFOs and their credits (slots not yet promised to a firing in flight).
        outputs = [(f"vout{k}", self.vout[k], 32 * L, o.sel == VecOut.REG, o.sel == VecOut.ACC)
                   for k, o in enumerate(c.vout)]
        outputs += [(f"sout{k}", self.sout[k], 32, (o.sel == ScaOut.REG) | (o.sel == ScaOut.RED),
                     o.sel == ScaOut.ACC) for k, o in enumerate(c.sout)]
        credit_data_ok = Const(1)
        credit_empty_ok = Const(1)
        out_fifos = []
        for name, port, width, per_firing, per_group in outputs:
            f = m.submodules[f"{name}_fifo"] = CreditedFifo(width, self.out_depth)
            m.d.comb += [port.valid.eq(f.r_rdy), port.payload.eq(f.r_data), f.r_en.eq(port.ready)]
            credit_data_ok &= ~(per_firing | (per_group & last)) | f.room
            credit_empty_ok &= ~per_group | f.room
            out_fifos.append((f, per_firing, per_group))

        data_fire = Signal()
        empty_fire = Signal()
        m.d.comb += [
            data_fire.eq(seeded & group_ok & ~empty_group & inputs_ok & start_ok & credit_data_ok),
            empty_fire.eq(seeded & empty_group & fold_rdy & credit_empty_ok),
        ]
        for f, per_firing, per_group in out_fifos:
            m.d.comb += f.reserve.eq((data_fire & (per_firing | (per_group & last))) | (empty_fire & per_group))

        take_count = (data_fire | empty_fire) & need_group & scalar_mode
        with m.If(data_fire & acc_on):
            m.d.sync += remaining.eq(remaining_eff - 1)

        # Counter chain (carry[k]: counters 0..k-1 all wrap in this firing).
        steps = [Mux(c.spread.enable & (c.spread.counter == k), (x.stride << self.levels)[0:32], x.stride)
                 for k, x in enumerate(c.counters)]
        values, carry = counter_chain(m, c.counters, data_fire, ~seeded, steps)
        done = data_fire & any_counter & carry[-1]
        with m.If(data_fire & start_needed):
            m.d.comb += cfifo.r_en.eq(1)
            m.d.sync += run_active.eq(1)
        with m.If(done):
            m.d.sync += run_active.eq(0)
        carry_at = lambda level: select(m, carry, level, 1, "pop_carry")  # noqa: E731
        for k, f in enumerate(vfifo):
            m.d.comb += f.r_en.eq(data_fire & vreq[k] & carry_at(c.fire.vin_pop_level[k]))
        for k, f in enumerate(sfifo):
            m.d.comb += f.r_en.eq((data_fire & sreq[k] & carry_at(c.fire.sin_pop_level[k]))
                                  | (take_count & (c.acc.fold_scalar == k)))

        tokens = Signal(16)
        m.d.comb += [self.ctrl_out.valid.eq(tokens != 0), self.ctrl_out.payload.eq(1)]
        m.d.sync += tokens.eq(tokens + done - (self.ctrl_out.valid & self.ctrl_out.ready))

        # -- the token that enters stage 0 -----------------------------------------------------------
        def reg(value, name):
            r = Signal(len(value), name=name)
            m.d.sync += r.eq(value)
            return r

        t_data = reg(data_fire, "issue_data")
        t_empty = reg(empty_fire, "issue_empty")
        t_first = reg(need_group, "issue_first")
        t_last = reg(last, "issue_last")
        t_vin = [reg(f.r_data, f"issue_vin{k}") for k, f in enumerate(vfifo)]
        t_sin = [reg(f.r_data, f"issue_sin{k}") for k, f in enumerate(sfifo)]
        t_ctr = [reg(v, f"issue_ctr{k}") for k, v in enumerate(values)]

        # -- stages ------------------------------------------------------------------------------------
        regs = [[Const(0, 32)] * L for _ in range(cfg.registers)]  # [register][lane]
        ctx_vin, ctx_sin, ctx_ctr, ctx_data = t_vin, t_sin, t_ctr, t_data
        for s in range(S):
            sc = c.stages[s]
            results = []
            for lane in range(L):
                fu = m.submodules[f"stage{s}_lane{lane}"] = FunctionalUnit(lane=lane, static_op=True)
                m.d.comb += [fu.seed.eq(c.seed), fu.reseed.eq(~seeded), fu.i.valid.eq(ctx_data),
                             fu.i.op.eq(sc.op)]
                counter_lanes = [
                    (ctx_ctr[k] + Mux(c.spread.enable & (c.spread.counter == k),
                                      (c.counters[k].stride * lane)[0:32], 0))[0:32]
                    for k in range(cfg.counters)]
                for slot in "abc":
                    m.d.comb += getattr(fu.i, slot).eq(operand(
                        m, getattr(sc, slot), regs=[regs[r][lane] for r in range(cfg.registers)], vins=ctx_vin,
                        sins=ctx_sin, ctrs=counter_lanes, lane=lane, const=sc.const, name=f"s{s}_l{lane}_{slot}"))
                results.append(fu.o.data)
            # Everything else travels alongside the functional units' latency.
            passed = [[delay(m, regs[r][lane], FU_LATENCY, f"s{s}_r{r}_l{lane}") for lane in range(L)]
                      for r in range(cfg.registers)]
            regs = [[Mux(sc.dst == r, results[lane], passed[r][lane]) for lane in range(L)]
                    for r in range(cfg.registers)]
            ctx_vin = [delay(m, v, FU_LATENCY, f"s{s}_vin") for v in ctx_vin]
            ctx_sin = [delay(m, v, FU_LATENCY, f"s{s}_sin") for v in ctx_sin]
            ctx_ctr = [delay(m, v, FU_LATENCY, f"s{s}_ctr") for v in ctx_ctr]
            ctx_data = delay(m, ctx_data, FU_LATENCY, f"s{s}_data")

        stages_delay = FU_LATENCY * S
        tags = {name: delay(m, t, stages_delay, f"tag_{name}")
                for name, t in (("empty", t_empty), ("first", t_first), ("last", t_last))}
        data_valid = ctx_data

        # -- reduction tree and what travels alongside it ------------------------------------------------
        def register_vector(index, name):
            vec = Signal(32 * L, name=name)
            m.d.comb += vec.eq(select(m, [Cat(*regs[r]) for r in range(cfg.registers)], index, 32 * L,
                                       name=f"{name}_sel"))
            return vec

        level = [register_vector(c.reduce.src, "reduce_in")[32 * lane: 32 * lane + 32] for lane in range(L)]
        for j in range(self.levels):
            nxt = []
            for i in range(len(level) // 2):
                fu = m.submodules[f"tree{j}_{i}"] = FunctionalUnit(lane=i, static_op=True)
                m.d.comb += [fu.i.valid.eq(data_valid), fu.i.op.eq(c.reduce.op), fu.i.a.eq(level[2 * i]),
                             fu.i.b.eq(level[2 * i + 1]), fu.seed.eq(c.seed), fu.reseed.eq(~seeded)]
                nxt.append(fu.o.data)
            level = nxt
        reduced = level[0]
        tree_delay = FU_LATENCY * self.levels
        after = lambda v, name: delay(m, v, tree_delay, name)  # noqa: E731
        data_valid = after(data_valid, "tree_data")
        tags = {name: after(t, f"tree_{name}") for name, t in tags.items()}
        vregs = [after(register_vector(o.reg, f"vout{k}_reg"), f"vout{k}_tree") for k, o in enumerate(c.vout)]
        sregs = [after(select(m, [regs[r][0] for r in range(cfg.registers)], o.reg, name=f"sout{k}_reg"),
                       f"sout{k}_tree") for k, o in enumerate(c.sout)]
        acc_src = after(register_vector(c.acc.src, "acc_src"), "acc_src_tree")

        # -- accumulator ---------------------------------------------------------------------------------
        acc = Signal(32 * L)
        acc_out = []
        for lane in range(L):
            fu = m.submodules[f"acc_lane{lane}"] = FunctionalUnit(lane=lane, registered=False, static_op=True)
            x = Mux(c.reduce.enable, reduced, acc_src[32 * lane: 32 * lane + 32])
            base = Mux(tags["first"], c.acc.init, acc[32 * lane: 32 * lane + 32])
            m.d.comb += [fu.i.valid.eq(data_valid & c.acc.enable), fu.i.op.eq(c.acc.op), fu.i.a.eq(base),
                         fu.i.b.eq(x), fu.seed.eq(c.seed), fu.reseed.eq(~seeded)]
            acc_out.append(fu.o.data)
        acc_next = Cat(*acc_out)
        with m.If(data_valid & c.acc.enable):
            m.d.sync += acc.eq(acc_next)
        init_vector = Cat(*[c.acc.init] * L)
        group_value = Mux(tags["empty"], init_vector, acc_next)
        emit_group = (data_valid & tags["last"]) | tags["empty"]

        # -- outputs ---------------------------------------------------------------------------------------
        k_v = 0
        for (f, per_firing, per_group), (name, *_rest) in zip(out_fifos, outputs):
            if name.startswith("vout"):
                firing_value = vregs[k_v]
                group_word = group_value
                k_v += 1
            else:
                k = int(name[4:])
                firing_value = Mux(c.sout[k].sel == ScaOut.RED, reduced, sregs[k])
                group_word = group_value[0:32]
            m.d.comb += [
                f.w_en.eq((per_firing & data_valid) | (per_group & emit_group)),
                f.w_data.eq(Mux(per_group, group_word, firing_value)),
            ]
        return m

