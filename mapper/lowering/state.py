"""What the lowering passes read and build: the graph's uses, the nodes absorbed into others, the
fused relus, each matmul's operands, the MLP chains and, last, the phases."""

from __future__ import annotations

import dataclasses

import numpy as np

from rdagen.mapper.frontend.graph import Graph
from rdagen.mapper.phases.dram import traffic
from rdagen.mapper.phases.phase import Phase
from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.config_port import SWAP_CYCLES
from rdagen.rtl.spec.memory import IDEAL, Memory


@dataclasses.dataclass(frozen=True)
class MatmulOperands:
    """A matmul node as a phase computes it: x (the relu's input when the relu is fused), w, the bias
    absorbed or None, the tensor written and the nodes covered."""
    x: str
    relu_in: bool
    w: str
    bias: str | None
    y: str
    covered: tuple[int, ...]


def components(graph: Graph) -> list[int]:
    """Per node, the independent part of the graph it belongs to, numbered in node order: nodes are in
    one part when a tensor one computes is read by the other (graph inputs and weights join nothing).
    A graph of several batches of one model (mapper/apps/dlrm.py) has a part per batch."""
    parent = list(range(len(graph.nodes)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    made = {node.output: i for i, node in enumerate(graph.nodes)}
    for i, node in enumerate(graph.nodes):
        for name in node.inputs:
            if name in made:
                parent[root(i)] = root(made[name])
    numbers: dict[int, int] = {}
    return [numbers.setdefault(root(i), len(numbers)) for i in range(len(graph.nodes))]


@dataclasses.dataclass
class Lowering:
    graph: Graph
    cfg: ArrayConfig
    mlp_weights: str
    matmul_mode: str = "auto"
    partial_sums: str = "auto"  # a systolic matmul's partial sums between sections (phases/systolic.py)
    memory: Memory = IDEAL  # what the systolic tiling weighs its DRAM traffic on
    pmus_kept: bool = True  # the phases run as one continuous run, the PMUs keep their contents between them
    concurrent: bool = True  # independent phases may share a configuration (concurrency.py)
    pipelined: bool = False  # a copy's phases may share a configuration with the copy before's (concurrency.py)
    gather_rows: bool = False  # interactions gather the rows of one-index bags themselves (gathers.py)
    uses: dict[str, list[tuple[int, int]]] = dataclasses.field(init=False)  # tensor: [(node, operand slot)]
    component: list[int] = dataclasses.field(init=False)  # per node: its independent part (``components``)
    absorbed: set[int] = dataclasses.field(default_factory=set)  # nodes computed inside another's phase
    fused_relu: dict[str, str] = dataclasses.field(default_factory=dict)  # relu output: its input
    matmuls: dict[int, MatmulOperands] = dataclasses.field(default_factory=dict)
    mlp_of: dict[int, Phase | None] = dataclasses.field(default_factory=dict)  # chain's first: phase; others: None
    gathered: dict[int, dict] = dataclasses.field(default_factory=dict)  # interaction node: {input: Gathered}
    phases: list[Phase] = dataclasses.field(default_factory=list)

    def __post_init__(self):
        self.uses = {}
        for i, node in enumerate(self.graph.nodes):
            for slot, name in enumerate(node.inputs):
                self.uses.setdefault(name, []).append((i, slot))
        self.component = components(self.graph)

    def where(self, i: int) -> str:
        node = self.graph.nodes[i]
        return f"node {i} ({node.op} -> {node.output!r})"

    def only_use(self, tensor: str) -> tuple[int, int] | None:
        """(node, slot) of the one use of *tensor*, None if it has several or is a graph output."""
        u = self.uses.get(tensor, [])
        return u[0] if len(u) == 1 and tensor not in self.graph.outputs else None

    def shape(self, tensor: str, among: tuple[Phase, ...] = ()) -> tuple[int, ...]:
        """A graph tensor's shape, or one between the phases of an op (an elementwise op's pieces,
        phases/eltwise.py; a systolic matmul's sections) lowered already or in *among* (or a part of one
        that runs concurrently with others)."""
        if tensor in self.graph.tensors:
            return self.graph.tensors[tensor].shape
        return next(p.shape for q in (*self.phases, *among) for p in getattr(q, "parts", (q,)) if tensor in p.writes)

    def cost(self, phase: Phase, among: tuple[Phase, ...] = ()) -> int:
        """What a phase costs, to choose between lowerings: its run (``run_cycles``, *among* as there)
        plus the configuration of its units."""
        return self.run_cycles(phase, among) + phase.unit_configuration_cycles(self.cfg)

    def program_cost(self) -> int:
        """What the lowered ``phases`` cost together, to choose between lowerings of the whole graph: their
        runs, and of each phase's unit configuration what the run before it does not hide (it loads
        into the shadow registers meanwhile: mapper/program.py ``reconfigurations``), plus the swap."""
        runs = [self.run_cycles(p) for p in self.phases]
        loads = [p.unit_configuration_cycles(self.cfg) for p in self.phases]
        return sum(runs) + sum(max(0, load - hidden) + SWAP_CYCLES for load, hidden in zip(loads, [0] + runs[:-1]))

    def run_cycles(self, phase: Phase, among: tuple[Phase, ...] = ()) -> int:
        """A phase's run by the cost model on ``memory`` (its DRAM traffic, mapper/phases/dram.py, from
        its streams on zero-valued tensors before placement: a unit per row); the tensors it reads
        between phases written by earlier phases or by those in *among*."""
        units, _ = phase.netlist()
        sites = {u.name: (n, 0) for n, u in enumerate(units)}
        zeros = {name: np.zeros(self.shape(name, among), np.int32 if name in self.graph.tensors and
                                self.graph.tensors[name].dtype == "int32" else np.float32)
                 for name in phase.reads}
        io = phase.io(sites, zeros)
        return phase.memory_estimate(self.cfg, traffic(self.cfg, io.sources, io.gathers), self.memory, sites, None)
