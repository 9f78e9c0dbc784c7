"""The systolic matmul phase: one K section of Y = X @ W (+ b) on chains of PCUs in their systolic mode
(rtl/spec/systolic.py), the partial sums of the sections before it added at the head of each chain.

Dataflow (lanes L, depth D = min(stages, lanes) rows of K per PCU; G chains of C links)::

    host vsend j --X rows: words 0..D-1 = x[m, k0 + jD .. k0 + jD + D - 1]--> PCU (g, j), all g
    AG g (DRAM: the chain's weight tiles, C per column block) --W tiles--> PCU (g, j), all j;
                                                                          link j keeps tile j of every C
    AG G + g (DRAM: the partial sums so far, or the bias) --P[m, block]--> PCU (g, 0)
    PCU (g, j): p = ffma(x[m, k0 + jD + s], w[s][l], p) for s = 0..D-1 (lanes x stages multiply-adds
                per row); link j > 0 takes p from link j - 1
    PCU (g, C - 1) --Y rows of the block--> AG g wdata (DRAM)

Chain g computes the column blocks g, g + G, ... (nbg of them, the last chains' extra blocks zeros),
each for all M rows: a weight tile per link per column block, used for M firings. The X streams are
the same for every chain (multicast) and are sent once per column block. A matmul whose K needs more
than C D rows is cut into sections, one phase each; the phases of a matmul share one placement and so
one bitstream: after the first, loading them costs nothing. The partial sums cross DRAM between the
sections (the first section's are the bias, or zeros); the sum is b + the products in K order, one
rounding per product (ffma): the graph's ``add(matmul, b)`` within the same bound.

Needs 3 vector inputs (X, tiles, partial sums). Tiling: C <= host rows (an X stream each), 2 G <= AGs,
G C <= PCUs; among those that fit, the one the cost model finds fastest.

Cost model (cycles of one section; BLOCK_TURN and the constant fitted to 11 direct-harness runs on
``small``, M from 5 to 100 and 2 to 4 links: within 8 %)::

    nbg * max(M + BLOCK_TURN,     a column block: M firings per link and the turn to the next block;
              C * stages,         the weight stream (C tiles of ``stages`` vectors, one per cycle);
              (M + refill) / 2,   a weight bank's refill (two blocks per refill; refill = the bank's
                                  drain, rtl/spec/timing.py weight_drain, + stages);
              (C - 1) link / 2)   the weight stream's wait for each link in turn
  + C * link                      the chain's links start one link latency apart (link = PCU latency
                                  + LINK_ROUTE)
  + latency(cfg) - 47             DRAM, route and write-back latency: the SIMD matmul's array-size term
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from rdagen.rtl.spec.ag_layout import AgProgram
from rdagen.rtl.spec.array_layout import pack_vectors
from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.systolic import systolic_depth, systolic_program
from rdagen.rtl.spec.timing import pcu_latency, weight_drain

from rdagen.mapper.backend.builder import ArrayBuilder
from rdagen.mapper.backend.place import Net, Unit, sites
from rdagen.mapper.phases.matmul import latency
from rdagen.mapper.phases.phase import F32, U32, MapError, Phase, PhaseIO

__all__ = ["SystolicTiling", "tile_systolic", "block_cycles", "section_cycles", "SystolicMatmulPhase", "systolic_phases",
           "LINK_ROUTE", "BLOCK_TURN"]

LINK_ROUTE = 4  # cycles a partial sum spends in the route between two links
BLOCK_TURN = 9  # cycles a chain loses between two column blocks (fitted)


@dataclasses.dataclass(frozen=True)
class SystolicTiling:
    groups: int  # G chains, each its own column blocks
    chain: int  # C links, each D rows of K
    depth: int  # D
    blocks: int  # nbg: column blocks per chain
    sections: tuple[tuple[int, int], ...]  # the K range of each phase
    estimate: int  # cycles of one section

    @property
    def pcus(self) -> int:
        return self.groups * self.chain


def block_cycles(cfg: ArrayConfig, m: int, chain: int) -> int:
    """Cycles a chain spends on a column block: its M firings and the turn to the next block; or the
    weight stream (C tiles of ``stages`` vectors); or the refill of a weight bank (released, drained,
    loaded: two blocks per refill); or the stream's wait for each link in turn (the tile of link j
    loads once link j, a link latency behind link j - 1, has released its bank: C - 1 link latencies
    per two blocks)."""
    refill = weight_drain(cfg) + cfg.stages
    turn = (chain - 1) * (pcu_latency(cfg) + LINK_ROUTE)
    return max(m + BLOCK_TURN, chain * cfg.stages, -(-(m + refill) // 2), -(-turn // 2))


def section_cycles(cfg: ArrayConfig, m: int, chain: int, blocks: int) -> int:
    """The cost model of one section (the module's docstring)."""
    return blocks * block_cycles(cfg, m, chain) + chain * (pcu_latency(cfg) + LINK_ROUTE) + latency(cfg) - 47


def tile_systolic(cfg: ArrayConfig, where: str, m: int, k: int, n: int) -> SystolicTiling:
    """The fastest systolic tiling of an [m, k] x [k, n] matmul on *cfg*; MapError naming *where* and the
    missing resource when none fits."""
    if cfg.vector_inputs < 3:
        raise MapError(f"{where}: the systolic mode needs 3 PCU vector inputs (X, weight tiles, partial sums); "
                       f"{cfg.name} has {cfg.vector_inputs}")
    depth, nb = systolic_depth(cfg), -(-n // cfg.lanes)
    hosts, ags, pcus = cfg.rows, cfg.rows, len(sites(cfg, "pcu"))
    best = None
    for g in range(1, min(ags // 2, nb) + 1):
        blocks = -(-nb // g)
        for c in range(1, min(hosts, pcus // g, -(-k // depth)) + 1):
            size = c * depth
            sections = tuple((k0, min(k, k0 + size)) for k0 in range(0, k, size))
            estimate = section_cycles(cfg, m, c, blocks)
            key = (estimate * len(sections), g * c)
            if best is None or key < best[0]:
                best = (key, SystolicTiling(g, c, depth, blocks, sections, estimate))
    if best is None:
        raise MapError(f"{where}: no systolic tiling fits {cfg.name} (it needs 2 AGs and a host row per chain)")
    return best[1]


class SystolicMatmulPhase(Phase):
    """Section *section* of ``y = x @ w (+ bias)`` in the systolic mode; *psum* is the tensor of the
    sections before (None for the first, which starts from the bias or zeros)."""

    mode = "systolic"

    def __init__(self, cfg: ArrayConfig, name: str, nodes: tuple, x: str, w: str, bias: str | None, y: str,
                 shape: tuple[int, int, int], t: SystolicTiling, section: int, psum: str | None, base: str):
        self.cfg, self.name, self.nodes, self.t, self.section = cfg, name, nodes, t, section
        self.units_prefix = base
        self.placement_key = ("systolic", base, t)
        self.x, self.w, self.bias, self.y, self.psum = x, w, bias, y, psum
        self.m, self.k, self.n = shape
        self.k_range = t.sections[section]
        self.reads = (x, w) + ((psum,) if psum else ((bias,) if bias else ()))
        self.writes = (y,)
        k0, k1 = self.k_range
        self.ideal_cycles = math.ceil(self.m * self.n * (k1 - k0) / (cfg.lanes * cfg.stages * t.pcus))
        self.estimate_cycles = t.estimate
        self.padded_cols = t.groups * t.blocks * cfg.lanes
        self.tile_words = t.blocks * t.chain * cfg.stages * cfg.lanes  # a chain's weight stream

    def weight_sources(self) -> dict[str, str]:
        return {self.w: "streamed from DRAM (systolic weight tiles)"}

    def _u(self, kind, *index) -> str:
        return f"{self.units_prefix}.{kind}{'_'.join(map(str, index))}"

    def netlist(self):
        t, u = self.t, self._u
        units = [Unit(u("ag", a), "ag") for a in range(2 * t.groups)]
        units += [Unit(u("host", h), "host") for h in range(max(t.chain, t.groups))]
        units += [Unit(u("pcu", g, j), "pcu") for g in range(t.groups) for j in range(t.chain)]
        nets = [Net(u("host", j), tuple(u("pcu", g, j) for g in range(t.groups))) for j in range(t.chain)]
        for g in range(t.groups):
            nets.append(Net(u("ag", g), tuple(u("pcu", g, j) for j in range(t.chain)), 0.25))
            nets.append(Net(u("ag", t.groups + g), (u("pcu", g, 0),)))
            nets += [Net(u("pcu", g, j - 1), (u("pcu", g, j),), 2.0) for j in range(1, t.chain)]
            nets.append(Net(u("pcu", g, t.chain - 1), (u("ag", g),)))
            nets.append(Net(u("pcu", g, t.chain - 1), (u("host", g),), 0.25))
        return units, nets

    def _site(self, s, kind, *index):
        return s[self._u(kind, *index)]

    def emit(self, b: ArrayBuilder, s: dict) -> None:
        t = self.t
        for a in range(2 * t.groups):
            b.ag(self._site(s, "ag", a)[0], AgProgram("read"))
        vector, control = [], []
        for j in range(t.chain):
            vector.append((("host", self._site(s, "host", j)[0], "vsend"),
                           [("pcu", *self._site(s, "pcu", g, j), "vin", 0) for g in range(t.groups)]))
        for g in range(t.groups):
            vector.append((("ag", self._site(s, "ag", g)[0], "rdata"),
                           [("pcu", *self._site(s, "pcu", g, j), "vin", 1) for j in range(t.chain)]))
            vector.append((("ag", self._site(s, "ag", t.groups + g)[0], "rdata"),
                           [("pcu", *self._site(s, "pcu", g, 0), "vin", 2)]))
            for j in range(t.chain):
                b.pcu(*self._site(s, "pcu", g, j), systolic_program(
                    self.cfg, rows=self.m, a=0, weights=1, psum=2, tiles=t.blocks, period=t.chain, phase=j))
                if j:
                    vector.append((("pcu", *self._site(s, "pcu", g, j - 1), "vout", 0),
                                   [("pcu", *self._site(s, "pcu", g, j), "vin", 2)]))
            tail = self._site(s, "pcu", g, t.chain - 1)
            vector.append((("pcu", *tail, "vout", 0), [("ag", self._site(s, "ag", g)[0], "wdata")]))
            control.append((("pcu", *tail, "ctrl_out", 0), [("host", self._site(s, "host", g)[0], "done")]))
        for network, routes in (("vector", vector), ("control", control)):
            b.route_all(network, routes)

    def io(self, s: dict, tensors: dict) -> PhaseIO:
        t, L, S, D = self.t, self.cfg.lanes, self.cfg.stages, self.t.depth
        k0, k1 = self.k_range
        x = np.asarray(tensors[self.x], F32)[:, k0:k1]
        w = np.zeros((t.chain * D, self.padded_cols), F32)
        w[: k1 - k0, : self.n] = np.asarray(tensors[self.w], F32)[k0:k1]
        if self.psum is not None:
            psum = np.asarray(tensors[self.psum], F32)
        else:
            psum = np.broadcast_to(np.asarray(tensors[self.bias], F32) if self.bias else np.zeros(self.n, F32),
                                   (self.m, self.n))
        p = np.zeros((self.m, self.padded_cols), F32)
        p[:, : self.n] = psum
        sources, dram, readback = {}, {}, []
        for j in range(t.chain):  # link j's X rows (D words of each), once per column block
            rows = np.zeros((self.m, L), F32)
            part = x[:, j * D: (j + 1) * D]
            rows[:, : part.shape[1]] = part
            sources[f"vsend__{self._site(s, 'host', j)[0]}"] = pack_vectors(np.tile(rows, (t.blocks, 1)).view(U32))
        y_base = -(-self.tile_words // 1024) * 1024  # after the tiles on the chain's AG, 4 KB aligned
        for g in range(t.groups):
            blocks = [(g * t.blocks + i) * L for i in range(t.blocks)]  # first column of each of the chain's blocks
            tiles = np.zeros((t.blocks, t.chain, S, L), F32)
            for i, c0 in enumerate(blocks):
                tiles[i, :, :D] = w[:, c0:c0 + L].reshape(t.chain, D, L)
            sums = np.stack([p[:, c0:c0 + L] for c0 in blocks])  # [block, m, L]
            w_row, p_row = self._site(s, "ag", g)[0], self._site(s, "ag", t.groups + g)[0]
            dram[w_row] = {0: tiles.view(U32).ravel()}
            dram[p_row] = {0: sums.view(U32).ravel()}
            sources[f"ag_cmd__{w_row}"] = [0 | (self.tile_words << 32)]
            sources[f"ag_cmd__{p_row}"] = [0 | (sums.size << 32)]
            sources[f"ag_wcmd__{w_row}"] = [(y_base + i * self.m * L) | ((self.m * L) << 32) for i in range(t.blocks)]
            readback.append((w_row, y_base, t.blocks * self.m * L))
        return PhaseIO(sources, dram, {}, readback, t.groups)

    def collect(self, s: dict, outputs: dict, readback: list) -> dict:
        t, L = self.t, self.cfg.lanes
        y = np.zeros((self.m, self.padded_cols), F32)
        for g in range(t.groups):
            region = np.asarray(readback[g], U32).view(F32).reshape(t.blocks, self.m, L)
            for i in range(t.blocks):
                c0 = (g * t.blocks + i) * L
                y[:, c0:c0 + L] = region[i]
        return {self.y: y[:, : self.n]}


def systolic_phases(cfg: ArrayConfig, name: str, nodes: tuple, x: str, w: str, bias: str | None, y: str,
                    shape: tuple[int, int, int], where: str) -> list[SystolicMatmulPhase]:
    """The sections of a matmul in the systolic mode, in K order, the last writing *y*."""
    m, k, n = shape
    t = tile_systolic(cfg, where, m, k, n)
    phases, psum = [], None
    for i in range(len(t.sections)):
        out = y if i == len(t.sections) - 1 else f"{y}#p{i}"
        phases.append(SystolicMatmulPhase(cfg, f"{name}s{i}" if len(t.sections) > 1 else name, nodes, x, w, bias,
                                          out, shape, t, i, psum, name))
        psum = out
    return phases
