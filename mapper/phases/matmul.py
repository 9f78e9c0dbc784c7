"""The matmul phase: Y = relu?(X) @ W (+ b), X [M, K] and W [K, N] fp32, spread over G x R x C PCUs.

Dataflow (lanes L; blocks of L output columns; the bias as the last product, 1.0 x b)::

    host vsend --X block (R rows, a 1.0 in column K with a bias)--> PMU (r, j), multicast
    PMU (r, j) (scalar reads: x[m_r, K range of link j] once per column block) --x--> PCU (g, r, j), all g
    AG (g, j) (DRAM: the group's column blocks of [W; b], link j's rows) --W vector--> PCU (g, r, j), all r
    PCU (g, r, j): [relu(x)], x * W row (fmul, lane-parallel), accumulator over its K range;
                   its feeders' partial sums (vin 1, 2) join at its last firing: PCU (g, r, j - 1)'s in a
                   chain, or its children's in a binary tree rooted at link C - 1 (``tree_links``:
                   PCUs of 5 stages, 6 with the ReLU, and 3 vector inputs, as medium's and plasticine's)
    PCU (g, r, C - 1) --Y[m_r, block] vector--> AG wdata (DRAM) or host vrecv

PCU (g, r, j) computes, for rows m = blk R + r of the group's column blocks, the products of link j's
K range. One firing is L multiply-adds; a PCU fires once per cycle when its W vector (one AG beat) and
x word (one PMU read) are there, so the phase runs near M N K / (L G R C) cycles. Chains (C > 1) are
how a phase uses more PCUs than it has output streams (AG write ports + host rows): on `plasticine`,
G R <= 32 outputs but G R C = 64 PCUs. The sum is the products and the bias in some order, each
rounded (a link takes its predecessor's partial sums at its last firing, the bias's on the last link, so
that it waits for them only there): within the graph's bound of ``add(matmul, b)``. ReLU of the input (a ``relu`` whose result only feeds
matmuls) is an ``fmax(x, 0)`` stage.

Tiling from the ArrayConfig: G C <= AGs (W streams), G <= column blocks, R C <= PMUs, R <= M,
G R C <= PCUs, G R <= AG write ports + host output ports, an X block R * ceil((K + 1) / L) * L words
per PMU (double-buffered when it fits in half); chains need 4 stages (5 with the input ReLU), two
vector inputs and 4 registers. Among the tilings that fit, the one the cost model finds fastest
(fewest PCUs on a tie).

Cost model (cycles, without the reconfiguration the program adds; kb the largest link's products)::

    w = R Kp / L, f = nbg kb + 3    an X block's writes and firings (MB = ceil(M / R) X blocks, nbg
                              column blocks per group, a few cycles to turn to the next block)
    w + (MB - 1) (max(w, f) + 3) + f          double-buffered: a block is written while the one before
                                              fires, so the longer of the two paces the blocks
    MB (w + f + 9) + w - 22   single-buffered: the reads wait for the writes, and the PMU turns
  + min(37 + 10 (rows + cols - 6), 58 + rows + cols)   DRAM, pipeline, route and write-back latency:
                              10 cycles per row or column up to 6 x 6, one beyond (the placer keeps a
                              phase's units near its host row and AGs)
  + lag = depth link          a link runs a link latency behind its feeders (link = PCU latency +
                              LINK_ROUTE: it waits for their partial sums at an output's last firing);
                              depth = C - 1 in a chain, floor(log2 C) in a tree (``reduction_depth``)
  + max(0, lag - nbg kb) (MB - 2)   (double-buffered; lag (MB - 1) single) the lag beyond the second
                              X buffer's slack, paid per block (the blocks are multicast to every link)

Fitted on the cycles of 66 SIMD matmul phases on the RTL of tiny, small and medium (direct harness; 22
shapes from 1 x 16 x 16 and 1 x 512 x 16 to 128 x 8 x 2 and 64 x 22 x 32, ideal memory) and 4 on
plasticine's (specialised harness; 1 x 64 x 32, 8 x 16 x 64, 64 x 32 x 1, 4 x 200 x 16 in a chain of 2):
within 10.3 % of every one. The model before this fit (the first X block's writes alone unpaced, a
latency of 37 + 10 (rows + cols - 6)) was off by -34 % to +109 %: 64 x 32 x 1 on small 401 cycles
against 603, 8 x 16 x 64 on plasticine 244 against 117. The chain term was fitted with lazy links on 6
GEMMs on small, chains of 1 to 4. bench/mapper.py measures the model against the RTL;
tests/test_mapper.py checks it on tiny, small and medium.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from rdagen.rtl.spec.ag_layout import AgProgram
from rdagen.rtl.spec.array_layout import pack_vectors, unpack_vectors
from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.pcu_layout import CONST, LANE, Accumulate, Counter, PcuProgram, Stage, ctr, reg, sin, vin
from rdagen.rtl.spec.pmu_layout import AddressStage, PmuProgram, Port
from rdagen.rtl.spec.timing import pcu_latency

from rdagen.mapper.backend.builder import ArrayBuilder
from rdagen.mapper.phases.phase import F32, U32, MapError, Phase, PhaseIO
from rdagen.mapper.backend.place import Net, Unit, sites

__all__ = ["MatmulTiling", "tile_matmul", "link_program", "tree_links", "feeders", "reduction_depth", "x_buffer_program", "split_k", "MatmulPhase", "LINK_ROUTE", "link_latency", "latency"]


LINK_ROUTE = 4  # cycles a partial sum spends in the route between two links


def link_latency(cfg: ArrayConfig) -> int:
    """Cycles from a link's last firing of an output to its successor's use of the partial sums: the
    PCU's pipeline (rtl/spec/timing.py) and the route."""
    return pcu_latency(cfg) + LINK_ROUTE


