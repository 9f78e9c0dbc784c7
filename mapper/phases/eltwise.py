"""Elementwise phases: an expression (rtl/spec/expression.py: relu, add, sigmoid, ...) over tensors of
one shape ([N] operands are added to every row), for the nodes that no matmul absorbs. An expression
longer than a PCU's stages, or reading more tensors than its vector inputs, is split into pieces, one
PCU each; a phase chains as many pieces as the array holds, PCU to PCU over the vector network, and
the values between phases stay in DRAM like any tensor (``eltwise_phases``).

Dataflow of a phase, S streams in parallel (stream s takes the rows m = s, s + S, ...)::

    AG k_s (the phase's k-th tensor, from DRAM) --vectors--> every chain PCU that reads it (multicast)
    chain PCU c_s: its piece's steps, one per stage --vectors--> the later chain PCUs that read it;
    the last PCU --vectors--> AG 0_s wdata (the result's rows to DRAM); its counter counts the vectors
    and sends a done token to the host

A phase ends at a piece whose value is the only one of the phase read later, within the PCUs and
the AGs (one per tensor read). S = min(M, AGs / tensors read, PCUs / chain length).

Cost model: ``stream_latency`` + path + 1 + (ceil(M / S) ceil(N / L) - 1) x interval, where
``stream_latency`` is 32 + 4.5 (rows + cols - 6), less ``BEYOND_MEDIUM`` = 1.5 per row or column beyond
medium's 12 (fitted up to medium; on plasticine's 16 x 8 the linear term overshot a 16-stream ReLU by 23
cycles, +11.9 %, and the 4-PCU sigmoid of the same run matched: the correction halves the two errors'
spread, +2.6 % and -4.8 %; the interaction phase, whose plasticine run the linear term underestimates,
keeps it, mapper/phases/interaction.py).

Placed (``memory_estimate`` with the routes), path + 1 + (...) x interval is the span of the slowest
stream from its units' queues on its placed routes (mapper/phases/chain_timing.py): a multicast to
PCUs at different depths waits for the deeper one's branch to have room, so a chain's pace depends on
its routes' lengths (placements of one sigmoid piece on small ran 927 to 1,387 cycles). On 381 runs
(sigmoids and sums of 1 to 64 rows on tiny, small and medium, 3 to 6 placements each, chains of 1 to
6 PCUs) the placed model is within 1.8 % of the direct harness's cycles (the unplaced one: -20.0 %
to +25.5 %). A chain whose pace its routes set is placed ``CHAIN_PLACEMENTS`` times and the fastest
placement by this model kept (mapper/phases/phase.py ``place_and_route_group``). Before placement
(the lowering's choices), the path is the chain's longest dependency path after its first PCU, each
PCU on it 8 cycles and 5 per stage of its piece, and the interval 1 cycle, or, when a source feeds
chain PCUs at depths d0 < d1 of the dependency graph (a PCU reading only tensors has depth 0, the
others one more than the deepest PCU they read), (d1 - d0) (8 + 5 stages) / (2 fifo_depth): the
words the deeper consumer's FIFO holds while the chain between them computes.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from rdagen.rtl.spec.ag_layout import AgProgram
from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.memory import Memory
from rdagen.rtl.spec.pcu_layout import CONST, Counter, PcuProgram, Stage, reg, vin

from rdagen.mapper.backend.builder import ArrayBuilder
from rdagen.rtl.spec.expression import Const, ExpressionError, Piece, Program, split
from rdagen.mapper.phases.chain_timing import ChainUnit, chain_span
from rdagen.mapper.phases.dram import DramTraffic, memory_cycles
from rdagen.mapper.phases.phase import F32, U32, MapError, Phase, PhaseIO
from rdagen.mapper.backend.place import Net, Unit, sites

__all__ = ["ChainPcu", "EltwisePhase", "eltwise_phases", "epilogue_chain", "chain_path", "chain_interval",
           "stream_latency"]

CHAIN_PLACEMENTS = 4  # placements tried for a chain whose routes set its pace (the fastest kept)
BEYOND_MEDIUM = 1.5  # cycles per row or column beyond 12 the elementwise phase's latency does not grow by


def stream_latency(cfg: ArrayConfig) -> float:
    """The AG read, first PCU and AG write-back of a phase streaming rows from DRAM and back, growing
    with the routes (fitted on tiny, small and medium: the elementwise and interaction phases)."""
    return 32 + 4.5 * (cfg.rows + cfg.cols - 6)


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


@dataclasses.dataclass(frozen=True)
class ChainPcu:
    """One PCU of a phase's chain: its stages, and per vector input where it comes from: ("tensor", k)
    (the phase's k-th DRAM tensor) or ("pcu", p) (the output of the chain's PCU p < this one)."""
    stages: tuple[Stage, ...]
    inputs: tuple[tuple[str, int], ...]


def _group_end(pieces: list[Piece], start: int, pcus: int, ags: int) -> int:
    """The last piece of the phase that starts at piece *start*: the longest run that fits *pcus* PCUs
    and *ags* tensors read and leaves only its last value for the later pieces."""
    best, produced, outside = start, set(), set()
    for end in range(start, min(len(pieces), start + pcus)):
        outside |= {v for v in pieces[end].reads if v not in produced}
        produced.add(pieces[end].value)
        if len(outside) > ags:
            break
        later = {v for p in pieces[end + 1:] for v in p.reads}
        if not (produced - {pieces[end].value}) & later:
            best = end
    return best


def epilogue_chain(cfg: ArrayConfig, program: Program, pcus: int) -> tuple[ChainPcu, ...] | None:
    """The chain of PCUs computing the one-input *program* whole, its input ("tensor", 0), in at most
    *pcus* PCUs (None when it needs more or reads more than one tensor): what an MLP phase appends to
    its last layer (mapper/phases/mlp.py), the ReLU after a bottom MLP (one PCU) or the sigmoid after a
    top MLP (a chain)."""
    try:
        pieces = split(program, min(cfg.stages, cfg.registers), cfg.vector_inputs)
    except ExpressionError:
        return None
    if program.inputs != 1 or len(pieces) > pcus:
        return None
    local = {p.value: c for c, p in enumerate(pieces)}
    return tuple(ChainPcu(tuple(_stages(program, p)), tuple(("pcu", local[v]) if v in local else ("tensor", 0)
                                                            for v in p.reads)) for p in pieces)


def eltwise_phases(cfg: ArrayConfig, name: str, nodes: tuple, program: Program, reads: tuple[str, ...], y: str,
                   shapes: tuple[tuple[int, ...], ...], shape: tuple[int, ...], where: str) -> list["EltwisePhase"]:
    """The phases computing *program* over the tensors *reads* (of *shapes*; an [N] operand of an
    [M, N] result is added to every row) into *y* of *shape*: the program's pieces chained PCU to PCU
    within a phase, as many as the array holds (module docstring); phases after the first are named
    ``<name>p<i>`` and the tensors between them ``<y>#e<value>``."""
    try:
        pieces = split(program, min(cfg.stages, cfg.registers), cfg.vector_inputs)
    except ExpressionError as exc:
        raise MapError(f"{where} does not fit {cfg.name}: {exc}") from None
    tensor = {v: (reads[v], shapes[v]) for v in range(program.inputs)}
    phases, start = [], 0
    while start < len(pieces):
        end = _group_end(pieces, start, len(sites(cfg, "pcu")), cfg.rows)
        group = pieces[start:end + 1]
        local = {p.value: i for i, p in enumerate(group)}
        outside = list(dict.fromkeys(v for p in group for v in p.reads if v not in local))
        chain = [ChainPcu(tuple(_stages(program, p)),
                          tuple(("pcu", local[v]) if v in local else ("tensor", outside.index(v)) for v in p.reads))
                 for p in group]
        out = y if end == len(pieces) - 1 else f"{y}#e{group[-1].value}"
        phases.append(EltwisePhase(cfg, name if not phases and end == len(pieces) - 1 else f"{name}p{len(phases)}",
                                   nodes, chain, tuple(tensor[v][0] for v in outside),
                                   tuple(tensor[v][1] for v in outside), out, shape, where))
        tensor[group[-1].value] = (out, shape)
        start = end + 1
    return phases


