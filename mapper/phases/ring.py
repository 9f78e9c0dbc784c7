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

Tiling: 3 counters and 3 vector inputs per PCU; G <= AGs, host rows and PMUs; C <= host rows; G C <=
PCUs; a chain's ring (nbg M vectors) within a PMU's ``pmu_depth`` rows. Its cost against the schemes
of phases/systolic.py decides which the lowering takes (``tile_systolic``).

Cost model: ``ring_cycles`` in phases/systolic.py, beside the other schemes' it is weighed against.
"""

from __future__ import annotations

import math

import numpy as np

from rdagen.rtl.spec.ag_layout import AgProgram
from rdagen.rtl.spec.array_layout import pack_vectors, unpack_vectors
from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.pmu_layout import PmuProgram, Port
from rdagen.rtl.spec.pcu_layout import Counter, vin
from rdagen.rtl.spec.systolic import systolic_program

from rdagen.mapper.backend.builder import ArrayBuilder
from rdagen.mapper.backend.place import Net, Unit
from rdagen.mapper.phases.phase import F32, U32, Phase, PhaseIO

__all__ = ["SystolicRingPhase"]


class SystolicRingPhase(Phase):
    """``y = x @ w (+ bias)`` in the systolic mode, all its K rounds in one configuration (tiling *t*
    of ``tile_systolic``, its ``sections`` the rounds)."""

    mode = "systolic"
    partial_sums = "ring"

    def __init__(self, cfg: ArrayConfig, name: str, nodes: tuple, x: str, w: str, bias: str | None, y: str,
                 shape: tuple[int, int, int], t):
        self.cfg, self.name, self.nodes, self.t = cfg, name, nodes, t
        self.x, self.w, self.bias, self.y = x, w, bias, y
        self.m, self.k, self.n = shape
        self.rounds = len(t.sections)
        self.reads = (x, w) + ((bias,) if bias else ())
        self.writes = (y,)
        self.ideal_cycles = math.ceil(self.m * self.n * self.k / (cfg.lanes * cfg.stages * t.pcus))
        self.estimate_cycles = t.estimate
        self.padded_cols = t.groups * t.blocks * cfg.lanes
        self.tile_words = self.rounds * t.blocks * t.chain * cfg.stages * cfg.lanes  # a chain's weight stream

    def weight_sources(self) -> dict[str, str]:
        return {self.w: "streamed from DRAM (systolic weight tiles, K in rounds around a ring)"}

    def _u(self, kind, *index) -> str:
        return f"{self.name}.{kind}{'_'.join(map(str, index))}"

    def netlist(self):
        t, u = self.t, self._u
        units = [Unit(u("ag", g), "ag") for g in range(t.groups)]
        units += [Unit(u("host", h), "host") for h in range(max(t.chain, t.groups))]
        units += [Unit(u("pcu", g, j), "pcu") for g in range(t.groups) for j in range(t.chain)]
        units += [Unit(u("pmu", g), "pmu") for g in range(t.groups)]
        nets = [Net(u("host", j), tuple(u("pcu", g, j) for g in range(t.groups))) for j in range(t.chain)]
        for g in range(t.groups):
            head, tail = u("pcu", g, 0), u("pcu", g, t.chain - 1)
            nets.append(Net(u("ag", g), tuple(u("pcu", g, j) for j in range(t.chain)), 0.25))
            nets += [Net(u("pcu", g, j - 1), (u("pcu", g, j),), 2.0) for j in range(1, t.chain)]
            nets += [Net(u("pmu", g), (head,), 2.0), Net(tail, (u("pmu", g), u("host", g)), 2.0)]
        return units, nets

    def _site(self, s, kind, *index):
        return s[self._u(kind, *index)]

    def emit(self, b: ArrayBuilder, s: dict) -> None:
        t, site = self.t, lambda kind, *i: self._site(s, kind, *i)
        ring = t.blocks * self.m
        vector, control = [], []
        for j in range(t.chain):
            vector.append((("host", site("host", j)[0], "vsend"), [("pcu", *site("pcu", g, j), "vin", 0)
                                                                     for g in range(t.groups)]))
        for g in range(t.groups):
            head, tail, fifo = site("pcu", g, 0), site("pcu", g, t.chain - 1), site("pmu", g)
            b.ag(site("ag", g)[0], AgProgram("read"))
            # The read port's run is the head's: R nbg M vectors, begun by a start token from the host, so
            # the last round's sums stay in the FIFO (the next run's first round) and not in the route.
            reads = Port(counters=[Counter(0, self.rounds * ring, 1)], wait_start=True)
            b.pmu(*fifo, PmuProgram(write=Port(vin_required=[0], data=vin(0)), read=reads, mode="fifo",
                                    fifo_fill=ring))
            control.append((("host", site("host", g)[0], "csend"), [("pmu", *fifo, "ctrl_in", 0)]))
            vector.append((("ag", site("ag", g)[0], "rdata"), [("pcu", *site("pcu", g, j), "vin", 1)
                                                               for j in range(t.chain)]))
            vector.append((("pmu", *fifo, "vout", 0), [("pcu", *head, "vin", 2)]))
            for j in range(t.chain):
                b.pcu(*site("pcu", g, j), systolic_program(self.cfg, rows=self.m, a=0, weights=1, psum=2,
                                                           tiles=t.blocks, rounds=self.rounds, period=t.chain,
                                                           phase=j, zero_first=j == 0))
                if j:
                    vector.append((("pcu", *site("pcu", g, j - 1), "vout", 0), [("pcu", *site("pcu", g, j), "vin", 2)]))
            vector.append((("pcu", *tail, "vout", 0), [("pmu", *fifo, "vin", 0), ("host", site("host", g)[0], "vrecv")]))
            control.append((("pcu", *tail, "ctrl_out", 0), [("host", site("host", g)[0], "done")]))
        for network, routes in (("vector", vector), ("control", control)):
            b.route_all(network, routes)

    def io(self, s: dict, tensors: dict) -> PhaseIO:
        t, L, S, D = self.t, self.cfg.lanes, self.cfg.stages, self.t.depth
        x, w = np.asarray(tensors[self.x], F32), np.asarray(tensors[self.w], F32)
        if self.bias:  # the bias as the last product: 1.0 x b
            x = np.concatenate([x, np.ones((self.m, 1), F32)], axis=1)
            w = np.concatenate([w, np.asarray(tensors[self.bias], F32)[None, :]])
        rows = self.rounds * t.chain * D
        xk = np.zeros((self.m, rows), F32)
        xk[:, : x.shape[1]] = x
        wk = np.zeros((rows, self.padded_cols), F32)
        wk[: w.shape[0], : self.n] = w
        sources, dram, sinks = {}, {}, {}
        for j in range(t.chain):  # link j's X rows: D words each, per round and column block
            stream = np.zeros((self.rounds, t.blocks, self.m, L), F32)
            for r in range(self.rounds):
                stream[r, :, :, :D] = xk[:, (r * t.chain + j) * D:(r * t.chain + j + 1) * D]
            sources[f"vsend__{self._site(s, 'host', j)[0]}"] = pack_vectors(stream.reshape(-1, L).view(U32))
        for g in range(t.groups):
            tiles = np.zeros((self.rounds, t.blocks, t.chain, S, L), F32)
            for i in range(t.blocks):
                c0 = (g * t.blocks + i) * L
                tiles[:, i, :, :D] = wk[:, c0:c0 + L].reshape(self.rounds, t.chain, D, L)
            row = self._site(s, "ag", g)[0]
            dram[row] = {0: tiles.view(U32).ravel()}
            sources[f"ag_cmd__{row}"] = [0 | (self.tile_words << 32)]
            sinks[f"vrecv__{self._site(s, 'host', g)[0]}"] = self.rounds * t.blocks * self.m
            sources[f"csend__{self._site(s, 'host', g)[0]}"] = [1]  # the FIFO's read run begins
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
