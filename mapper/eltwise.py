"""The elementwise phase: Y = relu(A) or Y = A + B (B of A's shape, or a [N] row added to every row),
for the ``relu`` and ``add`` nodes that no matmul absorbs.

Dataflow, S streams in parallel (stream s takes the rows m = s, s + S, ...)::

    AG a_s (A's rows, from DRAM) --vectors--> PCU s <--vectors-- AG b_s (B's rows; add only)
    PCU s: fmax(a, +0) or fadd(a, b) --vectors--> AG a_s wdata (Y's rows to DRAM); its counter counts
    the vectors and sends a done token to the host

S = min(M, AGs / (2 for add, 1 for relu), PCUs). Cost model: ceil(M / S) * ceil(N / L) + 32 +
4.5 (rows + cols - 6) (latency fitted to the direct harness's cycles on tiny and small).
"""

from __future__ import annotations

import numpy as np

from rdagen.rtl.ag_layout import AgProgram
from rdagen.rtl.config import ArrayConfig
from rdagen.rtl.pcu_layout import CONST, Counter, PcuProgram, Stage, vin

from .builder import ArrayBuilder
from .phase import F32, U32, MapError, Phase, PhaseIO
from .place import Net, Unit, sites

__all__ = ["EltwisePhase"]



class EltwisePhase(Phase):
    def __init__(self, cfg: ArrayConfig, name: str, nodes: tuple, op: str, a: str, b: str | None, y: str,
                 shape: tuple[int, ...], b_shape: tuple[int, ...] | None = None, where: str | None = None):
        self.cfg, self.name, self.nodes, self.op, self.a, self.b, self.y = cfg, name, nodes, op, a, b, y
        self.shape = shape
        self.m, self.n = (1, shape[0]) if len(shape) == 1 else shape
        self.broadcast = b_shape is not None and len(b_shape) == 1 and len(shape) == 2
        self.reads, self.writes = (a,) + ((b,) if b else ()), (y,)
        per = 2 if op == "add" else 1
        self.streams = min(self.m, cfg.rows // per, len(sites(cfg, "pcu")))
        if self.streams < 1:
            raise MapError(f"{where or name} does not fit {cfg.name}: an {op} needs {per} AGs")
        if op == "add" and cfg.vector_inputs < 2:
            raise MapError(f"{where or name} does not fit {cfg.name}: an add of two tensors needs 2 vector inputs "
                           f"per PCU (it has {cfg.vector_inputs})")
        L = cfg.lanes
        self.vectors = -(-self.n // L)
        self.np = self.vectors * L
        self.ideal_cycles = -(-self.m // self.streams) * self.vectors
        self.estimate_cycles = self.ideal_cycles + round(32 + 4.5 * (cfg.rows + cfg.cols - 6))

    def _rows(self, s: int) -> int:
        return len(range(s, self.m, self.streams))

    def netlist(self):
        units, nets = [], []
        for s in range(self.streams):
            p = f"{self.name}.{{}}{s}"
            units += [Unit(p.format("a"), "ag"), Unit(p.format("pcu"), "pcu"), Unit(p.format("host"), "host")]
            nets += [Net(p.format("a"), (p.format("pcu"),)), Net(p.format("pcu"), (p.format("a"),)),
                     Net(p.format("pcu"), (p.format("host"),), 0.25)]
            if self.op == "add":
                units.append(Unit(p.format("b"), "ag"))
                nets.append(Net(p.format("b"), (p.format("pcu"),)))
        return units, nets

    def emit(self, b: ArrayBuilder, s: dict) -> None:
        vector, control = [], []
        for i in range(self.streams):
            site = lambda unit: s[f"{self.name}.{unit}{i}"]
            pcu = site("pcu")
            stage = (Stage("fmax", vin(0), CONST, dst=0, const=0) if self.op == "relu"
                     else Stage("fadd", vin(0), vin(1), dst=0))
            b.pcu(*pcu, PcuProgram(stages=[stage], counters=[Counter(0, self._rows(i) * self.vectors, 1)],
                                   vin_required=[0] + ([1] if self.op == "add" else []), vout=[("reg", 0)]))
            b.ag(site("a")[0], AgProgram("read"))
            vector += [(("ag", site("a")[0], "rdata"), [("pcu", *pcu, "vin", 0)]),
                       (("pcu", *pcu, "vout", 0), [("ag", site("a")[0], "wdata")])]
            if self.op == "add":
                b.ag(site("b")[0], AgProgram("read"))
                vector.append((("ag", site("b")[0], "rdata"), [("pcu", *pcu, "vin", 1)]))
            control.append((("pcu", *pcu, "ctrl_out", 0), [("host", site("host")[0], "done")]))
        b.route_all("vector", vector)
        b.route_all("control", control)

    def _y_base(self, i: int) -> int:
        return -(-self._rows(i) * self.np // 1024) * 1024

    def _padded(self, array) -> np.ndarray:
        a = np.zeros((self.m, self.np), F32)
        a[:, : self.n] = np.asarray(array, F32).reshape(-1, self.n)
        return a

    def io(self, s: dict, tensors: dict) -> PhaseIO:
        a = self._padded(tensors[self.a])
        b = None
        if self.op == "add":
            b = self._padded(np.broadcast_to(tensors[self.b], (self.m, self.n)) if self.broadcast else tensors[self.b])
        sources, dram, readback = {}, {}, []
        for i in range(self.streams):
            words = self._rows(i) * self.np
            row = s[f"{self.name}.a{i}"][0]
            dram[row] = {0: a[i::self.streams].view(U32).ravel()}
            sources[f"ag_cmd__{row}"] = [0 | words << 32]
            sources[f"ag_wcmd__{row}"] = [self._y_base(i) | words << 32]
            readback.append((row, self._y_base(i), words))
            if b is not None:
                brow = s[f"{self.name}.b{i}"][0]
                dram[brow] = {0: b[i::self.streams].view(U32).ravel()}
                sources[f"ag_cmd__{brow}"] = [0 | words << 32]
        return PhaseIO(sources, dram, {}, readback, self.streams)

    def collect(self, s: dict, outputs: dict, readback: list) -> dict:
        y = np.zeros((self.m, self.np), F32)
        for i in range(self.streams):
            y[i::self.streams] = np.asarray(readback[i], U32).view(F32).reshape(-1, self.np)
        return {self.y: y[:, : self.n].reshape(self.shape)}