def _depths(chain: list[ChainPcu]) -> list[int]:
    """Each chain PCU's depth in the dependency graph: 0 when it reads tensors only, else one more than
    the deepest PCU it reads."""
    depth = []
    for pcu in chain:
        depth.append(max((depth[k] + 1 for kind, k in pcu.inputs if kind == "pcu"), default=0))
    return depth


def chain_path(chain) -> int:
    """The latency of the chain's longest dependency path after its first PCU: each PCU on it 8 cycles
    and 5 per stage of its piece (fitted on tiny and small); a PCU waits for the latest PCU it reads."""
    done = []
    for pcu in chain:
        before = [done[k] for kind, k in pcu.inputs if kind == "pcu"]
        done.append(max(before) + 8 + 5 * len(pcu.stages) if before else 0)
    return max(done)


def chain_interval(cfg: ArrayConfig, chain) -> float:
    """Cycles between two vectors through the chain. A source multicast to PCUs at depths d0 < d1 of the
    chain's dependency graph sends a word only when every one has room, so the words between them (the
    chain's latency over d1 - d0 PCUs) share the input FIFOs: one vector every latency / (2 fifo_depth)
    cycles (fitted on tiny and small, like the latencies)."""
    per_pcu = 8 + 5 * cfg.stages
    depth = _depths(chain)
    consumers = {}
    for c, pcu in enumerate(chain):
        for source in pcu.inputs:
            consumers.setdefault(source, []).append(depth[c])
    span = max(max(ds) - min(ds) for ds in consumers.values())
    return max(1.0, span * per_pcu / (2 * cfg.fifo_depth))