def latency(cfg: ArrayConfig) -> int:
    """The array-size term the MLP and systolic phases' models were fitted with (phases/mlp.py,
    phases/systolic.py)."""
    return 37 + 10 * (cfg.rows + cfg.cols - 6)


def simd_latency(cfg: ArrayConfig) -> int:
    """The SIMD matmul's DRAM, pipeline, route and write-back latency: 10 cycles per row or column up to
    medium's 6 x 6, one beyond (the placer keeps a phase's units near its host row and AGs, so the
    routes grow more slowly than the array; fitted on tiny, small, medium and plasticine)."""
    return min(latency(cfg), 58 + cfg.rows + cfg.cols)


BLOCK_SWAP = 3  # cycles a double-buffered X block adds to the longer of its writes and its firings
SINGLE_TURN = 9  # cycles a single-buffered X block adds: the PMU turns from writes to reads and back
SINGLE_HIDDEN = 22  # of the latency, what a single-buffered phase's block turns hide (fitted on tiny, the
                    # one preset whose PMUs take single-buffered X blocks)


@dataclasses.dataclass(frozen=True)
class MatmulTiling:
    groups: int  # G: AG streams of W column blocks
    rows: int  # R: rows of X per block, one PMU each
    chain: int  # C: PCUs that split K for one output, each adding its predecessor's partial sums
    chunks: tuple[tuple[int, int], ...]  # the K range of each link of a chain
    kp: int  # a row of X in a PMU (with the bias column), padded to whole vectors
    blocks: int  # nbg: column blocks per group
    mblocks: int  # MB: X blocks
    double: bool  # X blocks double-buffered
    ag_outputs: int  # outputs written to DRAM (the rest go to host output ports)
    bias: bool
    estimate: int

    @property
    def pcus(self) -> int:
        return self.groups * self.rows * self.chain

    def kb(self, j: int) -> int:
        """Products per output of link *j* (its K range, + 1 for the bias on the last link)."""
        k0, k1 = self.chunks[j]
        return k1 - k0 + (self.bias and j == self.chain - 1)


