"""PCU: the pattern compute unit, a multistage reconfigurable SIMD pipeline (shared/ARCHITECTURE.md §2).

The configuration (``configuration``, layout ``rtl.pcu_layout.pcu_layout(cfg)``) is static while the unit
runs; its semantics are stated in rtl/spec/pcu_layout.py and are implemented here as follows.

Structure, input to output::

    vin/sin/ctrl_in -> input FIFOs (depth cfg.fifo_depth)
      -> issue (firing rule, counter chain, group lengths, output credits)
      -> stages 0..S-1 (lanes FunctionalUnits each, FU_LATENCY cycles per stage; in the systolic mode
         their ``wgt`` operands come from the weight banks, loaded from a vector input)
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

Systolic mode: with the weights on, the weight banks (weights.py) hold the tile in use and the next
one, loaded one vector per cycle while the current tile computes; a firing also needs a whole tile,
and its stages read the bank the firing was issued with. With every stage an ``ffma`` of a broadcast
input word, its weight and the partial sum, a firing makes ``lanes * stages`` multiply-adds.

Parts, each a component with its own test: ``Issue`` (issue.py), ``WeightBanks`` (weights.py), ``StagePipeline`` (rtl/stage_pipeline.py, shared with the PMU),
``ReductionTree`` (reduction.py) and ``Accumulator`` (accumulator.py). The accumulator's functional unit
has no registers, so its logic is on one cycle's path: that is the critical path of the unit, to
pipeline with partial sums when timing needs it.
"""

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import wiring

from ..credited_fifo import CreditedFifo
from ..pipeline import delay, input_fifo, select, stream_unit_ports
from ..spec.config import ArrayConfig
from ..spec.pcu_layout import ScaOut, VecOut, pcu_layout
from ..spec.timing import pcu_latency, pcu_output_depth, weight_drain
from .accumulator import Accumulator
from .issue import Issue
from .reduction import ReductionTree
from .weights import WeightBanks
from ..stage_pipeline import StagePipeline

__all__ = ["PCU"]


