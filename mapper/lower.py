"""Lowering graphs onto the array: a dense layer y = relu?(x @ W + b?) of a graph (mapper/graph.py),
split over as many parallel pipelines as the array holds, placed by annealing (mapper/place.py),
routed by negotiated congestion (mapper/route.py) and emitted as one bitstream with its host streams
and DRAM images.

This version lowers graphs of one dense layer: ``matmul`` of a graph input [M, K] by a weight [K, N],
optionally ``add`` of a weight [N] (the bias) and ``relu``, the last of them a graph output. Anything
else is refused with ``MapError`` naming the node (embedding bags, chains of layers, concat and
phases are the next steps of the mapper).

One pipeline (block p of the N output columns, n_p of them)::

    host row h0 vsend --x rows (K padded to Kp = ceil(K / lanes) * lanes, multicast to every block)-->
      PMU_p (buffer mode: a write run per row of x, a read run replaying it n_p times)
      --x--> PCU dot_p <--W_p^T rows (Kp words each, from DRAM through AG_p, once per row of x)--
      dot_p: fmul, lane tree (fadd), accumulator over Kp / lanes vectors --dot--> PCU out_p
      out_p: + b (its own host row's ssend: b_p repeated M times) [, ReLU] --y--> host row srecv;
             its counter counts the M n_p outputs and sends a done token to the same row's done port.

Blocks: min(N, AGs, host rows, PCUs / 2, PMUs); the columns are split as evenly as possible. Each
block needs an AG row and a host row of its own (they may be the same row).

The order of operations is the graph's (products, sum in a tree and an accumulator, then the bias,
then ReLU), so the graph's fp32 bound (mapper/graph.py) holds for the hardware's results.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from rdagen.rtl.ag_layout import AgProgram
from rdagen.rtl.array_layout import pack_vectors
from rdagen.rtl.config import ArrayConfig
from rdagen.rtl.pcu_layout import CONST, LANE, Accumulate, Counter, PcuProgram, Reduce, Stage, ctr, reg, sin, vin
from rdagen.rtl.pmu_layout import AddressStage, PmuProgram, Port

from .builder import ArrayBuilder, BuildError
from .graph import Graph, GraphError
from .place import Net, Placement, PlacementError, Unit, place, sites

__all__ = ["MapError", "Mapping", "map_graph", "host_streams"]

U32, F32 = np.uint32, np.float32


class MapError(GraphError):
    """A graph that this mapper cannot put on the array; the message names the node or the resource."""


@dataclasses.dataclass
class Mapping:
    cfg: ArrayConfig
    graph: Graph
    bitstream: bytes
    sources: dict  # host input port -> transfers (verif/golden/array.py formats)
    dram: dict  # AG row -> {word address: words}
    sinks: dict  # host output port -> transfers expected
    done_tokens: int
    placement: Placement
    blocks: list  # (first column, columns, AG row, host row) per block
    ideal_cycles: int  # one W vector per cycle per block, the blocks in parallel
    pcus_used: int
    seed: int
    x_name: str  # the graph input whose rows stream from the host
    kp: int  # K padded to whole vectors

    def outputs(self, host: dict) -> dict[str, np.ndarray]:
        """The graph's outputs (float32) from the host output streams of a run."""
        (name,) = self.graph.outputs
        m, n = self.graph.tensors[name].shape
        y = np.zeros((m, n), F32)
        for first, count, _, host_row in self.blocks:
            words = np.asarray(host[f"srecv__{host_row}"], U32)[: m * count]
            y[:, first:first + count] = words.view(F32).reshape(m, count)
        return {name: y}


