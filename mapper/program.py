"""Graph -> program: the graph's nodes lowered to phases (one bitstream each), every phase placed and
routed, and the runner's loop that executes them in order with the tensors kept in DRAM between them.

Lowering rules (node -> phase):
* ``matmul`` -> a matmul phase over the whole array (mapper/matmul.py). It absorbs an ``add`` of a
  [N] tensor that is the only use of its result (the bias) and a ``relu`` of its left operand when
  every use of that relu is the left operand of a matmul (``fmax`` on the way in).
* a chain of two or more such matmuls with biases, each feeding the next alone (through a relu or not)
  -> one MLP phase (mapper/mlp.py: the weights resident in PMUs, the samples pipelined through the
  layers) when it fits one configuration and, with ``mlp_weights="auto"``, costs less than a matmul
  phase per layer (``MLP_WEIGHTS``).
* ``embedding_bag`` -> embedding phases (mapper/embedding.py), the graph's bags packed together; they
  run first (their operands are graph inputs and weights).
* ``relu``, ``add`` not absorbed, ``sigmoid`` -> elementwise phases (mapper/eltwise.py; one per piece of
  the op's program, rtl/spec/expression.py).
* ``dot_interaction`` -> a dot-interaction phase (mapper/interaction.py).
* ``concat`` moves no data: its operands are written to column ranges of one DRAM tensor (the runner
  joins them when a later phase reads it).
A graph that does not fit one configuration is thus split into phases; a node that does not fit even
alone is refused with ``MapError`` naming it and the resource.

Running (``Program.execute``): for each phase, the runner lays the tensors it reads into the DRAM
channels of its AGs and its host streams (``PlacedPhase.io``), runs it on a *backend* (the golden
array model or the RTL, in sim/), and takes the tensors it wrote from the DRAM read back and the host
outputs. The cycles of a program are the phases' run cycles plus each phase's reconfiguration: the
configuration-port writes of the units whose word differs from the phase before (the first phase: its
configured units; ``phase.reconfiguration_cycles``).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from typing import Callable

import numpy as np

from rdagen.rtl.spec.config import ArrayConfig

from .eltwise import eltwise_phases, one_pcu_stages
from .embedding import Bag, EmbeddingPhase, pack_embeddings
from rdagen.rtl.spec.expression import ADD, RELU, SIGMOID
from .interaction import InteractionPhase
from .graph import Graph
from .matmul import MatmulPhase
from .mlp import Layer, MlpPhase
from .phase import MapError, Phase, PhaseIO, PlacedPhase, place_and_route, reconfiguration_cycles
from .place import sites

__all__ = ["Program", "PhaseRun", "map_graph", "lower", "MapError", "MLP_WEIGHTS"]


def _uses(graph: Graph) -> dict[str, list[tuple[int, int]]]:
    uses: dict[str, list] = {}
    for i, node in enumerate(graph.nodes):
        for slot, name in enumerate(node.inputs):
            uses.setdefault(name, []).append((i, slot))
    return uses


ELTWISE = {"relu": RELU, "add": ADD, "sigmoid": SIGMOID}
"""The elementwise graph ops and their programs (rtl/spec/expression.py)."""

MLP_WEIGHTS = ("auto", "resident", "streamed")
"""Where a chain of Linear layers takes its weights from: ``resident`` in the PMUs of one MLP phase
(mapper/mlp.py) wherever the chain fits one, ``streamed`` from DRAM by a matmul phase per layer, or
``auto``: the one the cost model finds cheaper, chain by chain."""


def lower(graph: Graph, cfg: ArrayConfig, mlp_weights: str = "auto") -> list[Phase]:
    """The phases of *graph* on *cfg*, in execution order (MapError naming a node that does not fit).
    *mlp_weights*: one of MLP_WEIGHTS."""
    if mlp_weights not in MLP_WEIGHTS:
        raise MapError(f"MLP weights {mlp_weights!r}: valid: {', '.join(MLP_WEIGHTS)}")
    uses = _uses(graph)
    nodes = graph.nodes
    outputs = set(graph.outputs)

    def where(i: int) -> str:
        return f"node {i} ({nodes[i].op} -> {nodes[i].output!r})"

    def only_use(tensor: str):
        u = uses.get(tensor, [])
        return u[0] if len(u) == 1 and tensor not in outputs else None

    absorbed: set[int] = set()
    fused_relu = {}  # relu output -> its input, for relus every use of which is a matmul's left operand
    for i, node in enumerate(nodes):
        if node.op == "relu" and node.output not in outputs and uses.get(node.output) and \
                all(nodes[j].op == "matmul" and slot == 0 for j, slot in uses[node.output]):
            fused_relu[node.output] = node.inputs[0]
            absorbed.add(i)
    matmul_of = {}  # matmul node -> (x, relu_in, w, bias or None, y, nodes covered)
    for i, node in enumerate(nodes):
        if node.op != "matmul":
            continue
        x, w = node.inputs
        relu_in = x in fused_relu
        x = fused_relu.get(x, x)
        n = graph.tensors[w].shape[1]
        bias, y, covered = None, node.output, (i,)
        use = only_use(node.output)
        if use and nodes[use[0]].op == "add":
            j = use[0]
            other = nodes[j].inputs[1 - use[1]]
            if graph.tensors[other].shape == (n,):
                bias, y, covered = other, nodes[j].output, (i, j)
                absorbed.add(j)
        matmul_of[i] = (x, relu_in, w, bias, y, covered)
    mlp_of = _mlp_phases(graph, cfg, matmul_of, only_use, where, mlp_weights, absorbed)
    phases: list[Phase] = []
    bags = []
    for i, node in enumerate(nodes):
        if node.op == "embedding_bag":
            table, indices, offsets = node.inputs
            rows, width = graph.tensors[table].shape
            slices = tuple(range(-(-width // cfg.lanes)))
            bags.append(Bag(i, table, indices, offsets, node.output, rows, width,
                            graph.tensors[offsets].shape[0], graph.tensors[indices].shape[0], slices))
    pcus = len(sites(cfg, "pcu"))
    for n, group in enumerate(pack_embeddings(cfg, bags, pcus)):
        phases.append(EmbeddingPhase(cfg, f"embed{n}", group))
    for i, node in enumerate(nodes):
        if i in absorbed or node.op in ("embedding_bag", "concat"):
            continue
        if node.op == "matmul":
            if i in mlp_of:
                if mlp_of[i] is not None:
                    phases.append(mlp_of[i])
                continue
            x, relu_in, w, bias, y, covered = matmul_of[i]
            m, k = graph.tensors[x].shape
            n = graph.tensors[w].shape[1]
            chunks = _k_chunks(cfg, k, bias is not None)
            if len(chunks) == 1:
                phases.append(MatmulPhase(cfg, f"mm{i}", covered, x, w, bias, relu_in, y, (m, k, n), where=where(i)))
                continue
            # K split: one matmul phase per chunk of K (partial sums in DRAM), then elementwise adds in
            # chunk order, then the bias: the sum of the products in some order, then + b, as the graph says.
            total = None
            for c, (k0, k1) in enumerate(chunks):
                part = f"{node.output}#k{c}"
                phases.append(MatmulPhase(cfg, f"mm{i}k{c}", covered, x, w, None, relu_in, part, (m, k1 - k0, n),
                                          where=where(i), k_range=(k0, k1)))
                if total is not None:
                    last = c == len(chunks) - 1 and bias is None
                    out = y if last else f"{node.output}#s{c}"
                    phases += eltwise_phases(cfg, f"mm{i}s{c}", covered, ADD, (total, part), out, ((m, n), (m, n)),
                                             (m, n), where(i))
                    part = out
                total = part
            if bias is not None:
                phases += eltwise_phases(cfg, f"mm{i}b", covered, ADD, (total, bias), y, ((m, n), (n,)), (m, n), where(i))
        elif node.op == "dot_interaction":
            samples, width = graph.tensors[node.inputs[0]].shape
            phases.append(InteractionPhase(cfg, f"dot{i}", (i,), node.inputs, node.output, samples, width, where(i)))
        elif node.op in ("relu", "add", "sigmoid"):
            reads = node.inputs
            if node.op == "add" and graph.tensors[reads[0]].shape != graph.tensors[node.output].shape:
                reads = reads[::-1]  # the [N] operand second: it is added to every row
            program = ELTWISE[node.op]
            phases += eltwise_phases(cfg, f"{node.op}{i}", (i,), program, reads, node.output,
                                     tuple(graph.tensors[t].shape for t in reads), graph.tensors[node.output].shape,
                                     where(i))
    return phases


def _mlp_phases(graph: Graph, cfg: ArrayConfig, matmul_of: dict, only_use: Callable, where: Callable,
                mlp_weights: str, absorbed: set) -> dict:
    """The chains of two or more matmuls with biases, each feeding the next alone (through a relu or
    not), that become one MLP phase: {first matmul: its MlpPhase, other matmuls: None}. *mlp_weights*
    ``resident``: every chain that fits one; ``auto``: those whose MLP phase costs less than a matmul
    phase per layer (cost-model cycles plus the unit configuration each loads); ``streamed``: none.
    A relu or sigmoid that is the only use of the last layer's result and fits one PCU becomes the
    phase's epilogue (its node is added to *absorbed*)."""
    if mlp_weights == "streamed":
        return {}
    nodes = graph.nodes
    following = {}
    for i, (_, _, _, bias, y, _) in matmul_of.items():
        use = only_use(y)
        if bias is None or use is None:
            continue
        j = use[0]
        if nodes[j].op == "relu":
            use = only_use(nodes[j].output)
            j = use[0] if use else None
        if j in matmul_of and use[1] == 0 and matmul_of[j][3] is not None:
            following[i] = j
    chains = []
    for first in sorted(set(following) - set(following.values())):
        chain = [first]
        while chain[-1] in following:
            chain.append(following[chain[-1]])
        chains.append(chain)
    out = {}
    for chain in chains:
        layers = []
        for i in chain:
            x, relu_in, w, bias, y, _ = matmul_of[i]
            k, n = graph.tensors[w].shape
            layers.append(Layer(w, bias, relu_in, k, n, y))
        x = matmul_of[chain[0]][0]
        covered = tuple(n for i in chain for n in matmul_of[i][5])
        m = graph.tensors[x].shape[0]
        use, epilogue, after = only_use(layers[-1].y), (), []
        if use and nodes[use[0]].op in ELTWISE and nodes[use[0]].op != "add":
            r = use[0]
            program = ELTWISE[nodes[r].op]
            epilogue = one_pcu_stages(cfg, program) or ()
            if epilogue:
                covered += (r,)
                shape = graph.tensors[layers[-1].y].shape
                after = eltwise_phases(cfg, f"{nodes[r].op}{r}", (r,), program, (layers[-1].y,), nodes[r].output,
                                       (shape,), shape, where(r))
        try:
            phase = MlpPhase(cfg, f"mlp{chain[0]}", covered, x, tuple(layers), m, where(chain[0]), epilogue,
                             nodes[covered[-1]].output if epilogue else None)
        except MapError:
            continue
        if mlp_weights == "auto":
            try:
                streamed = [MatmulPhase(cfg, f"mm{i}", (), matmul_of[i][0], layer.w, layer.bias, layer.relu_in, layer.y,
                                        (m, layer.k, layer.n)) for i, layer in zip(chain, layers)]
            except MapError:  # a layer no single matmul phase takes: the MLP phase, which fits, is
                streamed = []
            cost = sum(p.estimate_cycles + p.unit_configuration_cycles(cfg) for p in streamed + after)
            if streamed and cost <= phase.estimate_cycles + phase.unit_configuration_cycles(cfg):
                continue
        out.update({i: None for i in chain})
        out[chain[0]] = phase
        if epilogue:
            absorbed.add(covered[-1])
    return out


