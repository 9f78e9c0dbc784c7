"""The matmul phase: Y = relu?(X) @ W (+ b), X [M, K] and W [K, N] fp32, spread over G x R PCUs.

Dataflow (lanes L; blocks of L output columns; Kb = K + 1 with a bias, else K)::

    host vsend --X block (R rows, a 1.0 in column K with a bias)--> PMU r (r < R), multicast
    PMU r (scalar reads: x[m_r, 0..Kb) once per column block of the group) --x scalar--> PCU (g, r), all g
    AG g (DRAM: the group's column blocks of [W; b], Kb vectors each) --W vector--> PCU (g, r), all r
    PCU (g, r): [relu(x)], x * W row (fmul, lane-parallel), accumulator over Kb firings
                --Y[m_r, block] vector--> AG wdata (DRAM) or host vrecv

PCU (g, r) computes rows m = blk R + r of the group's column blocks. One firing is L multiply-adds; a
PCU fires once per cycle when its W vector (one AG beat) and x word (one PMU read) are there, so the
phase runs at M N K / (L G R) cycles plus the refills and the pipeline latency. The bias enters as
the last product of the sum (1.0 x b, exact), so the result is the graph's ``add(matmul, b)``: the sum
of the products in order, then + b, each rounded (the graph's bound holds). ReLU of the input (a
``relu`` whose result only feeds matmuls) is an ``fmax(x, 0)`` stage.

Tiling from the ArrayConfig: G <= AGs (W streams) and column blocks, R <= PMUs and M, G R <= PCUs,
the outputs G R <= AG write ports + host output ports, an X block R * ceil(Kb / L) * L words per PMU
(double-buffered when it fits in half). Among the tilings that fit, the one the cost model finds
fastest (fewest PCUs on a tie).

Cost model (cycles, without the reconfiguration the program adds)::

    MB * (nbg * Kb + 3)       firings of every PCU (MB = ceil(M / R) X blocks, nbg blocks per group),
                              and a few cycles to turn to the next X block
  + MB * R * Kp / L           X block writes, when single-buffered (the reads wait for them)
  + R * Kp / L                the first X block
  + 37 + 10 (rows + cols - 6) DRAM, pipeline, route and write-back latency
The constants are fitted to the direct harness's cycles of 40 matmul phases on tiny and small
(random graphs and GEMMs; bench/mapper.py measures the model against the RTL).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from rdagen.rtl.ag_layout import AgProgram
from rdagen.rtl.array_layout import pack_vectors, unpack_vectors
from rdagen.rtl.config import ArrayConfig
from rdagen.rtl.pcu_layout import CONST, LANE, Accumulate, Counter, PcuProgram, Stage, ctr, reg, sin, vin
from rdagen.rtl.pmu_layout import AddressStage, PmuProgram, Port

from .builder import ArrayBuilder
from .phase import F32, U32, MapError, Phase, PhaseIO
from .place import Net, Unit, sites

__all__ = ["MatmulTiling", "tile_matmul", "MatmulPhase"]



def latency(cfg: ArrayConfig) -> int:
    return 37 + 10 * (cfg.rows + cfg.cols - 6)

ONE = int(np.float32(1.0).view(U32))


@dataclasses.dataclass(frozen=True)
class MatmulTiling:
    groups: int  # G: AG streams of W column blocks
    rows: int  # R: rows of X per block, one PMU each
    kb: int  # products per output (K, + 1 with a bias)
    kp: int  # a row of X in a PMU, padded to whole vectors
    blocks: int  # nbg: column blocks per group
    mblocks: int  # MB: X blocks
    double: bool  # X blocks double-buffered
    ag_outputs: int  # outputs written to DRAM (the rest go to host output ports)
    estimate: int

    @property
    def pcus(self) -> int:
        return self.groups * self.rows


def tile_matmul(cfg: ArrayConfig, where: str, m: int, k: int, n: int, bias: bool, relu_in: bool) -> MatmulTiling:
    """The fastest tiling of an [m, k] x [k, n] matmul on *cfg*; MapError naming *where* and the
    missing resource when none fits."""
    L = cfg.lanes
    kb = k + bias
    kp = -(-kb // L) * L
    nb = -(-n // L)
    pcus, pmus, rows = len(sites(cfg, "pcu")), len(sites(cfg, "pmu")), cfg.rows
    missing = []
    if cfg.stages < 1 + relu_in:
        missing.append(f"{1 + relu_in} PCU stages (it has {cfg.stages})")
    if cfg.counters < 2:
        missing.append(f"2 counters per chain (it has {cfg.counters})")
    if kb >= 2 ** 16:
        missing.append(f"an accumulator folding {kb} products (it folds fewer than 65536)")
    if kp > cfg.pmu_words:
        missing.append(f"a PMU of {kp} words for a row of X (K = {k}{' + 1 for the bias' if bias else ''}; "
                       f"it holds {cfg.pmu_words})")
    if missing:
        raise MapError(f"{where} does not fit {cfg.name}: it needs {'; '.join(missing)}")
    best = None
    for g in range(1, min(rows, nb) + 1):
        blocks = -(-nb // g)
        for r in range(1, min(m, pmus, pcus // g) + 1):
            if g * r > 2 * rows or r * kp > cfg.pmu_words:
                continue
            double = 2 * r * kp <= cfg.pmu_words and cfg.pmu_depth >= 2
            mb = -(-m // r)
            estimate = mb * (blocks * kb + 3) + (0 if double else mb * r * kp // L) + r * kp // L + latency(cfg)
            key = (estimate, g * r)
            if best is None or key < best[0]:
                best = (key, MatmulTiling(g, r, kb, kp, blocks, mb, double, min(g * r, rows), estimate))
    assert best is not None  # g = r = 1 always fits once the checks above pass
    return best[1]


class MatmulPhase(Phase):
    def __init__(self, cfg: ArrayConfig, name: str, nodes: tuple, x: str, w: str, bias: str | None, relu_in: bool,
                 y: str, shape: tuple[int, int, int], where: str | None = None, k_range: tuple[int, int] | None = None):
        self.cfg, self.name, self.nodes = cfg, name, nodes
        self.x, self.w, self.bias, self.relu_in, self.y = x, w, bias, relu_in, y
        self.m, self.k, self.n = shape
        self.k_range = k_range or (0, self.k)  # the rows of W (columns of X) this phase sums over
        self.reads = (x, w) + ((bias,) if bias else ())
        self.writes = (y,)
        self.t = tile_matmul(cfg, where or name, self.m, self.k, self.n, bias is not None, relu_in)
        self.ideal_cycles = math.ceil(self.m * self.n * self.k / (cfg.lanes * self.t.pcus))
        self.estimate_cycles = self.t.estimate
        t = self.t
        self.padded_cols = t.groups * t.blocks * cfg.lanes  # Np: columns of the Y region in DRAM
        self.y_base = -(-t.blocks * t.kb * cfg.lanes // 1024) * 1024  # after W, 4 KB aligned

    # -- the netlist -------------------------------------------------------------------------------------
    def _outputs(self):
        """(output index, g, r) of every PCU; outputs below ``ag_outputs`` go to AG o, the others to host o - A."""
        t = self.t
        return [(g * t.rows + r, g, r) for g in range(t.groups) for r in range(t.rows)]

    def netlist(self):
        t = self.t
        units = [Unit(f"{self.name}.ag{a}", "ag") for a in range(t.ag_outputs)]
        hosts = max(1, t.ag_outputs, t.pcus - t.ag_outputs)
        units += [Unit(f"{self.name}.host{h}", "host") for h in range(hosts)]
        units += [Unit(f"{self.name}.pmu{r}", "pmu") for r in range(t.rows)]
        units += [Unit(f"{self.name}.pcu{g}_{r}", "pcu") for g in range(t.groups) for r in range(t.rows)]
        u = lambda kind, *i: f"{self.name}.{kind}{'_'.join(map(str, i))}"
        nets = [Net(u("host", 0), tuple(u("pmu", r) for r in range(t.rows)))]
        nets += [Net(u("pmu", r), tuple(u("pcu", g, r) for g in range(t.groups))) for r in range(t.rows)]
        nets += [Net(u("ag", g), tuple(u("pcu", g, r) for r in range(t.rows))) for g in range(t.groups)]
        for o, g, r in self._outputs():
            sink = u("ag", o) if o < t.ag_outputs else u("host", o - t.ag_outputs)
            nets.append(Net(u("pcu", g, r), (sink,)))
            if o < t.ag_outputs:
                nets.append(Net(u("pcu", g, r), (u("host", o),), 0.25))
        return units, nets

    def _site(self, s, kind, *index):
        return s[f"{self.name}.{kind}{'_'.join(map(str, index))}"]

    # -- programs and routes -----------------------------------------------------------------------------
    def emit(self, b: ArrayBuilder, s: dict) -> None:
        t, L = self.t, self.cfg.lanes
        for r in range(t.rows):
            write = Port(stages=[AddressStage("add", ctr(0), LANE)], counters=[Counter(0, t.rows * t.kp, L)],
                         vin_required=[0], data=vin(0))
            # Row r of the block, once per column block of the group.
            read = Port(stages=[AddressStage("add", ctr(0), CONST, const=r * t.kp)],
                        counters=[Counter(0, t.kb, 1), Counter(0, t.blocks, 1)], scalar=True, vout=False, sout=True)
            b.pmu(*self._site(s, "pmu", r), PmuProgram(write=write, read=read, mode="double" if t.double else "buffer"))
        for a in range(t.ag_outputs):
            b.ag(self._site(s, "ag", a)[0], AgProgram("read"))
        x = sin(0)
        stages = []
        if self.relu_in:
            stages.append(Stage("fmax", sin(0), CONST, dst=1, const=0))
            x = reg(1)
        stages.append(Stage("fmul", vin(0), x, dst=0))
        vector, scalar, control = [], [], []
        vector.append((("host", self._site(s, "host", 0)[0], "vsend"),
                       [("pmu", *self._site(s, "pmu", r), "vin", 0) for r in range(t.rows)]))
        for g in range(t.groups):
            vector.append((("ag", self._site(s, "ag", g)[0], "rdata"),
                           [("pcu", *self._site(s, "pcu", g, r), "vin", 0) for r in range(t.rows)]))
        for r in range(t.rows):
            scalar.append((("pmu", *self._site(s, "pmu", r), "sout", 0),
                           [("pcu", *self._site(s, "pcu", g, r), "sin", 0) for g in range(t.groups)]))
        for o, g, r in self._outputs():
            pcu = self._site(s, "pcu", g, r)
            writes = o < t.ag_outputs
            # With a DRAM output, the counters count the outputs and the last one sends the done token.
            counters = [Counter(0, t.kb, 1), Counter(0, t.blocks * t.mblocks, 1)] if writes else []
            b.pcu(*pcu, PcuProgram(stages=stages, counters=counters, vin_required=[0], sin_required=[0],
                                   accumulate=Accumulate("fadd", init=0, src=0, fold=t.kb), vout=[("acc", 0)]))
            if writes:
                vector.append((("pcu", *pcu, "vout", 0), [("ag", self._site(s, "ag", o)[0], "wdata")]))
                control.append((("pcu", *pcu, "ctrl_out", 0), [("host", self._site(s, "host", o)[0], "done")]))
            else:
                vector.append((("pcu", *pcu, "vout", 0),
                               [("host", self._site(s, "host", o - t.ag_outputs)[0], "vrecv")]))
        for network, routes in (("vector", vector), ("scalar", scalar), ("control", control)):
            if routes:
                b.route_all(network, routes)

    # -- a run -------------------------------------------------------------------------------------------
    def _w_blocks(self, tensors) -> np.ndarray:
        """[W; b] padded to [Kb, G nbg L]."""
        t = self.t
        wb = np.zeros((t.kb, self.padded_cols), F32)
        wb[: self.k, : self.n] = np.asarray(tensors[self.w])[slice(*self.k_range)]
        if self.bias:
            wb[self.k, : self.n] = tensors[self.bias]
        return wb

    def io(self, s: dict, tensors: dict) -> PhaseIO:
        t, L = self.t, self.cfg.lanes
        xp = np.zeros((t.mblocks * t.rows, t.kp), F32)
        xp[: self.m, : self.k] = np.asarray(tensors[self.x])[:, slice(*self.k_range)]
        if self.bias:
            xp[:, self.k] = 1.0
        wb = self._w_blocks(tensors)
        sources = {f"vsend__{self._site(s, 'host', 0)[0]}": pack_vectors(xp.view(U32).reshape(-1, L))}
        dram, sinks, readback = {}, {}, []
        for g in range(t.groups):
            row = self._site(s, "ag", g)[0]
            cols = wb[:, g * t.blocks * L:(g + 1) * t.blocks * L]
            # Block j of the group: its Kb rows of L words, the blocks one after the other.
            words = cols.reshape(t.kb, t.blocks, L).transpose(1, 0, 2).copy().view(U32).ravel()
            dram[row] = {0: words}
            sources[f"ag_cmd__{row}"] = [0 | (len(words) << 32)] * t.mblocks
        for o, g, r in self._outputs():
            if o < t.ag_outputs:
                row = self._site(s, "ag", o)[0]
                sources[f"ag_wcmd__{row}"] = [
                    (self.y_base + (blk * t.rows + r) * self.padded_cols + (g * t.blocks + j) * L) | (L << 32)
                    for blk in range(t.mblocks) for j in range(t.blocks)]
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