def _dense_layer(graph: Graph):
    """(x input, W weight, bias weight or None, relu, output) of a one-layer graph; MapError otherwise."""
    def refuse(i, message):
        raise MapError(f"node {i} ({graph.nodes[i].op}): {message}; this version of the mapper lowers one dense "
                       f"layer: matmul of a graph input by a weight, then optionally add of a [N] weight and relu")

    nodes = list(graph.nodes)
    if nodes[0].op != "matmul":
        refuse(0, "the first node is not a matmul")
    x, w = nodes[0].inputs
    if x not in graph.inputs or w not in graph.weights:
        refuse(0, f"operands {x!r} and {w!r} must be a graph input and a weight")
    bias, relu, last = None, False, nodes[0].output
    for i, node in enumerate(nodes[1:], 1):
        if node.op == "add" and bias is None and not relu and node.inputs[0] == last \
                and node.inputs[1] in graph.weights and graph.tensors[node.inputs[1]].shape == (graph.tensors[w].shape[1],):
            bias = node.inputs[1]
        elif node.op == "relu" and not relu and node.inputs[0] == last:
            relu = True
        else:
            refuse(i, f"{node.op} of {', '.join(node.inputs)} is not lowered yet")
        last = node.output
    if graph.outputs != (last,):
        raise MapError(f"output {', '.join(graph.outputs)}: the graph's one output must be the layer's result {last!r}")
    return x, w, bias, relu, last


def _netlist(blocks: int) -> tuple[list[Unit], list[Net]]:
    units, nets = [], []
    for p in range(blocks):
        units += [Unit(f"ag{p}", "ag"), Unit(f"pmu{p}", "pmu"), Unit(f"dot{p}", "pcu"), Unit(f"out{p}", "pcu"),
                  Unit(f"host{p}", "host")]
        nets += [Net(f"pmu{p}", (f"dot{p}",)), Net(f"ag{p}", (f"dot{p}",)), Net(f"dot{p}", (f"out{p}",)),
                 Net(f"out{p}", (f"host{p}",)), Net(f"host{p}", (f"out{p}",), 0.5)]
    nets.append(Net("host0", tuple(f"pmu{p}" for p in range(blocks))))
    return units, nets