def _k_chunks(cfg: ArrayConfig, k: int, bias: bool) -> list[tuple[int, int]]:
    """[k0, k1) ranges of K, each a row of X that fits one PMU (one range when all of K fits)."""
    if -(-(k + bias) // cfg.lanes) * cfg.lanes <= cfg.pmu_words:
        return [(0, k)]
    count = -(-k // cfg.pmu_words)
    size = -(-k // count)
    return [(k0, min(k, k0 + size)) for k0 in range(0, k, size)]


@dataclasses.dataclass
class PhaseRun:
    name: str
    cycles: int  # the run (start to the last output or write acknowledged)
    reconfiguration: int
    estimate: int
    ideal: int
    seconds: float


@dataclasses.dataclass
class Program:
    cfg: ArrayConfig
    graph: Graph
    phases: list[PlacedPhase]
    seed: int
    map_seconds: float

    @property
    def bitstreams(self) -> list[bytes]:
        return [p.bitstream for p in self.phases]

    def pcus_used(self) -> int:
        """The most PCUs any phase occupies."""
        return max((p.phase.units_used()["pcu"] for p in self.phases), default=0)

    @functools.cached_property
    def reconfigurations(self) -> list[int]:
        """Each phase's configuration-load cycles, after the phase before it (the first: after reset)."""
        before = [None] + [p.bitstream for p in self.phases[:-1]]
        return [reconfiguration_cycles(self.cfg, p.bitstream, b) for p, b in zip(self.phases, before)]

    def weight_sources(self) -> dict[str, tuple[str, str]]:
        """{matmul weight: (where the array takes it from, the phase)}, in phase order."""
        return {w: (where, p.phase.name) for p in self.phases for w, where in p.phase.weight_sources().items()}

    def estimate_cycles(self) -> int:
        return sum(p.phase.estimate_cycles for p in self.phases) + sum(self.reconfigurations)

    def ideal_cycles(self) -> int:
        return sum(p.phase.ideal_cycles for p in self.phases)

    def execute(self, arrays: dict, backend: Callable[[PlacedPhase, PhaseIO], tuple[dict, list, int]],
                progress: Callable[[str], None] | None = None) -> tuple[dict, list[PhaseRun]]:
        """Runs the phases in order on *backend* ((placed phase, its io) -> (host outputs, DRAM read back,
        cycles)) from the checked input *arrays*; returns the graph's outputs (float32) and the runs."""
        tensors = {**{n: np.asarray(a) for n, a in arrays.items()},
                   **{n: t.values for n, t in self.graph.weights.items()}}
        parts: dict[str, dict] = {}  # embedding outputs split over phases: {slice: columns}
        concats = {n.output: n.inputs for n in self.graph.nodes if n.op == "concat"}

        def materialise(name):
            if name in tensors:
                return tensors[name]
            if name in concats:
                tensors[name] = np.concatenate([materialise(p) for p in concats[name]], axis=1)
                return tensors[name]
            raise MapError(f"tensor {name!r} is read before any phase writes it (a mapper bug)")

        runs = []
        for n, placed in enumerate(self.phases):
            phase = placed.phase
            if progress:
                progress(f"phase {n + 1}/{len(self.phases)} {phase.name}")
            for name in phase.reads:
                materialise(name)
            io = placed.io(tensors)
            started = time.perf_counter()
            outputs, readback, cycles = backend(placed, io)
            seconds = time.perf_counter() - started
            for name, value in placed.collect(outputs, readback).items():
                if isinstance(value, dict):
                    parts.setdefault(name, {}).update(value)
                    width = self.graph.tensors[name].shape[1]
                    slices = -(-width // self.cfg.lanes)
                    if len(parts[name]) == slices:
                        tensors[name] = np.concatenate([parts[name][c] for c in range(slices)], axis=1)
                else:
                    tensors[name] = value
            runs.append(PhaseRun(phase.name, cycles, self.reconfigurations[n], phase.estimate_cycles,
                                 phase.ideal_cycles, seconds))
        return {name: np.asarray(materialise(name), np.float32) for name in self.graph.outputs}, runs


def map_graph(graph: Graph, cfg: ArrayConfig, *, seed: int = 0, pins: dict | None = None,
              progress: Callable[[str], None] | None = None, mlp_weights: str = "auto") -> Program:
    """Lowers *graph* to phases and places and routes each (deterministic for a *seed*). *pins*
    {unit name or graph node output: (row, col)} fixes sites: a node's name pins its phase's first PCU."""
    started = time.perf_counter()
    phases = lower(graph, cfg, mlp_weights)
    pins = dict(pins or {})
    known = {u.name for p in phases for u in p.netlist()[0]} | {graph.nodes[i].output for p in phases for i in p.nodes}
    for key in pins:
        if key not in known:
            raise MapError(f"pin {key!r}: no node output or unit of that name is placed (node outputs: "
                           f"{', '.join(sorted({graph.nodes[i].output for p in phases for i in p.nodes}))})")
    placed = []
    for n, phase in enumerate(phases):
        if progress:
            progress(f"placing and routing phase {n + 1}/{len(phases)} {phase.name}")
        placed.append(place_and_route(phase, cfg, seed=seed + 1000 * n, pins=_phase_pins(graph, phase, pins)))
    return Program(cfg, graph, placed, seed, time.perf_counter() - started)


def _phase_pins(graph: Graph, phase: Phase, pins: dict) -> dict:
    units, _ = phase.netlist()
    names = {u.name for u in units}
    first_pcu = next((u.name for u in units if u.kind == "pcu"), None)
    out = {}
    for key, site in pins.items():
        if key in names:
            out[key] = site
        elif any(graph.nodes[i].output == key for i in phase.nodes) and first_pcu:
            out[first_pcu] = site
    return out
