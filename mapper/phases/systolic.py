"""The systolic matmul phase: one K section of Y = X @ W (+ b) on chains of PCUs in their systolic mode
(rtl/spec/systolic.py), the partial sums of the sections before it added at the head of each chain.

Dataflow (lanes L, depth D = min(stages, lanes) rows of K per PCU; G chains of C links)::

    host vsend j --X rows: words 0..D-1 = x[m, k0 + jD .. k0 + jD + D - 1]--> PCU (g, j), all g
    AG g (DRAM: the chain's weight tiles, C per column block) --W tiles--> PCU (g, j), all j;
                                                                          link j keeps tile j of every C
    partial sums so far --P[m, block]--> PCU (g, 0)
    PCU (g, j): p = ffma(x[m, k0 + jD + s], w[s][l], p) for s = 0..D-1 (lanes x stages multiply-adds
                per row); link j > 0 takes p from link j - 1
    PCU (g, C - 1) --the new partial sums, or Y rows of the block--> where they wait, or the result

Chain g computes the column blocks g, g + G, ... (nbg of them, the last chains' extra blocks zeros),
each for all M rows: a weight tile per link per column block, used for M firings. The X streams are
the same for every chain (multicast) and are sent once per column block. A matmul whose K needs more
than C D rows is cut into sections, one phase each, in K order; the phases of a matmul share one
placement. Where the partial sums wait between sections (``PARTIAL_SUMS``; the tiling takes the
faster on the memory):

* ``dram``: AG G + g reads them (the first section: the bias, or zeros) and the tail writes the new
  ones, and at the end Y, through AG g: every section reads and writes M x N words of DRAM. The
  sections share one bitstream: after the first, loading them costs nothing. The sum is b + the
  products in K order, one rounding per product (ffma).
* ``pmu``: the chain's two PMUs take turns: a section reads the partial sums the one before wrote into
  one (a host start token begins the read run; the first section starts from 0.0) and writes its own
  into the other (its done token ends the section); the last sends Y to host g. The bias is the last
  product (1.0 x b: X gains a column of ones). Only the weights cross DRAM; the phases are one
  continuous run, as the PMUs keep their contents across reconfiguration (``Phase.pmu_state``: the
  direct harness and the golden model; a harness that runs each phase on its own is refused). Four
  bitstreams (first, the two alternations, last) on one placement, each loaded while a section runs.
  The sum is the products in K order, then + b: the graph's ``add(matmul, b)`` order.

* ``ring``: one phase, one configuration: the sections are rounds of a continuous run, the partial
  sums going from each chain's last link back to its first through a PMU FIFO (phases/ring.py). No
  section's fill, turn or reconfiguration; only the weights cross DRAM. The sum is the products in K
  order, then + b (the bias as the last product), as in ``pmu``.

Every way the result is within the graph's fp32 bound.

Needs 3 vector inputs (X, tiles, partial sums). Tiling: C <= host rows (an X stream each), G C <= PCUs;
``dram``: 2 G <= AGs; ``pmu``: G <= AGs and host rows, 2 G <= PMUs, a chain's partial sums (nbg M L
words) in one PMU, 2 sections or more; ``ring``: G <= AGs, host rows and PMUs, 3 PCU counters, a
chain's ring (nbg M vectors) within a PMU's rows. Among those that fit, the one with the fewest
cycles: the cost model's sections (or the ring's run), each with the memory's read latency or its
bytes over the bandwidth.

Cost model (cycles of one section; BLOCK_TURN and the ``dram`` constant fitted to 11 direct-harness
runs on ``small``, M from 5 to 100 and 2 to 4 links: within 8 %; ``pmu_turn`` to 6 runs of the ``pmu``
scheme on ``small`` and 4 on ``medium``, M from 5 to 100, 2 to 5 links, 2 to 9 sections: within 5 %,
the last section, which writes no partial sums, within 10 %)::

    nbg * max(M + BLOCK_TURN,     a column block: M firings per link and the turn to the next block;
              C * stages,         the weight stream (C tiles of ``stages`` vectors, one per cycle);
              (M + refill) / 2,   a weight bank's refill (two blocks per refill; refill = the bank's
                                  drain, rtl/spec/timing.py weight_drain, + stages);
              (C - 1) link / 2)   the weight stream's wait for each link in turn
  + C * link                      the chain's links start one link latency apart (link = PCU latency
                                  + LINK_ROUTE)
  + latency(cfg) - 47             dram: DRAM, route and write-back latency: the SIMD matmul's array-size term
  + pmu_turn(cfg)                 pmu: the start token's and the partial sums' routes, the PMU read's
                                  start, the write's end: 12 cycles on small, 36 on medium, linear in
                                  the array's rows + columns as the routes are

The ``ring`` scheme's run, all R rounds (RING_TURN and RING_END fitted to 6 direct-harness runs on
``small``, M from 4 to 100, 1 to 4 blocks, 2 and 3 links, 6 and 9 rounds: within 1.6 %; checked on 4
runs on ``medium``, M from 10 to 96, 3 to 5 links, 2 to 7 rounds: within 3.0 %)::

    R * max(nbg * block,          a round's column blocks (``block_cycles`` with a turn of 1 cycle: the
                                  tiles stream on across blocks and rounds)
            C link + RING_TURN)   or the ring's turn: a row's sums pass the C links and the FIFO PMU
                                  before the next round's firing of that row takes them
  + C link + RING_END             the last round's pass down the chain, the route to the host
  + RING_SPAN (rows + cols - 12)  on arrays beyond medium's 6 x 6: the longer routes (fitted on the 4
                                  rings of the plasticine calibration run, specialised harness, DDR4:
                                  1 to 3 rounds, 3 and 4 parts, 3 to 12 chains, within 7.4 %; without
                                  it 6 to 19 % under)
  [+ link]                        K in P parts (phases/ring.py): R is a part's rounds, the adders a
                                  link more; a chain of several links refills its weight bank
                                  ``stages`` cycles later a block where the parts' rings wait for
                                  each other (``block_cycles``'s *coupled*)

With parts (fitted on 17 direct-harness runs on ``small``, M 4 to 32, 2 and 3 parts, 1 and 2 links, 1
to 6 blocks: within 2.4 % but for 8 and fewer rows in 5 and 6 blocks, 5 to 12 % under; 3 on
``medium``, M 48 and 64, 2 and 3 parts: within 0.6 %). The one-part ring shows the same gap at 8 rows
and 6 blocks (2 links 13 % under, 4 links 16 % over: outside the runs it was fitted on).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from rdagen.rtl.spec.ag_layout import AgProgram
from rdagen.rtl.spec.array_layout import pack_vectors, unpack_vectors
from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.memory import IDEAL, Memory
from rdagen.rtl.spec.pcu_layout import LANE, Counter, ctr, vin
from rdagen.rtl.spec.pmu_layout import AddressStage, PmuProgram, Port
from rdagen.rtl.spec.systolic import relu_depth, systolic_depth, systolic_program
from rdagen.rtl.spec.timing import pcu_latency, weight_drain

from rdagen.mapper.backend.builder import ArrayBuilder
from rdagen.mapper.backend.place import Net, Unit, sites
from rdagen.mapper.phases.matmul import LINK_ROUTE, latency, link_latency
from rdagen.mapper.phases.phase import F32, U32, MapError, Phase, PhaseIO
from rdagen.mapper.phases.ring import SystolicRingPhase

__all__ = ["PARTIAL_SUMS", "check_partial_sums", "SystolicTiling", "tile_systolic", "block_cycles", "section_cycles", "SystolicMatmulPhase",
           "systolic_phases", "LINK_ROUTE", "BLOCK_TURN", "pmu_turn", "ring_cycles", "fits_ring", "RING_TURN",
           "RING_END", "RING_SPAN"]

PARTIAL_SUMS = ("auto", "dram", "pmu", "ring")
"""Where a systolic matmul keeps its partial sums between K sections: ``dram`` (read back by an AG,
each section's run on its own), ``pmu`` (two PMUs per chain, the phases one continuous run), ``ring``
(all sections in one configuration, the sums around a PMU FIFO per chain: phases/ring.py), or
``auto``: the one the cost model finds faster on the memory."""

BLOCK_TURN = 9  # cycles a chain loses between two column blocks (fitted)
RING_TURN = 25  # ring: a partial sum's way from the last link through the FIFO PMU to the first (fitted)
RING_END = 19  # ring: the last round's route to the host and the phase's start (fitted)
RING_SPAN = 3  # ring: cycles per row or column beyond 12 (fitted on plasticine)


@dataclasses.dataclass(frozen=True)
class SystolicTiling:
    groups: int  # G chains, each its own column blocks
    chain: int  # C links, each D rows of K
    depth: int  # D
    blocks: int  # nbg: column blocks per chain
    sections: tuple[tuple[int, int], ...]  # the K range of each phase (with the bias row in the PMU scheme)
    estimate: int  # cycles of one section (of the whole run in the ring scheme)
    psums: str = "dram"  # where the partial sums wait between sections: "dram", "pmu" or "ring"
    relu_out: bool = False  # a ring whose output is the ReLU of the sums (its tails' or its adders')
    parts: int = 1  # a ring's K in this many parts, each on chains of its own, added by an adder per group

    @property
    def chains(self) -> int:
        return self.groups * self.parts

    @property
    def pcus(self) -> int:
        """The PCUs that multiply (a ring of several parts takes ``groups`` adders besides)."""
        return self.chains * self.chain

    @property
    def rounds(self) -> int:
        """A ring's rounds, each part's (``sections`` holds every part's, in K order)."""
        return len(self.sections) // self.parts


def block_cycles(cfg: ArrayConfig, m: int, chain: int, turn: int = BLOCK_TURN, coupled: bool = False) -> int:
    """Cycles a chain spends on a column block: its M firings and the *turn* to the next block; or the
    weight stream (C tiles of ``stages`` vectors); or the refill of a weight bank (released, drained,
    loaded: two blocks per refill); or the stream's wait for each link in turn (the tile of link j
    loads once link j, a link latency behind link j - 1, has released its bank: C - 1 link latencies
    per two blocks). *coupled*: chains that wait for each other at an adder (a ring of several parts),
    where a chain of several links refills ``stages`` cycles later a block (fitted on small: M 4 to 17,
    4 to 6 blocks, 2 links; no change where the M firings set the pace)."""
    refill = weight_drain(cfg) + cfg.stages
    wait = (chain - 1) * link_latency(cfg)
    return max(m + turn, chain * cfg.stages, -(-(m + refill) // 2) + (cfg.stages if coupled and chain > 1 else 0),
               -(-wait // 2))


def ring_cycles(cfg: ArrayConfig, m: int, chain: int, blocks: int, rounds: int, parts: int = 1) -> int:
    """The ``ring`` scheme's cycles, all its rounds (phases/ring.py; fitted: the module's docstring): a
    column block as ``block_cycles``'s but for the turn between blocks, which one continuous run hides
    but for a cycle; of several parts (each its *rounds* side by side), the adders' link besides."""
    link = link_latency(cfg)
    return (rounds * max(blocks * block_cycles(cfg, m, chain, turn=1, coupled=parts > 1), chain * link + RING_TURN)
            + chain * link + RING_END + RING_SPAN * max(0, cfg.rows + cfg.cols - 12) + (parts > 1) * link)


def fits_ring(cfg: ArrayConfig, m: int, blocks: int) -> bool:
    """Whether a chain's ring (*blocks* column blocks of *m* rows) fits a PMU FIFO and the PCU has the
    round counter."""
    return cfg.counters >= 3 and blocks * m <= cfg.pmu_depth


def pmu_turn(cfg: ArrayConfig) -> int:
    """The ``pmu`` scheme's fixed cycles a section (fitted: the module's docstring)."""
    return 6 * (cfg.rows + cfg.cols) - 36


def section_cycles(cfg: ArrayConfig, m: int, chain: int, blocks: int, psums: str = "dram") -> int:
    """The cost model of one section (the module's docstring)."""
    ends = latency(cfg) - 47 if psums == "dram" else pmu_turn(cfg)
    return blocks * block_cycles(cfg, m, chain) + chain * link_latency(cfg) + ends


def _on_memory(cycles: int, read_bytes: int, memory: Memory) -> float:
    """A section's cycles on *memory* as the tiling weighs them: its first read's latency, or its bytes
    over the bandwidth (mapper/phases/dram.py has the model of the runs)."""
    bandwidth = memory.bytes_per_cycle
    return max(cycles + memory.read_latency - 1, memory.read_latency + (read_bytes / bandwidth if bandwidth else 0))


def check_partial_sums(partial_sums: str) -> None:
    """MapError unless *partial_sums* is one of PARTIAL_SUMS."""
    if partial_sums not in PARTIAL_SUMS:
        raise MapError(f"partial sums {partial_sums!r}: valid: {', '.join(PARTIAL_SUMS)}")


def tile_systolic(cfg: ArrayConfig, where: str, m: int, k: int, n: int, bias: bool = False,
                  partial_sums: str = "auto", memory: Memory = IDEAL, max_groups: int | None = None,
                  resident: bool = False, relu_out: bool = False, pmus_kept: bool = True,
                  max_words: int | None = None, parts: int | None = None) -> SystolicTiling:
    """The fastest systolic tiling of an [m, k] x [k, n] matmul (with a bias: *bias*) on *cfg* with its
    partial sums where *partial_sums* says (PARTIAL_SUMS), weighed on *memory*, in at most *max_groups*
    chains; *resident*: a ring whose chains' weight tiles each fit a W PMU (its *max_words* words, or
    all of it; phases/ring.py, weighed on the runs that read them there); *relu_out*: a ring whose last links send the ReLU of Y too
    (phases/ring.py); without *pmus_kept* (each phase runs on its own) ``auto`` leaves out ``pmu``;
    *parts*: a ring's K in that many parts (None: the number the cost model finds fastest);
    MapError naming *where* and the missing resource when none fits."""
    check_partial_sums(partial_sums)
    if cfg.vector_inputs < 3:
        raise MapError(f"{where}: the systolic mode needs 3 PCU vector inputs (X, weight tiles, partial sums); "
                       f"{cfg.name} has {cfg.vector_inputs}")
    depth, nb, L = systolic_depth(cfg), -(-n // cfg.lanes), cfg.lanes
    hosts, ags, pcus, pmus = cfg.rows, cfg.rows, len(sites(cfg, "pcu")), len(sites(cfg, "pmu"))
    best = None
    chains = {"dram": ags // 2, "pmu": min(ags, hosts, pmus // 2), "ring": min(ags, hosts, pmus)}
    if relu_out:
        # in one part the last link sends the ReLU on a second vector output (and register); in several
        # the adders take it into their second register and send it alone
        if cfg.registers < 2 or partial_sums not in ("auto", "ring"):
            raise MapError(f"{where}: a ReLU'd output needs the ring scheme and PCUs of 2 registers "
                           f"({cfg.name}: {cfg.registers})")
        if cfg.vector_outputs < 2 and (parts == 1 or cfg.vector_inputs < 2):
            raise MapError(f"{where}: a ReLU'd output of a ring in one part needs PCUs of 2 vector outputs "
                           f"({cfg.name}: {cfg.vector_outputs}); in parts, 2 vector inputs")
        partial_sums = "ring"
    if resident:
        partial_sums, memory = "ring", IDEAL
        chains["ring"] = min(ags, hosts, pmus // 2)  # a W PMU beside each chain's FIFO
    schemes = ("dram", "pmu", "ring") if pmus_kept else ("dram", "ring")
    for psums, split in [(p, n) for p in (schemes if partial_sums == "auto" else (partial_sums,))
                         for n in (range(1, cfg.vector_inputs + 1) if p == "ring" else (1,)) if parts in (None, n)]:
        if split > 1 and cfg.stages < split - 1 + relu_out:  # the adder's fadds (and its ReLU)
            continue
        if relu_out and split == 1 and cfg.vector_outputs < 2:  # the tail's second output
            continue
        rows = k + (1 if bias and psums != "dram" else 0)  # the PMU schemes add the bias as a last product
        for g in range(1, min(chains[psums] // split, nb, max_groups // split if max_groups else nb) + 1):
            blocks = -(-nb // g)
            if (psums == "pmu" and blocks * m * L > cfg.pmu_words) or (psums == "ring" and not fits_ring(cfg, m, blocks)):
                continue
            adders = g if split > 1 else 0
            for c in range(1, min(hosts // split, (pcus - adders) // (g * split), -(-rows // depth)) + 1):
                # the tail's ReLU stage (a ring of several parts leaves the ReLU to its adders)
                size = c * depth - (depth - relu_depth(cfg) if relu_out and split == 1 else 0)
                rounds = -(-rows // size)
                each = -(-rounds // split)  # every part takes as many rounds; the last may end in zeros
                if (split - 1) * each >= rounds:  # a part with no rows of K
                    continue
                sections = tuple((min(rows, k0), min(rows, k0 + size)) for k0 in range(0, split * each * size, size))
                if psums == "pmu" and len(sections) < 2:
                    continue
                weights = 4 * g * blocks * c * cfg.stages * L
                if resident and each * blocks * c * cfg.stages * L > (max_words or cfg.pmu_words):
                    continue
                if psums == "ring":  # one phase: every round's tiles in one run
                    estimate = ring_cycles(cfg, m, c, blocks, each, split)
                    total = _on_memory(estimate, len(sections) * weights, memory)
                else:
                    estimate = section_cycles(cfg, m, c, blocks, psums)
                    sums = 4 * 2 * m * g * blocks * L if psums == "dram" else 0  # read, and written back
                    total = len(sections) * _on_memory(estimate, weights + sums, memory)
                key = (total, g * split * c + adders, psums)
                if best is None or key < best[0]:
                    best = (key, SystolicTiling(g, c, depth, blocks, sections, estimate, psums, relu_out, split))
    if best is None:
        if partial_sums == "ring":
            raise MapError(f"{where}: a partial-sum ring does not fit {cfg.name}: it needs 3 PCU counters (it has "
                           f"{cfg.counters}), and a chain's {m} rows x its column blocks within a PMU FIFO of "
                           f"{cfg.pmu_depth} vectors")
        if partial_sums == "pmu":
            raise MapError(f"{where}: partial sums in PMUs do not fit {cfg.name}: a chain's ({m} rows x its column "
                           f"blocks x {L} lanes) must fit one PMU of {cfg.pmu_words} words, with 2 PMUs, an AG and "
                           f"a host row per chain and K in 2 sections or more")
        raise MapError(f"{where}: no systolic tiling fits {cfg.name} (it needs 2 AGs and a host row per chain)")
    return best[1]


class SystolicMatmulPhase(Phase):
    """Section *section* of ``y = x @ w (+ bias)`` in the systolic mode. Partial sums in DRAM: *psum* is
    the tensor of the sections before (None for the first, which starts from the bias or zeros). In
    PMUs: the section reads the PMU the section before wrote (none for the first), and writes the other
    one, or, the last, y to the host."""

    mode = "systolic"

    def __init__(self, cfg: ArrayConfig, name: str, nodes: tuple, x: str, w: str, bias: str | None, y: str,
                 shape: tuple[int, int, int], t: SystolicTiling, section: int, psum: str | None, base: str):
        self.cfg, self.name, self.nodes, self.t, self.section = cfg, name, nodes, t, section
        self.units_prefix = base
        self.placement_key = ("systolic", base, t)
        self.x, self.w, self.bias, self.y, self.psum = x, w, bias, y, psum
        self.m, self.k, self.n = shape
        self.shape = (self.m, self.n)  # of the tensor it writes (the partial sums or y)
        self.k_range = k0, k1 = t.sections[section]
        self.last = section == len(t.sections) - 1
        self.partial_sums = t.psums
        if t.psums == "pmu":
            # (the PMU read, the PMU written or "host"): the sections alternate between a chain's two PMUs
            self.variant = (None if section == 0 else (section - 1) % 2, "host" if self.last else section % 2)
            self.pmu_state = section > 0
            self.reads = (x, w) + ((bias,) if bias and k1 > self.k else ())
            self.writes = (y,) if self.last else ()
        else:
            self.reads = (x, w) + ((psum,) if psum else ((bias,) if bias else ()))
            self.writes = (y,)
        self.ideal_cycles = math.ceil(self.m * self.n * (min(k1, self.k) - k0) / (cfg.lanes * cfg.stages * t.pcus))
        self.estimate_cycles = t.estimate
        self.padded_cols = t.groups * t.blocks * cfg.lanes
        self.tile_words = t.blocks * t.chain * cfg.stages * cfg.lanes  # a chain's weight stream

    def weight_sources(self) -> dict[str, str]:
        return {self.w: "streamed from DRAM (systolic weight tiles)"}

    def _u(self, kind, *index) -> str:
        return f"{self.units_prefix}.{kind}{'_'.join(map(str, index))}"

    def netlist(self):
        t, u = self.t, self._u
        pmu = t.psums == "pmu"
        units = [Unit(u("ag", a), "ag") for a in range(t.groups if pmu else 2 * t.groups)]
        units += [Unit(u("host", h), "host") for h in range(max(t.chain, t.groups))]
        units += [Unit(u("pcu", g, j), "pcu") for g in range(t.groups) for j in range(t.chain)]
        units += [Unit(u("pmu", g, b), "pmu") for g in range(t.groups) for b in range(2)] if pmu else []
        nets = [Net(u("host", j), tuple(u("pcu", g, j) for g in range(t.groups))) for j in range(t.chain)]
        for g in range(t.groups):
            head, tail = u("pcu", g, 0), u("pcu", g, t.chain - 1)
            nets.append(Net(u("ag", g), tuple(u("pcu", g, j) for j in range(t.chain)), 0.25))
            sums = [Net(u("pmu", g, b), (head,)) for b in range(2)] if pmu else [Net(u("ag", t.groups + g), (head,))]
            nets += sums + [Net(u("pcu", g, j - 1), (u("pcu", g, j),), 2.0) for j in range(1, t.chain)]
            if pmu:
                for b in range(2):
                    nets += [Net(tail, (u("pmu", g, b),)), Net(u("host", g), (u("pmu", g, b),), 0.25)]
                nets.append(Net(tail, (u("host", g),)))
            else:
                nets += [Net(tail, (u("ag", g),)), Net(tail, (u("host", g),), 0.25)]
        return units, nets

    def _site(self, s, kind, *index):
        return s[self._u(kind, *index)]

    def _sums_port(self) -> Port:
        """A PMU port over a chain's partial sums in firing order (column block, row): a vector each."""
        words = self.t.blocks * self.m * self.cfg.lanes
        return Port(stages=[AddressStage("add", ctr(0), LANE)], counters=[Counter(0, words, self.cfg.lanes)])

    def emit(self, b: ArrayBuilder, s: dict) -> None:
        t, site = self.t, lambda kind, *i: self._site(s, kind, *i)
        pmu = t.psums == "pmu"
        read, written = self.variant if pmu else (None, None)
        for a in range(t.groups if pmu else 2 * t.groups):
            b.ag(site("ag", a)[0], AgProgram("read"))
        vector, control = [], []
        for j in range(t.chain):
            vector.append((("host", site("host", j)[0], "vsend"), [("pcu", *site("pcu", g, j), "vin", 0)
                                                                     for g in range(t.groups)]))
        for g in range(t.groups):
            head, tail, host = site("pcu", g, 0), site("pcu", g, t.chain - 1), site("host", g)[0]
            vector.append((("ag", site("ag", g)[0], "rdata"), [("pcu", *site("pcu", g, j), "vin", 1)
                                                               for j in range(t.chain)]))
            if not pmu:
                vector.append((("ag", site("ag", t.groups + g)[0], "rdata"), [("pcu", *head, "vin", 2)]))
            elif read is not None:
                # the read port has no input to wait for: a start token from the host begins its run
                b.pmu(*site("pmu", g, read), PmuProgram(read=dataclasses.replace(self._sums_port(), wait_start=True),
                                                        done_port="read"))
                vector.append((("pmu", *site("pmu", g, read), "vout", 0), [("pcu", *head, "vin", 2)]))
                control.append((("host", host, "csend"), [("pmu", *site("pmu", g, read), "ctrl_in", 0)]))
            psum = None if pmu and read is None else 2
            for j in range(t.chain):
                b.pcu(*site("pcu", g, j), systolic_program(self.cfg, rows=self.m, a=0, weights=1,
                                                           psum=psum if j == 0 else 2, tiles=t.blocks,
                                                           period=t.chain, phase=j))
                if j:
                    vector.append((("pcu", *site("pcu", g, j - 1), "vout", 0), [("pcu", *site("pcu", g, j), "vin", 2)]))
            if pmu and written != "host":
                sums = dataclasses.replace(self._sums_port(), vin_required=[0], data=vin(0))
                b.pmu(*site("pmu", g, written), PmuProgram(write=sums, done_port="write"))
                vector.append((("pcu", *tail, "vout", 0), [("pmu", *site("pmu", g, written), "vin", 0)]))
                control.append((("pmu", *site("pmu", g, written), "ctrl_out", 0), [("host", host, "done")]))
            else:
                vector.append((("pcu", *tail, "vout", 0), [("host", host, "vrecv") if pmu else
                                                           ("ag", site("ag", g)[0], "wdata")]))
                control.append((("pcu", *tail, "ctrl_out", 0), [("host", host, "done")]))
        for network, routes in (("vector", vector), ("control", control)):
            b.route_all(network, routes)

    def io(self, s: dict, tensors: dict) -> PhaseIO:
        t, L, S, D = self.t, self.cfg.lanes, self.cfg.stages, self.t.depth
        pmu = t.psums == "pmu"
        k0, k1 = self.k_range
        x, w = np.asarray(tensors[self.x], F32), np.asarray(tensors[self.w], F32)
        if pmu and self.bias and k1 > self.k:  # the bias as the last product: 1.0 x b
            x = np.concatenate([x, np.ones((self.m, 1), F32)], axis=1)
            w = np.concatenate([w, np.asarray(tensors[self.bias], F32)[None, :]])
        x = x[:, k0:k1]
        wk = np.zeros((t.chain * D, self.padded_cols), F32)
        wk[: k1 - k0, : self.n] = w[k0:k1]
        sources, dram, sinks, readback = {}, {}, {}, []
        for j in range(t.chain):  # link j's X rows (D words of each), once per column block
            rows = np.zeros((self.m, L), F32)
            part = x[:, j * D: (j + 1) * D]
            rows[:, : part.shape[1]] = part
            sources[f"vsend__{self._site(s, 'host', j)[0]}"] = pack_vectors(np.tile(rows, (t.blocks, 1)).view(U32))
        if not pmu:
            if self.psum is not None:
                psum = np.asarray(tensors[self.psum], F32)
            else:
                psum = np.broadcast_to(np.asarray(tensors[self.bias], F32) if self.bias else np.zeros(self.n, F32),
                                       (self.m, self.n))
            p = np.zeros((self.m, self.padded_cols), F32)
            p[:, : self.n] = psum
        y_base = -(-self.tile_words // 1024) * 1024  # after the tiles on the chain's AG, 4 KB aligned
        for g in range(t.groups):
            blocks = [(g * t.blocks + i) * L for i in range(t.blocks)]  # first column of each of the chain's blocks
            tiles = np.zeros((t.blocks, t.chain, S, L), F32)
            for i, c0 in enumerate(blocks):
                tiles[i, :, :D] = wk[:, c0:c0 + L].reshape(t.chain, D, L)
            w_row = self._site(s, "ag", g)[0]
            dram[w_row] = {0: tiles.view(U32).ravel()}
            sources[f"ag_cmd__{w_row}"] = [0 | (self.tile_words << 32)]
            if pmu:
                if self.section:
                    sources[f"csend__{self._site(s, 'host', g)[0]}"] = [1]
                if self.last:
                    sinks[f"vrecv__{self._site(s, 'host', g)[0]}"] = t.blocks * self.m
                continue
            sums = np.stack([p[:, c0:c0 + L] for c0 in blocks])  # [block, m, L]
            p_row = self._site(s, "ag", t.groups + g)[0]
            dram[p_row] = {0: sums.view(U32).ravel()}
            sources[f"ag_cmd__{p_row}"] = [0 | (sums.size << 32)]
            sources[f"ag_wcmd__{w_row}"] = [(y_base + i * self.m * L) | ((self.m * L) << 32) for i in range(t.blocks)]
            readback.append((w_row, y_base, t.blocks * self.m * L))
        return PhaseIO(sources, dram, sinks, readback, t.groups)

    def collect(self, s: dict, outputs: dict, readback: list) -> dict:
        t, L = self.t, self.cfg.lanes
        if t.psums == "pmu" and not self.last:
            return {}  # the partial sums stay in the PMUs
        y = np.zeros((self.m, self.padded_cols), F32)
        for g in range(t.groups):
            if t.psums == "pmu":
                words = unpack_vectors(outputs[f"vrecv__{self._site(s, 'host', g)[0]}"], L)
            else:
                words = np.asarray(readback[g], U32)
            region = words.view(F32).reshape(t.blocks, self.m, L)
            for i in range(t.blocks):
                c0 = (g * t.blocks + i) * L
                y[:, c0:c0 + L] = region[i]
        return {self.y: y[:, : self.n]}


def systolic_phases(cfg: ArrayConfig, name: str, nodes: tuple, x: str, w: str, bias: str | None, y: str,
                    shape: tuple[int, int, int], where: str, partial_sums: str = "auto",
                    memory: Memory = IDEAL, pmus_kept: bool = True) -> list[SystolicMatmulPhase]:
    """The sections of a matmul in the systolic mode, in K order, the last writing *y* (*pmus_kept*:
    ``tile_systolic``'s)."""
    m, k, n = shape
    t = tile_systolic(cfg, where, m, k, n, bias is not None, partial_sums, memory, pmus_kept=pmus_kept)
    if t.psums == "ring":
        return [SystolicRingPhase(cfg, name, nodes, x, w, bias, y, shape, t)]
    phases, psum = [], None
    for i in range(len(t.sections)):
        out = y if i == len(t.sections) - 1 else f"{y}#p{i}"
        phases.append(SystolicMatmulPhase(cfg, f"{name}s{i}" if len(t.sections) > 1 else name, nodes, x, w, bias,
                                          out, shape, t, i, psum if t.psums == "dram" else None, name))
        psum = out
    return phases