def map_graph(graph: Graph, cfg: ArrayConfig, *, seed: int = 0, pins: dict | None = None,
              attempts: int = 4) -> Mapping:
    """Lowers, places and routes *graph* on *cfg*; MapError naming the node or the missing resource."""
    x, w, bias, relu, _ = _dense_layer(graph)
    m, k = graph.tensors[x].shape
    n = graph.tensors[w].shape[1]
    L = cfg.lanes
    kp = -(-k // L) * L
    missing = []
    if kp > cfg.pmu_words:
        missing.append(f"a PMU of {kp} words for a row of {x!r} (K = {k}; it holds {cfg.pmu_words}; splitting K "
                       f"comes later)")
    if kp // L >= 2 ** 16:
        missing.append(f"an accumulator folding {kp // L} vectors (it folds fewer than 65536)")
    if cfg.counters < 2 or cfg.vector_inputs < 2 or cfg.scalar_inputs < 2:
        missing.append("2 counters per chain and 2 vector and 2 scalar inputs per unit")
    pcus, pmus = len(sites(cfg, "pcu")), len(sites(cfg, "pmu"))
    blocks = min(n, cfg.rows, pcus // 2, pmus)
    if blocks < 1:
        missing.append("2 PCUs and a PMU")
    if missing:
        raise MapError(f"node 0 (matmul) does not fit {cfg.name}: it needs {'; '.join(missing)}")
    sizes = [n // blocks + (p < n % blocks) for p in range(blocks)]
    firsts = [sum(sizes[:p]) for p in range(blocks)]
    units, nets = _netlist(blocks)
    problems = []
    for attempt in range(attempts):  # another placement when the routes do not fit
        try:
            placement = place(cfg, units, nets, seed=seed + attempt, pins=pins)
        except PlacementError as exc:
            raise MapError(f"placement: {exc}") from None
        try:
            b = _emit(cfg, placement, blocks, sizes, m, kp, relu)
            break
        except BuildError as exc:
            problems.append(str(exc))
    else:
        raise MapError(f"the routes do not fit after {attempts} placements; the last: {problems[-1]}")
    s = placement.sites
    wv = graph.weights[w].values
    bv = graph.weights[bias].values if bias else np.zeros(n, F32)
    dram, sources = {}, {}
    block_info = []
    for p, (first, count) in enumerate(zip(firsts, sizes)):
        ag_row, host_row = s[f"ag{p}"][0], s[f"host{p}"][0]
        rows = np.zeros((count, kp), F32)
        rows[:, :k] = wv[:, first:first + count].T
        dram[ag_row] = {0: rows.view(U32).ravel()}
        sources[f"ag_cmd__{ag_row}"] = [0 | (count * kp) << 32] * m
        sources[f"ssend__{host_row}"] = [int(v) for v in np.tile(bv[first:first + count], m).view(U32)]
        block_info.append((first, count, ag_row, host_row))
    return Mapping(cfg, graph, b.bitstream(), sources, dram,
                   {f"srecv__{hr}": m * count for (_, count, _, hr) in block_info}, blocks, placement,
                   block_info, m * max(sizes) * kp // L, 2 * blocks, seed, x, kp)


def host_streams(mapping: Mapping, arrays: dict) -> dict:
    """The mapping's host input streams with the run's input *arrays* (the rows of x, padded)."""
    L = mapping.cfg.lanes
    x = np.asarray(arrays[mapping.x_name], F32)
    xv = np.zeros((x.shape[0], mapping.kp), F32)
    xv[:, : x.shape[1]] = x
    host0 = mapping.placement.sites["host0"][0]
    return {**mapping.sources, f"vsend__{host0}": pack_vectors(xv.view(U32).reshape(-1, L))}


def _emit(cfg: ArrayConfig, placement: Placement, blocks: int, sizes: list, m: int, kp: int, relu: bool) -> ArrayBuilder:
    """The builder with every block's units configured and every net routed (BuildError when not)."""
    L = cfg.lanes
    s = placement.sites
    b = ArrayBuilder(cfg)
    contiguous = [AddressStage("add", ctr(0), LANE)]
    vector, scalar, control = [], [], []
    for p, count in enumerate(sizes):
        pmu, dot, out = s[f"pmu{p}"], s[f"dot{p}"], s[f"out{p}"]
        ag_row, host_row = s[f"ag{p}"][0], s[f"host{p}"][0]
        b.pmu(*pmu, PmuProgram(write=Port(stages=contiguous, counters=[Counter(0, kp, L)], vin_required=[0],
                                          data=vin(0)),
                               read=Port(stages=contiguous, counters=[Counter(0, kp, L), Counter(0, count, 1)]),
                               mode="buffer"))
        b.ag(ag_row, AgProgram("read"))
        b.pcu(*dot, PcuProgram(stages=[Stage("fmul", vin(0), vin(1), dst=0)], vin_required=[0, 1],
                               reduce=Reduce("fadd", 0), accumulate=Accumulate("fadd", init=0, fold=kp // L),
                               sout=[("acc", 0)]))
        stages = [Stage("fadd", sin(0), sin(1), dst=0)]
        if relu:
            stages.append(Stage("fmax", reg(0), CONST, dst=0, const=0))
        b.pcu(*out, PcuProgram(stages=stages, counters=[Counter(0, m * count, 1)], sin_required=[0, 1],
                               sout=[("reg", 0)]))
        vector += [(("pmu", *pmu, "vout", 0), [("pcu", *dot, "vin", 1)]),
                   (("ag", ag_row, "rdata"), [("pcu", *dot, "vin", 0)])]
        scalar += [(("pcu", *dot, "sout", 0), [("pcu", *out, "sin", 0)]),
                   (("host", host_row, "ssend"), [("pcu", *out, "sin", 1)]),
                   (("pcu", *out, "sout", 0), [("host", host_row, "srecv")])]
        control.append((("pcu", *out, "ctrl_out", 0), [("host", host_row, "done")]))
    vector.append((("host", s["host0"][0], "vsend"), [("pmu", *s[f"pmu{p}"], "vin", 0) for p in range(blocks)]))
    for network, routes in (("vector", vector), ("scalar", scalar), ("control", control)):
        b.route_all(network, routes)
    return b
