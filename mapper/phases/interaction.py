"""The dot-interaction phase: for each sample b of T = [t_0, ..., t_F] (F + 1 tensors [B, D]), the dot
products of the pairs (i, j), i > j, in row-major order ((1, 0), (2, 0), (2, 1), (3, 0), ...): the
strict lower triangle of T_b T_b^T, as the DLRM reference's ``dot`` interaction computes it.

Dataflow: the items (b, pair) are dealt to S streams (stream s takes items s, s + S, ...)::

    AG a_s (T in its DRAM channel) --the vectors of t_i[b] (one read command per item)--> PCU s vin 0
    AG b_s (T in its DRAM channel) --the vectors of t_j[b]--------------------------------> PCU s vin 1
    PCU s: fmul, the lane reduction (fadd), the accumulator (fadd over the ceil(D / L) vectors of an
    item) --one word per item (the dot product), scalar network--> host s srecv

The products leave as scalars: a vector per item written to DRAM would be a third of the phase's
DRAM traffic for one useful word in L.

T is laid out [B, F + 1, Dp] with each row padded with zeros to Dp = ceil(D / L) L words. S = min(items,
AGs / 2, PCUs). Cost model: ceil(items / S) ceil(D / L) + 32 + 4.5 (rows + cols - 6) + log2(L) (the
elementwise phase's latency and the reduction tree's levels).
"""

from __future__ import annotations

import numpy as np

from rdagen.rtl.spec.ag_layout import AgProgram
from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.pcu_layout import Accumulate, Counter, PcuProgram, Reduce, Stage, vin

from rdagen.mapper.backend.builder import ArrayBuilder
from rdagen.mapper.frontend.reference import interaction_pairs
from rdagen.mapper.phases.phase import F32, U32, MapError, Phase, PhaseIO
from rdagen.mapper.backend.place import Net, Unit, sites

__all__ = ["InteractionPhase"]


class InteractionPhase(Phase):
    def __init__(self, cfg: ArrayConfig, name: str, nodes: tuple, reads: tuple[str, ...], y: str,
                 samples: int, width: int, where: str):
        self.cfg, self.name, self.nodes, self.reads, self.writes, self.y = cfg, name, nodes, reads, (y,), y
        self.samples, self.width = samples, width
        self.pairs = interaction_pairs(len(reads))
        self.items = samples * len(self.pairs)
        self.streams = min(self.items, cfg.rows // 2, len(sites(cfg, "pcu")))
        if self.streams < 1 or cfg.vector_inputs < 2:
            raise MapError(f"{where} does not fit {cfg.name}: a dot interaction needs 2 AGs (the array has {cfg.rows}) "
                           f"and 2 vector inputs per PCU (it has {cfg.vector_inputs})")
        L = cfg.lanes
        self.vectors = -(-width // L)
        self.padded = self.vectors * L
        self.ideal_cycles = -(-self.items // self.streams) * self.vectors
        self.estimate_cycles = self.ideal_cycles + round(32 + 4.5 * (cfg.rows + cfg.cols - 6)) + (L - 1).bit_length()

    def _items(self, s: int) -> range:
        return range(s, self.items, self.streams)

    def netlist(self):
        units, nets = [], []
        for s in range(self.streams):
            a, b, pcu, host = (f"{self.name}.{unit}{s}" for unit in ("a", "b", "pcu", "host"))
            units += [Unit(a, "ag"), Unit(b, "ag"), Unit(pcu, "pcu"), Unit(host, "host")]
            nets += [Net(a, (pcu,)), Net(b, (pcu,)), Net(pcu, (host,))]
        return units, nets

    def emit(self, b: ArrayBuilder, s: dict) -> None:
        vector, scalar = [], []
        for i in range(self.streams):
            site = lambda unit: s[f"{self.name}.{unit}{i}"]  # noqa: E731
            pcu, a, bb = site("pcu"), site("a")[0], site("b")[0]
            b.pcu(*pcu, PcuProgram(stages=[Stage("fmul", vin(0), vin(1), dst=0)],
                                   counters=[Counter(0, len(self._items(i)) * self.vectors, 1)], vin_required=[0, 1],
                                   reduce=Reduce("fadd", 0), accumulate=Accumulate("fadd", init=0, fold=self.vectors),
                                   sout=[("acc", 0)]))
            b.ag(a, AgProgram("read"))
            b.ag(bb, AgProgram("read"))
            vector += [(("ag", a, "rdata"), [("pcu", *pcu, "vin", 0)]), (("ag", bb, "rdata"), [("pcu", *pcu, "vin", 1)])]
            scalar.append((("pcu", *pcu, "sout", 0), [("host", site("host")[0], "srecv")]))
        b.route_all("vector", vector)
        b.route_all("scalar", scalar)

    def io(self, s: dict, tensors: dict) -> PhaseIO:
        features = len(self.reads)
        t = np.zeros((self.samples, features, self.padded), F32)
        for f, name in enumerate(self.reads):
            t[:, f, : self.width] = np.asarray(tensors[name], F32)
        words = t.view(U32).ravel()
        sources, dram, sinks = {}, {}, {}
        for i in range(self.streams):
            items = self._items(i)
            for unit, side in (("a", 0), ("b", 1)):
                row = s[f"{self.name}.{unit}{i}"][0]
                dram[row] = {0: words}
                sources[f"ag_cmd__{row}"] = [
                    ((item // len(self.pairs)) * features + self.pairs[item % len(self.pairs)][side]) * self.padded
                    | self.padded << 32 for item in items]
            sinks[f"srecv__{s[f'{self.name}.host{i}'][0]}"] = len(items)
        return PhaseIO(sources, dram, sinks, [], 0)

    def collect(self, s: dict, outputs: dict, readback: list) -> dict:
        y = np.zeros(self.items, F32)
        for i in range(self.streams):
            y[self._items(i)] = np.asarray(outputs[f"srecv__{s[f'{self.name}.host{i}'][0]}"], U32).view(F32)
        return {self.y: y.reshape(self.samples, len(self.pairs))}