def split_k(k: int, c: int) -> tuple[tuple[int, int], ...]:
    """[k0, k1) ranges of K for a chain of *c* links (fewer when K does not split into *c*)."""
    size = -(-k // c)
    return tuple((k0, min(k, k0 + size)) for k0 in range(0, k, size))


def tile_matmul(cfg: ArrayConfig, where: str, m: int, k: int, n: int, bias: bool, relu_in: bool,
                chain: int | None = None, pmus: int | None = None) -> MatmulTiling:
    """The fastest tiling of an [m, k] x [k, n] matmul on *cfg* (with chains of *chain* PCUs only, when
    given; on at most *pmus* PMUs, when given); MapError naming *where* and the missing resource when
    none fits."""
    L = cfg.lanes
    kp = -(-(k + bias) // L) * L
    nb = -(-n // L)
    pcus, rows = len(sites(cfg, "pcu")), cfg.rows
    pmus = len(sites(cfg, "pmu")) if pmus is None else pmus
    missing = []
    if cfg.stages < 1 + relu_in:
        missing.append(f"{1 + relu_in} PCU stages (it has {cfg.stages})")
    if cfg.counters < 2:
        missing.append(f"2 counters per chain (it has {cfg.counters})")
    if k + bias >= 2 ** 16:
        missing.append(f"an accumulator folding {k + bias} products (it folds fewer than 65536)")
    if kp > cfg.pmu_words:
        missing.append(f"a PMU of {kp} words for a row of X (K = {k}{' + 1 for the bias' if bias else ''}; "
                       f"it holds {cfg.pmu_words})")
    if missing:
        raise MapError(f"{where} does not fit {cfg.name}: it needs {'; '.join(missing)}")
    # Chains need the partial-sum stages (eq, fadd, select), a second vector input and 4 registers.
    chains = cfg.stages >= 4 + relu_in and cfg.vector_inputs >= 2 and cfg.registers >= 4
    tree = tree_links(cfg, relu_in)
    best = None
    for g in range(1, min(rows, nb) + 1):
        blocks = -(-nb // g)
        for c in range(1, (min(rows // g, k) if chains else 1) + 1):
            chunks = split_k(k, c)
            if len(chunks) != c or chain not in (None, c):
                continue
            kb_max = max(k1 - k0 for k0, k1 in chunks) + bias
            for r in range(1, min(m, pmus // c, pcus // (g * c)) + 1):
                if g * r > 2 * rows or r * kp > cfg.pmu_words:
                    continue
                double = 2 * r * kp <= cfg.pmu_words and cfg.pmu_depth >= 2
                mb = -(-m // r)
                # A link waits for its feeders' partial sums at an output's last firing only, so it runs
                # a link latency behind them (the last link C - 1 behind the first in a chain, floor(log2
                # C) in a tree); the X blocks are multicast to every link's PMU, so a lag beyond the
                # second buffer's slack would hold every link back once per X block.
                lag = reduction_depth(c, tree) * link_latency(cfg)
                coupling = max(0, lag - blocks * kb_max) * max(0, mb - 2) if double else lag * max(0, mb - 1)
                writes, firings = r * kp // L, blocks * kb_max + 3  # an X block's
                if double:  # block b + 1 is written while block b fires
                    run = writes + (mb - 1) * (max(writes, firings) + BLOCK_SWAP) + firings
                else:
                    run = mb * (writes + firings + SINGLE_TURN) + writes - SINGLE_HIDDEN
                estimate = run + simd_latency(cfg) + lag + coupling
                key = (estimate, g * r * c)
                if best is None or key < best[0]:
                    best = (key, MatmulTiling(g, r, c, chunks, kp, blocks, mb, double, min(g * r, rows), bias,
                                              estimate))
    if best is None:  # without a chain or PMU limit, g = r = c = 1 always fits once the checks above pass
        raise MapError(f"{where} does not fit {cfg.name} with chains of {chain} PCUs on {pmus} PMUs (they need "
                       f"{4 + relu_in} stages, 2 vector inputs, 4 registers, {chain} AGs and a PMU per link)")
    return best[1]


def tree_links(cfg: ArrayConfig, relu_in: bool) -> bool:
    """Whether a chain's links add their partial sums in a binary tree rather than one after the
    other: a link that adds two feeders' sums needs a stage more than a chain's (5, 6 with the input
    ReLU), a third vector input and a fifth register. Its outputs then wait floor(log2 C) link
    latencies behind the first links' last firing, not C - 1."""
    return cfg.stages >= 5 + relu_in and cfg.vector_inputs >= 3 and cfg.registers >= 5


def feeders(chain: int, j: int, tree: bool) -> tuple[int, ...]:
    """The links whose partial sums link *j* of a chain of *chain* adds: in a tree, its children in a
    heap rooted at the last link (the one with the bias, which sends the outputs); in a chain, link
    j - 1."""
    if not tree:
        return (j - 1,) if j else ()
    h = chain - 1 - j
    return tuple(chain - 1 - c for c in (2 * h + 1, 2 * h + 2) if c < chain)


def reduction_depth(chain: int, tree: bool) -> int:
    """Link latencies between a chain's first links' last firing of an output and its last link's."""
    return chain.bit_length() - 1 if tree else chain - 1


def link_program(t: MatmulTiling, j: int, relu_in: bool, partials: int) -> PcuProgram:
    """Link *j* of a chain: x (ReLU'd) times the W vector, accumulated over its K range; a link that
    takes *partials* other links' partial sums (its ``feeders``, 0 to 2) adds them (vin 1, vin 2: one vector per output each) to its last product. It makes
    ``t.blocks * t.mblocks`` outputs, one vector each."""
    x, stages = sin(0), []
    if relu_in:
        stages.append(Stage("fmax", sin(0), CONST, dst=1, const=0))
        x = reg(1)
    stages.append(Stage("fmul", vin(0), x, dst=0))
    if partials:
        # The partial sums join at the output's last firing, and their inputs are lazy: waited for and
        # read only there, so the link starts an output before its feeders have finished it. On the
        # last link of a matmul with a bias, that firing is the bias's (1.0 x b + partial sums): the
        # bias is then not the sum's last term, which the graph's bound of add(matmul, b) allows
        # (mapper/frontend/reference.py).
        stages.append(Stage("eq", ctr(0), CONST, dst=2, const=t.kb(j) - 1))
        total = 0
        for n in range(partials):
            stages.append(Stage("fadd", reg(total), vin(1 + n), dst=3 + n))
            total = 3 + n
        stages.append(Stage("select", reg(total), reg(0), reg(2), dst=0))
    inputs = list(range(1, 1 + partials))
    # Counter 0 counts the firings of an output (the last product takes the partial sums); the chain
    # of counters ends with the last output, whose done token the output link sends to the host.
    return PcuProgram(stages=stages, counters=[Counter(0, t.kb(j), 1), Counter(0, t.blocks * t.mblocks, 1)],
                      vin_required=[0] + inputs, vin_pop_level={v: 1 for v in inputs}, vin_lazy=inputs,
                      sin_required=[0], accumulate=Accumulate("fadd", init=0, src=0, fold=t.kb(j)),
                      vout=[("acc", 0)])


def x_buffer_program(t: MatmulTiling, lanes: int, r: int, j: int) -> PmuProgram:
    """The PMU of row *r* of the X blocks for link *j*: a write run takes a block (R rows of ``kp``
    words, vectors from vin 0), a read run gives row *r*'s words of the link's K range (and the bias
    column on the last link) as scalars, once per column block."""
    write = Port(stages=[AddressStage("add", ctr(0), LANE)], counters=[Counter(0, t.rows * t.kp, lanes)],
                 vin_required=[0], data=vin(0))
    read = Port(stages=[AddressStage("add", ctr(0), CONST, const=r * t.kp + t.chunks[j][0])],
                counters=[Counter(0, t.kb(j), 1), Counter(0, t.blocks, 1)], scalar=True, vout=False, sout=True)
    return PmuProgram(write=write, read=read, mode="double" if t.double else "buffer")


class MatmulPhase(Phase):
    mode = "simd"
    dram_overlap = 16  # the rows of X arrive from the host while the first weights are read (16 to 53 measured)

    def __init__(self, cfg: ArrayConfig, name: str, nodes: tuple, x: str, w: str, bias: str | None, relu_in: bool,
                 y: str, shape: tuple[int, int, int], where: str | None = None, k_range: tuple[int, int] | None = None,
                 chain: int | None = None, pmus: int | None = None):
        self.cfg, self.name, self.nodes = cfg, name, nodes
        self.where, self.k_given, self.chain_given = where, k_range, chain
        self.x, self.w, self.bias, self.relu_in, self.y = x, w, bias, relu_in, y
        self.m, self.k, self.n = shape
        self.shape = (self.m, self.n)  # of the tensor it writes
        self.k_range = k_range or (0, self.k)  # the rows of W (columns of X) this phase sums over
        self.reads = (x, w) + ((bias,) if bias else ())
        self.writes = (y,)
        self.t = t = tile_matmul(cfg, where or name, self.m, self.k, self.n, bias is not None, relu_in, chain, pmus)
        self.tree = tree_links(cfg, relu_in)
        self.ideal_cycles = math.ceil(self.m * self.n * self.k / (cfg.lanes * t.pcus))
        self.estimate_cycles = t.estimate
        self.padded_cols = t.groups * t.blocks * cfg.lanes  # Np: columns of the Y region in DRAM
        kb_max = max(t.kb(j) for j in range(t.chain))
        self.y_base = -(-t.blocks * kb_max * cfg.lanes // 1024) * 1024  # after W, 4 KB aligned

    def weight_sources(self) -> dict[str, str]:
        return {self.w: "streamed from DRAM"}

    def within(self, pmus: int) -> MatmulPhase:
        """The phase on at most *pmus* PMUs (those that resident weights leave: lowering/residency.py)."""
        return MatmulPhase(self.cfg, self.name, self.nodes, self.x, self.w, self.bias, self.relu_in, self.y,
                           (self.m, self.k, self.n), self.where, self.k_given, self.chain_given, pmus)

    # -- the netlist -------------------------------------------------------------------------------------
    def _outputs(self):
        """(output index, g, r) of every chain; outputs below ``ag_outputs`` go to AG o, the others to host
        o - A. The chain's last PCU sends them."""
        t = self.t
        return [(g * t.rows + r, g, r) for g in range(t.groups) for r in range(t.rows)]

    def _u(self, kind, *index) -> str:
        return f"{self.name}.{kind}{'_'.join(map(str, index))}"

    def netlist(self):
        t, u = self.t, self._u
        units = [Unit(u("ag", a), "ag") for a in range(max(t.groups * t.chain, t.ag_outputs))]
        units += [Unit(u("host", h), "host") for h in range(max(1, t.ag_outputs, t.groups * t.rows - t.ag_outputs))]
        units += [Unit(u("pmu", r, j), "pmu") for r in range(t.rows) for j in range(t.chain)]
        units += [Unit(u("pcu", g, r, j), "pcu") for g in range(t.groups) for r in range(t.rows) for j in range(t.chain)]
        nets = [Net(u("host", 0), tuple(u("pmu", r, j) for r in range(t.rows) for j in range(t.chain)))]
        for j in range(t.chain):
            nets += [Net(u("pmu", r, j), tuple(u("pcu", g, r, j) for g in range(t.groups))) for r in range(t.rows)]
            nets += [Net(u("ag", g * t.chain + j), tuple(u("pcu", g, r, j) for r in range(t.rows)))
                     for g in range(t.groups)]
        for o, g, r in self._outputs():
            nets += [Net(u("pcu", g, r, f), (u("pcu", g, r, j),), 2.0)
                     for j in range(t.chain) for f in feeders(t.chain, j, self.tree)]
            last = u("pcu", g, r, t.chain - 1)
            sink = u("ag", o) if o < t.ag_outputs else u("host", o - t.ag_outputs)
            nets.append(Net(last, (sink,)))
            if o < t.ag_outputs:
                nets.append(Net(last, (u("host", o),), 0.25))
        return units, nets

    def _site(self, s, kind, *index):
        return s[self._u(kind, *index)]

    # -- programs and routes -----------------------------------------------------------------------------
    def emit(self, b: ArrayBuilder, s: dict) -> None:
        t, L = self.t, self.cfg.lanes
        for r in range(t.rows):
            for j in range(t.chain):
                b.pmu(*self._site(s, "pmu", r, j), x_buffer_program(t, L, r, j))
        for a in range(max(t.groups * t.chain, t.ag_outputs)):
            b.ag(self._site(s, "ag", a)[0], AgProgram("read"))
        vector, scalar, control = [], [], []
        vector.append((("host", self._site(s, "host", 0)[0], "vsend"),
                       [("pmu", *self._site(s, "pmu", r, j), "vin", 0) for r in range(t.rows) for j in range(t.chain)]))
        for j in range(t.chain):
            for g in range(t.groups):
                vector.append((("ag", self._site(s, "ag", g * t.chain + j)[0], "rdata"),
                               [("pcu", *self._site(s, "pcu", g, r, j), "vin", 0) for r in range(t.rows)]))
            for r in range(t.rows):
                scalar.append((("pmu", *self._site(s, "pmu", r, j), "sout", 0),
                               [("pcu", *self._site(s, "pcu", g, r, j), "sin", 0) for g in range(t.groups)]))
        for o, g, r in self._outputs():
            for j in range(t.chain):
                fed_by = feeders(t.chain, j, self.tree)
                b.pcu(*self._site(s, "pcu", g, r, j), link_program(t, j, self.relu_in, len(fed_by)))
                for v, f in enumerate(fed_by):
                    vector.append((("pcu", *self._site(s, "pcu", g, r, f), "vout", 0),
                                   [("pcu", *self._site(s, "pcu", g, r, j), "vin", 1 + v)]))
            last = self._site(s, "pcu", g, r, t.chain - 1)
            if o < t.ag_outputs:
                vector.append((("pcu", *last, "vout", 0), [("ag", self._site(s, "ag", o)[0], "wdata")]))
                control.append((("pcu", *last, "ctrl_out", 0), [("host", self._site(s, "host", o)[0], "done")]))
            else:
                vector.append((("pcu", *last, "vout", 0), [("host", self._site(s, "host", o - t.ag_outputs)[0], "vrecv")]))
        for network, routes in (("vector", vector), ("scalar", scalar), ("control", control)):
            b.route_all(network, routes)

    # -- a run -------------------------------------------------------------------------------------------
    def io(self, s: dict, tensors: dict) -> PhaseIO:
        t, L = self.t, self.cfg.lanes
        xp = np.zeros((t.mblocks * t.rows, t.kp), F32)
        xp[: self.m, : self.k] = np.asarray(tensors[self.x])[:, slice(*self.k_range)]
        if self.bias:
            xp[:, self.k] = 1.0
        # [W; b] padded to [K (+1), G nbg L]
        wb = np.zeros((self.k + (self.bias is not None), self.padded_cols), F32)
        wb[: self.k, : self.n] = np.asarray(tensors[self.w])[slice(*self.k_range)]
        if self.bias:
            wb[self.k, : self.n] = tensors[self.bias]
        sources = {f"vsend__{self._site(s, 'host', 0)[0]}": pack_vectors(xp.view(U32).reshape(-1, L))}
        dram, sinks, readback = {}, {}, []
        for g in range(t.groups):
            for j, (k0, _) in enumerate(t.chunks):
                row = self._site(s, "ag", g * t.chain + j)[0]
                part = wb[k0:k0 + t.kb(j), g * t.blocks * L:(g + 1) * t.blocks * L]
                # Block i of the group: the link's rows of L words, the blocks one after the other.
                words = part.reshape(t.kb(j), t.blocks, L).transpose(1, 0, 2).copy().view(U32).ravel()
                dram[row] = {0: words}
                sources[f"ag_cmd__{row}"] = [0 | (len(words) << 32)] * t.mblocks
        for o, g, r in self._outputs():
            if o < t.ag_outputs:
                row = self._site(s, "ag", o)[0]
                sources[f"ag_wcmd__{row}"] = [
                    (self.y_base + (blk * t.rows + r) * self.padded_cols + (g * t.blocks + i) * L) | (L << 32)
                    for blk in range(t.mblocks) for i in range(t.blocks)]
                readback.append((row, self.y_base, t.mblocks * t.rows * self.padded_cols))
            else:
                sinks[f"vrecv__{self._site(s, 'host', o - t.ag_outputs)[0]}"] = t.mblocks * t.blocks
        return PhaseIO(sources, dram, sinks, readback, t.ag_outputs)

    def collect(self, s: dict, outputs: dict, readback: list) -> dict:
        t, L = self.t, self.cfg.lanes
        y = np.zeros((t.mblocks * t.rows, self.padded_cols), F32)
        for o, g, r in self._outputs():
            cols = slice(g * t.blocks * L, (g + 1) * t.blocks * L)
            if o < t.ag_outputs:
                region = np.asarray(readback[o], U32).view(F32).reshape(-1, self.padded_cols)
                y[r::t.rows, cols] = region[r::t.rows, cols]
            else:
                port = f"vrecv__{self._site(s, 'host', o - t.ag_outputs)[0]}"
                y[r::t.rows, cols] = unpack_vectors(outputs[port], L).view(F32).reshape(t.mblocks, t.blocks * L)
        return {self.y: y[: self.m, : self.n]}
