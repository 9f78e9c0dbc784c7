"""The MLP phase: a chain of Linear layers y_(l+1) = relu?(y_l) W_l + b_l over M samples in one
configuration, the weights resident in PMUs and the samples pipelined through the layers.

Dataflow (lanes L; layer l has a chain of C_l PCUs, link j summing its K range, as in a matmul phase
with one group and one row; mapper/phases/matmul.py)::

    loader (l, j) (an AG reading DRAM, or a host row) --the link's [W; b] part, once--> W PMU (l, j)
    W PMU (l, j) (buffer mode: written once, then read once per sample) --W vectors--> PCU (l, j)
    X PMU (l, j) (double-buffered sample rows) --x[m, K range of link j] scalars--> PCU (l, j)
    PCU (l, j): [relu(x)], x * W row, accumulated; link j > 0 adds link j - 1's partial sums (vin 1)
    PCU (l, C_l - 1) --y_l[m] vectors, multicast--> X PMU (l + 1, j), every j  (the last layer: host vrecv)
    host row --x[m] vectors (and a 1.0 in column K_0)--> X PMU (0, j), every j

An *epilogue* PCU after the last layer may compute an elementwise op of its result that fits one PCU
(the ReLU that follows a bottom MLP), which the phase writes instead: one phase less.

The bias is the last product of an output, 1.0 x b: layer 0's rows carry the 1.0 from the host; a
layer that feeds another makes its 1.0 itself, as one more output column (W column 0, bias 1.0: the
sum of zeros plus 1.0 is exactly 1.0, and relu(1.0) = 1.0). Each X PMU holds two sample rows, so layer
l takes sample m + 1 while layer l + 1 works on sample m: after the first sample has passed, the
phase gives a sample every max over layers of (column blocks x K range) cycles. The weights are read
from DRAM once, at the phase's start, and stay in the PMUs for every sample; on the array they are not
streamed per X block as in a matmul phase.

Tiling: one chain length per layer, each link a PCU, an X PMU, a W PMU and a loader (the rows' AGs,
then the host rows other than the first); from chains of 1, the link that lowers the cost model most
is added while PCUs, PMUs and loaders last (``tile_mlp``). A layer's X row (K + 1 words,
padded to whole vectors) must fit half a PMU (two rows, double-buffered) and a link's [W; b] part a
PMU; chains need 4 PCU stages (5 with the input ReLU), two vector inputs and 4 registers.

Cost model (cycles; layer l: F_l = column blocks x its largest K range (+1 on the last link) firings
per sample, C_l links, lag_l = (C_l - 1) (K range + 20) as in the matmul phase; fitted on 49 RTL runs
on small and tiny, 1 to 16 samples, 2 to 4 layers, chains of 1 to 3 links: max error 7.3 %)::

    start_0 = the largest W part of layer 0 in vectors      (the loaders run in parallel)
    start_l = max(end_(l-1) + 38 + 3 stages, layer l's load)  (route, X PMU turn, pipeline)
    end_l   = start_l + F_l + lag_l                            (the first sample through layer l)
    cycles  = end_last + the matmul phase's latency + 1 [+ 6 + 5 stages with an epilogue PCU]
            + (M - 1) max_l max(F_l, (F_l + (C_l - 1) K range + P_l + 4 stages) / 2)

P_l is what layer l's producer writes into its X PMUs per sample (vectors): a double-buffered X PMU
takes sample m + 2 only after its reads of sample m, so a short layer waits for half a round of
reading, writing and the turns; a long layer runs at its firings.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from rdagen.rtl.spec.ag_layout import AgProgram
from rdagen.rtl.spec.array_layout import pack_vectors, unpack_vectors
from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.ops import FU_LATENCY
from rdagen.rtl.spec.pcu_layout import LANE, Counter, PcuProgram, Stage, ctr, vin
from rdagen.rtl.spec.pmu_layout import AddressStage, PmuProgram, Port

from rdagen.mapper.backend.builder import ArrayBuilder
from rdagen.mapper.phases.matmul import CHAIN_LATENCY, MatmulTiling, latency, link_program, split_k, x_buffer_program
from rdagen.mapper.phases.phase import F32, U32, MapError, Phase, PhaseIO
from rdagen.mapper.backend.place import Net, Unit, sites

__all__ = ["Layer", "tile_mlp", "estimate", "MlpPhase"]

HOP = 38  # + 3 per PCU stage: a layer's last output to the next layer's first firing (route, X PMU, pipeline)
TURN = 4  # per PCU stage: what a double-buffer round adds to a layer's reads and its producer's writes
EPILOGUE, EPILOGUE_PER_STAGE = 6, 5  # the epilogue PCU's pipeline and route (fitted on small and tiny)


@dataclasses.dataclass(frozen=True)
class Layer:
    """One Linear layer of the chain: y = relu?(x) @ w + bias, x [M, k], w [k, n]."""
    w: str
    bias: str
    relu_in: bool
    k: int
    n: int
    y: str


def _tiling(cfg: ArrayConfig, m: int, layer: Layer, last: bool, chain: int) -> MatmulTiling:
    L = cfg.lanes
    width = layer.n + (not last)  # a layer that feeds another makes the next one's 1.0 column
    chunks = split_k(layer.k, chain)
    return MatmulTiling(1, 1, len(chunks), chunks, -(-(layer.k + 1) // L) * L, -(-width // L), m, True, 0, True, 0)


def _sample_cycles(cfg: ArrayConfig, t: MatmulTiling, produced: int) -> float:
    """Cycles between two samples in a layer: its firings per sample, or, when that is short, half of
    a double-buffer round (module docstring)."""
    kb = max(t.kb(j) for j in range(t.chain))
    firings = t.blocks * kb
    return max(firings, (firings + (t.chain - 1) * kb + produced + TURN * cfg.stages) / 2)


def estimate(cfg: ArrayConfig, m: int, tilings: tuple[MatmulTiling, ...], epilogue: bool = False) -> int:
    """The cost model of the module docstring."""
    end, produced, pace = 0, tilings[0].kp // cfg.lanes, 0.0
    for n, t in enumerate(tilings):
        kb = max(t.kb(j) for j in range(t.chain))
        loaded = max(t.kb(j) * t.blocks for j in range(t.chain))
        start = loaded if n == 0 else max(end + HOP + FU_LATENCY * cfg.stages, loaded)
        end = start + t.blocks * kb + (t.chain - 1) * (kb + CHAIN_LATENCY)
        pace = max(pace, _sample_cycles(cfg, t, produced))
        produced = t.blocks
    return round(end + latency(cfg) + 1 + epilogue * (EPILOGUE + EPILOGUE_PER_STAGE * cfg.stages) + (m - 1) * pace)


def tile_mlp(cfg: ArrayConfig, where: str, m: int, layers: tuple[Layer, ...],
             epilogue: bool = False) -> tuple[MatmulTiling, ...]:
    """The chain length of every layer: from chains of one link, the link that lowers the cost model
    most is added while PCUs, PMUs and loaders last (and a layer's weights do not fit its links'
    PMUs). MapError naming *where* and the resource when the layers do not fit one configuration."""
    L = cfg.lanes
    budget = min(len(sites(cfg, "pcu")) - epilogue, len(sites(cfg, "pmu")) // 2, 2 * cfg.rows - 1)
    if len(layers) > budget:
        raise MapError(f"{where}: {len(layers)} layers need {len(layers)} PCUs, {2 * len(layers)} PMUs and "
                       f"{len(layers)} weight loaders (AGs and host rows); {cfg.name} has room for {budget}")
    last = len(layers) - 1
    tilings = [_tiling(cfg, m, layer, i == last, 1) for i, layer in enumerate(layers)]
    for t, layer in zip(tilings, layers):
        if cfg.stages < 1 + layer.relu_in or cfg.counters < 2:
            raise MapError(f"{where}: a layer needs {1 + layer.relu_in} PCU stages and 2 counters ({cfg.name}: "
                           f"{cfg.stages} stages, {cfg.counters} counters)")
        if 2 * t.kp > cfg.pmu_words:
            raise MapError(f"{where}: a sample row of {layer.k} inputs (+ 1 for the bias) needs {2 * t.kp} PMU words "
                           f"double-buffered; a PMU of {cfg.name} holds {cfg.pmu_words}")

    def fits(t: MatmulTiling) -> bool:
        return all(t.kb(j) * t.blocks * L <= cfg.pmu_words for j in range(t.chain))

    def grown(i: int) -> MatmulTiling | None:
        layer, t = layers[i], tilings[i]
        if cfg.stages < 4 + layer.relu_in or cfg.vector_inputs < 2 or cfg.registers < 4:
            return None
        for c in range(t.chain + 1, layer.k + 1):  # the next chain length that splits K differently
            longer = _tiling(cfg, m, layer, i == last, c)
            if longer.chain > t.chain:
                return longer
        return None

    while sum(t.chain for t in tilings) < budget:
        best = None
        for i in range(len(layers)):
            longer = grown(i)
            if longer is None or sum(t.chain for t in tilings) - tilings[i].chain + longer.chain > budget:
                continue
            trial = tuple(longer if n == i else t for n, t in enumerate(tilings))
            key = (fits(tilings[i]), estimate(cfg, m, trial, epilogue))  # first the layers whose weights do not fit
            if best is None or key < best[0]:
                best = (key, i, longer)
        if best is None or (all(map(fits, tilings)) and best[0][1] >= estimate(cfg, m, tuple(tilings), epilogue)):
            break
        tilings[best[1]] = best[2]
    for i, t in enumerate(tilings):
        if not fits(t):
            raise MapError(f"{where}: layer {i}'s weights ({layers[i].k} x {layers[i].n} and the bias) do not fit "
                           f"{cfg.name}'s PMUs of {cfg.pmu_words} words in {t.chain} links")
    return tuple(tilings)


class MlpPhase(Phase):
    mode = "simd"

    def __init__(self, cfg: ArrayConfig, name: str, nodes: tuple, x: str, layers: tuple[Layer, ...], m: int,
                 where: str | None = None, epilogue: tuple[Stage, ...] = (), y: str | None = None):
        """*epilogue*: the stages of a PCU after the last layer (an elementwise op of one input, e.g. the
        ReLU after it) whose result, *y*, the phase writes instead of the last layer's."""
        self.cfg, self.name, self.nodes, self.x, self.layers, self.m = cfg, name, nodes, x, layers, m
        self.epilogue = epilogue
        self.reads = (x,) + tuple(t for layer in layers for t in (layer.w, layer.bias))
        self.y = y or layers[-1].y
        self.writes = (self.y,)
        self.tilings = ts = tile_mlp(cfg, where or name, m, layers, bool(epilogue))
        self.links = [(i, j) for i, t in enumerate(ts) for j in range(t.chain)]
        pcus = len(self.links)
        macs = sum(m * layer.k * layer.n for layer in layers)
        self.ideal_cycles = -(-macs // (cfg.lanes * pcus))
        self.estimate_cycles = estimate(cfg, m, ts, bool(epilogue))

    def weight_sources(self) -> dict[str, str]:
        return {layer.w: "resident in PMUs" for layer in self.layers}

    # -- the netlist -------------------------------------------------------------------------------------
    def _u(self, kind, *index) -> str:
        return f"{self.name}.{kind}{'_'.join(map(str, index))}"

    def _loader(self, n: int) -> tuple[str, str]:
        """The unit that loads link *n*'s weights: AG n while there are AGs, then host rows 1, 2, ..."""
        rows = self.cfg.rows
        return ("ag", self._u("ag", n)) if n < rows else ("host", self._u("host", n - rows + 1))

    def netlist(self):
        u, ts = self._u, self.tilings
        units = [Unit(u("host", 0), "host")]
        nets = [Net(u("host", 0), tuple(u("xpmu", 0, j) for j in range(ts[0].chain)))]
        for n, (i, j) in enumerate(self.links):
            kind, loader = self._loader(n)
            units += [Unit(loader, kind), Unit(u("wpmu", i, j), "pmu"), Unit(u("xpmu", i, j), "pmu"),
                      Unit(u("pcu", i, j), "pcu")]
            nets += [Net(loader, (u("wpmu", i, j),), 0.5), Net(u("wpmu", i, j), (u("pcu", i, j),)),
                     Net(u("xpmu", i, j), (u("pcu", i, j),))]
            if j:
                nets.append(Net(u("pcu", i, j - 1), (u("pcu", i, j),), 2.0))
        for i, t in enumerate(ts):
            last = u("pcu", i, t.chain - 1)
            if i + 1 < len(ts):
                nets.append(Net(last, tuple(u("xpmu", i + 1, j) for j in range(ts[i + 1].chain))))
            elif self.epilogue:
                units.append(Unit(u("epilogue"), "pcu"))
                nets += [Net(last, (u("epilogue"),)), Net(u("epilogue"), (u("host", 0),))]
            else:
                nets.append(Net(last, (u("host", 0),)))
        return units, nets

    def _site(self, s, kind, *index):
        return s[self._u(kind, *index)]

    # -- programs and routes -----------------------------------------------------------------------------
    def _weight_program(self, t: MatmulTiling, j: int) -> PmuProgram:
        """Buffer mode: one write run takes the link's [W; b] part (column block i's rows of the link's
        K range, the blocks one after the other); one read run gives it once per sample."""
        L, words = self.cfg.lanes, t.kb(j) * t.blocks * self.cfg.lanes
        address = [AddressStage("add", ctr(0), LANE)]
        write = Port(stages=address, counters=[Counter(0, words, L)], vin_required=[0], data=vin(0))
        read = Port(stages=address, counters=[Counter(0, words, L), Counter(0, self.m, 1)])
        return PmuProgram(write=write, read=read, mode="buffer")

    def emit(self, b: ArrayBuilder, s: dict) -> None:
        ts, L = self.tilings, self.cfg.lanes
        host = self._site(s, "host", 0)[0]
        vector, scalar = [], []
        vector.append((("host", host, "vsend"), [("pmu", *self._site(s, "xpmu", 0, j), "vin", 0)
                                                  for j in range(ts[0].chain)]))
        for n, (i, j) in enumerate(self.links):
            t, layer = ts[i], self.layers[i]
            b.pmu(*self._site(s, "xpmu", i, j), x_buffer_program(t, L, 0, j))
            b.pmu(*self._site(s, "wpmu", i, j), self._weight_program(t, j))
            b.pcu(*self._site(s, "pcu", i, j), link_program(t, j, layer.relu_in))
            kind, loader = self._loader(n)
            if kind == "ag":
                b.ag(s[loader][0], AgProgram("read"))
            source = ("ag", s[loader][0], "rdata") if kind == "ag" else ("host", s[loader][0], "vsend")
            vector.append((source, [("pmu", *self._site(s, "wpmu", i, j), "vin", 0)]))
            vector.append((("pmu", *self._site(s, "wpmu", i, j), "vout", 0), [("pcu", *self._site(s, "pcu", i, j), "vin", 0)]))
            scalar.append((("pmu", *self._site(s, "xpmu", i, j), "sout", 0), [("pcu", *self._site(s, "pcu", i, j), "sin", 0)]))
            if j:
                vector.append((("pcu", *self._site(s, "pcu", i, j - 1), "vout", 0),
                               [("pcu", *self._site(s, "pcu", i, j), "vin", 1)]))
        for i, t in enumerate(ts):
            last = ("pcu", *self._site(s, "pcu", i, t.chain - 1), "vout", 0)
            if i + 1 < len(ts):
                vector.append((last, [("pmu", *self._site(s, "xpmu", i + 1, j), "vin", 0) for j in range(ts[i + 1].chain)]))
            elif self.epilogue:
                # It fires once per output vector of the last layer, without counters (no done token).
                epilogue = self._site(s, "epilogue")
                b.pcu(*epilogue, PcuProgram(stages=self.epilogue, vin_required=[0],
                                            vout=[("reg", len(self.epilogue) - 1)]))
                vector += [(last, [("pcu", *epilogue, "vin", 0)]), (("pcu", *epilogue, "vout", 0), [("host", host, "vrecv")])]
            else:
                vector.append((last, [("host", host, "vrecv")]))
        for network, routes in (("vector", vector), ("scalar", scalar)):
            b.route_all(network, routes)

    # -- a run -------------------------------------------------------------------------------------------
    def _part(self, tensors: dict, i: int, j: int) -> np.ndarray:
        """Link (i, j)'s [W; b] words in the W PMU's order (module docstring: the 1.0 column)."""
        t, layer, L = self.tilings[i], self.layers[i], self.cfg.lanes
        wb = np.zeros((layer.k + 1, t.blocks * L), F32)
        wb[: layer.k, : layer.n] = tensors[layer.w]
        wb[layer.k, : layer.n] = tensors[layer.bias]
        if i + 1 < len(self.layers):
            wb[layer.k, layer.n] = 1.0
        k0 = t.chunks[j][0]
        return wb[k0:k0 + t.kb(j)].reshape(t.kb(j), t.blocks, L).transpose(1, 0, 2).copy().view(U32).ravel()

    def io(self, s: dict, tensors: dict) -> PhaseIO:
        t0, L = self.tilings[0], self.cfg.lanes
        xp = np.zeros((self.m, t0.kp), F32)
        xp[:, : self.layers[0].k] = tensors[self.x]
        xp[:, self.layers[0].k] = 1.0
        host = self._site(s, "host", 0)[0]
        sources = {f"vsend__{host}": pack_vectors(xp.view(U32).reshape(-1, L))}
        dram = {}
        for n, (i, j) in enumerate(self.links):
            words = self._part(tensors, i, j)
            kind, loader = self._loader(n)
            row = s[loader][0]
            if kind == "ag":
                dram[row] = {0: words}
                sources[f"ag_cmd__{row}"] = [0 | (len(words) << 32)]
            else:
                sources[f"vsend__{row}"] = pack_vectors(words.reshape(-1, L))
        sinks = {f"vrecv__{host}": self.m * self.tilings[-1].blocks}
        return PhaseIO(sources, dram, sinks, [], 0)

    def collect(self, s: dict, outputs: dict, readback: list) -> dict:
        t, L = self.tilings[-1], self.cfg.lanes
        port = f"vrecv__{self._site(s, 'host', 0)[0]}"
        y = unpack_vectors(outputs[port], L).view(F32).reshape(self.m, t.blocks * L)
        return {self.y: y[:, : self.layers[-1].n]}