class PCU(wiring.Component):
    """A PCU of ArrayConfig *cfg* (lanes, stages, registers, counters, inputs, outputs, FIFO depth).

    Ports: ``configuration`` (static, layout ``pcu_layout(cfg)``), ``vin[k]``/``sin[k]`` (input streams), ``vout[k]``/
    ``sout[k]`` (output streams), ``ctrl_in`` (start tokens), ``ctrl_out`` (done tokens).
    Latency ``pcu_latency(cfg)``. Invariants (the module's docstring): one firing per cycle, no stall
    inside (credits), outputs in firing order.
    """

    def __init__(self, cfg: ArrayConfig):
        self.cfg = cfg
        self.levels = (cfg.lanes - 1).bit_length()  # reduction tree depth
        self.latency = pcu_latency(cfg)
        self.out_depth = pcu_output_depth(cfg)
        super().__init__(stream_unit_ports(cfg, pcu_layout(cfg), vector_outputs=cfg.vector_outputs,
                                           scalar_outputs=cfg.scalar_outputs))

    def elaborate(self, platform):
        m = Module()
        cfg, c = self.cfg, self.configuration
        L = cfg.lanes

        # -- input FIFOs ---------------------------------------------------------------------------
        vfifo = [input_fifo(m, f"vin{k}_fifo", self.vin[k], 32 * L, cfg.fifo_depth) for k in range(cfg.vector_inputs)]
        sfifo = [input_fifo(m, f"sin{k}_fifo", self.sin[k], 32, cfg.fifo_depth) for k in range(cfg.scalar_inputs)]
        cfifo = input_fifo(m, "ctrl_in_fifo", self.ctrl_in, 1, cfg.fifo_depth)
        seeded = Signal()
        m.d.sync += seeded.eq(1)

        # -- output FIFOs: what each writes (per firing, or per group of the accumulator) ------------
        outputs = [(f"vout{k}", self.vout[k], 32 * L, o.sel == VecOut.REG, o.sel == VecOut.ACC)
                   for k, o in enumerate(c.vout)]
        outputs += [(f"sout{k}", self.sout[k], 32, (o.sel == ScaOut.REG) | (o.sel == ScaOut.RED),
                     o.sel == ScaOut.ACC) for k, o in enumerate(c.sout)]
        out_fifos = []
        for name, port, width, per_firing, per_group in outputs:
            f = m.submodules[f"{name}_fifo"] = CreditedFifo(width, self.out_depth)
            m.d.comb += [port.valid.eq(f.r_rdy), port.payload.eq(f.r_data), f.r_en.eq(port.ready)]
            out_fifos.append((f, per_firing, per_group))

        # -- issue ------------------------------------------------------------------------------------
        issue = m.submodules.issue = Issue(cfg, len(outputs))
        m.d.comb += [issue.configuration.eq(c), issue.seeded.eq(seeded), issue.ctrl_rdy.eq(cfifo.r_rdy),
                     cfifo.r_en.eq(issue.ctrl_pop)]
        # The weights input is popped by the weight banks only (the encoder keeps it out of the firing rule).
        stages = m.submodules.stages = StagePipeline.for_pcu(cfg)
        weights = m.submodules.weights = WeightBanks(cfg, drain=weight_drain(cfg))
        m.d.comb += [weights.enable.eq(c.weights.enable), weights.period.eq(c.weights.period),
                     weights.phase.eq(c.weights.phase), weights.release.eq(issue.w_release),
                     issue.w_ready.eq(weights.ready),
                     weights.w_rdy.eq(select(m, [f.r_rdy for f in vfifo], c.weights.src, 1, "weights_rdy")),
                     weights.w_data.eq(select(m, [f.r_data for f in vfifo], c.weights.src, 32 * L, "weights_data"))]
        for k, f in enumerate(vfifo):
            m.d.comb += [issue.vin_rdy[k].eq(f.r_rdy),
                         f.r_en.eq(issue.vin_pop[k] | (weights.w_pop & (c.weights.src == k)))]
        for k, f in enumerate(sfifo):
            m.d.comb += [issue.sin_rdy[k].eq(f.r_rdy), issue.sin_data[k].eq(f.r_data), f.r_en.eq(issue.sin_pop[k])]
        for k, (f, per_firing, per_group) in enumerate(out_fifos):
            m.d.comb += [issue.room[k].eq(f.room), issue.per_firing[k].eq(per_firing),
                         issue.per_group[k].eq(per_group), f.reserve.eq(issue.reserve[k])]

        tokens = Signal(16)
        m.d.comb += [self.ctrl_out.valid.eq(tokens != 0), self.ctrl_out.payload.eq(1)]
        m.d.sync += tokens.eq(tokens + issue.done - (self.ctrl_out.valid & self.ctrl_out.ready))

        # -- the token that enters stage 0 -----------------------------------------------------------
        def reg(value, name):
            r = Signal(len(value), name=name)
            m.d.sync += r.eq(value)
            return r

        t_data = reg(issue.data_fire, "issue_data")
        t_empty = reg(issue.empty_fire, "issue_empty")
        t_first = reg(issue.first, "issue_first")
        t_last = reg(issue.last, "issue_last")

        # -- stages ------------------------------------------------------------------------------------
        m.d.comb += [stages.tiles[k].eq(t) for k, t in enumerate(weights.tiles)]
        m.d.comb += stages.bank.eq(reg(weights.bank, "issue_bank"))
        m.d.comb += [stages.stages.eq(c.stages), stages.spread.eq(c.spread), stages.seed.eq(c.seed),
                     stages.reseed.eq(~seeded), stages.valid.eq(t_data)]
        m.d.comb += [stages.strides[k].eq(x.stride) for k, x in enumerate(c.counters)]
        m.d.comb += [stages.vin[k].eq(reg(Mux(issue.vin_zero[k], 0, f.r_data), f"issue_vin{k}"))
                     for k, f in enumerate(vfifo)]
        m.d.comb += [stages.sin[k].eq(reg(f.r_data, f"issue_sin{k}")) for k, f in enumerate(sfifo)]
        m.d.comb += [stages.ctr[k].eq(reg(v, f"issue_ctr{k}")) for k, v in enumerate(issue.counters)]
        tags = {name: delay(m, t, stages.latency, f"tag_{name}")
                for name, t in (("empty", t_empty), ("first", t_first), ("last", t_last))}
        data_valid = stages.valid_out

        # -- reduction tree and what travels alongside it ------------------------------------------------
        def register_vector(index, name):
            vec = Signal(32 * L, name=name)
            m.d.comb += vec.eq(select(m, list(stages.regs), index, 32 * L, name=f"{name}_sel"))
            return vec

        tree = m.submodules.reduction = ReductionTree(cfg)
        m.d.comb += [tree.i.eq(register_vector(c.reduce.src, "reduce_in")), tree.valid.eq(data_valid),
                     tree.op.eq(c.reduce.op), tree.seed.eq(c.seed), tree.reseed.eq(~seeded)]
        reduced = tree.o
        after = lambda v, name: delay(m, v, tree.latency, name)  # noqa: E731
        data_valid = after(data_valid, "tree_data")
        tags = {name: after(t, f"tree_{name}") for name, t in tags.items()}
        vregs = [after(register_vector(o.reg, f"vout{k}_reg"), f"vout{k}_tree") for k, o in enumerate(c.vout)]
        sregs = [after(select(m, [r[0:32] for r in stages.regs], o.reg, name=f"sout{k}_reg"), f"sout{k}_tree")
                 for k, o in enumerate(c.sout)]
        acc_src = after(register_vector(c.acc.src, "acc_src"), "acc_src_tree")

        # -- accumulator ---------------------------------------------------------------------------------
        acc = m.submodules.accumulator = Accumulator(cfg)
        m.d.comb += [acc.fire.eq(data_valid & c.acc.enable), acc.first.eq(tags["first"]), acc.op.eq(c.acc.op),
                     acc.init.eq(c.acc.init), acc.seed.eq(c.seed), acc.reseed.eq(~seeded),
                     acc.x.eq(Cat(*[Mux(c.reduce.enable, reduced, acc_src[32 * lane: 32 * lane + 32])
                                    for lane in range(L)]))]
        group_value = Mux(tags["empty"], Cat(*[c.acc.init] * L), acc.next)
        emit_group = (data_valid & tags["last"]) | tags["empty"]

        # -- outputs: vector outputs first, then scalar ones, as out_fifos ---------------------------------
        firing_values = vregs + [Mux(o.sel == ScaOut.RED, reduced, sregs[k]) for k, o in enumerate(c.sout)]
        group_words = [group_value] * len(c.vout) + [group_value[0:32]] * len(c.sout)
        for (f, per_firing, per_group), firing_value, group_word in zip(out_fifos, firing_values, group_words):
            m.d.comb += [
                f.w_en.eq((per_firing & data_valid) | (per_group & emit_group)),
                f.w_data.eq(Mux(per_group, group_word, firing_value)),
            ]
        return m
