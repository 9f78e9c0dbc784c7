"""Stages of functional units over pipeline registers: the PCU's datapath and the PMU's address pipeline."""

from amaranth import Cat, Const, Module, Mux
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .arith import FunctionalUnit, IntAlu
from .pipeline import delay, operand, select
from .spec.config import ArrayConfig
from .spec.pcu_layout import pcu_layout
from .spec.pmu_layout import ADDRESS_REGISTERS, pmu_layout

__all__ = ["StagePipeline"]


class StagePipeline(wiring.Component):
    """Stage s computes, in every lane, ``stages[s].op`` of three operands (a pipeline register, a vector
    input's lane word, a scalar input, a counter as the lane sees it, the lane index or the stage's
    constant) and writes register ``stages[s].dst``; the other registers, the inputs and the counters
    travel alongside. Registers start at 0 for every firing.

    Made by ``for_pcu(cfg)`` (``FunctionalUnit`` stages: every op, ``FU_LATENCY`` cycles each, with
    stochastic rounding and a spread counter) or ``for_pmu(cfg)`` (an address pipeline: ``IntAlu``
    stages, one cycle each, counters the same in every lane).

    Ports: ``stages`` (static: the stages' configuration, as in the unit's layout), ``valid`` (a firing
    enters), ``vin``/``sin``/``ctr`` (its input words and counter values), ``regs`` (the registers
    after the last stage, lanes concatenated), ``valid_out``; for the PCU also ``spread`` and
    ``strides`` (static: counter k as lane l sees it is its value plus ``l * stride`` when k is the
    spread counter), ``seed``/``reseed`` (the stochastic-rounding generators'), ``tiles`` (the two
    weight banks, bank b's vector for stage s at ``b * stages + s``) and ``bank`` (the bank the entering
    firing uses; it travels with the firing, so each stage reads the bank its firing was issued with).
    Latency: ``latency`` cycles (the unit's latency times the stages) from ``valid`` to ``valid_out``,
    one firing per cycle. Invariants: no stall inside; the configuration is static while firings are
    in flight.
    """

    def __init__(self, cfg: ArrayConfig, *, stages: int, registers: int, stage_layout, unit):
        self.cfg, self.registers, self.unit, self.depth = cfg, registers, unit, stages
        self.latency = unit.latency * stages
        members = {
            "stages": In(data.ArrayLayout(stage_layout, stages)), "valid": In(1),
            "vin": In(32 * cfg.lanes).array(cfg.vector_inputs), "sin": In(32).array(cfg.scalar_inputs),
            "ctr": In(32).array(cfg.counters),
            "regs": Out(32 * cfg.lanes).array(registers), "valid_out": Out(1),
        }
        if unit is FunctionalUnit:
            members |= {"spread": In(pcu_layout(cfg)["spread"].shape), "strides": In(32).array(cfg.counters),
                        "seed": In(32), "reseed": In(1),
                        "tiles": In(32 * cfg.lanes).array(2 * stages), "bank": In(1)}
        super().__init__(members)

    @classmethod
    def for_pcu(cls, cfg: ArrayConfig) -> "StagePipeline":
        return cls(cfg, stages=cfg.stages, registers=cfg.registers,
                   stage_layout=pcu_layout(cfg)["stages"].shape.elem_shape, unit=FunctionalUnit)

    @classmethod
    def for_pmu(cls, cfg: ArrayConfig) -> "StagePipeline":
        return cls(cfg, stages=cfg.pmu_stages, registers=ADDRESS_REGISTERS,
                   stage_layout=pmu_layout(cfg)["write"].shape["stages"].shape.elem_shape, unit=IntAlu)

    def _unit(self, m, s, lane):
        if self.unit is not FunctionalUnit:
            unit = m.submodules[f"stage{s}_lane{lane}"] = IntAlu()
            return unit
        unit = m.submodules[f"stage{s}_lane{lane}"] = FunctionalUnit(lane=lane, static_op=True)
        m.d.comb += [unit.seed.eq(self.seed), unit.reseed.eq(self.reseed)]
        return unit

    def _counter_lanes(self, ctrs, lane):
        if self.unit is not FunctionalUnit:
            return ctrs
        return [(ctrs[k] + Mux(self.spread.enable & (self.spread.counter == k),
                               (self.strides[k] * lane)[0:32], 0))[0:32] for k in range(len(ctrs))]

    def elaborate(self, platform):
        m = Module()
        step, L = self.unit.latency, self.cfg.lanes
        regs = [[Const(0, 32)] * L for _ in range(self.registers)]  # [register][lane]
        ctx_vin, ctx_sin, ctx_ctr, ctx_data = list(self.vin), list(self.sin), list(self.ctr), self.valid
        systolic = self.unit is FunctionalUnit
        ctx_bank = self.bank if systolic else None
        for s in range(self.depth):
            sc = self.stages[s]
            broadcast = dict.fromkeys("abc", 0)
            if systolic:  # a bvin operand is the same word in every lane: selected once per stage and slot
                words = [select(m, [v[32 * lane: 32 * lane + 32] for lane in range(L)], sc.lane, name=f"s{s}_bvin{k}")
                         for k, v in enumerate(ctx_vin)]
                broadcast = {slot: select(m, words, getattr(sc, slot).index, name=f"s{s}_{slot}_bvin") for slot in "abc"}
                weights = Mux(ctx_bank, self.tiles[self.depth + s], self.tiles[s])
            results = []
            for lane in range(L):
                fu = self._unit(m, s, lane)
                m.d.comb += [fu.i.valid.eq(ctx_data), fu.i.op.eq(sc.op)]
                counter_lanes = self._counter_lanes(ctx_ctr, lane)
                weight = weights[32 * lane: 32 * lane + 32] if systolic else 0
                for slot in "abc":
                    m.d.comb += getattr(fu.i, slot).eq(operand(
                        m, getattr(sc, slot), regs=[regs[r][lane] for r in range(self.registers)], vins=ctx_vin,
                        sins=ctx_sin, ctrs=counter_lanes, lane=lane, const=sc.const, name=f"s{s}_l{lane}_{slot}",
                        broadcast=broadcast[slot], weight=weight))
                results.append(fu.o.data)
            # Everything else travels alongside the functional units' latency.
            passed = [[delay(m, regs[r][lane], step, f"s{s}_r{r}_l{lane}") for lane in range(L)]
                      for r in range(self.registers)]
            regs = [[Mux(sc.dst == r, results[lane], passed[r][lane]) for lane in range(L)]
                    for r in range(self.registers)]
            ctx_vin = [delay(m, v, step, f"s{s}_vin") for v in ctx_vin]
            ctx_sin = [delay(m, v, step, f"s{s}_sin") for v in ctx_sin]
            ctx_ctr = [delay(m, v, step, f"s{s}_ctr") for v in ctx_ctr]
            ctx_data = delay(m, ctx_data, step, f"s{s}_data")
            ctx_bank = delay(m, ctx_bank, step, f"s{s}_bank") if systolic else None
        m.d.comb += [out.eq(Cat(*lanes)) for out, lanes in zip(self.regs, regs)]
        m.d.comb += self.valid_out.eq(ctx_data)
        return m
