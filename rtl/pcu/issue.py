"""The PCU's issue stage: the firing rule, the accumulator's group lengths, the counter chain, the start
token and the output credits."""

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..counters import counter_chain
from ..pipeline import select
from ..spec.config import ArrayConfig
from ..spec.pcu_layout import FoldMode, pcu_layout

__all__ = ["Issue"]


class Issue(wiring.Component):
    """Decides each cycle whether the PCU fires, and what the firing takes and promises.

    A *data firing* needs the required inputs (``vin_rdy``/``sin_rdy``), the start token when the run
    waits for one (``ctrl_rdy``), a whole weight tile when the weights are on (``w_ready``), the group length when a scalar-folded group opens (the chosen
    ``sin`` word) and a credit (``room``) in every output FIFO it will write: the outputs written per
    firing (``per_firing``) and, on a group's last firing, those written per group (``per_group``). An
    *empty firing* closes a group of length 0 (a scalar fold count of 0) and writes the group outputs
    only. A firing reserves (``reserve``) a slot in every output it will write, so nothing stalls
    behind it. Input FIFOs pop (``vin_pop``, ``sin_pop``, ``ctrl_pop``) when the counters at their pop
    level all wrap, and the weight tile is released (``w_release``) when those at the weights' level do;
    a lazy vector input (``vin_lazy``) is needed only on the firings that pop it, and ``vin_zero`` says
    the firing reads it as zero on the others, as it does for an input of ``vin_zero_first`` (needed
    and popped as usual) while counter ``zero_counter`` is at its start;
    the counters (``counters``) step once per data firing; ``done`` is a data firing that ends a run of
    the counter chain.

    Ports: ``configuration`` (static, ``pcu_layout``), ``seeded`` (low in the first cycle after reset:
    the counters load), the inputs above, and per firing ``data_fire``, ``empty_fire``, ``first`` (it
    opens a group), ``last`` (it closes one).
    Latency: combinational from the inputs to the firing; the group length and the counters are
    registers. Invariants: a firing happens only with a credit in every output it will write, so
    the pipeline behind it never stalls.
    """

    def __init__(self, cfg: ArrayConfig, outputs: int):
        self.cfg = cfg
        self.levels = (cfg.lanes - 1).bit_length()
        super().__init__({
            "configuration": In(pcu_layout(cfg)), "seeded": In(1),
            "vin_rdy": In(1).array(cfg.vector_inputs), "sin_rdy": In(1).array(cfg.scalar_inputs),
            "sin_data": In(32).array(cfg.scalar_inputs), "ctrl_rdy": In(1),
            "w_ready": In(1), "w_release": Out(1),
            "room": In(1).array(outputs), "per_firing": In(1).array(outputs), "per_group": In(1).array(outputs),
            "reserve": Out(1).array(outputs),
            "vin_pop": Out(1).array(cfg.vector_inputs), "sin_pop": Out(1).array(cfg.scalar_inputs), "ctrl_pop": Out(1),
            "vin_zero": Out(1).array(cfg.vector_inputs),
            "data_fire": Out(1), "empty_fire": Out(1), "first": Out(1), "last": Out(1),
            "counters": Out(32).array(cfg.counters), "done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        c, seeded = self.configuration, self.seeded
        vreq, sreq = c.fire.vin_required, c.fire.sin_required

        # Group lengths: a fold of c.acc.fold firings, or of the count read from a scalar input.
        acc_on = c.acc.enable
        scalar_mode = c.acc.fold_mode == FoldMode.SCALAR
        remaining = Signal(32)
        need_group = acc_on & (remaining == 0)
        fold_rdy = select(m, list(self.sin_rdy), c.acc.fold_scalar, 1, "fold_rdy")
        fold_word = select(m, list(self.sin_data), c.acc.fold_scalar, 32, "fold_word")
        count = Mux(scalar_mode, fold_word, c.acc.fold)
        empty_group = need_group & scalar_mode & (count == 0)
        remaining_eff = Mux(need_group, count, remaining)
        last = acc_on & (remaining_eff == 1)
        group_ok = ~need_group | ~scalar_mode | fold_rdy

        # Counter chain (carry[k]: counters 0..k-1 all wrap in this firing).
        steps = [Mux(c.spread.enable & (c.spread.counter == k), (x.stride << self.levels)[0:32], x.stride)
                 for k, x in enumerate(c.counters)]
        values, carry = counter_chain(m, c.counters, self.data_fire, ~seeded, steps)
        carry_at = lambda level: select(m, carry, level, 1, "pop_carry")  # noqa: E731
        # A lazy input is needed (and read) only on the firings that pop it; on the others it reads zero.
        # An input of vin_zero_first reads zero while counter zero_counter is at its start (needed all the same).
        skipped = [c.fire.vin_lazy[k] & ~carry_at(c.fire.vin_pop_level[k]) for k in range(self.cfg.vector_inputs)]
        at_start = select(m, [v == x.start for v, x in zip(values, c.counters)], c.fire.zero_counter, 1, "zero_at_start")
        for k, zero in enumerate(self.vin_zero):
            m.d.comb += zero.eq(skipped[k] | (c.fire.vin_zero_first[k] & at_start))

        inputs_ok = Const(1)
        for k, rdy in enumerate(self.vin_rdy):
            inputs_ok &= ~vreq[k] | rdy | skipped[k]
        for k, rdy in enumerate(self.sin_rdy):
            inputs_ok &= ~sreq[k] | rdy
        inputs_ok &= ~c.weights.enable | self.w_ready

        enabled = Cat(x.enable for x in c.counters)
        any_counter = enabled.any()
        run_active = Signal()
        start_needed = any_counter & c.fire.wait_start & ~run_active
        start_ok = ~start_needed | self.ctrl_rdy

        credit_data_ok = Const(1)
        credit_empty_ok = Const(1)
        for room, per_firing, per_group in zip(self.room, self.per_firing, self.per_group):
            credit_data_ok &= ~(per_firing | (per_group & last)) | room
            credit_empty_ok &= ~per_group | room

        data_fire, empty_fire = self.data_fire, self.empty_fire
        m.d.comb += [
            data_fire.eq(seeded & group_ok & ~empty_group & inputs_ok & start_ok & credit_data_ok),
            empty_fire.eq(seeded & empty_group & fold_rdy & credit_empty_ok),
            self.first.eq(need_group), self.last.eq(last),
        ]
        for reserve, per_firing, per_group in zip(self.reserve, self.per_firing, self.per_group):
            m.d.comb += reserve.eq((data_fire & (per_firing | (per_group & last))) | (empty_fire & per_group))

        take_count = (data_fire | empty_fire) & need_group & scalar_mode
        with m.If(data_fire & acc_on):
            m.d.sync += remaining.eq(remaining_eff - 1)

        m.d.comb += [out.eq(v) for out, v in zip(self.counters, values)]
        done = data_fire & any_counter & carry[-1]
        m.d.comb += self.done.eq(done)
        with m.If(data_fire & start_needed):
            m.d.comb += self.ctrl_pop.eq(1)
            m.d.sync += run_active.eq(1)
        with m.If(done):
            m.d.sync += run_active.eq(0)
        for k, pop in enumerate(self.vin_pop):
            m.d.comb += pop.eq(data_fire & vreq[k] & carry_at(c.fire.vin_pop_level[k]))
        m.d.comb += self.w_release.eq(data_fire & c.weights.enable & carry_at(c.weights.level))
        for k, pop in enumerate(self.sin_pop):
            m.d.comb += pop.eq((data_fire & sreq[k] & carry_at(c.fire.sin_pop_level[k]))
                               | (take_count & (c.acc.fold_scalar == k)))
        return m
