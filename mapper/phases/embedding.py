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

Stacks: where the tables outnumber what a phase holds (AGs, PCUs, host rows), tables alike (the
same slices, host streams and fixed bag length) share an AG, its PCU and host rows: the AG's DRAM
holds them one after the other, the host streams the second table's indices offset by the first's
rows, the PCU sums the bags of one table after the other (``pack_embeddings``). Every slice's rows
are a vector apart in DRAM (a narrower last slice padded with zeros): an AG's row then starts on a
beat and its gathers go one a cycle (unaligned rows took 1.5 to 1.8 cycles each on small; the bus
moves a beat a row either way).

Cost model (the direct harness's cycles on tiny, small, medium and plasticine, 32 to 192 indices per
table, 4 to 64 bags: within 1.1 %; a stack's indices count as one table's; tables of 2 to 4 slices
run 3 to 8 cycles longer on small, the indices multicast to more AGs; on the ideal memory an empty
bag takes a cycle of its own, which the model, of the shapes alone, does not count):

* ideal memory: the busiest stack's indices (one gather per cycle per AG; a bag's sum leaves as the next
  bag's first row arrives, so bags add nothing) + ``15 + 7 cols`` (the indices cross the row from the
  host's east port to the AG at col 0, the rows go to the PCU and the sums back: 35 cycles on tiny, 45
  on small, 56 on medium, 71 on plasticine);
* read latency L: each gather is a burst of its own, except that the burst former joins the gathers
  of consecutive table rows (5, 6, 7) into one, and an AG keeps ``MAX_OUTSTANDING`` in flight, so the
  bursts go in rounds of that many, each round a latency and 2 cycles for the slot's turn-around
  (``gathered`` follows the bursts one by one: (rounds - 1) (L + 2) + L + (the last round's
  gathers - 1) where no rows join) and then the ideal latency ``15 + 7 cols``; or the ideal estimate
  plus one latency when that is longer, or what the bandwidth takes (mapper/phases/dram.py). The
  joins depend on the indices: a program's estimate (zero indices) joins none, a run's estimate
  (``Program.execute``) those of its indices (random indices of 3 to 30 rows on small and medium, read
  latency 1, 100 and 200: within 4 cycles; counting every gather a burst was up to 20 % over).
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

__all__ = ["Bag", "EmbeddingPhase", "pack_embeddings", "stacks_of"]

ROUND_TURN = 2  # cycles from a burst's last beat to the next request its slot sends


def gathered(bursts: tuple, latency: int) -> int:
    """The cycle after an AG's last gathered beat arrives (``gather_ends``)."""
    return gather_ends(bursts, latency)[-1]


def gather_ends(bursts: tuple, latency: int) -> list[int]:
    """The cycle after each burst's last beat arrives, an AG's read *bursts* ((table rows, beats) each,
    in order: mapper/phases/dram.py) sent as the burst former does: the indices arrive a cycle apart,
    a burst leaves on its last row's index (joining takes the cycles the indices take), with at most
    ``MAX_OUTSTANDING`` in flight (a slot free ``ROUND_TURN`` cycles after its last beat); its first
    beat *latency* cycles after it leaves, after the burst before's last, a beat a cycle."""
    sent, arrived, beats_end, ends = -1, 0, 0, []
    for n, (rows, beats) in enumerate(bursts):
        arrived += rows
        sent = max(sent + 1, arrived - 1,
                   ends[n - MAX_OUTSTANDING] - 1 + ROUND_TURN if n >= MAX_OUTSTANDING else 0)
        beats_end = max(sent + latency, beats_end) + beats
        ends.append(beats_end)
    return ends


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


Stack = tuple  # of Bags gathered by the same host rows, AGs and PCUs, one table after the other

STACK_WORDS = 2**31  # the most table words a stack's AG holds (its commands address 2^32 words; the rest
                     # for the sums it writes)


def _key(bag: Bag) -> tuple:
    """Bags that can share a stack: the same slices (so the same AGs), the same host streams and, for
    bags of a fixed length, the same fold."""
    return bag.slices, bag.width, bag.offsets is None, bag.offsets is None and bag.count // bag.bags


