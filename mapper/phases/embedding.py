"""The embedding-bag phase: several ``embedding_bag`` nodes gathered in parallel, each table split
into column slices of ``lanes`` words (any width D), one AG and one PCU per slice.

Dataflow of slice c of a table (D columns, B bags)::

    host ssend --indices--> AG (gather mode; its DRAM holds the table's columns [cL, cL + L)), all
                            slices of the table (multicast)
    AG rdata --one vector per index--> PCU: the accumulator sums each bag (fold length from the host's
                            second ssend, multicast to the slices: the bag lengths, from the offsets;
                            bags of N indices each, indices [B, N]: the fold is N, in the program)
    PCU vout --one vector per bag (zeros for an empty bag, wherever it is)--> AG wdata (DRAM)

A phase takes slices while there are AGs, PCUs and host rows: two per table with offsets, one for
fixed bags (the host's one ssend per row carries one stream); more slices make more phases.

Cost model (the direct harness's cycles on tiny, small, medium and plasticine, 32 to 192 indices per
table, 4 to 64 bags: within 1.1 %):

* ideal memory: the busiest table's indices (one gather per cycle per AG; a bag's sum leaves as the next
  bag's first row arrives, so bags add nothing) + ``15 + 7 cols`` (the indices cross the row from the
  host's east port to the AG at col 0, the rows go to the PCU and the sums back: 35 cycles on tiny, 45
  on small, 56 on medium, 71 on plasticine);
* read latency L: each gather is a burst of its own and an AG keeps ``MAX_OUTSTANDING`` in flight, so
  the gathers go in rounds of that many, each round a latency and 2 cycles for the slot's turn-around;
  the last round's gathers, a cycle apart, then the ideal latency: (rounds - 1) (L + 2) + L + (the last
  round's gathers - 1) + 15 + 7 cols, or the ideal estimate plus one latency when that is longer, or
  what the bandwidth takes (mapper/phases/dram.py).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from rdagen.rtl.spec.ag_layout import MAX_OUTSTANDING, AgProgram
from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.memory import Memory
from rdagen.rtl.spec.pcu_layout import Accumulate, PcuProgram, Stage, vin

from rdagen.mapper.backend.builder import ArrayBuilder
from rdagen.mapper.phases.dram import DramTraffic, memory_bound
from rdagen.mapper.phases.phase import F32, U32, Phase, PhaseIO
from rdagen.mapper.backend.place import Net, Unit

__all__ = ["Bag", "EmbeddingPhase", "pack_embeddings"]

ROUND_TURN = 2  # cycles a round of gathers adds to the read latency (an answered slot to its next request)


@dataclasses.dataclass(frozen=True)
class Bag:
    """One embedding_bag node and the column slices of it a phase computes."""
    node: int
    table: str
    indices: str
    offsets: str | None  # None: bags of count // bags indices each (indices [B, N])
    output: str
    rows: int  # table rows
    width: int  # D
    bags: int
    count: int  # indices
    slices: tuple[int, ...]

    @property
    def host_rows(self) -> int:
        """Host rows the bag's streams take: the indices, and the bag lengths where bags vary."""
        return 1 + (self.offsets is not None)


def pack_embeddings(cfg: ArrayConfig, bags: list[Bag], pcus: int) -> list[list[Bag]]:
    """Bags (one slice each) packed into phases: per phase at most rows AGs and *pcus* PCUs, two host
    rows per table with offsets, one for fixed bags (``Bag.host_rows``). Slices of one node stay in order;
    a node may span phases."""
    phases, current, ags, hosts = [], [], 0, 0
    for bag in bags:
        for c in bag.slices:
            new_table = not current or current[-1].node != bag.node
            if current and (ags + 1 > min(cfg.rows, pcus) or hosts + bag.host_rows * new_table > cfg.rows):
                phases.append(current)
                current, ags, hosts, new_table = [], 0, 0, True
            if new_table:
                current.append(dataclasses.replace(bag, slices=(c,)))
                hosts += bag.host_rows
            else:
                current[-1] = dataclasses.replace(current[-1], slices=current[-1].slices + (c,))
            ags += 1
    if current:
        phases.append(current)
    return phases


