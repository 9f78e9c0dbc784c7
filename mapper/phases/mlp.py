"""The MLP phase: a chain of Linear layers y_(l+1) = relu?(y_l) W_l + b_l over M samples in one
configuration, the weights resident in PMUs and the samples pipelined through the layers.

Dataflow (lanes L; layer l has G_l groups of its column blocks, each a chain of C_l PCUs, link j
summing its K range, as in a matmul phase of one row; mapper/phases/matmul.py)::

    loader (an AG reading DRAM, or a host row) --its links' [W; b] parts, once, multicast--> their W PMUs
    W PMU (l, g, j) (buffer mode: written once, then read once per sample) --W vectors--> PCU (l, g, j)
    X PMU (l, j) (double-buffered sample rows) --x[m, K range of link j] scalars, multicast--> PCU (l, g, j), every g
    PCU (l, g, j): [relu(x)], x * W row, accumulated; it adds its feeders' partial sums (vin 1, 2):
                   link j - 1's in a chain, its children's in a tree rooted at link C_l - 1
    PCU (l, g, C_l - 1) --y_l[m, group g's blocks]--> X PMU (l + 1, g)         (G_l > 1: C_(l+1) = G_l)
                        --y_l[m] vectors, multicast--> X PMU (l + 1, j), every j   (G_l = 1)
                        --> host vrecv                                           (the last layer, G = 1)
    host row --x[m] vectors (and a 1.0 in column K_0)--> X PMU (0, j), every j

A loader serves one link, or several when there are more links than loaders: it streams their
parts one after the other to all of their W PMUs, and each W PMU writes its own part through a write
window (its addresses are the stream position minus the part's offset; rtl/spec/pmu_layout.py).

Trees: on PCUs of 5 stages or more (6 with the input ReLU) and 3 vector inputs (``tree_links``:
medium, plasticine) a layer's links add their partial sums in a binary tree, a heap rooted at the
last link (``feeders``), so an output leaves floor(log2 C) link latencies after the first links'
last firing of it instead of C - 1 (Kaggle's batch-1 request on plasticine: 3,603 -> 3,218 cycles);
elsewhere down the chain.

Groups are how a layer uses PCUs in parallel over its outputs rather than only over K: a layer of
G_l groups gives its next layer's K ranges, group g's columns in X PMU (l + 1, g) alone, so every X
PMU has one writer and the next layer's link g starts on group g's outputs.

An *epilogue* after the last layer may compute an elementwise op of its result, which the phase
writes instead: one phase less, and no DRAM round trip between them. It is the op's chain of PCUs as an
elementwise phase computes it (mapper/phases/eltwise.py): one PCU for the ReLU that follows a bottom
MLP, a chain for the sigmoid that follows a top MLP, the last layer's outputs multicast to the chain's
PCUs that read them, the last PCU's to the host.

The bias is an output's last firing, 1.0 x b (where the last link joins the partial sums): layer 0's rows carry the 1.0 from the host; a
layer that feeds another makes its 1.0 itself, as one more output column (W column 0, bias 1.0: the
sum of zeros plus 1.0 is exactly 1.0, and relu(1.0) = 1.0). Each X PMU holds two sample rows, so layer
l takes sample m + 1 while layer l + 1 works on sample m: after the first sample has passed, the
phase gives a sample every max over layers of (column blocks x K range) cycles. The weights are read
from DRAM once, at the phase's start, and stay in the PMUs for every sample; on the array they are not
streamed per X block as in a matmul phase.

Tiling: groups and a chain length per layer, each link a PCU and a W PMU, each K range an X PMU;
from one link per layer, the group or link that lowers the cost model most is added while PCUs and
PMUs last (``tile_mlp``). The loaders (the rows' AGs, then the host rows other than the first, or
as many as the caller leaves the phase) take the links in layer order, each the loader with the
fewest words so far (``loading``).
A layer's X row (K + 1 words, or the producer group's columns, padded to whole vectors) must fit half
a PMU (two rows, double-buffered) and a link's [W; b] part a PMU; chains need 4 PCU stages (5 with
the input ReLU), two vector inputs and 4 registers; the last layer has one group (one host output),
and a group must hold some of the layer's outputs besides the next layer's 1.0 column.

Cost model (cycles; layer l: F_l = column blocks per group x its largest K range (+1 on the last
link) firings per sample, C_l links, lag_l = ``reduction_depth`` link latencies, C_l - 1 in a chain as
in the matmul phase, floor(log2 C_l) in a tree (a link waits for its feeders' partial sums at an
output's last firing only; the tree checked on 5 runs on medium, chains of 2 to 4: within 0.4 %); fitted on 49 RTL runs on
small and tiny, 1 to 16 samples, 2 to 4 layers, chains of 1 to 3 links, and checked again with the
lazy links on 24 runs on small (within 4.3 %) and 10 on medium (within 1.4 %, the loads sharing
DDR4's bandwidth and ``output_latency``); groups and shared loaders on small in tests/test_mlp.py)::

    start_0 = layer 0's load                                   (the loaders run in parallel)
    start_l = max(end_(l-1) + 38 + 3 stages, layer l's load)  (route, X PMU turn, pipeline)
    load    = the longest stream of the layer's loaders, in vectors (a W PMU's window run ends with it),
              or on a memory of limited bandwidth the AG streams' share of it (``load_cycles``)
    end_l   = start_l + F_l + lag_l                            (the first sample through layer l)
    cycles  = end_last + the output's latency (``output_latency``) + 1
            [+ 6 + 5 stages + the chain's path after its first PCU, with an epilogue]
            + (M - 1) max(max_l max(F_l, (F_l + P_l + 8 + 2 pmu_stages) / 2),
                          [the epilogue chain's interval x the last layer's column blocks])

P_l is what layer l's producer writes into each X PMU per sample (vectors): a double-buffered X PMU
takes sample m + 2 only after its reads of sample m, so a short layer waits for half a round of
reading, writing and the turns; a long layer runs at its firings. (The links' lag stays out of that
round: the input FIFOs hold a sample's words while the last link finishes the one before.) The turns
grow with the PMU's address stages, not the PCU's stages (2026-12-07: 72 direct-harness runs of two
resident layers, 6-16-5, 13-24-1, 16-32-8 and 6-64-5 at M 16, 32 and 64 on small, medium and each
with 6 PCU or 6 PMU stages, or medium with 4 PCU stages: within 2.6 %; 4 cycles a PCU stage was up
to 22 % over on medium's 6 stages). The epilogue chain's path and
interval are the elementwise phase's (``chain_path``, ``chain_interval``); placed, its interval is
its pace on its routes (mapper/phases/chain_timing.py ``chain_pace``, the last layer's outputs sent
one a cycle).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from rdagen.rtl.spec.ag_layout import AgProgram
from rdagen.rtl.spec.array_layout import pack_vectors, unpack_vectors
from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.memory import Memory
from rdagen.rtl.spec.ops import FU_LATENCY
from rdagen.rtl.spec.pcu_layout import CONST, LANE, Counter, PcuProgram, Stage, ctr, reg, vin
from rdagen.rtl.spec.pmu_layout import AddressStage, PmuProgram, Port

from rdagen.mapper.backend.builder import ArrayBuilder
from rdagen.mapper.phases.chain_timing import ChainUnit, chain_pace
from rdagen.mapper.phases.eltwise import ChainPcu, chain_interval, chain_path
from rdagen.mapper.phases.matmul import (MatmulTiling, feeders, latency, link_latency, link_program, reduction_depth,
                                         split_k, tree_links, x_buffer_program)
from rdagen.mapper.phases.dram import DramTraffic, memory_cycles
from rdagen.mapper.phases.phase import F32, U32, MapError, Phase, PhaseIO
from rdagen.mapper.backend.place import Net, Unit, sites

__all__ = ["Layer", "tile_mlp", "estimate", "load_cycles", "output_latency", "MlpPhase", "weights_of"]

BANK = "mlp-weights"  # the W PMUs the resident MLPs of a program share when they keep a bank (``MlpPhase``'s *bank*)
HOP = 38  # + 3 per PCU stage: a layer's last output to the next layer's first firing (route, X PMU, pipeline)
TURN, TURN_PER_PMU_STAGE = 8, 2  # what a double-buffer round adds to a layer's reads and its producer's writes
EPILOGUE, EPILOGUE_PER_STAGE = 6, 5  # the epilogue's first PCU's pipeline and route (fitted on small and tiny)


@dataclasses.dataclass(frozen=True)
class Layer:
    """One Linear layer of the chain: y = relu?(x) @ w + bias, x [M, k], w [k, n]."""
    w: str
    bias: str
    relu_in: bool
    k: int
    n: int
    y: str


def weights_of(phase: MlpPhase) -> tuple:
    """What an MLP phase computes with, its inputs and outputs aside: phases alike in it can share
    resident weights."""
    return tuple((layer.w, layer.bias, layer.relu_in, layer.k, layer.n) for layer in phase.layers), phase.epilogue


def _tiling(cfg: ArrayConfig, m: int, layer: Layer, last: bool, chain: int, groups: int = 1,
            fed_by: int = 0) -> MatmulTiling | None:
    """Layer *layer* in *groups* groups of its column blocks, its K split over *chain* links, or, when
    its producer has groups of *fed_by* column blocks each, one link per producer group, that group's
    columns (its X row the group's vectors). None when a group or K range would be empty but for the
    1.0 column."""
    L = cfg.lanes
    width = layer.n + (not last)  # a layer that feeds another makes the next one's 1.0 column
    column_blocks = -(-width // L)
    blocks = -(-column_blocks // groups)
    groups = -(-column_blocks // blocks)
    if not last and (groups - 1) * blocks * L >= layer.n:
        return None
    if fed_by:
        chunks = tuple((k0, min(layer.k, k0 + fed_by * L)) for k0 in range(0, layer.k + 1, fed_by * L))
        if chunks[-1][0] >= layer.k:
            return None
        kp = fed_by * L
    else:
        chunks = split_k(layer.k, chain)
        kp = -(-(layer.k + 1) // L) * L
    return MatmulTiling(groups, 1, len(chunks), chunks, kp, blocks, m, True, 0, True, 0)

def _sample_cycles(cfg: ArrayConfig, t: MatmulTiling, produced: int) -> float:
    """Cycles between two samples in a layer: its firings per sample, or, when that is short, half of
    a double-buffer round (module docstring)."""
    kb = max(t.kb(j) for j in range(t.chain))
    firings = t.blocks * kb
    return max(firings, (firings + produced + TURN + TURN_PER_PMU_STAGE * cfg.pmu_stages) / 2)


def links_of(tilings: tuple[MatmulTiling, ...]) -> list[tuple[int, int, int]]:
    """(layer, group, link) of every link, in layer order."""
    return [(i, g, j) for i, t in enumerate(tilings) for g in range(t.groups) for j in range(t.chain)]


def loading(cfg: ArrayConfig, tilings: tuple[MatmulTiling, ...],
            loaders: int | None = None) -> tuple[list[tuple[int, int]], list[int]]:
    """Which loader streams each link's [W; b] part, at which word of its stream ((loader, offset) per
    link of ``links_of``), and each loader's stream in words. Loaders are the AGs, then the host rows
    but the first (2 rows - 1, or the first *loaders* of them); each link, in layer order, goes to the loader with the fewest words so
    far. A loader of several links multicasts its stream to their W PMUs, each taking its part through
    a write window (rtl/spec/pmu_layout.py)."""
    streams = [0] * min(len(links_of(tilings)), loaders or 2 * cfg.rows - 1)
    placed = []
    for i, g, j in links_of(tilings):
        t = tilings[i]
        loader = min(range(len(streams)), key=lambda n: (streams[n], n))
        placed.append((loader, streams[loader]))
        streams[loader] += t.kb(j) * t.blocks * cfg.lanes
    return placed, streams


def output_latency(cfg: ArrayConfig) -> int:
    """The last layer's pipeline and its outputs' route to the host: the matmul phase's latency on
    arrays up to 4 x 4 (fitted with it on tiny and small), 4 cycles more per row or column beyond, not
    its 10 (fitted on medium's 6 x 6: the outputs go to a host row, not through an AG to DRAM)."""
    span = cfg.rows + cfg.cols
    return latency(cfg) if span <= 8 else latency(cfg) - 6 * (span - 8)


def load_cycles(cfg: ArrayConfig, streams: list[int], dram_words: float | None = None) -> list[float]:
    """Cycles until each loader's whole stream (*streams*, words) has passed: a vector per cycle, and,
    on a DRAM of *dram_words* words per cycle shared by the AG loaders (the first ``cfg.rows``), the
    share of it a stream gets when the AGs' streams run side by side (until a stream ends, the words
    of every AG stream up to its length cross the bandwidth)."""
    ags = streams[:cfg.rows]
    return [max(words / cfg.lanes,
                sum(min(other, words) for other in ags) / dram_words if dram_words and n < cfg.rows else 0)
            for n, words in enumerate(streams)]


def estimate(cfg: ArrayConfig, m: int, tilings: tuple[MatmulTiling, ...], epilogue: tuple[ChainPcu, ...] = (),
             loaders: int | None = None, loaded: bool = False, dram_words: float | None = None, *,
             trees: tuple[bool, ...], epilogue_pace: float | None = None) -> int:
    """The cost model of the module docstring; *loaded*: the weights are in the PMUs already (a
    resident phase's later runs), no layer waits for a load; *dram_words*: the DRAM's bandwidth in
    words per cycle (``load_cycles``; None: unlimited, the memory the model is calibrated on);
    *trees*: per layer, whether its links add their sums in a tree (``tree_links``) or down the chain;
    *epilogue_pace*: the epilogue chain's cycles a vector on its placed routes (None: before placement,
    ``chain_interval``)."""
    end, produced, pace = 0, tilings[0].kp // cfg.lanes, 0.0
    placed, streams = loading(cfg, tilings, loaders)
    loaders = [loader for loader, _ in placed]
    loads = load_cycles(cfg, streams, dram_words)
    for n, t in enumerate(tilings):
        kb = max(t.kb(j) for j in range(t.chain))
        # a W PMU is loaded when its loader's whole stream has passed (its write window's run)
        load = 0 if loaded else max(loads[loader] for (i, _, _), loader in zip(links_of(tilings), loaders) if i == n)
        start = load if n == 0 else max(end + HOP + FU_LATENCY * cfg.stages, load)
        end = start + t.blocks * kb + reduction_depth(t.chain, trees[n]) * link_latency(cfg)
        pace = max(pace, _sample_cycles(cfg, t, produced))
        produced = t.blocks
    if epilogue:
        end += EPILOGUE + EPILOGUE_PER_STAGE * cfg.stages + chain_path(epilogue)
        pace = max(pace, (epilogue_pace or chain_interval(cfg, epilogue)) * tilings[-1].blocks)
    return round(end + output_latency(cfg) + 1 + (m - 1) * pace)


def tile_mlp(cfg: ArrayConfig, where: str, m: int, layers: tuple[Layer, ...],
             epilogue: tuple[ChainPcu, ...] = (), loaders: int | None = None, pmus: int | None = None,
             loaded: bool = False, bank: tuple[int, int] | None = None) -> tuple[MatmulTiling, ...]:
    """The groups and chain length of every layer: from one link per layer, the group or link that
    lowers the cost model most is added while PCUs, PMUs (all, or *pmus*) and loaders last (and a
    layer's weights do not fit its links' PMUs). *loaded*: the cost model of the runs on weights
    already loaded (resident weights: the load is paid once). *bank* (W PMUs, words): the W PMUs are
    a bank shared with other MLPs (``MlpPhase``'s *bank*): at most that many links, each part within
    that many words of its PMU, and *pmus* counts the X PMUs alone. MapError naming *where* and the
    resource when the layers do not fit one configuration."""
    L = cfg.lanes
    link_budget = len(sites(cfg, "pcu")) - len(epilogue)
    pmus = len(sites(cfg, "pmu")) if pmus is None else pmus
    room = min(link_budget, bank[0], pmus) if bank else min(link_budget, pmus // 2)
    if len(layers) > room:
        raise MapError(f"{where}: {len(layers)} layers need {len(layers)} PCUs and {2 * len(layers)} PMUs"
                       f"{f' and {len(epilogue)} for the epilogue' if epilogue else ''}; {cfg.name} has room for "
                       f"{room}{' (its W PMUs in a bank of %d)' % bank[0] if bank else ''}")
    words = bank[1] if bank else cfg.pmu_words
    last = len(layers) - 1
    trees = tuple(tree_links(cfg, layer.relu_in) for layer in layers)
    tilings = [_tiling(cfg, m, layer, i == last, 1) for i, layer in enumerate(layers)]
    for t, layer in zip(tilings, layers):
        if cfg.stages < 1 + layer.relu_in or cfg.counters < 2:
            raise MapError(f"{where}: a layer needs {1 + layer.relu_in} PCU stages and 2 counters ({cfg.name}: "
                           f"{cfg.stages} stages, {cfg.counters} counters)")
        if 2 * t.kp > cfg.pmu_words:
            raise MapError(f"{where}: a sample row of {layer.k} inputs (+ 1 for the bias) needs {2 * t.kp} PMU words "
                           f"double-buffered; a PMU of {cfg.name} holds {cfg.pmu_words}")

    def fits(t: MatmulTiling) -> bool:
        return all(t.kb(j) * t.blocks * L <= words for j in range(t.chain))

    def chains(layer: Layer) -> bool:
        return cfg.stages >= 4 + layer.relu_in and cfg.vector_inputs >= 2 and cfg.registers >= 4

    def within(trial) -> bool:
        links, chains = sum(t.groups * t.chain for t in trial), sum(t.chain for t in trial)
        return (links <= link_budget and (links <= bank[0] and chains <= pmus if bank else links + chains <= pmus)
                and all(2 * t.kp <= cfg.pmu_words for t in trial))

    def longer_chain(ts, i: int):
        """Layer i with the next chain length that splits K differently (its input not grouped)."""
        layer, t = layers[i], ts[i]
        if (i and ts[i - 1].groups > 1) or not chains(layer):
            return None
        for c in range(t.chain + 1, layer.k + 1):
            longer = _tiling(cfg, m, layer, i == last, c, t.groups)
            if longer.chain > t.chain:
                return {i: longer}
        return None

    def more_groups(ts, i: int):
        """Layer i with the next group count that cuts its blocks differently, and layer i + 1 fed by them."""
        t = ts[i]
        if i == last or not chains(layers[i + 1]):
            return None
        for g in range(t.groups + 1, t.groups * t.blocks + 1):
            wider = _tiling(cfg, m, layers[i], False, t.chain, g, ts[i - 1].blocks if i and ts[i - 1].groups > 1 else 0)
            if wider is None or wider.groups <= t.groups:
                continue
            fed = _tiling(cfg, m, layers[i + 1], i + 1 == last, 1, ts[i + 1].groups, wider.blocks)
            if fed is not None:
                return {i: wider, i + 1: fed}
        return None

    def steps(ts) -> list[tuple[MatmulTiling, ...]]:
        """The tilings one group or link more than *ts* that fit the budget."""
        out = []
        for i in range(len(layers)):
            for change in (longer_chain(ts, i), more_groups(ts, i)):
                if change is not None:
                    trial = tuple(change.get(n, t) for n, t in enumerate(ts))
                    if within(trial):
                        out.append(trial)
        return out

    def key(ts):  # first the layers whose weights do not fit, then the fastest, then the fewest links
        return (not all(map(fits, ts)), estimate(cfg, m, ts, epilogue, loaders, loaded, trees=trees),
                sum(t.groups * t.chain for t in ts))

    # Greedy growth; where no single step is faster (a layer's groups are its next layer's links, so
    # one step can need another to pay), the best two steps.
    tilings = tuple(tilings)
    while True:
        options = steps(tilings)
        best = min(options, key=key, default=None)
        if best is not None and key(best) >= key(tilings) and all(map(fits, tilings)):
            best = min((two for one in options for two in steps(one)), key=key, default=None)
        if best is None or (all(map(fits, tilings)) and key(best) >= key(tilings)):
            break
        tilings = best  # (while a layer's weights do not fit its PMUs, growth goes on even if slower)
    for i, t in enumerate(tilings):
        if not fits(t):
            raise MapError(f"{where}: layer {i}'s weights ({layers[i].k} x {layers[i].n} and the bias) do not fit "
                           f"{cfg.name}'s PMUs of {words} words{' (its share of a bank)' if bank else ''} in "
                           f"{t.groups * t.chain} links")
    return tuple(tilings)


class MlpPhase(Phase):
    mode = "simd"

    def __init__(self, cfg: ArrayConfig, name: str, nodes: tuple, x: str, layers: tuple[Layer, ...], m: int,
                 where: str | None = None, epilogue: tuple[ChainPcu, ...] = (), y: str | None = None,
                 loaders: int | None = None, pmus: int | None = None, resident: bool = False,
                 loaded_by: MlpPhase | None = None, bank: tuple[int, int, int] | None = None):
        """*epilogue*: the chain of PCUs after the last layer (an elementwise op of one input, e.g. the
        ReLU or the sigmoid after it: ``epilogue_chain``) whose result, *y*, the phase writes instead of
        the last layer's. *loaders*: the
        AGs and host rows that load the weights (``loading``; default all), so that a configuration can
        keep AGs for other work. *pmus*: the PMUs it may take (default all). A *resident* phase is
        tiled for the runs after it (the load paid once).

        Weights that stay in the PMUs from run to run (a program of several batches): the *resident*
        phase loads them, and a later phase of the same layers, *loaded_by* it, reads them where it
        left them: the same units on the same sites (one placement), no loader, no DRAM. The program
        keeps the resident phase's PMUs from every other phase (mapper/program.py), and such a run
        needs the PMUs kept from phase to phase (``pmu_state``: the direct harness, the golden model).

        *bank* (B, base, words): a resident phase whose W PMUs are the program's bank of B PMUs that
        every resident MLP shares (lowering/residency.py): link n's part in bank PMU n, from word *base*,
        within *words*; *pmus* then counts its X PMUs alone. It keeps the bank's PMUs from other
        phases (all B, placed by the first resident MLP, so that no MLP's X PMU lands on another's
        weights), not its X PMUs: the resident MLPs, which run one after the other, take their X PMUs
        wherever the bank leaves room, each MLP on up to B links rather than on its own share. A W
        PMU's write window (``_weight_program``) writes its loader's whole stream from the part's
        offset on, the words before the part below *base* and those after it above: a loader stream
        must fit the share (checked here), and the shares lie in the reverse order of the loads (the
        first loaded highest), so what a load writes below its share lands in the share of a load to
        come, where it is written again or unused (lowering/residency.py)."""
        self.cfg, self.name, self.nodes, self.x, self.layers, self.m = cfg, name, nodes, x, layers, m
        self.epilogue = epilogue
        self.reads = (x,) if loaded_by else (x,) + tuple(t for layer in layers for t in (layer.w, layer.bias))
        self.y = y or layers[-1].y
        self.writes = (self.y,)
        if loaders is not None and not 1 <= loaders <= 2 * cfg.rows - 1:
            raise MapError(f"{where or name}: {loaders} weight loaders: {cfg.name} has 1 to {2 * cfg.rows - 1} "
                           f"(its {cfg.rows} AGs and the host rows but the first)")
        self.where, self.loaded_by = where or name, loaded_by
        if loaded_by is not None:
            if loaded_by.placement_key is None or weights_of(loaded_by) != weights_of(self):
                raise MapError(f"{where or name}: its weights are not those {loaded_by.name} keeps resident (a mapper bug)")
            self.tilings, self.unit_prefix, loaders = loaded_by.tilings, loaded_by.unit_prefix, loaded_by.loaders
            bank = loaded_by.bank
            self.placement_key, self.variant, self.pmu_state = loaded_by.placement_key, ("loaded", m), True
        else:
            if bank is not None:
                if not resident:
                    raise MapError(f"{where or name}: a bank of W PMUs holds resident weights (a mapper bug)")
                if bank[1] % cfg.lanes or bank[1] + bank[2] > cfg.pmu_words:
                    raise MapError(f"{where or name}: its share of the bank ({bank[2]} words from word {bank[1]}) "
                                   f"does not fit {cfg.name}'s PMUs of {cfg.pmu_words} words (a mapper bug)")
            self.tilings = tile_mlp(cfg, where or name, m, layers, epilogue, loaders, pmus, resident,
                                    bank and (bank[0], bank[2]))
            self.unit_prefix = name
            if resident:
                self.placement_key, self.variant = ("resident", name), ("load", m)
        ts, self.loaders, self.bank = self.tilings, loaders, bank
        self.links = links_of(ts)
        self.loads, self.streams = loading(cfg, ts, loaders)
        if bank is not None and loaded_by is None and max(self.streams) > bank[2]:
            # a W PMU takes its part through a window on its loader's stream, writing the words after the
            # part too: they must stay within the share (an earlier load's share lies above it)
            raise MapError(f"{self.where}: a weight loader's stream of {max(self.streams)} words is longer than its "
                           f"share of the bank ({bank[2]} words)")
        pcus = len(self.links)
        macs = sum(m * layer.k * layer.n for layer in layers)
        self.ideal_cycles = -(-macs // (cfg.lanes * pcus))
        self.trees = tuple(tree_links(cfg, layer.relu_in) for layer in layers)
        self.estimate_cycles = estimate(cfg, m, ts, epilogue, loaders, loaded_by is not None, trees=self.trees)

    def memory_estimate(self, cfg: ArrayConfig, dram: DramTraffic, memory: Memory, sites: dict,
                        paths: dict | None) -> int:
        """As every phase's (``memory_cycles``), with the weights' load sharing the DRAM's bandwidth
        (``load_cycles``): on the critical path before the first layer, not only in the phase's total."""
        words = memory.bytes_per_cycle / 4 if memory.bytes_per_cycle else None
        pace = chain_pace(cfg, self._epilogue_units(sites, paths)) if self.epilogue and paths is not None else None
        cycles = estimate(cfg, self.m, self.tilings, self.epilogue, self.loaders, self.loaded_by is not None, words,
                          trees=self.trees, epilogue_pace=pace)
        return memory_cycles(cfg, cycles, dram, memory, self.dram_overlap)

    def _epilogue_units(self, s: dict, paths: dict) -> list[ChainUnit]:
        """The last layer's output PCU (a source) then the epilogue's PCUs as chain_timing's units,
        their routes to the epilogue's PCUs from *paths* (mapper/phases/chain_timing.py)."""
        t = self.tilings[-1]
        kinds = {unit.name: unit.kind for unit in self.netlist()[0]}
        position = {self._u("epilogue", c): 1 + c for c in range(len(self.epilogue))}
        sources = [("tensor", 0)] + [("pcu", c) for c in range(len(self.epilogue))]
        ends = [("pcu", *self._site(s, "pcu", len(self.tilings) - 1, 0, t.chain - 1), "vout", 0)]
        ends += [("pcu", *self._site(s, "epilogue", c), "vout", 0) for c in range(len(self.epilogue))]
        units = []
        for u, source in enumerate(sources):
            sinks = [(position[name], self._input_port(s, kinds, name, source)) for name in self._epilogue_readers(source)
                     if name in position]
            routes = tuple((sink, port[-1], paths[(ends[u], port)]) for sink, port in sinks)
            inputs = tuple(sources.index(x) for x in self.epilogue[u - 1].inputs) if u else ()
            units.append(ChainUnit(u > 0, inputs, routes))
        return units

    @property
    def resident(self) -> bool:
        """Its weights stay in its PMUs for later phases (it loads them, or reads them there)."""
        return self.placement_key is not None

    def keeping_weights(self, pmus: int, bank: tuple[int, int, int] | None = None) -> MlpPhase:
        """This phase, tiled on *pmus* PMUs (with a *bank*: its X PMUs, the weights in the bank),
        loading weights that stay resident for later phases."""
        return MlpPhase(self.cfg, self.name, self.nodes, self.x, self.layers, self.m, self.where, self.epilogue,
                        self.y, self.loaders, pmus, resident=True, bank=bank)

    def reading_weights_of(self, resident: MlpPhase) -> MlpPhase:
        """This phase, on the weights *resident* left in its PMUs."""
        return MlpPhase(self.cfg, self.name, self.nodes, self.x, self.layers, self.m, self.where, self.epilogue,
                        self.y, loaded_by=resident)

    def weight_sources(self) -> dict[str, str]:
        where = f"resident in PMUs since {self.loaded_by.name}" if self.loaded_by else \
            "loaded into PMUs once" if self.resident else "resident in PMUs"
        if self.bank:
            where += f" (a bank of {self.bank[0]} W PMUs shared by the MLPs, words {self.bank[1]}..)"
        return {layer.w: where for layer in self.layers}

    def resident_units(self) -> tuple[str, ...]:
        """A resident phase's PMUs, its weights' and its X PMUs (which another resident phase's weights
        must not take either), or with a bank the bank's: kept from every other phase."""
        if self.bank:
            return tuple(self._wpmu(n) for n in range(self.bank[0]))
        return tuple(u.name for u in self.netlist()[0] if u.kind == "pmu") if self.resident else ()

    def rerun_units(self) -> tuple[str, ...]:
        """A resident phase's units but its loaders: what a run on its loaded weights uses."""
        loaders = {loader for _, loader, _ in self._streams()}
        return tuple(u.name for u in self.netlist()[0] if u.name not in loaders) if self.resident else ()

    def layer_units(self) -> dict[str, dict[str, int]]:
        """Layer l: a PCU and a W PMU per link (groups x chain), an X PMU per K range; the epilogue: its
        chain's PCUs."""
        units = {layer.w: {"pcu": t.groups * t.chain, "pmu": t.groups * t.chain + t.chain}
                 for layer, t in zip(self.layers, self.tilings)}
        if self.epilogue:
            units[f"{self.y} (epilogue)"] = {"pcu": len(self.epilogue), "pmu": 0}
        return units

    # -- the netlist -------------------------------------------------------------------------------------
    def _u(self, kind, *index) -> str:
        return f"{self.unit_prefix}.{kind}{'_'.join(map(str, index))}"

    def _wpmu(self, n: int) -> str:
        """Link *n*'s W PMU (``links_of`` order): the bank's PMU n, or a unit of its own."""
        return f"{BANK}.pmu{n}" if self.bank else self._u("wpmu", *self.links[n])

    def _loader(self, n: int) -> tuple[str, str]:
        """The unit that loads link *n*'s weights (``loading``): loader a is AG a while there are AGs,
        then host rows 1, 2, ..."""
        rows, a = self.cfg.rows, self.loads[n][0]
        return ("ag", self._u("ag", a)) if a < rows else ("host", self._u("host", a - rows + 1))

    def _streams(self) -> list[tuple[str, str, list[int]]]:
        """(kind, unit, its links in stream order) of every loader."""
        return [(*self._loader([a for a, _ in self.loads].index(loader)),
                 sorted((n for n, (a, _) in enumerate(self.loads) if a == loader), key=lambda n: self.loads[n][1]))
                for loader in range(len(self.streams))]

    def netlist(self):
        u, ts = self._u, self.tilings
        units = [Unit(u("host", 0), "host")]
        nets = [Net(u("host", 0), tuple(u("xpmu", 0, j) for j in range(ts[0].chain)))]
        for i, t in enumerate(ts):
            units += [Unit(u("xpmu", i, j), "pmu") for j in range(t.chain)]
            nets += [Net(u("xpmu", i, j), tuple(u("pcu", i, g, j) for g in range(t.groups))) for j in range(t.chain)]
        for kind, loader, links in self._streams() if self.loaded_by is None else ():
            units.append(Unit(loader, kind))
            nets.append(Net(loader, tuple(self._wpmu(n) for n in links), 0.5))
        for n, (i, g, j) in enumerate(self.links):
            units += [Unit(self._wpmu(n), "pmu"), Unit(u("pcu", i, g, j), "pcu")]
            nets.append(Net(self._wpmu(n), (u("pcu", i, g, j),)))
            for f in feeders(ts[i].chain, j, self.trees[i]):
                nets.append(Net(u("pcu", i, g, f), (u("pcu", i, g, j),), 2.0))
        for i, t in enumerate(ts):
            for g in range(t.groups):
                nets.append(Net(u("pcu", i, g, t.chain - 1), self._consumers(i, g)))
        for c in range(len(self.epilogue)):
            units.append(Unit(u("epilogue", c), "pcu"))
            nets.append(Net(u("epilogue", c), self._epilogue_readers(("pcu", c))))
        # the bank's PMUs beyond its links: held for the MLPs with more (idle in this configuration)
        units += [Unit(self._wpmu(n), "pmu") for n in range(len(self.links), self.bank[0] if self.bank else 0)]
        return units, nets

    def _epilogue_readers(self, source: tuple[str, int]) -> tuple[str, ...]:
        """The epilogue PCUs that read *source* (("tensor", 0): the last layer's outputs; ("pcu", c)),
        and the host after the chain's last PCU."""
        last = ("pcu", len(self.epilogue) - 1)
        return (tuple(self._u("epilogue", c) for c, pcu in enumerate(self.epilogue) if source in pcu.inputs)
                + ((self._u("host", 0),) if source == last else ()))

    def _consumers(self, i: int, g: int) -> tuple[str, ...]:
        """Where group *g* of layer *i* sends its outputs: its X PMU of the next layer (all of them when
        the layer has one group), the epilogue's PCUs that read it or the host."""
        u, ts = self._u, self.tilings
        if i + 1 < len(ts):
            return (u("xpmu", i + 1, g),) if ts[i].groups > 1 else tuple(u("xpmu", i + 1, j) for j in range(ts[i + 1].chain))
        return self._epilogue_readers(("tensor", 0)) if self.epilogue else (u("host", 0),)

    def _site(self, s, kind, *index):
        return s[self._u(kind, *index)]

    # -- programs and routes -----------------------------------------------------------------------------
    def _weight_program(self, n: int) -> PmuProgram:
        """Link *n*'s W PMU, in buffer mode: one write run takes the link's [W; b] part (column block
        i's rows of the link's K range, the blocks one after the other), through a window on its
        loader's stream when the loader serves other links too; one read run gives it once per sample.
        Loaded by a phase before: the read port alone (mode none), on what that phase wrote, its run
        begun by a start token from the host (it has no input to wait for)."""
        (i, _, j), (loader, offset) = self.links[n], self.loads[n]
        t, L = self.tilings[i], self.cfg.lanes
        words, stream = t.kb(j) * t.blocks * L, self.streams[loader]
        base = self.bank[1] if self.bank else 0
        address = [AddressStage("add", ctr(0), LANE)]
        read = Port(stages=address + ([AddressStage("add", reg(0), CONST, const=base)] if base else []),
                    counters=[Counter(0, words, L), Counter(0, self.m, 1)])
        if self.loaded_by is not None:
            return PmuProgram(read=dataclasses.replace(read, wait_start=True))
        # the stream position less the part's offset, plus its base in the bank: one address stage
        shift = [AddressStage("sub" if offset > base else "add", reg(0), CONST, const=abs(offset - base))] \
            if offset != base else []
        write = Port(stages=address + shift, counters=[Counter(0, stream, L)], vin_required=[0], data=vin(0),
                     window=stream > words)
        return PmuProgram(write=write, read=read, mode="buffer")

    def _x_program(self, i: int, j: int) -> PmuProgram:
        """X PMU (i, j): a write run takes a sample row (the whole row, or, when layer i - 1 has groups,
        group j's vectors), a read run gives link j's K range (and the bias column on the last link)
        as scalars once per column block of a group."""
        t = self.tilings[i]
        if i and self.tilings[i - 1].groups > 1:
            t = dataclasses.replace(t, chunks=tuple((k0 - t.chunks[j][0], k1 - t.chunks[j][0]) for k0, k1 in t.chunks))
        return x_buffer_program(t, self.cfg.lanes, 0, j)

    def _input_port(self, s: dict, kinds: dict, name: str, source: tuple[str, int] = ("tensor", 0)) -> tuple:
        """The vector input of unit *name* a layer's outputs (or epilogue PCU *source*'s) enter (a
        host's: its output port; an epilogue PCU's: the input its piece reads them on)."""
        if kinds[name] == "host":
            return "host", s[name][0], "vrecv"
        epilogue = {self._u("epilogue", c): pcu for c, pcu in enumerate(self.epilogue)}
        return (kinds[name], *s[name], "vin", epilogue[name].inputs.index(source) if name in epilogue else 0)

    def emit(self, b: ArrayBuilder, s: dict) -> None:
        ts = self.tilings
        host = self._site(s, "host", 0)[0]
        kinds = {unit.name: unit.kind for unit in self.netlist()[0]}
        vector, scalar = [], []
        vector.append((("host", host, "vsend"), [("pmu", *self._site(s, "xpmu", 0, j), "vin", 0)
                                                  for j in range(ts[0].chain)]))
        for i, t in enumerate(ts):
            for j in range(t.chain):
                b.pmu(*self._site(s, "xpmu", i, j), self._x_program(i, j))
                scalar.append((("pmu", *self._site(s, "xpmu", i, j), "sout", 0),
                               [("pcu", *self._site(s, "pcu", i, g, j), "sin", 0) for g in range(t.groups)]))
        for n, (i, g, j) in enumerate(self.links):
            t, layer = ts[i], self.layers[i]
            b.pmu(*s[self._wpmu(n)], self._weight_program(n))
            fed_by = feeders(t.chain, j, self.trees[i])
            b.pcu(*self._site(s, "pcu", i, g, j), link_program(t, j, layer.relu_in, len(fed_by)))
            vector.append((("pmu", *s[self._wpmu(n)], "vout", 0),
                           [("pcu", *self._site(s, "pcu", i, g, j), "vin", 0)]))
            for v, f in enumerate(fed_by):
                vector.append((("pcu", *self._site(s, "pcu", i, g, f), "vout", 0),
                               [("pcu", *self._site(s, "pcu", i, g, j), "vin", 1 + v)]))
        for kind, loader, links in self._streams() if self.loaded_by is None else ():
            if kind == "ag":
                b.ag(s[loader][0], AgProgram("read"))
            source = ("ag", s[loader][0], "rdata") if kind == "ag" else ("host", s[loader][0], "vsend")
            vector.append((source, [("pmu", *s[self._wpmu(n)], "vin", 0) for n in links]))
        for i, t in enumerate(ts):
            for g in range(t.groups):
                vector.append((("pcu", *self._site(s, "pcu", i, g, t.chain - 1), "vout", 0),
                               [self._input_port(s, kinds, name) for name in self._consumers(i, g)]))
        for c, pcu in enumerate(self.epilogue):
            # It fires once per output vector of the last layer, without counters (no done token).
            b.pcu(*self._site(s, "epilogue", c), PcuProgram(stages=pcu.stages, vin_required=list(range(len(pcu.inputs))),
                                                            vout=[("reg", len(pcu.stages) - 1)]))
            vector.append((("pcu", *self._site(s, "epilogue", c), "vout", 0),
                           [self._input_port(s, kinds, name, ("pcu", c)) for name in self._epilogue_readers(("pcu", c))]))
        control = [(("host", host, "csend"), [("pmu", *s[self._wpmu(n)], "ctrl_in", 0)
                                              for n in range(len(self.links))])] if self.loaded_by else []
        for network, routes in (("vector", vector), ("scalar", scalar), ("control", control)):
            b.route_all(network, routes)

    # -- a run -------------------------------------------------------------------------------------------
    def _part(self, tensors: dict, i: int, g: int, j: int) -> np.ndarray:
        """Link (i, g, j)'s [W; b] words in the W PMU's order (module docstring: the 1.0 column)."""
        t, layer, L = self.tilings[i], self.layers[i], self.cfg.lanes
        wb = np.zeros((layer.k + 1, t.groups * t.blocks * L), F32)
        wb[: layer.k, : layer.n] = tensors[layer.w]
        wb[layer.k, : layer.n] = tensors[layer.bias]
        if i + 1 < len(self.layers):
            wb[layer.k, layer.n] = 1.0
        k0, columns = t.chunks[j][0], slice(g * t.blocks * L, (g + 1) * t.blocks * L)
        return wb[k0:k0 + t.kb(j), columns].reshape(t.kb(j), t.blocks, L).transpose(1, 0, 2).copy().view(U32).ravel()

    def io(self, s: dict, tensors: dict) -> PhaseIO:
        t0, L = self.tilings[0], self.cfg.lanes
        xp = np.zeros((self.m, t0.kp), F32)
        xp[:, : self.layers[0].k] = tensors[self.x]
        xp[:, self.layers[0].k] = 1.0
        host = self._site(s, "host", 0)[0]
        sources = {f"vsend__{host}": pack_vectors(xp.view(U32).reshape(-1, L))}
        dram = {}
        for kind, loader, links in self._streams() if self.loaded_by is None else ():
            words = np.concatenate([self._part(tensors, *self.links[n]) for n in links])
            row = s[loader][0]
            if kind == "ag":
                dram[row] = {0: words}
                sources[f"ag_cmd__{row}"] = [0 | (len(words) << 32)]
            else:
                sources[f"vsend__{row}"] = pack_vectors(words.reshape(-1, L))
        if self.loaded_by is not None:
            sources[f"csend__{host}"] = [1]  # the W PMUs' read runs begin
        sinks = {f"vrecv__{host}": self.m * self.tilings[-1].blocks}
        return PhaseIO(sources, dram, sinks, [], 0)

    def collect(self, s: dict, outputs: dict, readback: list) -> dict:
        t, L = self.tilings[-1], self.cfg.lanes
        port = f"vrecv__{self._site(s, 'host', 0)[0]}"
        y = unpack_vectors(outputs[port], L).view(F32).reshape(self.m, t.blocks * L)
        return {self.y: y[:, : self.layers[-1].n]}