def stacks_of(bags: list[Bag], depth: int, lanes: int) -> list[Stack]:
    """The bags in stacks of at most *depth* tables: bags alike (``_key``) in order, each kind cut into
    as few stacks as the depth allows, their sizes within one of each other; a stack whose tables would
    pass ``STACK_WORDS`` is cut there."""
    kinds: dict[tuple, list[Bag]] = {}
    for bag in bags:
        kinds.setdefault(_key(bag), []).append(bag)
    stacks = []
    for kind in kinds.values():
        count = -(-len(kind) // depth)
        cuts = [len(kind) * k // count for k in range(count + 1)]
        for a, b in zip(cuts, cuts[1:]):
            stack, words = [], 0
            for bag in kind[a:b]:
                size = bag.rows * lanes  # a slice's rows, a vector each
                if stack and words + size > STACK_WORDS:
                    stacks.append(tuple(stack))
                    stack, words = [], 0
                stack.append(bag)
                words += size
            stacks.append(tuple(stack))
    order = {bag.node: n for n, bag in enumerate(bags)}
    return sorted(stacks, key=lambda stack: order[stack[0].node])


def _pack(cfg: ArrayConfig, stacks: list[Stack], pcus: int) -> list[list[Stack]]:
    """Stacks (one slice each) packed into phases: per phase at most rows AGs and *pcus* PCUs, two host
    rows per stack with offsets, one for fixed bags (``Bag.host_rows``). Slices of one stack stay in
    order; a stack may span phases."""
    def sliced(stack: Stack, slices: tuple) -> Stack:
        return tuple(dataclasses.replace(bag, slices=slices) for bag in stack)

    phases, current, ags, hosts = [], [], 0, 0
    for stack in stacks:
        for c in stack[0].slices:
            new_stack = not current or current[-1][0].node != stack[0].node
            if current and (ags + 1 > min(cfg.rows, pcus) or hosts + stack[0].host_rows * new_stack > cfg.rows):
                phases.append(current)
                current, ags, hosts, new_stack = [], 0, 0, True
            if new_stack:
                current.append(sliced(stack, (c,)))
                hosts += stack[0].host_rows
            else:
                current[-1] = sliced(stack, current[-1][0].slices + (c,))
            ags += 1
    if current:
        phases.append(current)
    return phases


def pack_embeddings(cfg: ArrayConfig, bags: list[Bag], pcus: int) -> list[list[Stack]]:
    """The bags in as few phases as stacks make possible, in stacks as shallow as that allows: a table
    per stack while the bags fit one phase; otherwise tables stacked (``stacks_of``) two, three, ...
    deep until the phases stop getting fewer. A phase's fixed cost (the indices' route, the read
    latency, a configuration) is paid once for a stack's tables, and an AG's gathers of one round go
    out together; the stack's tables take longer only in the rounds of gathers beyond the first."""
    best = _pack(cfg, stacks_of(bags, 1, cfg.lanes), pcus)
    for depth in range(2, len(bags) + 1):
        if len(best) == 1:
            break
        packed = _pack(cfg, stacks_of(bags, depth, cfg.lanes), pcus)
        if len(packed) < len(best):
            best = packed
    return best


class EmbeddingPhase(Phase):
    def __init__(self, cfg: ArrayConfig, name: str, stacks: list[Stack]):
        self.cfg, self.name, self.stacks = cfg, name, stacks
        self.bags = [bag for stack in stacks for bag in stack]
        self.nodes = tuple(b.node for b in self.bags)
        self.reads = tuple(t for b in self.bags for t in (b.table, b.indices, b.offsets) if t is not None)
        self.writes = tuple(b.output for b in self.bags)
        self.ideal_cycles = max(sum(b.count for b in stack) for stack in stacks)
        self.latency = 15 + 7 * cfg.cols
        self.estimate_cycles = max(max(sum(b.count for b in stack), sum(b.bags for b in stack))
                                   for stack in stacks) + self.latency

    def memory_estimate(self, cfg: ArrayConfig, dram: DramTraffic, memory: Memory, sites: dict,
                        paths: dict | None) -> int:
        paced = max((gathered(a.gathers, memory.read_latency) + self.latency - 1
                     for a in dram.ags.values() if a.gathers), default=0)
        return memory_bound(cfg, max(self.estimate_cycles + memory.read_latency - 1, paced), dram, memory)

    def table_sources(self) -> dict[str, str]:
        return {bag.table: "an embedding phase (the bags' sums through DRAM)" for bag in self.bags}

    def _slices(self):
        return [(t, stack, c) for t, stack in enumerate(self.stacks) for c in stack[0].slices]

    def netlist(self):
        units, nets = [], []
        for t, stack in enumerate(self.stacks):
            slices = stack[0].slices
            units.append(Unit(f"{self.name}.idx{t}", "host"))
            nets.append(Net(f"{self.name}.idx{t}", tuple(f"{self.name}.ag{t}_{c}" for c in slices)))
            if stack[0].offsets is not None:
                units.append(Unit(f"{self.name}.len{t}", "host"))
                nets.append(Net(f"{self.name}.len{t}", tuple(f"{self.name}.pcu{t}_{c}" for c in slices)))
        for t, _, c in self._slices():
            ag, pcu = f"{self.name}.ag{t}_{c}", f"{self.name}.pcu{t}_{c}"
            units += [Unit(ag, "ag"), Unit(pcu, "pcu")]
            nets += [Net(ag, (pcu,)), Net(pcu, (ag,))]
        return units, nets

    def _width(self, bag: Bag, c: int) -> int:
        return min(self.cfg.lanes, bag.width - c * self.cfg.lanes)

    def _out_base(self, stack: Stack) -> int:
        """Where an AG of the stack writes the sums: after its tables' rows (a vector each), 4 KB aligned."""
        return -(-sum(bag.rows for bag in stack) * self.cfg.lanes // 1024) * 1024

    def emit(self, b: ArrayBuilder, s: dict) -> None:
        vector, scalar = [], []
        for t, stack in enumerate(self.stacks):
            slices = stack[0].slices
            scalar.append((("host", s[f"{self.name}.idx{t}"][0], "ssend"),
                           [("ag", s[f"{self.name}.ag{t}_{c}"][0], "idx") for c in slices]))
            if stack[0].offsets is not None:
                scalar.append((("host", s[f"{self.name}.len{t}"][0], "ssend"),
                               [("pcu", *s[f"{self.name}.pcu{t}_{c}"], "sin", 0) for c in slices]))
        for t, stack, c in self._slices():
            bag = stack[0]
            row, pcu = s[f"{self.name}.ag{t}_{c}"][0], s[f"{self.name}.pcu{t}_{c}"]
            # every slice's rows a whole vector apart, a narrower last slice padded with zeros: a row
            # that starts on a beat takes one beat (an unaligned one took 1.5 to 1.8 cycles a gather)
            b.ag(row, AgProgram("gather", table_base=0, row_words=self.cfg.lanes,
                                rows=sum(other.rows for other in stack)))
            # bags with offsets: each bag's length from the scalar input; fixed bags: N, in the program
            # (the stack's tables have the same N: ``_key``)
            fold = {"fold_scalar": 0} if bag.offsets is not None else {"fold": bag.count // bag.bags}
            b.pcu(*pcu, PcuProgram(stages=[Stage("pass", vin(0), dst=1)], vin_required=[0],
                                   accumulate=Accumulate("fadd", init=0, src=1, **fold), vout=[("acc", 0)]))
            vector += [(("ag", row, "rdata"), [("pcu", *pcu, "vin", 0)]), (("pcu", *pcu, "vout", 0), [("ag", row, "wdata")])]
        b.route_all("vector", vector)
        b.route_all("scalar", scalar)

    def io(self, s: dict, tensors: dict) -> PhaseIO:
        """A stack's AG holds its tables one after the other (table k's rows from the rows of the tables
        before it), the host streams their indices so offset (the indices were checked against their own
        table: mapper/frontend/inputs.py) and their bags' lengths one table after the other, and the AG
        writes the bags' sums in the same order."""
        L = self.cfg.lanes
        sources, dram, readback, gathers = {}, {}, [], {}
        for t, stack in enumerate(self.stacks):
            indices, lengths, tables, first = [], [], [], 0
            for bag in stack:
                indices.append(np.asarray(tensors[bag.indices]).astype(np.int64).ravel() + first)
                first += bag.rows
                if bag.offsets is not None:
                    offsets = np.asarray(tensors[bag.offsets]).astype(np.int64)
                    lengths.append(np.diff(np.append(offsets, bag.count)))
                tables.append(np.asarray(tensors[bag.table], F32))
            indices = np.concatenate(indices)
            sources[f"ssend__{s[f'{self.name}.idx{t}'][0]}"] = [int(i) for i in indices]
            if lengths:
                sources[f"ssend__{s[f'{self.name}.len{t}'][0]}"] = [int(n) for n in np.concatenate(lengths)]
            bags, base = sum(bag.bags for bag in stack), self._out_base(stack)
            for c in stack[0].slices:
                row, w = s[f"{self.name}.ag{t}_{c}"][0], self._width(stack[0], c)
                padded = [np.pad(table[:, c * L:c * L + w], ((0, 0), (0, L - w))) for table in tables]
                dram[row] = {0: np.concatenate([part.ravel() for part in padded]).view(U32)}
                sources[f"ag_wcmd__{row}"] = [(base + i * L) | (L << 32) for i in range(bags)]
                readback.append((row, base, bags * L))
                gathers[row] = (indices, L)
        return PhaseIO(sources, dram, {}, readback, 0, gathers)

    def collect(self, s: dict, outputs: dict, readback: list) -> dict:
        L, got, i = self.cfg.lanes, {}, 0
        for t, stack, c in self._slices():
            sums = np.asarray(readback[i], U32).view(F32).reshape(-1, L)
            first = 0
            for bag in stack:
                part = got.setdefault(bag.output, {})
                part[c] = sums[first:first + bag.bags, : self._width(bag, c)]
                first += bag.bags
            i += 1
        # A node whose slices span phases comes back as {slice: columns}; the program joins them.
        return {name: slices for name, slices in got.items()}
