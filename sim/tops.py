"""Every Verilog top the flows know (synthesis, lint, simulation), by name, and the arithmetic test harness.

A top is built from an ArrayConfig; ``make synth UNIT=<name>`` and ``rdagen lint`` take these names.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from amaranth import Cat, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rdagen.rtl.arith import FunctionalUnit, UNIT_CLASSES
from rdagen.rtl.pcu import PCU
from rdagen.rtl.pmu import PMU
from rdagen.rtl.ag import AG
from rdagen.rtl.array import Array, array_switch, unit_modules
from rdagen.rtl.config_port import ConfigurationPort
from rdagen.rtl.switch import Switch, SwitchGrid
from rdagen.rtl.spec.switch_layout import networks
from rdagen.rtl.spec.array_layout import configuration_units, unit_words
from rdagen.rtl.spec.config_port import config_groups
from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.ops import OP_BITS

__all__ = ["ArithHarness", "Top", "TOPS", "top"]

SWITCH_LOCAL = 2
"""Local ports each way of the switches in the switch and switch_grid tops."""

HARNESS_WIDTH = 32
"""FunctionalUnits in the regression harness: vectors checked per simulated cycle."""


class ArithHarness(wiring.Component):
    """``width`` FunctionalUnits side by side, lanes 0 .. width-1, each with its own op: a test top
    that checks ``width`` operations per cycle.

    Ports (lane j occupies bits [j*32, j*32+32) of ``a``, ``b``, ``c`` and ``out``, and bits
    [j*OP_BITS, (j+1)*OP_BITS) of ``op``): ``valid`` issues the lanes' ops; ``out_valid``/``out`` give
    their results ``FunctionalUnit.latency`` cycles later; ``reseed`` loads every lane's stochastic-
    rounding generator from ``seed``.
    """

    def __init__(self, width: int = HARNESS_WIDTH):
        if not isinstance(width, int) or not 1 <= width <= 256:
            raise ValueError(f"ArithHarness width = {width!r} is invalid: must be an integer in [1, 256]")
        self.width = width
        self.latency = FunctionalUnit.latency
        super().__init__({
            "valid": In(1), "op": In(width * OP_BITS),
            "a": In(width * 32), "b": In(width * 32), "c": In(width * 32),
            "seed": In(32), "reseed": In(1),
            "out_valid": Out(1), "out": Out(width * 32),
        })

    def elaborate(self, platform):
        m = Module()
        outs = []
        for lane in range(self.width):
            fu = m.submodules[f"fu{lane}"] = FunctionalUnit(lane=lane)
            word = slice(32 * lane, 32 * lane + 32)
            m.d.comb += [
                fu.i.valid.eq(self.valid),
                fu.i.op.eq(self.op[OP_BITS * lane: OP_BITS * lane + OP_BITS]),
                fu.i.a.eq(self.a[word]), fu.i.b.eq(self.b[word]), fu.i.c.eq(self.c[word]),
                fu.seed.eq(self.seed), fu.reseed.eq(self.reseed),
            ]
            outs.append(fu.o.data)
            if lane == 0:
                m.d.comb += self.out_valid.eq(fu.o.valid)
        m.d.comb += self.out.eq(Cat(*outs))
        return m


@dataclasses.dataclass(frozen=True)
class Top:
    name: str
    description: str
    build: Callable[[ArrayConfig], wiring.Component]
    # Configurations the test suite lints it on.
    test_configs: tuple[str, ...] = ("small", "medium")
    # Modules the top instantiates by name, converted into the same Verilog file ({module name: component}).
    modules: Callable[[ArrayConfig], dict] = lambda cfg: {}


_UNIT_TOPS = {
    "int_alu": "IntAlu", "int_mul": "IntMul", "fp_cmp": "FpCompare",
    "fp_add": "FpAdd", "fp_mul": "FpMul", "convert": "Convert", "fp_fma": "FpFma",
}

def grid_top(network: str) -> str:
    """The name of the switch-grid top of *network*."""
    return "switch_grid" if network == "vector" else f"switch_grid_{network}"


TOPS: dict[str, Top] = {
    **{name: Top(name, f"{cls}: {(UNIT_CLASSES[cls].__doc__ or '').strip().splitlines()[0]}",
                 lambda cfg, cls=cls: UNIT_CLASSES[cls]())
       for name, cls in _UNIT_TOPS.items()},
    "fu": Top("fu", "FunctionalUnit: one lane's unit with every op, uniform latency",
              lambda cfg: FunctionalUnit(lane=0)),
    "arith_harness": Top("arith_harness", f"{HARNESS_WIDTH} FunctionalUnits side by side (regression top)",
                         lambda cfg: ArithHarness(HARNESS_WIDTH)),
    "pcu": Top("pcu", "PCU: the multistage SIMD pipeline with reduction tree, accumulator and counters",
               lambda cfg: PCU(cfg)),
    "pmu": Top("pmu", "PMU: banked scratchpad with address pipelines, conflict serialisers, FIFO and double-buffer modes",
               lambda cfg: PMU(cfg)),
    "ag": Top("ag", "AG/CU: AXI4 read bursts from commands or embedding-row indices, coalesced, realigned to vectors",
              lambda cfg: AG(cfg)),
    "switch": Top("switch", "Switch of the vector network: tracks per direction and 2 local ports each way",
                  lambda cfg: Switch(networks(cfg)["vector"].width, cfg.vector_tracks, 2, 2)),
    **{grid_top(n): Top(grid_top(n), f"rows x cols {n}-network switches with 2 local ports each (route test top)",
                        lambda cfg, n=n: SwitchGrid(networks(cfg)[n].width, networks(cfg)[n].tracks, cfg.rows,
                                                    cfg.cols, SWITCH_LOCAL, SWITCH_LOCAL),
                        test_configs=("small", "medium") if n == "vector" else ("small",))
       for n in ("vector", "scalar", "control")},
    **{f"array_switch_{n}": Top(f"array_switch_{n}", f"the {n}-network switch every tile of the array has (its "
                                f"local ports as the array gives them): a unit of the area model",
                                lambda cfg, n=n: array_switch(cfg, n), test_configs=("small",))
       for n in ("vector", "scalar", "control")},
    "array": Top("array", "the tile array: PCU/PMU checkerboard, three switch networks, AGs, config port",
                  lambda cfg: Array(cfg), test_configs=("tiny", "small"), modules=unit_modules),
    "config_port": Top("config_port", "the array's configuration port: shadow and active registers of every unit, "
                       "seals, swap (the shadow context's share of the array)",
                       lambda cfg: ConfigurationPort([unit_words(cfg, a) for a in configuration_units(cfg)],
                                                     config_groups(cfg)), test_configs=("tiny", "small")),
    "arith_lane": Top("arith_lane", "one FunctionalUnit behind the harness ports (waveform top)",
                      lambda cfg: ArithHarness(1)),
}


def top(name: str) -> Top:
    """The top called *name*; an unknown name raises ``ValueError`` listing the valid ones."""
    try:
        return TOPS[name]
    except KeyError:
        raise ValueError(f"unknown unit {name!r}; valid units: {', '.join(TOPS)}") from None
