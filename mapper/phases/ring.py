"""The systolic matmul in one configuration: Y = X @ W (+ b) on chains of PCUs in their systolic mode
(rtl/spec/systolic.py), its K in rounds around a partial-sum ring, a PMU FIFO from each chain's last
link back to its first, instead of one configuration per K section (phases/systolic.py).

Dataflow (lanes L, depth D = min(stages, lanes) rows of K per link; G chains of C links; R rounds of
C D rows of K, the bias as the last product: X gains a column of ones, W the bias row)::

    host j --x[m, (r C + j) D .. + D - 1] for each round r, column block, row m--> PCU (g, j), all g
    AG g (DRAM: the tiles (round, column block, link) in that order) --W tiles--> PCU (g, j), all j;
                                                                               link j keeps tile j of every C
    FIFO PMU g (fifo mode, starting with nbg M vectors; a read run of R nbg M vectors per host start
               token) --the round before's sums--> PCU (g, 0)
    PCU (g, j): p = ffma(x[m, s], w[s][l], p) for s = 0 .. D - 1; link 0 starts from the FIFO's vector,
                which it reads as zero in round 0 (``vin_zero_first`` on the round counter), link j > 0
                from link j - 1's
    PCU (g, C - 1) --p--> FIFO PMU g (where round r + 1 takes it) and host g

Every link fires rounds, column blocks, rows (outermost to innermost; counters [M, nbg, R]), a weight
tile per M firings. The ring holds nbg M vectors at a round's start: in the first run the FIFO's fill
(``fifo_fill``: the words rows 0 .. nbg M - 1 hold, read as zero), in a later run the last round of
the run before (read as zero too); so round r + 1's firing (block, m) takes round r's sums of
(block, m). The products of an output are summed in K order, one rounding each (ffma), the bias last:
within the graph's fp32 bound, as the ``pmu`` scheme's.

The last link's outputs have one destination set in a configuration: host g receives every round's
sums (R nbg M vectors), of which the collector keeps the last round's, Y's blocks (a consumer on the
array would take that round through a write window, rtl/spec/pmu_layout.py).

A ReLU'd output (``tile_systolic``'s *relu_out*; chosen by lowering/ops.py when the next layer reads
the ReLU of Y): in several parts the adders take it (below: PCUs of one vector output suffice); in
one part, where the PCUs have 2 vector outputs, the last link multiplies ``relu_depth`` rows
(a stage fewer when every stage multiplies), its freed last stage takes ``fmax(p, 0.0)`` into a second
register, and its second vector output sends that to host g while the first sends p round the ring;
the collector's last round is then ReLU(Y), which no elementwise phase need read and write again.

K in parts (``SystolicTiling.parts`` P > 1, where a round's M nbg firings leave the ring's turn idle:
few rows, few blocks): P rings side by side on the same column blocks, chain p G + g taking part p's
rounds of K (the bias row in the last part), each with its own X streams (host p C + j), weight tiles
and FIFO, and an adder PCU per group that takes the P tails' sums, round by round, on its vector
inputs 0 .. P - 1::

    PCU (p G + g, C - 1) --p--> FIFO PMU p G + g and adder g (input p)
    adder g: fadd of the P inputs (then fmax(., 0.0) for a ReLU'd output) --> host g

The adder's last round is Y (its earlier rounds, sums of partial sums, the collector drops); the
rings wait for each other there (a multicast moves when both its consumers take it). The sum is each
part's products in K order, then the parts added in order: within the graph's fp32 bound. Each
round's turn is a chain of C links, so P parts run the same K in about 1/P of the one-part ring's
turns; the cost is G adder PCUs and P chains' AGs, FIFOs and host rows.

Resident weights (lowering/residency.py, batches through one program): the first ring on a set of
weights (``keeping_weights``) also writes each chain's tile stream, as it passes, into a W PMU of its
own (words 0 .. tile words - 1, in stream order); a later ring on them (``reading_weights_of``) takes
the tiles from that PMU's read port, its run begun by the host's start token with the FIFO's, and no
AG. The runs share one placement; the W PMUs are kept from every other phase. Every resident ring of
a program keeps its tiles in ONE bank of W PMUs (the first ring placed puts them, the others take the
same sites: mapper/program.py), ring r's chain g in PMU g from word ``base`` on (lowering/residency.py
splits the words), so the rings of a model take G PMUs for all their weights, not G per layer. A
ring's later run never shares a configuration with another resident placement (lowering/
concurrency.py ``_placements_agree``), so pipelined copies keep none of its units apart (``rerun_units``). A chain's tiles (R nbg
C stages L words) must fit one PMU.

Tiling: 3 counters and 3 vector inputs per PCU; P G <= AGs, host rows and PMUs; P C <= host rows;
P G C + G (the adders, P > 1) <= PCUs; P <= vector inputs, P - 1 (+ 1 for a ReLU) <= stages; a
chain's ring (nbg M vectors) within a PMU's ``pmu_depth`` rows. Its cost against the schemes
of phases/systolic.py decides which the lowering takes (``tile_systolic``).

Cost model: ``ring_cycles`` in phases/systolic.py, beside the other schemes' it is weighed against.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from rdagen.rtl.spec.ag_layout import AgProgram
from rdagen.rtl.spec.array_layout import pack_vectors, unpack_vectors
from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.pmu_layout import AddressStage, PmuProgram, Port
from rdagen.rtl.spec.pcu_layout import CONST, LANE, Counter, PcuProgram, Stage, ctr, reg, vin
from rdagen.rtl.spec.systolic import relu_depth, systolic_program

from rdagen.mapper.backend.builder import ArrayBuilder
from rdagen.mapper.backend.place import Net, Unit
from rdagen.mapper.phases.phase import F32, U32, MapError, Phase, PhaseIO

__all__ = ["SystolicRingPhase"]

BANK = "ring-weights"  # the W PMUs every resident ring of a program shares (``SystolicRingPhase._wpmu``)


class SystolicRingPhase(Phase):
    """``y = x @ w (+ bias)`` in the systolic mode, all its K rounds in one configuration (tiling *t*
    of ``tile_systolic``, its ``sections`` the rounds)."""

    mode = "systolic"
    partial_sums = "ring"

    def __init__(self, cfg: ArrayConfig, name: str, nodes: tuple, x: str, w: str, bias: str | None, y: str,
                 shape: tuple[int, int, int], t, resident: bool = False, loaded_by: SystolicRingPhase | None = None,
                 base: int = 0):
        self.cfg, self.name, self.nodes = cfg, name, nodes
        self.x, self.w, self.bias, self.y = x, w, bias, y
        self.m, self.k, self.n = shape
        self.shape = (self.m, self.n)
        self.loaded_by = loaded_by
        self.resident = resident or loaded_by is not None
        if loaded_by is not None:
            if not loaded_by.resident or (loaded_by.w, loaded_by.bias, loaded_by.k, loaded_by.n) != (w, bias, self.k, self.n):
                raise MapError(f"{name}: its weights are not those {loaded_by.name} keeps resident (a mapper bug)")
            t, base = loaded_by.t, loaded_by.base
        self.t, self.base = t, base  # base: the first word of its tiles in each W PMU of the bank
        self.unit_prefix = loaded_by.unit_prefix if loaded_by is not None else name
        self.rounds = t.rounds  # each part's
        self.reads = (x, w) + ((bias,) if bias else ())
        self.writes = (y,)
        self.ideal_cycles = math.ceil(self.m * self.n * self.k / (cfg.lanes * cfg.stages * t.pcus))
        self.estimate_cycles = t.estimate
        self.padded_cols = t.groups * t.blocks * cfg.lanes
        self.tile_words = self.rounds * t.blocks * t.chain * cfg.stages * cfg.lanes  # a chain's weight stream
        # the tails' ReLU stage (``relu_out`` in one part; of several, the adders take the ReLU)
        self.tail_relu = t.relu_out and t.parts == 1
        # rows of K each link multiplies a round: the tail's ReLU stage takes one of its stages
        self.depths = [t.depth] * (t.chain - 1) + [relu_depth(cfg) if self.tail_relu else t.depth]
        if self.resident:
            if base % cfg.lanes or base + self.tile_words > cfg.pmu_words:
                raise MapError(f"{name}: a chain's weight tiles ({self.tile_words} words from word {base}) do not fit "
                               f"a PMU of {cfg.pmu_words} words: its weights cannot stay resident")
            self.placement_key = ("ring", self.unit_prefix, t)
            self.variant = "loaded" if loaded_by is not None else "load"
            self.pmu_state = loaded_by is not None

    def keeping_weights(self, t, base: int = 0) -> SystolicRingPhase:
        """This ring on tiling *t* (``tile_systolic``'s *resident*), loading its weight tiles into a W PMU
        of the bank per chain (from word *base*) as it streams them, for later rings on the same weights
        (``reading_weights_of``)."""
        return SystolicRingPhase(self.cfg, self.name, self.nodes, self.x, self.w, self.bias, self.y,
                                 (self.m, self.k, self.n), t, resident=True, base=base)

    def reading_weights_of(self, resident: SystolicRingPhase) -> SystolicRingPhase:
        """This ring on the tiles *resident* left in its W PMUs: each chain's read from its W PMU, begun by
        a start token from its host row; no weight crosses DRAM."""
        return SystolicRingPhase(self.cfg, self.name, self.nodes, self.x, self.w, self.bias, self.y,
                                 (self.m, self.k, self.n), self.t, loaded_by=resident)

    def weight_sources(self) -> dict[str, str]:
        if self.loaded_by is not None:
            return {self.w: f"resident in PMUs since {self.loaded_by.name} (systolic weight tiles, K in rounds around a ring)"}
        if self.resident:
            return {self.w: "loaded into PMUs once (systolic weight tiles, K in rounds around a ring)"}
        return {self.w: "streamed from DRAM (systolic weight tiles, K in rounds around a ring)"}

    def resident_units(self) -> tuple[str, ...]:
        """A resident ring's W PMUs, the bank's first P G (a PMU per chain): kept from every other phase (the rings of the
        bank, which name them alike, take them where the first placed ring put them)."""
        return tuple(self._wpmu(q) for q in range(self.t.chains)) if self.resident else ()

    @staticmethod
    def _wpmu(g: int) -> str:
        """W PMU *g* of the bank every resident ring of a program shares (each its own words)."""
        return f"{BANK}.pmu{g}"

    def _u(self, kind, *index) -> str:
        return f"{self.unit_prefix}.{kind}{'_'.join(map(str, index))}"

    def _chains(self) -> list[tuple[int, int, int]]:
        """(chain, part, group) of every chain: chain p G + g takes group g's column blocks over part p's
        rounds of K."""
        t = self.t
        return [(p * t.groups + g, p, g) for p in range(t.parts) for g in range(t.groups)]

    def netlist(self):
        t, u = self.t, self._u
        loading = self.loaded_by is None  # a run on resident tiles takes no AG
        units = [Unit(u("ag", q), "ag") for q in range(t.chains)] if loading else []
        units += [Unit(u("host", h), "host") for h in range(max(t.parts * t.chain, t.chains))]
        units += [Unit(u("pcu", q, j), "pcu") for q in range(t.chains) for j in range(t.chain)]
        units += [Unit(u("add", g), "pcu") for g in range(t.groups)] if t.parts > 1 else []
        units += [Unit(u("pmu", q), "pmu") for q in range(t.chains)]
        units += [Unit(self._wpmu(q), "pmu") for q in range(t.chains)] if self.resident else []
        nets = [Net(u("host", p * t.chain + j), tuple(u("pcu", q, j) for q, part, _ in self._chains() if part == p))
                for p in range(t.parts) for j in range(t.chain)]
        for q, _, g in self._chains():
            head, tail = u("pcu", q, 0), u("pcu", q, t.chain - 1)
            links = tuple(u("pcu", q, j) for j in range(t.chain))
            if loading:
                nets.append(Net(u("ag", q), links + ((self._wpmu(q),) if self.resident else ()), 0.25))
            if self.resident:  # the runs on resident tiles take them from the W PMU
                nets.append(Net(self._wpmu(q), links, 0.25))
            nets += [Net(u("pcu", q, j - 1), (u("pcu", q, j),), 2.0) for j in range(1, t.chain)]
            # the tail's sums round the ring and to the host, or of several parts to the group's adder
            nets += [Net(u("pmu", q), (head,), 2.0),
                     Net(tail, (u("pmu", q), u("add", g) if t.parts > 1 else u("host", g)), 2.0)]
        nets += [Net(u("add", g), (u("host", g),), 2.0) for g in range(t.groups)] if t.parts > 1 else []
        return units, nets

    def _site(self, s, kind, *index):
        return s[self._u(kind, *index)]

    def _adder(self) -> PcuProgram:
        """The PCU that adds a group's parts, round by round (the last round's sum is Y; the earlier ones
        the collector drops), and takes their ReLU for a ReLU'd output."""
        t = self.t
        stages = [Stage("fadd", vin(0), vin(1), dst=0)] + [Stage("fadd", reg(0), vin(i), dst=0) for i in range(2, t.parts)]
        stages += [Stage("fmax", reg(0), CONST, dst=1, const=0)] if t.relu_out else []
        stages += [Stage("pass", reg(0), dst=0)] * (self.cfg.stages - len(stages))
        return PcuProgram(stages=stages, counters=[Counter(0, self.rounds * t.blocks * self.m, 1)],
                          vin_required=list(range(t.parts)), vout=[("reg", 1 if t.relu_out else 0)])

    def emit(self, b: ArrayBuilder, s: dict) -> None:
        t, site = self.t, lambda kind, *i: self._site(s, kind, *i)
        ring = t.blocks * self.m
        # a W PMU's tiles: the chain's stream in order, a vector per address step
        address = [AddressStage("add", ctr(0), LANE)] + ([AddressStage("add", reg(0), CONST, const=self.base)] if self.base else [])
        tiles = Port(stages=address, counters=[Counter(0, self.tile_words, self.cfg.lanes)])
        vector, control = [], []
        for p in range(t.parts):
            for j in range(t.chain):
                vector.append((("host", site("host", p * t.chain + j)[0], "vsend"),
                               [("pcu", *site("pcu", q, j), "vin", 0) for q, part, _ in self._chains() if part == p]))
        for q, p, g in self._chains():
            head, tail, fifo = site("pcu", q, 0), site("pcu", q, t.chain - 1), site("pmu", q)
            # The read port's run is the head's: R nbg M vectors, begun by a start token from the host, so
            # the last round's sums stay in the FIFO (the next run's first round) and not in the route.
            reads = Port(counters=[Counter(0, self.rounds * ring, 1)], wait_start=True)
            b.pmu(*fifo, PmuProgram(write=Port(vin_required=[0], data=vin(0)), read=reads, mode="fifo",
                                    fifo_fill=ring))
            links = [("pcu", *site("pcu", q, j), "vin", 1) for j in range(t.chain)]
            started = [("pmu", *fifo, "ctrl_in", 0)]
            if self.loaded_by is not None:  # the tiles from the W PMU, its read run begun with the FIFO's
                b.pmu(*s[self._wpmu(q)], PmuProgram(read=dataclasses.replace(tiles, wait_start=True)))
                vector.append((("pmu", *s[self._wpmu(q)], "vout", 0), links))
                started.append(("pmu", *s[self._wpmu(q)], "ctrl_in", 0))
            else:  # from DRAM; a resident ring's first run writes them into its W PMU as they pass
                b.ag(site("ag", q)[0], AgProgram("read"))
                if self.resident:
                    b.pmu(*s[self._wpmu(q)], PmuProgram(write=Port(stages=tiles.stages, counters=tiles.counters,
                                                                  vin_required=[0], data=vin(0))))
                    links.append(("pmu", *s[self._wpmu(q)], "vin", 0))
                vector.append((("ag", site("ag", q)[0], "rdata"), links))
            control.append((("host", site("host", q)[0], "csend"), started))
            vector.append((("pmu", *fifo, "vout", 0), [("pcu", *head, "vin", 2)]))
            for j in range(t.chain):
                b.pcu(*site("pcu", q, j), systolic_program(self.cfg, rows=self.m, a=0, weights=1, psum=2,
                                                           tiles=t.blocks, rounds=self.rounds, period=t.chain,
                                                           phase=j, zero_first=j == 0,
                                                           relu_out=1 if self.tail_relu and j == t.chain - 1 else None))
                if j:
                    vector.append((("pcu", *site("pcu", q, j - 1), "vout", 0), [("pcu", *site("pcu", q, j), "vin", 2)]))
            to_host = ("host", site("host", g)[0], "vrecv")
            if t.parts > 1:  # the sums round the ring and to the group's adder (input p)
                vector.append((("pcu", *tail, "vout", 0), [("pmu", *fifo, "vin", 0), ("pcu", *site("add", g), "vin", p)]))
            elif self.tail_relu:  # the sums round the ring, their ReLU to the host
                vector += [(("pcu", *tail, "vout", 0), [("pmu", *fifo, "vin", 0)]), (("pcu", *tail, "vout", 1), [to_host])]
            else:
                vector.append((("pcu", *tail, "vout", 0), [("pmu", *fifo, "vin", 0), to_host]))
        for g in range(t.groups):  # the group's last unit, its adder or its chain's tail, ends the run
            out = site("pcu", g, t.chain - 1)
            if t.parts > 1:
                out = site("add", g)
                b.pcu(*out, self._adder())
                vector.append((("pcu", *out, "vout", 0), [("host", site("host", g)[0], "vrecv")]))
            control.append((("pcu", *out, "ctrl_out", 0), [("host", site("host", g)[0], "done")]))
        for network, routes in (("vector", vector), ("control", control)):
            b.route_all(network, routes)

    def io(self, s: dict, tensors: dict) -> PhaseIO:
        t, L, S = self.t, self.cfg.lanes, self.cfg.stages
        x, w = np.asarray(tensors[self.x], F32), np.asarray(tensors[self.w], F32)
        if self.bias:  # the bias as the last product: 1.0 x b
            x = np.concatenate([x, np.ones((self.m, 1), F32)], axis=1)
            w = np.concatenate([w, np.asarray(tensors[self.bias], F32)[None, :]])
        depths = self.depths
        size = sum(depths)  # rows of K a round
        xk = np.zeros((self.m, t.parts * self.rounds * size), F32)
        xk[:, : x.shape[1]] = x
        wk = np.zeros((t.parts * self.rounds * size, self.padded_cols), F32)
        wk[: w.shape[0], : self.n] = w
        starts = [sum(depths[:j]) for j in range(t.chain)]
        sources, dram, sinks = {}, {}, {}
        for p, j in np.ndindex(t.parts, t.chain):  # link j's X rows of part p: its depth's words, per round and block
            stream = np.zeros((self.rounds, t.blocks, self.m, L), F32)
            for r in range(self.rounds):
                k0 = (p * self.rounds + r) * size + starts[j]
                stream[r, :, :, :depths[j]] = xk[:, k0:k0 + depths[j]]
            sources[f"vsend__{self._site(s, 'host', p * t.chain + j)[0]}"] = pack_vectors(stream.reshape(-1, L).view(U32))
        for q, p, g in self._chains():
            if self.loaded_by is None:  # the chain's tiles from DRAM (a run on resident ones: none)
                tiles = np.zeros((self.rounds, t.blocks, t.chain, S, L), F32)
                for r, i, j in np.ndindex(self.rounds, t.blocks, t.chain):
                    c0, k0 = (g * t.blocks + i) * L, (p * self.rounds + r) * size + starts[j]
                    tiles[r, i, j, :depths[j]] = wk[k0:k0 + depths[j], c0:c0 + L]
                row = self._site(s, "ag", q)[0]
                dram[row] = {0: tiles.view(U32).ravel()}
                sources[f"ag_cmd__{row}"] = [0 | (self.tile_words << 32)]
            sources[f"csend__{self._site(s, 'host', q)[0]}"] = [1]  # the FIFO's read run begins
        for g in range(t.groups):
            sinks[f"vrecv__{self._site(s, 'host', g)[0]}"] = self.rounds * t.blocks * self.m
        return PhaseIO(sources, dram, sinks, [], t.groups)

    def collect(self, s: dict, outputs: dict, readback: list) -> dict:
        t, L = self.t, self.cfg.lanes
        y = np.zeros((self.m, self.padded_cols), F32)
        for g in range(t.groups):
            words = unpack_vectors(outputs[f"vrecv__{self._site(s, 'host', g)[0]}"], L)
            last = words.view(F32).reshape(self.rounds, t.blocks, self.m, L)[-1]  # the earlier rounds: partial sums
            for i in range(t.blocks):
                c0 = (g * t.blocks + i) * L
                y[:, c0:c0 + L] = last[i]
        return {self.y: y[:, : self.n]}
