"""The PCU's reduction tree: the lanes of a vector folded to one word by a tree of functional units."""

from amaranth import Module
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..arith import FunctionalUnit
from ..spec.config import ArrayConfig
from ..spec.ops import FU_LATENCY, Op

__all__ = ["ReductionTree"]


class ReductionTree(wiring.Component):
    """log2(lanes) levels of functional units, each combining pairs of the level before with ``op``
    (lane 2i with lane 2i + 1, so the order of an fp fold is fixed: ((l0 . l1) . (l2 . l3)) ...).

    Ports: ``i`` (the lanes' words), ``valid`` (the words are a firing's: steps the stochastic-rounding
    generators of ``f2bf_sr``), ``op`` (static while words are in flight), ``seed``/``reseed`` (the
    generators'), ``o`` (the folded word). With one lane, ``o`` is lane 0 and the latency 0.
    Latency: ``FU_LATENCY * levels`` cycles from ``i`` to ``o``, one fold per cycle.
    Invariants: the fold order is fixed by the lane order (the golden model's ``reduce_tree``).
    """

    def __init__(self, cfg: ArrayConfig):
        self.levels = (cfg.lanes - 1).bit_length()
        self.latency = FU_LATENCY * self.levels
        super().__init__({"i": In(data.ArrayLayout(32, cfg.lanes)), "valid": In(1), "op": In(Op), "seed": In(32),
                          "reseed": In(1), "o": Out(32)})

    def elaborate(self, platform):
        m = Module()
        level = [self.i[lane] for lane in range(len(self.i))]
        for j in range(self.levels):
            nxt = []
            for i in range(len(level) // 2):
                fu = m.submodules[f"tree{j}_{i}"] = FunctionalUnit(lane=i, static_op=True)
                m.d.comb += [fu.i.valid.eq(self.valid), fu.i.op.eq(self.op), fu.i.a.eq(level[2 * i]),
                             fu.i.b.eq(level[2 * i + 1]), fu.seed.eq(self.seed), fu.reseed.eq(self.reseed)]
                nxt.append(fu.o.data)
            level = nxt
        m.d.comb += self.o.eq(level[0])
        return m