class EltwisePhase(Phase):
    def __init__(self, cfg: ArrayConfig, name: str, nodes: tuple, chain: list[ChainPcu], reads: tuple[str, ...],
                 shapes: tuple[tuple[int, ...], ...], y: str, shape: tuple[int, ...], where: str | None = None):
        self.cfg, self.name, self.nodes, self.chain, self.y = cfg, name, nodes, chain, y
        self.shape = shape
        self.m, self.n = (1, shape[0]) if len(shape) == 1 else shape
        self.broadcast = tuple(len(s) == 1 and len(shape) == 2 for s in shapes)
        self.reads, self.writes = reads, (y,)
        per = len(reads)
        self.streams = min(self.m, cfg.rows // per, len(sites(cfg, "pcu")) // len(chain))
        if self.streams < 1:
            raise MapError(f"{where or name} does not fit {cfg.name}: it reads {per} tensors, one AG each, and "
                           f"the array has {cfg.rows} AGs")
        L = cfg.lanes
        self.vectors = -(-self.n // L)
        self.np = self.vectors * L
        self.ideal_cycles = -(-self.m // self.streams) * self.vectors
        # the AG read, first PCU and write-back; the chain after its first PCU is added to it
        self.stream_cycles = stream_latency(cfg) - BEYOND_MEDIUM * max(0, cfg.rows + cfg.cols - 12) + 1
        self.estimate_cycles = round(self.stream_cycles + chain_path(chain)
                                     + (self.ideal_cycles - 1) * chain_interval(cfg, chain))

    def _rows(self, s: int) -> int:
        return len(range(s, self.m, self.streams))

    def memory_estimate(self, cfg: ArrayConfig, dram: DramTraffic, memory: Memory, sites: dict,
                        paths: dict | None) -> int:
        """Placed: the chain's span from its routes (mapper/phases/chain_timing.py) in place of the
        unplaced path and interval, the slowest stream's."""
        if paths is None:
            return super().memory_estimate(cfg, dram, memory, sites, paths)
        compute = round(self.stream_cycles + self.route_cycles(cfg, sites, paths))
        return memory_cycles(cfg, compute, dram, memory, self.dram_overlap)

    @property
    def placements(self) -> int:
        """A chain whose pace its routes set (a source multicast to PCUs at different depths) is placed
        ``CHAIN_PLACEMENTS`` times, the fastest kept; any other, once."""
        return CHAIN_PLACEMENTS if chain_interval(self.cfg, self.chain) > 1 else 1

    def route_cycles(self, cfg: ArrayConfig, sites: dict, paths: dict) -> float:
        """The slowest stream's span on its routes (``chain_span``)."""
        return max(chain_span(cfg, self._stream_units(i, sites, paths), self._rows(i) * self.vectors, len(self.reads))
                   for i in range(self.streams))

    def _stream_units(self, i: int, s: dict, paths: dict) -> list[ChainUnit]:
        """Stream *i*'s AG reads then chain PCUs as chain_timing's units, their routes from *paths*."""
        ags = [("ag", s[f"{self.name}.ag{k}_{i}"][0], "rdata") for k in range(len(self.reads))]
        pcus = [("pcu", *s[f"{self.name}.pcu{c}_{i}"], "vout", 0) for c in range(len(self.chain))]
        sources = {("tensor", k): k for k in range(len(self.reads))} | {("pcu", c): len(ags) + c
                                                                       for c in range(len(self.chain))}
        routes = {u: [] for u in range(len(ags) + len(pcus))}
        for c, pcu in enumerate(self.chain):
            sink = pcus[c][:3]
            for k, source in enumerate(pcu.inputs):
                u = sources[source]
                routes[u].append((len(ags) + c, k, paths[((ags + pcus)[u], (*sink, "vin", k))]))
        return ([ChainUnit(False, (), tuple(routes[k])) for k in range(len(ags))]
                + [ChainUnit(True, tuple(sources[x] for x in pcu.inputs), tuple(routes[len(ags) + c]))
                   for c, pcu in enumerate(self.chain)])

    def netlist(self):
        units, nets = [], []
        for s in range(self.streams):
            p = f"{self.name}.{{}}{s}"
            ags = [p.format(f"ag{k}_") for k in range(len(self.reads))]
            pcus = [p.format(f"pcu{c}_") for c in range(len(self.chain))]
            units += [Unit(a, "ag") for a in ags] + [Unit(u, "pcu") for u in pcus] + [Unit(p.format("host"), "host")]
            for kind, names in (("tensor", ags), ("pcu", pcus)):
                for k, source in enumerate(names):
                    sinks = tuple(pcus[c] for c, pcu in enumerate(self.chain) if (kind, k) in pcu.inputs)
                    sinks += (ags[0],) if source == pcus[-1] else ()
                    if sinks:
                        nets.append(Net(source, sinks))
            nets.append(Net(pcus[-1], (p.format("host"),), 0.25))
        return units, nets

    def emit(self, b: ArrayBuilder, s: dict) -> None:
        vector, control = [], []
        for i in range(self.streams):
            site = lambda unit: s[f"{self.name}.{unit}{i}"]  # noqa: E731
            last = len(self.chain) - 1
            sinks = {("tensor", k): [] for k in range(len(self.reads))} | {("pcu", c): [] for c in range(len(self.chain))}
            for c, pcu in enumerate(self.chain):
                # Only the last PCU counts (its done token ends the run); the others fire on every input.
                b.pcu(*site(f"pcu{c}_"), PcuProgram(
                    stages=pcu.stages, counters=[Counter(0, self._rows(i) * self.vectors, 1)] if c == last else [],
                    vin_required=list(range(len(pcu.inputs))), vout=[("reg", len(pcu.stages) - 1)]))
                for k, source in enumerate(pcu.inputs):
                    sinks[source].append(("pcu", *site(f"pcu{c}_"), "vin", k))
            sinks[("pcu", last)].append(("ag", site("ag0_")[0], "wdata"))
            for k in range(len(self.reads)):
                b.ag(site(f"ag{k}_")[0], AgProgram("read"))
                vector.append((("ag", site(f"ag{k}_")[0], "rdata"), sinks[("tensor", k)]))
            vector += [(("pcu", *site(f"pcu{c}_"), "vout", 0), sinks[("pcu", c)]) for c in range(len(self.chain))]
            control.append((("pcu", *site(f"pcu{last}_"), "ctrl_out", 0), [("host", site("host")[0], "done")]))
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
