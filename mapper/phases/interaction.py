"""The dot-interaction phase: for each sample b of T = [t_0, ..., t_F] (F + 1 tensors [B, D]), the dot
products of the pairs (i, j), i > j, in row-major order ((1, 0), (2, 0), (2, 1), (3, 0), ...): the
strict lower triangle of T_b T_b^T, as the DLRM reference's ``dot`` interaction computes it.

T is laid out [B, F + 1, Dp] in DRAM, each row padded with zeros to Dp = ceil(D / L) L words. The
products leave as scalars: a vector per product written to DRAM would be a third of the phase's DRAM
traffic for one useful word in L.

Staged (where the PMUs hold two sample rows, twice over in PMU B, and the read patterns fit the
counters): each sample's rows cross DRAM once and the products are read from PMUs. A static counter
cannot run a triangle, so the pairs are taken by cyclic offsets: with N = F + 1 rows, row r against
row (r + c) mod N for c = 1 .. C, C = N // 2, gives every pair {i, j} exactly once (odd N; even N: the
offset N / 2 gives each of its pairs twice, and the collector drops the second), the dot product
being symmetric: N C products a sample, the triangle's N (N - 1) / 2 for odd N, where a rectangle of
rows i against every j below the stream's last row computed up to twice that. PMU B holds each
sample's rows twice ([t_0 .. t_F, t_0 .. t_F]: its write port writes each vector at two addresses
before it takes the next), so that r + c needs no modulo. Streams s = (p, q), P x Q of them: stream
(p, q) takes the samples b = p, p + P, ... and a contiguous range of rows r (the Q ranges cut 0 .. F
as evenly as they go: every row has C products)::

    AG p --T[b] (one read command per sample: (F + 1) Dp words), multicast--> PMUs A_s, B_s of (p, q), every q
    PMU A_s (double-buffered sample rows) --t_r vectors, each repeated for every c--> PCU s vin 0
    PMU B_s (the rows twice)             --t_(r + c) vectors, c = 1 .. C, for every r--> PCU s vin 1
    PCU s: fmul, the lane reduction (fadd), the accumulator over the ceil(D / L) vectors of a product
    --one word per product, scalar network--> host s srecv                      (s < host rows H)
    --one vector per product (the product in every lane), vector network--> host s - H vrecv  (s >= H)

P and Q are chosen by the cost model on the lowering's memory (more streams divide the products; the
P AGs read their samples side by side through the DRAM's bandwidth): P x Q up to two streams a host
row (its scalar and its vector port) where the PMUs allow (medium: 9 streams on 6 rows, measured
within 1.7 % of the model on its RTL; plasticine: 32 on 16, Kaggle's batch 64 alone 2,072 -> 1,112
cycles by the model, where the phases schedule gives it every PMU).

Gathered rows (``Gathered``: the lowering's pass ``gather_into_interactions``, mapper/lowering/gathers.py):
a t_f that is an embedding bag of one index per sample (its sum is that row) is not read from T: the
staged AG gathers it from its table. The AG's DRAM holds the dense t_f as [B, dense, Dp] (a sample's
one after the other), then each gathered table, its rows padded to Dp; host row p sends AG p, per
sample, the row of each t_f in order (a dense one's, or its table's base plus the index), and the AG's
gathers (mode ``gather``, rows of Dp words) bring the same vectors a read of T[b] would::

    host p ssend --per sample b: the row of t_0 .. t_F--> AG p (gather) --T[b] vectors, multicast--> PMUs A_s, B_s

Each row crosses DRAM once (the embedding phase's gather, its write of the sums and this phase's
read of them were three crossings), and the bags need no phase, PCU or configuration of their own.

Pairs (otherwise: tiny's 2 counters with D > L, or rows beyond half a PMU): the items (b, pair) dealt
to S = min(items, AGs / 2, PCUs) streams, each pair's two vectors read from DRAM by two AGs::

    AG a_s --t_i[b] (one read command per item)--> PCU s vin 0;  AG b_s --t_j[b]--> PCU s vin 1

Cost model, per stream (the longest sets the phase): pairs: items x ceil(D / L) firings + ``stream_latency``
+ log2(L) (the elementwise phase's latency, without its correction beyond medium: on plasticine this
phase ran 5.8 % longer than the model, not shorter; and the reduction tree's levels); on a DRAM the
phase's words over the bandwidth and the read latency (mapper/phases/dram.py). Staged: the stream
followed sample by sample (``_rounds``): a sample's rows arrive (its AG's read, or gathers), PMU B
writes them twice (2 N ceil(D / L) cycles), then, after the sample before's reads, the stream reads its
products (its rows x C x ceil(D / L)); the double buffer's handshakes ``TURN_READ``, ``TURN_WRITE``
and ``FIRST_READ``; + the latency above + ``STAGE_LATENCY``. A read of T[b] is a command of N ceil(D / L)
beats, a gathered sample's rows its AG's gathers (every gathered row a burst of its own, the dense
rows one), paced as embedding.py's ``gather_ends`` paces bursts (rounds of ``MAX_OUTSTANDING`` a read
latency apart), + ``INDEX_ROUTE``, the first index's route from the host row. Fitted on 160
direct-harness runs (small and medium; D = lanes, lanes - 1 and 2 lanes; 1 to 64 samples; 4 and 7
tables (N 5 and 8); the ideal memory and DDR4; rows read and gathered): within -5.2 % .. +6.3 % (the
pace of a steady round, ``max(rows, products + TURN_READ, (rows + products + TURN_READ + TURN_WRITE) / 2)``,
alone missed a few-sample stream's first write and last read by up to 15 %).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from rdagen.rtl.spec.ag_layout import AgProgram
from rdagen.rtl.spec.array_layout import unpack_vectors
from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.memory import IDEAL, Memory
from rdagen.rtl.spec.pcu_layout import LANE, Accumulate, Counter, PcuProgram, Reduce, Stage, ctr, reg, vin
from rdagen.rtl.spec.pmu_layout import AddressStage, PmuProgram, Port

from rdagen.mapper.backend.builder import ArrayBuilder
from rdagen.mapper.frontend.reference import interaction_pairs
from rdagen.mapper.phases.dram import DramTraffic, memory_bound, memory_cycles
from rdagen.mapper.phases.eltwise import stream_latency
from rdagen.mapper.phases.embedding import gather_ends
from rdagen.mapper.phases.phase import F32, U32, MapError, Phase, PhaseIO
from rdagen.mapper.backend.place import Net, Unit, sites

__all__ = ["Gathered", "InteractionPhase"]

@dataclasses.dataclass(frozen=True)
class Gathered:
    """An input t_f of T gathered in the phase: row indices[b, 0] of *table* ([rows, D]) for sample b (an
    embedding bag of one index per sample, whose sum is that row)."""
    node: int  # the embedding_bag node
    table: str
    indices: str
    rows: int


INDEX_ROUTE = 6  # a gathering AG's first index, from its host row over the scalar network (fitted: see the docstring)
STAGE_LATENCY = 8  # the PMU's write, swap and read pipeline before a staged stream's first product
# A staged stream's double-buffer handshakes (``_rounds``; fitted on 160 direct-harness runs, see the docstring):
TURN_READ = 1  # from a sample's write done (and the sample before read) to its first product read
TURN_WRITE = 14  # from a buffer's sample read to the next write into that buffer
FIRST_READ = 6  # the first sample's extra: the PMU read pipeline filling


def row_ranges(features: int, q: int) -> tuple[range, ...]:
    """Rows 0 .. *features* - 1 in *q* contiguous ranges, one per stream, as even as they go (the
    first ``features % q`` one row longer)."""
    size, extra = divmod(features, q)
    starts = [n * size + min(n, extra) for n in range(q + 1)]
    return tuple(range(a, b) for a, b in zip(starts, starts[1:]))


class InteractionPhase(Phase):
    def __init__(self, cfg: ArrayConfig, name: str, nodes: tuple, inputs: tuple[str, ...], y: str,
                 samples: int, width: int, where: str, memory: Memory = IDEAL, pmus: int | None = None,
                 gathered: dict[int, Gathered] | None = None):
        """*inputs*: T's tensors; *memory*: what the staged split is chosen for; *pmus*: the most PMUs
        the phase may take (None: all; fewer than a staged stream's two: the pairs dataflow);
        *gathered*: {t: its table and indices} for the t_f gathered in the phase (module docstring;
        staged only: MapError naming *where* when the staged dataflow does not fit)."""
        self.cfg, self.name, self.nodes, self.inputs, self.writes, self.y = cfg, name, nodes, inputs, (y,), y
        self.samples, self.width, self.where, self.memory = samples, width, where, memory
        self.gathered = dict(gathered or {})
        self.dense = tuple(f for f in range(len(inputs)) if f not in self.gathered)  # the t_f read as they are
        self.reads = tuple(inputs[f] for f in self.dense) + tuple(
            name for f in sorted(self.gathered) for name in (self.gathered[f].table, self.gathered[f].indices))
        self.pmu_cap = len(sites(cfg, "pmu")) if pmus is None else pmus
        self.features = len(inputs)
        self.host_rows = len(sites(cfg, "host"))  # a stream a row on its scalar port, another on its vector port
        self.pairs = interaction_pairs(self.features)
        self.items = samples * len(self.pairs)
        L = cfg.lanes
        self.vectors = -(-width // L)
        self.padded = self.vectors * L
        self.latency = round(stream_latency(cfg)) + (L - 1).bit_length()
        self.ideal_cycles = -(-self.items // min(self.items, len(sites(cfg, "pcu")))) * self.vectors
        self.split = self._best_split(memory) if self._stages() else None
        if self.gathered and not self.split:
            raise MapError(f"{where}: gathering its rows takes the staged dataflow, which does not fit "
                           f"{cfg.name} ({self.pmu_cap} PMUs allowed, a sample's rows {self.features * self.padded} words)")
        if self.split:
            self.row_ranges = row_ranges(self.features, self.split[1])
            self.streams = self.split[0] * self.split[1]
            self.estimate_cycles = self._staged_estimate(*self.split)
        else:
            self.streams = min(self.items, cfg.rows // 2, len(sites(cfg, "pcu")))
            if self.streams < 1 or cfg.vector_inputs < 2:
                raise MapError(f"{where} does not fit {cfg.name}: a dot interaction needs 2 AGs (the array has "
                               f"{cfg.rows}) and 2 vector inputs per PCU (it has {cfg.vector_inputs})")
            self.estimate_cycles = -(-self.items // self.streams) * self.vectors + self.latency

    # -- the staged dataflow -------------------------------------------------------------------------

    @property
    def offsets(self) -> int:
        """C: the cyclic offsets each row takes its products at."""
        return self.features // 2

    def _stages(self) -> bool:
        """Whether the staged dataflow fits: two sample rows twice over in PMU B, the t_(r + c)
        pattern's counters and address stages (``_b_program``: a third stage where a row is several
        vectors)."""
        cfg = self.cfg
        return (self.features > 1 and cfg.vector_inputs >= 2 and 4 * self.features * self.padded <= cfg.pmu_words
                and cfg.counters >= 2 + (self.vectors > 1) and cfg.pmu_stages >= 2 + (self.vectors > 1))

    def _rounds(self, q: int, arrivals: list[tuple[int, int]]) -> int:
        """The cycle a staged stream's last product is read, its samples' rows arriving at *arrivals*
        ((first vector, cycle after the last) each): per sample, PMU B's write of its rows twice
        (2 N ceil(D / L) cycles; not before the rows arrive, nor before its buffer's sample before
        was read, + ``TURN_WRITE``), then, after it and the sample before's reads, + ``TURN_READ``,
        the stream's products (its rows x C x ceil(D / L)). Followed sample by sample rather than as
        a steady pace: a stream of few samples spends its time in the first write and the last read."""
        rows = 2 * self.features * self.vectors
        products = max(len(r) for r in row_ranges(self.features, q)) * self.offsets * self.vectors
        write_end, reads = float("-inf"), []
        for k, (first, last) in enumerate(arrivals):
            start = max(first, write_end, reads[k - 2] + TURN_WRITE if k >= 2 else first)
            write_end = max(start + rows, last + 1)
            reads.append(max(write_end, reads[-1] if reads else write_end) + TURN_READ + (0 if k else FIRST_READ) + products)
        return reads[-1]

    def _stream_estimate(self, q: int, arrivals: list[tuple[int, int]], route: int = 0) -> int:
        """A staged stream's cycles, its samples' rows arriving at *arrivals*; *route*: the first index's
        (``INDEX_ROUTE`` where it gathers)."""
        return round(self._rounds(q, arrivals)) + route + self.latency + STAGE_LATENCY

    def _staged_estimate(self, p: int, q: int, latency: int = IDEAL.read_latency) -> int:
        return self._stream_estimate(q, self._read_arrivals(p, latency))

    def _read_arrivals(self, p: int, latency: int) -> list[tuple[int, int]]:
        """A stream's samples' rows when the AG reads each sample's (a command of N ceil(D / L) beats,
        paced as ``gather_ends`` paces bursts) *latency* cycles after it asks."""
        beats = self.features * self.vectors
        return [(end - beats, end) for end in gather_ends([(1, beats)] * -(-self.samples // p), latency)]

    def _sample_bursts(self) -> list[tuple[int, int]]:
        """A gathering AG's read bursts for one sample ((rows, beats) each), every gathered row a burst
        of its own (rows of different tables, or of one table at indices apart): the dense rows, one
        after the other in DRAM, in one."""
        dense = len(self.dense)
        return ([(dense, dense * self.vectors)] if dense else []) + [(1, self.vectors)] * len(self.gathered)

    def _gathered_arrivals(self, bursts: list, latency: int) -> list[tuple[int, int]]:
        """A stream's samples' rows when the AG gathers them: its *bursts* (in order, a sample's after
        the one before's) arrive as ``gather_ends`` has them (rounds of ``MAX_OUTSTANDING`` a read
        latency apart), a sample's rows from its first burst's first beat to its last burst's last."""
        arrivals, start, rows = [], None, 0
        for (burst_rows, beats), end in zip(bursts, gather_ends(bursts, latency)):
            start = end - beats if start is None else start
            rows += burst_rows
            if rows >= (len(arrivals) + 1) * self.features:  # a sample's last row (bursts may join rows)
                arrivals.append((start, end))
                start = None
        return arrivals

    def _first_rows(self, streams: int, memory: Memory) -> float:
        """Cycles the first sample's rows take beyond a vector per cycle when every stream reads its
        own at once through the DRAM's bandwidth."""
        if memory.bytes_per_cycle is None:
            return 0
        words = self.features * self.padded
        return max(0.0, 4 * streams * words / memory.bytes_per_cycle - words / self.cfg.lanes)

    def memory_estimate(self, cfg: ArrayConfig, dram: DramTraffic, memory: Memory, sites: dict,
                        paths: dict | None) -> int:
        if self.gathered:  # the read latency is in the gathers' pace; the bandwidth as for any phase
            paced = max(self._stream_estimate(self.split[1], self._gathered_arrivals(list(a.gathers), memory.read_latency),
                                              INDEX_ROUTE) for a in dram.ags.values() if a.gathers)
            return memory_bound(cfg, paced, dram, memory)
        if self.split:  # the read latency is in the rows' arrivals
            p, q = self.split
            return memory_bound(cfg, self._staged_estimate(p, q, memory.read_latency)
                                + round(self._first_rows(p, memory)), dram, memory)
        return memory_cycles(cfg, self.estimate_cycles, dram, memory, self.dram_overlap)

    def _best_split(self, memory: Memory) -> tuple[int, int] | None:
        """(P, Q) of the fewest cycles by the cost model on *memory*, the fewest streams among equals;
        None when no stream fits."""
        cfg = self.cfg
        most = min(2 * self.host_rows, len(sites(cfg, "pcu")), self.pmu_cap // 2)
        best = None
        for p in range(1, min(self.samples, cfg.rows, most) + 1):
            arrivals = (self._gathered_arrivals(self._sample_bursts() * -(-self.samples // p), memory.read_latency)
                        if self.gathered else self._read_arrivals(p, memory.read_latency))  # the same for every Q
            for q in range(1, min(self.features, most // p) + 1):
                cycles = self._stream_estimate(q, arrivals, INDEX_ROUTE if self.gathered else 0) + (
                    0 if self.gathered else self._first_rows(p, memory))
                if memory.bytes_per_cycle is not None:
                    words = self.samples * self.features * self.padded
                    cycles = max(cycles, memory.read_latency + 4 * words / memory.bytes_per_cycle)
                key = (cycles, p * q)
                if best is None or key < best[0]:
                    best = (key, (p, q))
        return best[1] if best else None

    def table_sources(self) -> dict[str, str]:
        return {g.table: "the interaction's AGs (the rows straight into its PMUs)" for g in self.gathered.values()}

    def within(self, pmus: int) -> InteractionPhase:
        """The phase on at most *pmus* PMUs (those that resident weights leave: lowering/residency.py)."""
        return InteractionPhase(self.cfg, self.name, self.nodes, self.inputs, self.y, self.samples, self.width,
                                self.where, self.memory, pmus, self.gathered)

    def simpler(self) -> InteractionPhase | None:
        """Fewer staged streams (two PMUs less), down to the pairs dataflow (no PMU; not where it
        gathers)."""
        return self.within(2 * self.streams - 2) if self.split and not (self.gathered and self.streams == 1) else None

    def _stream(self, s: int) -> tuple[range, range]:
        """Staged stream *s*: its samples and its rows i."""
        p = self.split[0]
        return range(s % p, self.samples, p), self.row_ranges[s // p]

    def _a_program(self, rows: range) -> PmuProgram:
        """PMU A: the t_r vectors of the stream's rows, each repeated for every offset c."""
        L, Dp = self.cfg.lanes, self.padded
        r = Counter(rows.start * Dp, rows.stop * Dp, Dp)
        if self.vectors > 1:
            read = Port(stages=[AddressStage("add", ctr(0), LANE), AddressStage("add", reg(0), ctr(2))],
                        counters=[Counter(0, Dp, L), Counter(0, self.offsets, 1), r])
        else:
            read = Port(stages=[AddressStage("add", ctr(1), LANE)], counters=[Counter(0, self.offsets, 1), r])
        write = Port(stages=[AddressStage("add", ctr(0), LANE)], counters=[Counter(0, self.features * Dp, L)],
                     vin_required=[0], data=vin(0))
        return PmuProgram(write=write, read=read, mode="double")

    def _b_program(self, rows: range) -> PmuProgram:
        """PMU B: the sample's rows twice (each vector written at its address and N Dp words on, before
        the next is taken), and t_(r + c) for c = 1 .. C for each of the stream's rows r."""
        L, Dp, n = self.cfg.lanes, self.padded, self.features * self.padded
        c = Counter(Dp, (self.offsets + 1) * Dp, Dp)
        r = Counter(rows.start * Dp, rows.stop * Dp, Dp)
        if self.vectors > 1:
            read = Port(stages=[AddressStage("add", ctr(0), LANE), AddressStage("add", reg(0), ctr(1)),
                                AddressStage("add", reg(0), ctr(2))], counters=[Counter(0, Dp, L), c, r])
        else:
            read = Port(stages=[AddressStage("add", ctr(0), LANE), AddressStage("add", reg(0), ctr(1))], counters=[c, r])
        write = Port(stages=[AddressStage("add", ctr(1), LANE), AddressStage("add", reg(0), ctr(0))],
                     counters=[Counter(0, 2 * n, n), Counter(0, n, L)], vin_required=[0], vin_pop_level={0: 1},
                     data=vin(0))
        return PmuProgram(write=write, read=read, mode="double")

    def _outputs(self, s: int) -> list[int]:
        """Stream *s*'s products in the order it sends them, each the item (b x pairs + pair) it is, or
        -1 for a product the collector drops (staged, even N: offset N / 2 from the rows N / 2 ..
        N - 1, the pairs rows 0 .. N / 2 - 1 gave)."""
        if not self.split:
            return list(range(s, self.items, self.streams))
        n = self.features
        index = {pair: k for k, pair in enumerate(self.pairs)}
        samples, rows = self._stream(s)
        return [-1 if 2 * c == n and r >= c else b * len(self.pairs) + index[max(r, (r + c) % n), min(r, (r + c) % n)]
                for b in samples for r in rows for c in range(1, self.offsets + 1)]

    # -- the phase ----------------------------------------------------------------------------------

    def _names(self, s: int) -> dict[str, str]:
        """Stream *s*'s units (staged: the AG of its samples, shared by the streams of those; the host
        row it sends its products to, shared by stream s and s + rows, ``_vector_out``)."""
        host = {"host": f"{self.name}.host{s % self.host_rows}"}
        if self.split:
            return {"ag": f"{self.name}.ag{s % self.split[0]}"} | {
                unit: f"{self.name}.{unit}{s}" for unit in ("pmu_a", "pmu_b", "pcu")} | host
        return {unit: f"{self.name}.{unit}{s}" for unit in ("a", "b", "pcu")} | host

    def _vector_out(self, s: int) -> bool:
        """Whether stream *s* sends its products on the vector network (to its host row's ``vrecv``, the
        product in every lane): the streams beyond one per host row, whose ``srecv`` the first takes."""
        return s >= self.host_rows

    def netlist(self):
        units, nets = {}, []
        kinds = {"a": "ag", "b": "ag", "ag": "ag", "pmu_a": "pmu", "pmu_b": "pmu", "pcu": "pcu", "host": "host"}
        fed = {}  # staged: {AG: the PMUs its samples' rows go to}
        for s in range(self.streams):
            n = self._names(s)
            units.update({name: Unit(name, kinds[unit]) for unit, name in n.items()})
            if self.split:
                fed.setdefault(n["ag"], []).extend((n["pmu_a"], n["pmu_b"]))
                nets += [Net(n["pmu_a"], (n["pcu"],)), Net(n["pmu_b"], (n["pcu"],))]
            else:
                nets += [Net(n["a"], (n["pcu"],)), Net(n["b"], (n["pcu"],))]
            nets.append(Net(n["pcu"], (n["host"],)))
        if self.gathered:  # AG p's row indices from host row p (the streams' host rows: p < P <= streams)
            nets += [Net(self._index_host(p), (f"{self.name}.ag{p}",)) for p in range(self.split[0])]
        return list(units.values()), nets + [Net(ag, tuple(pmus)) for ag, pmus in fed.items()]

    def _index_host(self, p: int) -> str:
        """The host row that sends gathering AG *p* its row indices (its ``ssend``)."""
        return f"{self.name}.host{p}"

    def emit(self, b: ArrayBuilder, s: dict) -> None:
        vector, scalar, fed = [], [], {}
        for i in range(self.streams):
            n = {unit: s[name] for unit, name in self._names(i).items()}
            pcu = n["pcu"]
            out = {"vout": [("acc", 0)]} if self._vector_out(i) else {"sout": [("acc", 0)]}
            b.pcu(*pcu, PcuProgram(stages=[Stage("fmul", vin(0), vin(1), dst=0)],
                                   counters=[Counter(0, len(self._outputs(i)) * self.vectors, 1)], vin_required=[0, 1],
                                   reduce=Reduce("fadd", 0), accumulate=Accumulate("fadd", init=0, fold=self.vectors),
                                   **out))
            if self.split:
                rows = self._stream(i)[1]
                b.pmu(*n["pmu_a"], self._a_program(rows))
                b.pmu(*n["pmu_b"], self._b_program(rows))
                fed.setdefault(n["ag"], []).extend([("pmu", *n["pmu_a"], "vin", 0), ("pmu", *n["pmu_b"], "vin", 0)])
                vector += [(("pmu", *n["pmu_a"], "vout", 0), [("pcu", *pcu, "vin", 0)]),
                           (("pmu", *n["pmu_b"], "vout", 0), [("pcu", *pcu, "vin", 1)])]
            else:
                b.ag(n["a"][0], AgProgram("read"))
                b.ag(n["b"][0], AgProgram("read"))
                vector += [(("ag", n["a"][0], "rdata"), [("pcu", *pcu, "vin", 0)]),
                           (("ag", n["b"][0], "rdata"), [("pcu", *pcu, "vin", 1)])]
            if self._vector_out(i):
                vector.append((("pcu", *pcu, "vout", 0), [("host", n["host"][0], "vrecv")]))
            else:
                scalar.append((("pcu", *pcu, "sout", 0), [("host", n["host"][0], "srecv")]))
        for p, (ag, sinks) in enumerate(fed.items()):  # staged: an AG's samples to every stream of them
            if self.gathered:
                b.ag(ag[0], AgProgram("gather", table_base=0, row_words=self.padded, rows=self._gather_rows()))
                scalar.append((("host", s[self._index_host(p)][0], "ssend"), [("ag", ag[0], "idx")]))
            else:
                b.ag(ag[0], AgProgram("read"))
            vector.append((("ag", ag[0], "rdata"), sinks))
        b.route_all("vector", vector)
        b.route_all("scalar", scalar)

    def _table_bases(self) -> dict[int, int]:
        """Where each gathered input's table starts in a gathering AG's DRAM, in rows of ``padded``
        words: after the dense rows (a sample's one after the other), the tables in feature order."""
        bases, base = {}, self.samples * len(self.dense)
        for f in sorted(self.gathered):
            bases[f] = base
            base += self.gathered[f].rows
        return bases

    def _gather_rows(self) -> int:
        return self.samples * len(self.dense) + sum(g.rows for g in self.gathered.values())

    def _gather_io(self, s: dict, tensors: dict) -> PhaseIO:
        """A gathering AG's DRAM: the dense rows [B, dense inputs, Dp], then each gathered table, its rows
        padded to Dp; its host row sends, per sample of the AG, the row of each t_f in order (a dense
        one's in the first region, a gathered one's its table's base plus the index: checked against
        its table by the frontend, mapper/frontend/inputs.py)."""
        dense = self.dense
        t = np.zeros((self.samples, len(dense), self.padded), F32)
        for n, f in enumerate(dense):
            t[:, n, : self.width] = np.asarray(tensors[self.inputs[f]], F32)
        regions, bases = {0: t.view(U32).ravel()}, self._table_bases()
        for f, g in self.gathered.items():
            table = np.ascontiguousarray(tensors[g.table], F32)
            if self.width < self.padded:
                table = np.pad(table, ((0, 0), (0, self.padded - self.width)))
            regions[bases[f] * self.padded] = table.view(U32).ravel()
        rows = np.empty((self.samples, self.features), np.int64)
        for n, f in enumerate(dense):
            rows[:, f] = np.arange(self.samples) * len(dense) + n
        for f, g in self.gathered.items():
            rows[:, f] = bases[f] + np.asarray(tensors[g.indices]).astype(np.int64).reshape(self.samples)
        sources, dram, sinks, gathers = {}, {}, {}, {}
        for i in range(self.streams):
            samples = self._stream(i)[0]
            ag = s[self._names(i)["ag"]][0]
            if ag not in dram:
                dram[ag] = regions
                sent = rows[samples.start::samples.step].ravel()
                sources[f"ssend__{s[self._index_host(i % self.split[0])][0]}"] = [int(r) for r in sent]
                gathers[ag] = (sent, self.padded)
            sinks[self._port(s, i)] = len(self._outputs(i))
        return PhaseIO(sources, dram, sinks, [], 0, gathers)

    def io(self, s: dict, tensors: dict) -> PhaseIO:
        if self.gathered:
            return self._gather_io(s, tensors)
        t = np.zeros((self.samples, self.features, self.padded), F32)
        for f, name in enumerate(self.inputs):
            t[:, f, : self.width] = np.asarray(tensors[name], F32)
        words = t.view(U32).ravel()
        sources, dram, sinks = {}, {}, {}
        row_words = self.features * self.padded
        for i in range(self.streams):
            n = self._names(i)
            if self.split:
                row = s[n["ag"]][0]
                dram[row] = {0: words}
                sources[f"ag_cmd__{row}"] = [b * row_words | row_words << 32 for b in self._stream(i)[0]]
            else:
                for unit, side in (("a", 0), ("b", 1)):
                    row = s[n[unit]][0]
                    dram[row] = {0: words}
                    sources[f"ag_cmd__{row}"] = [
                        ((item // len(self.pairs)) * self.features + self.pairs[item % len(self.pairs)][side])
                        * self.padded | self.padded << 32 for item in self._outputs(i)]
            sinks[self._port(s, i)] = len(self._outputs(i))
        return PhaseIO(sources, dram, sinks, [], 0)

    def _port(self, s: dict, i: int) -> str:
        """The host port stream *i*'s products leave by."""
        return f"{'vrecv' if self._vector_out(i) else 'srecv'}__{s[self._names(i)['host']][0]}"

    def collect(self, s: dict, outputs: dict, readback: list) -> dict:
        y = np.zeros(self.items, F32)
        for i in range(self.streams):
            got = outputs[self._port(s, i)]
            got = (unpack_vectors(got, self.cfg.lanes)[:, 0] if self._vector_out(i) else np.asarray(got, U32)).view(F32)
            order = np.asarray(self._outputs(i))
            y[order[order >= 0]] = got[order >= 0]
        return {self.y: y.reshape(self.samples, len(self.pairs))}