class EmbeddingPhase(Phase):
    def __init__(self, cfg: ArrayConfig, name: str, bags: list[Bag]):
        self.cfg, self.name, self.bags = cfg, name, bags
        self.nodes = tuple(b.node for b in bags)
        self.reads = tuple(t for b in bags for t in (b.table, b.indices, b.offsets) if t is not None)
        self.writes = tuple(b.output for b in bags)
        self.ideal_cycles = max(b.count for b in bags)
        self.latency = 15 + 7 * cfg.cols
        self.estimate_cycles = max(max(b.count, b.bags) for b in bags) + self.latency

    def memory_estimate(self, cfg: ArrayConfig, dram: DramTraffic, memory: Memory, sites: dict) -> int:
        gathers = max((a.read_bursts for a in dram.ags.values()), default=0)  # the busiest AG's
        rounds = -(-gathers // MAX_OUTSTANDING)
        last = gathers - MAX_OUTSTANDING * (rounds - 1)  # the last round's gathers, a cycle apart
        paced = (rounds - 1) * (memory.read_latency + ROUND_TURN) + memory.read_latency + last - 1 + self.latency
        return memory_bound(cfg, max(self.estimate_cycles + memory.read_latency - 1, paced if gathers else 0),
                            dram, memory)

    def _slices(self):
        return [(t, bag, c) for t, bag in enumerate(self.bags) for c in bag.slices]

    def netlist(self):
        units, nets = [], []
        for t, bag in enumerate(self.bags):
            units.append(Unit(f"{self.name}.idx{t}", "host"))
            nets.append(Net(f"{self.name}.idx{t}", tuple(f"{self.name}.ag{t}_{c}" for c in bag.slices)))
            if bag.offsets is not None:
                units.append(Unit(f"{self.name}.len{t}", "host"))
                nets.append(Net(f"{self.name}.len{t}", tuple(f"{self.name}.pcu{t}_{c}" for c in bag.slices)))
        for t, bag, c in self._slices():
            ag, pcu = f"{self.name}.ag{t}_{c}", f"{self.name}.pcu{t}_{c}"
            units += [Unit(ag, "ag"), Unit(pcu, "pcu")]
            nets += [Net(ag, (pcu,)), Net(pcu, (ag,))]
        return units, nets

    def _width(self, bag: Bag, c: int) -> int:
        return min(self.cfg.lanes, bag.width - c * self.cfg.lanes)

    def _out_base(self, bag: Bag, c: int) -> int:
        return -(-bag.rows * self._width(bag, c) // 1024) * 1024

    def emit(self, b: ArrayBuilder, s: dict) -> None:
        vector, scalar = [], []
        for t, bag in enumerate(self.bags):
            scalar.append((("host", s[f"{self.name}.idx{t}"][0], "ssend"),
                           [("ag", s[f"{self.name}.ag{t}_{c}"][0], "idx") for c in bag.slices]))
            if bag.offsets is not None:
                scalar.append((("host", s[f"{self.name}.len{t}"][0], "ssend"),
                               [("pcu", *s[f"{self.name}.pcu{t}_{c}"], "sin", 0) for c in bag.slices]))
        for t, bag, c in self._slices():
            row, pcu = s[f"{self.name}.ag{t}_{c}"][0], s[f"{self.name}.pcu{t}_{c}"]
            b.ag(row, AgProgram("gather", table_base=0, row_words=self._width(bag, c), rows=bag.rows))
            # bags with offsets: each bag's length from the scalar input; fixed bags: N, in the program
            fold = {"fold_scalar": 0} if bag.offsets is not None else {"fold": bag.count // bag.bags}
            b.pcu(*pcu, PcuProgram(stages=[Stage("pass", vin(0), dst=1)], vin_required=[0],
                                   accumulate=Accumulate("fadd", init=0, src=1, **fold), vout=[("acc", 0)]))
            vector += [(("ag", row, "rdata"), [("pcu", *pcu, "vin", 0)]), (("pcu", *pcu, "vout", 0), [("ag", row, "wdata")])]
        b.route_all("vector", vector)
        b.route_all("scalar", scalar)

    def io(self, s: dict, tensors: dict) -> PhaseIO:
        L = self.cfg.lanes
        sources, dram, readback, gathers = {}, {}, [], {}
        for t, bag in enumerate(self.bags):
            indices = np.asarray(tensors[bag.indices]).astype(np.int64).ravel()
            sources[f"ssend__{s[f'{self.name}.idx{t}'][0]}"] = [int(i) for i in indices]
            if bag.offsets is not None:
                offsets = np.asarray(tensors[bag.offsets]).astype(np.int64)
                lengths = np.diff(np.append(offsets, bag.count))
                sources[f"ssend__{s[f'{self.name}.len{t}'][0]}"] = [int(n) for n in lengths]
            table = np.asarray(tensors[bag.table], F32)
            for c in bag.slices:
                row, w = s[f"{self.name}.ag{t}_{c}"][0], self._width(bag, c)
                base = self._out_base(bag, c)
                dram[row] = {0: table[:, c * L:c * L + w].copy().view(U32).ravel()}
                sources[f"ag_wcmd__{row}"] = [(base + i * L) | (L << 32) for i in range(bag.bags)]
                readback.append((row, base, bag.bags * L))
                gathers[row] = (len(indices), w)
        return PhaseIO(sources, dram, {}, readback, 0, gathers)

    def collect(self, s: dict, outputs: dict, readback: list) -> dict:
        L, got, i = self.cfg.lanes, {}, 0
        for t, bag, c in self._slices():
            part = got.setdefault(bag.output, {})
            part[c] = np.asarray(readback[i], U32).view(F32).reshape(bag.bags, L)[:, : self._width(bag, c)]
            i += 1
        # A node whose slices span phases comes back as {slice: columns}; the program joins them.
        return {name: slices for name, slices in got.items()}
