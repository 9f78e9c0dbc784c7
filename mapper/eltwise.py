"""Elementwise phases: an expression (mapper/expression.py: relu, add, sigmoid, ...) over tensors of
one shape ([N] operands are added to every row), for the nodes that no matmul absorbs. An expression
longer than a PCU's stages, or reading more tensors than its vector inputs, is split into pieces, one
phase each, the values between them kept in DRAM like any tensor (``eltwise_phases``).

Dataflow of one piece, S streams in parallel (stream s takes the rows m = s, s + S, ...)::

    AG k_s (operand k's rows, from DRAM) --vectors--> PCU s vector input k   (k < operands)
    PCU s: the piece's steps, one per stage --vectors--> AG 0_s wdata (the result's rows to DRAM);
    its counter counts the vectors and sends a done token to the host

S = min(M, AGs / operands, PCUs). Cost model: ceil(M / S) * ceil(N / L) + 32 + 4.5 (rows + cols - 6)
(latency fitted to the direct harness's cycles on tiny and small).
"""

from __future__ import annotations

import numpy as np

from rdagen.rtl.ag_layout import AgProgram
from rdagen.rtl.config import ArrayConfig
from rdagen.rtl.pcu_layout import CONST, Counter, PcuProgram, Stage, reg, vin

from .builder import ArrayBuilder
from .expression import Const, ExpressionError, Piece, Program, split
from .phase import F32, U32, MapError, Phase, PhaseIO
from .place import Net, Unit, sites

__all__ = ["EltwisePhase", "eltwise_phases"]


def _stages(program: Program, piece: Piece) -> list[Stage]:
    """The PCU stages of *piece*: step j writes register j; vector input k carries ``piece.reads[k]``."""
    n, stages = program.inputs, []
    for j, number in enumerate(piece.steps):
        step, operands, const = program.steps[number], [], 0
        for a in step.args:
            if isinstance(a, Const):
                operands.append(CONST)
                const = a.word
            elif a in piece.reads:
                operands.append(vin(piece.reads.index(a)))
            else:
                operands.append(reg(piece.steps.index(a - n)))
        stages.append(Stage(step.op, *operands, dst=j, const=const))
    return stages


def eltwise_phases(cfg: ArrayConfig, name: str, nodes: tuple, program: Program, reads: tuple[str, ...], y: str,
                   shapes: tuple[tuple[int, ...], ...], shape: tuple[int, ...], where: str) -> list["EltwisePhase"]:
    """The phases computing *program* over the tensors *reads* (of *shapes*; an [N] operand of an
    [M, N] result is added to every row) into *y* of *shape*; pieces after the first are named
    ``<name>p<i>`` and their intermediate tensors ``<y>#e<value>``."""
    try:
        pieces = split(program, min(cfg.stages, cfg.registers), cfg.vector_inputs)
    except ExpressionError as exc:
        raise MapError(f"{where} does not fit {cfg.name}: {exc}") from None
    tensor = {v: (reads[v], shapes[v]) for v in range(program.inputs)}
    phases = []
    for i, piece in enumerate(pieces):
        last = i == len(pieces) - 1
        out = y if last else f"{y}#e{piece.value}"
        phases.append(EltwisePhase(cfg, name if last and i == 0 else f"{name}p{i}", nodes, _stages(program, piece),
                                   tuple(tensor[v][0] for v in piece.reads), tuple(tensor[v][1] for v in piece.reads),
                                   out, shape, where))
        tensor[piece.value] = (out, shape)
    return phases


class EltwisePhase(Phase):
    def __init__(self, cfg: ArrayConfig, name: str, nodes: tuple, stages: list[Stage], reads: tuple[str, ...],
                 shapes: tuple[tuple[int, ...], ...], y: str, shape: tuple[int, ...], where: str | None = None):
        self.cfg, self.name, self.nodes, self.stages, self.y = cfg, name, nodes, stages, y
        self.shape = shape
        self.m, self.n = (1, shape[0]) if len(shape) == 1 else shape
        self.broadcast = tuple(len(s) == 1 and len(shape) == 2 for s in shapes)
        self.reads, self.writes = reads, (y,)
        per = len(reads)
        self.streams = min(self.m, cfg.rows // per, len(sites(cfg, "pcu")))
        if self.streams < 1:
            raise MapError(f"{where or name} does not fit {cfg.name}: it reads {per} tensors, one AG each, and "
                           f"the array has {cfg.rows} AGs")
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
            ags = [p.format(f"ag{k}_") for k in range(len(self.reads))]
            units += [Unit(a, "ag") for a in ags] + [Unit(p.format("pcu"), "pcu"), Unit(p.format("host"), "host")]
            nets += [Net(a, (p.format("pcu"),)) for a in ags] + [
                Net(p.format("pcu"), (ags[0],)), Net(p.format("pcu"), (p.format("host"),), 0.25)]
        return units, nets

    def emit(self, b: ArrayBuilder, s: dict) -> None:
        vector, control = [], []
        for i in range(self.streams):
            site = lambda unit: s[f"{self.name}.{unit}{i}"]
            pcu = site("pcu")
            b.pcu(*pcu, PcuProgram(stages=self.stages, counters=[Counter(0, self._rows(i) * self.vectors, 1)],
                                   vin_required=list(range(len(self.reads))), vout=[("reg", len(self.stages) - 1)]))
            for k in range(len(self.reads)):
                b.ag(site(f"ag{k}_")[0], AgProgram("read"))
                vector.append((("ag", site(f"ag{k}_")[0], "rdata"), [("pcu", *pcu, "vin", k)]))
            vector.append((("pcu", *pcu, "vout", 0), [("ag", site("ag0_")[0], "wdata")]))
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
        operands = [self._padded(np.broadcast_to(tensors[t], (self.m, self.n)) if bc else tensors[t])
                    for t, bc in zip(self.reads, self.broadcast)]
        sources, dram, readback = {}, {}, []
        for i in range(self.streams):
            words = self._rows(i) * self.np
            for k, a in enumerate(operands):
                row = s[f"{self.name}.ag{k}_{i}"][0]
                dram[row] = {0: a[i::self.streams].view(U32).ravel()}
                sources[f"ag_cmd__{row}"] = [0 | words << 32]
            row = s[f"{self.name}.ag0_{i}"][0]
            sources[f"ag_wcmd__{row}"] = [self._y_base(i) | words << 32]
            readback.append((row, self._y_base(i), words))
        return PhaseIO(sources, dram, {}, readback, self.streams)

    def collect(self, s: dict, outputs: dict, readback: list) -> dict:
        y = np.zeros((self.m, self.np), F32)
        for i in range(self.streams):
            y[i::self.streams] = np.asarray(readback[i], U32).view(F32).reshape(-1, self.np)
        return {self.y: y[:, : self.n].reshape(self.shape)}
