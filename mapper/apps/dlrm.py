"""DLRM as the public reference defines it (facebookresearch/dlrm, ``dlrm_s_pytorch.py``): the
architecture from its flags, its weights (drawn its way, or from a state-dict .npz), its inputs (a
random batch, an .npz, or Criteo TSV lines) and the rdagen graph that computes it.

Semantics: bottom MLP with ReLU after every layer; one ``EmbeddingBag(mode="sum")`` per table; the
``dot`` interaction over T = [x, e_1 .. e_F] gives [x, the strict lower triangle of T T^T in row-major
order]; ``cat`` gives [x, e_1 .. e_F]; top MLP (its input width prepended, as the reference does:
D + F (F + 1) / 2 for dot, D (F + 1) for cat) with ReLU after every layer but the last, which is a
sigmoid. The bottom MLP's last width must be D.

Weights without a file: ``np.random.seed(S)``; each table U(-sqrt(1/n), sqrt(1/n)) of shape (n, D),
tables in order; then each bottom, then each top Linear (m outputs, n inputs): W ~ N(0, sqrt(2/(m+n)))
of shape (m, n), then b ~ N(0, sqrt(1/m)); drawn in float64, cast to fp32. State-dict names:
``emb_l.K.weight``, ``bot_l.J.weight`` / ``bot_l.J.bias`` with J = 0, 2, 4, ... (a Linear's position in
the reference's ``nn.Sequential``, activations between), the same for ``top_l``.

Inputs: ``dense_x`` [B, 13] fp32; ``lS_o`` [T, B] bag start offsets per table; ``lS_i_K`` table K's
indices. Criteo TSV: label, 13 integer and 26 hexadecimal categorical fields, tab-separated, any field
may be empty (read as 0); dense features log(max(x, 0) + 1) as the reference preprocesses them; table
K takes categorical field K (K < 26), its value modulo the table's rows, one index per sample.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np

from rdagen.rtl.spec.array_layout import tile_kind
from rdagen.rtl.spec.memory import DDR4, Memory
from rdagen.rtl.spec.ops import FU_LATENCY

from rdagen.rtl.spec.expression import SIGMOID
from rdagen.mapper.frontend.graph import Graph, GraphBuilder, GraphError, copy_name
from rdagen.mapper.frontend.inputs import first_bad_offset, first_index_outside

__all__ = ["DlrmError", "Arch", "KAGGLE", "LowerBound", "lower_bound", "parse_sizes", "reference_weights", "load_weights", "random_batch", "load_inputs",
           "read_criteo_tsv", "check_batch", "batch_name", "bag_length", "dlrm_graph", "graph_inputs", "CRITEO_CATEGORICAL"]

CRITEO_DENSE, CRITEO_CATEGORICAL = 13, 26


class DlrmError(GraphError):
    """A DLRM flag, weight file, input file or TSV line that cannot be used; the message names it."""


def parse_sizes(flag: str, text: str) -> tuple[int, ...]:
    """'13-512-256' -> (13, 512, 256); DlrmError naming *flag* on anything else."""
    try:
        sizes = tuple(int(part) for part in str(text).split("-"))
    except ValueError:
        raise DlrmError(f"{flag} {text!r}: expected positive integers joined by '-', e.g. 13-512-256-16") from None
    if not sizes or any(s < 1 for s in sizes):
        raise DlrmError(f"{flag} {text!r}: every size must be a positive integer")
    return sizes


@dataclasses.dataclass(frozen=True)
class Arch:
    """The model: D, the table sizes, the bottom MLP (its input width first), the top MLP's widths
    after its input (the reference's --arch-mlp-top), the interaction and the indices per lookup."""
    sparse_feature_size: int
    embedding_sizes: tuple[int, ...]
    mlp_bot: tuple[int, ...]
    mlp_top: tuple[int, ...]
    interaction: str = "dot"
    indices_per_lookup: int = 10

    def __post_init__(self):
        if self.interaction not in ("dot", "cat"):
            raise DlrmError(f"--arch-interaction-op {self.interaction!r}: valid: dot, cat")
        if len(self.mlp_bot) < 2:
            raise DlrmError(f"--arch-mlp-bot {'-'.join(map(str, self.mlp_bot))}: give the input width and at least "
                            f"one layer")
        if self.mlp_bot[-1] != self.sparse_feature_size:
            raise DlrmError(f"--arch-mlp-bot ends with {self.mlp_bot[-1]}, but --arch-sparse-feature-size is "
                            f"{self.sparse_feature_size}: the bottom MLP's last width must equal D")
        if not self.embedding_sizes:
            raise DlrmError("--arch-embedding-size: give at least one table")
        if self.indices_per_lookup < 0:
            raise DlrmError(f"--num-indices-per-lookup {self.indices_per_lookup}: must be >= 0")

    @property
    def tables(self) -> int:
        return len(self.embedding_sizes)

    @property
    def dense_features(self) -> int:
        return self.mlp_bot[0]

    @property
    def top_input(self) -> int:
        d, f = self.sparse_feature_size, self.tables
        return d + f * (f + 1) // 2 if self.interaction == "dot" else d * (f + 1)

    @property
    def top_layers(self) -> tuple[int, ...]:
        return (self.top_input,) + self.mlp_top

    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every state-dict name and its shape, in the reference's drawing order."""
        shapes = {f"emb_l.{k}.weight": (n, self.sparse_feature_size) for k, n in enumerate(self.embedding_sizes)}
        for prefix, widths in (("bot_l", self.mlp_bot), ("top_l", self.top_layers)):
            for layer, (n, m) in enumerate(zip(widths, widths[1:])):
                shapes[f"{prefix}.{2 * layer}.weight"] = (m, n)
                shapes[f"{prefix}.{2 * layer}.bias"] = (m,)
        return shapes


KAGGLE = Arch(16, (1460, 583, 10131227, 2202608, 305, 24, 12517, 633, 3, 93145, 5683, 8351593, 3194, 27, 14992,
                    5461306, 10, 5652, 2173, 4, 7046547, 18, 15, 286181, 105, 142572),
              (13, 512, 256, 64, 16), (512, 256, 1), "dot", 1)
"""The Criteo Kaggle model of the reference's run script (its table sizes from the Kaggle data)."""

TERABYTE = Arch(128, (39884406, 39043, 17289, 7420, 20263, 3, 7120, 1543, 63, 38532951, 2953546, 403346, 10, 2208, 11938,
                      155, 4, 976, 14, 39979771, 25641295, 39664984, 585935, 12972, 108, 36),
                (13, 512, 256, 128), (1024, 1024, 512, 256, 1), "dot", 1)
"""The MLPerf Criteo Terabyte model of the reference (``--max-ind-range=40000000``: its table sizes)."""

MODELS = {"kaggle": KAGGLE, "terabyte": TERABYTE}
"""The published models ``rdagen dlrm --model`` selects by name."""


@dataclasses.dataclass(frozen=True)
class LowerBound:
    """What no mapping on the array beats, for a batch: the DRAM traffic over the AGs' bandwidth, the
    MLP weights read from the PMUs that hold them (each word at least once), the critical path (every
    op on it at the functional units' latency, reductions as trees), and the multiply-adds (the MLPs'
    and the interaction's dot products) at the array's physical peak: every functional unit of every
    PCU one multiply-add a cycle (lanes x stages x PCUs, the systolic mode's rate)."""
    dram_bytes: int
    dram_cycles: int
    weight_words: int
    weight_cycles: int
    critical_path_cycles: int
    multiply_adds: int
    peak_multiply_adds_per_cycle: int

    @property
    def compute_cycles(self) -> int:
        return -(-self.multiply_adds // self.peak_multiply_adds_per_cycle)

    def utilization(self, cycles: int) -> float:
        """The multiply-adds over *cycles* at the physical peak."""
        return self.multiply_adds / (cycles * self.peak_multiply_adds_per_cycle)

    @property
    def cycles(self) -> int:
        return max(self.dram_cycles, self.weight_cycles, self.critical_path_cycles, self.compute_cycles)


def lower_bound(arch: Arch, cfg, batch: int, lookups: int, memory: Memory = DDR4) -> LowerBound:
    """The lower bound of *arch* on *cfg* (an ArrayConfig) at *batch* samples of *lookups* indices per
    table: MLP weights resident in PMUs, every PMU reading one vector (lanes words) per cycle, each
    weight and bias at least once per batch; DRAM moves the dense inputs, the gathered rows and the
    probabilities, at one vector per AG per cycle and within *memory*'s bandwidth, after its read
    latency (rtl/spec/memory.py). Critical path: bottom MLP, then the interaction,
    then top MLP, then the sigmoid program, each layer a product (3 cycles) and a tree of
    ceil(log2 K) adds (3 cycles each), each elementwise op 3 cycles (rtl/spec/ops.py FU_LATENCY); the
    gathers overlap the bottom MLP. Peak: every PCU lane-stage doing one fp32 multiply-add per cycle;
    the multiply-adds are the MLP layers' (inputs x outputs per sample) and, with the dot interaction,
    the pairwise dot products of the F = tables + 1 features (F (F - 1) / 2 of D each)."""
    d = arch.sparse_feature_size
    words = batch * (arch.dense_features + arch.tables * lookups * d + 1)
    ags = cfg.rows
    dram_cycles = memory.read_latency + max(-(-words // (ags * cfg.lanes)), 0 if memory.bytes_per_cycle is None
                                            else math.ceil(4 * words / memory.bytes_per_cycle))
    weights = sum((n + 1) * m for widths in (arch.mlp_bot, arch.top_layers) for n, m in zip(widths, widths[1:]))
    pmus = sum(tile_kind(r, c) == "pmu" for r in range(cfg.rows) for c in range(cfg.cols))

    def layer(k: int) -> int:  # product, tree of adds, bias add and ReLU
        return FU_LATENCY * (1 + math.ceil(math.log2(max(k, 1))) + 2)

    path = sum(layer(k) for k in arch.mlp_bot[:-1])
    path += layer(d) if arch.interaction == "dot" else 0
    path += sum(layer(k) for k in arch.top_layers[:-1]) + FU_LATENCY * len(SIGMOID.steps)
    features = arch.tables + 1
    pairs = features * (features - 1) // 2 if arch.interaction == "dot" else 0
    macs = batch * (sum(n * m for widths in (arch.mlp_bot, arch.top_layers) for n, m in zip(widths, widths[1:]))
                    + pairs * d)
    pcus = sum(tile_kind(r, c) == "pcu" for r in range(cfg.rows) for c in range(cfg.cols))
    return LowerBound(4 * words, dram_cycles, weights, -(-weights // (pmus * cfg.lanes)), path, macs,
                      pcus * cfg.lanes * cfg.stages)


def reference_weights(arch: Arch, seed: int = 123) -> dict[str, np.ndarray]:
    """The weights the reference draws for *arch* after ``np.random.seed(seed)`` (module docstring)."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        weights = {}
        for name, shape in arch.weight_shapes().items():
            if name.startswith("emb_l"):
                bound = np.sqrt(1 / shape[0])
                weights[name] = np.random.uniform(low=-bound, high=bound, size=shape).astype(np.float32)
            elif name.endswith(".weight"):
                m, n = shape
                weights[name] = np.random.normal(0.0, np.sqrt(2 / (m + n)), size=shape).astype(np.float32)
            else:
                weights[name] = np.random.normal(0.0, np.sqrt(1 / shape[0]), size=shape).astype(np.float32)
        return weights
    finally:
        np.random.set_state(state)


def _npz(path: str | Path, what: str) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except (OSError, ValueError) as exc:
        raise DlrmError(f"{what} {path}: not a readable .npz file ({exc})") from None


def load_weights(path: str | Path, arch: Arch) -> dict[str, np.ndarray]:
    """The state-dict .npz at *path*, checked against *arch* (every name, its shape, finite fp32)."""
    data = _npz(path, "--weights")
    weights = {}
    for name, shape in arch.weight_shapes().items():
        if name not in data:
            raise DlrmError(f"--weights {path}: missing key {name!r} (shape {list(shape)})")
        a = np.asarray(data[name])
        if a.shape != shape:
            raise DlrmError(f"--weights {path}: {name!r} has shape {list(a.shape)}, the architecture needs {list(shape)}")
        if not np.issubdtype(a.dtype, np.floating) or not np.all(np.isfinite(a)):
            raise DlrmError(f"--weights {path}: {name!r} must hold finite floating-point numbers")
        weights[name] = a.astype(np.float32)
    extra = sorted(set(data) - set(weights))
    if extra:
        raise DlrmError(f"--weights {path}: {extra[0]!r} is not a weight of this architecture")
    return weights


def check_batch(arch: Arch, batch: dict, source: str) -> dict[str, np.ndarray]:
    """*batch* (dense_x, lS_o, lS_i_K) checked against *arch*: shapes, dtypes, offsets from 0 and not
    decreasing, every index within its table (named: table, sample, position)."""
    for key in ["dense_x", "lS_o"] + [f"lS_i_{k}" for k in range(arch.tables)]:
        if key not in batch:
            raise DlrmError(f"{source}: missing key {key!r}")
    extra = sorted(set(batch) - {"dense_x", "lS_o"} - {f"lS_i_{k}" for k in range(arch.tables)})
    if extra:
        raise DlrmError(f"{source}: {extra[0]!r} is not an input of this architecture (dense_x, lS_o, lS_i_0 .. "
                        f"lS_i_{arch.tables - 1})")
    dense = np.asarray(batch["dense_x"])
    if dense.ndim != 2 or dense.shape[1] != arch.dense_features or dense.shape[0] < 1:
        raise DlrmError(f"{source}: dense_x has shape {list(dense.shape)}, expected [B, {arch.dense_features}]")
    if not np.issubdtype(dense.dtype, np.floating) or not np.all(np.isfinite(dense)):
        raise DlrmError(f"{source}: dense_x must hold finite floating-point numbers")
    b = dense.shape[0]
    offsets = np.asarray(batch["lS_o"])
    if offsets.shape != (arch.tables, b) or not np.issubdtype(offsets.dtype, np.integer):
        raise DlrmError(f"{source}: lS_o has shape {list(offsets.shape)} ({offsets.dtype}), expected integers "
                        f"[{arch.tables}, {b}]")
    checked = {"dense_x": dense.astype(np.float32), "lS_o": offsets.astype(np.int64)}
    for k, rows in enumerate(arch.embedding_sizes):
        idx = np.asarray(batch[f"lS_i_{k}"])
        if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer) or len(idx) >= 2**31:
            raise DlrmError(f"{source}: lS_i_{k} must be a 1-D integer array")
        o = offsets[k]
        bad = first_bad_offset(o, len(idx))
        if bad == 0:
            raise DlrmError(f"{source}: lS_o[{k}] starts at {o[0]}; table {k}'s first bag starts at 0")
        if bad is not None:
            raise DlrmError(f"{source}: lS_o[{k}] at sample {bad} is {o[bad]}: offsets do not decrease "
                            f"and stay within table {k}'s {len(idx)} indices")
        p = first_index_outside(idx, rows)
        if p is not None:
            sample = int(np.searchsorted(o, p, side="right") - 1)
            raise DlrmError(f"{source}: table {k}, sample {sample}, position {p} of lS_i_{k}: index {idx[p]} is "
                            f"outside the table's {rows} rows")
        checked[f"lS_i_{k}"] = idx.astype(np.int64)
    return checked


def random_batch(arch: Arch, batch_size: int, seed: int, fixed: bool = False) -> dict[str, np.ndarray]:
    """A random batch: dense features U[0, 1); per sample and table a bag of 0 .. N indices (some
    empty; exactly N with *fixed*), uniform over the table's rows."""
    if batch_size < 1:
        raise DlrmError(f"--mini-batch-size {batch_size}: must be >= 1")
    rng = np.random.default_rng(seed)
    batch = {"dense_x": rng.random((batch_size, arch.dense_features)).astype(np.float32)}
    offsets = []
    for k, rows in enumerate(arch.embedding_sizes):
        lengths = (np.full(batch_size, arch.indices_per_lookup) if fixed
                   else rng.integers(0, arch.indices_per_lookup + 1, batch_size))
        offsets.append(np.concatenate([[0], np.cumsum(lengths)[:-1]]))
        batch[f"lS_i_{k}"] = rng.integers(0, rows, int(lengths.sum()))
    batch["lS_o"] = np.array(offsets, np.int64)
    return batch


def load_inputs(path: str | Path, arch: Arch) -> dict[str, np.ndarray]:
    return check_batch(arch, _npz(path, "--inputs"), f"--inputs {path}")


def read_criteo_tsv(path: str | Path, arch: Arch) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The samples of a Criteo-format TSV file as one batch, and their labels (module docstring)."""
    if arch.tables > CRITEO_CATEGORICAL:
        raise DlrmError(f"--criteo-tsv: the architecture has {arch.tables} tables, the Criteo format "
                        f"{CRITEO_CATEGORICAL} categorical features")
    if arch.dense_features != CRITEO_DENSE:
        raise DlrmError(f"--criteo-tsv: the bottom MLP takes {arch.dense_features} dense features, the Criteo format "
                        f"has {CRITEO_DENSE} (--arch-mlp-bot 13-...)")
    try:
        lines = Path(path).read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DlrmError(f"--criteo-tsv {path}: cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
    labels, dense, cats = [], [], []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        where = f"--criteo-tsv {path}, line {number}"
        if len(fields) != 1 + CRITEO_DENSE + CRITEO_CATEGORICAL:
            raise DlrmError(f"{where}: {len(fields)} tab-separated fields, the Criteo format has "
                            f"{1 + CRITEO_DENSE + CRITEO_CATEGORICAL} (label, 13 integers, 26 categorical)")
        try:
            label = int(fields[0] or 0)
            ints = [int(f) if f else 0 for f in fields[1:1 + CRITEO_DENSE]]
        except ValueError:
            raise DlrmError(f"{where}: the label and the 13 dense fields must be integers") from None
        try:
            hexes = [int(f, 16) if f else 0 for f in fields[1 + CRITEO_DENSE:]]
        except ValueError:
            raise DlrmError(f"{where}: the 26 categorical fields must be hexadecimal") from None
        if label not in (0, 1):
            raise DlrmError(f"{where}: label {label} is not 0 or 1")
        labels.append(label)
        dense.append([math.log(max(x, 0) + 1) for x in ints])
        cats.append(hexes[: arch.tables])
    if not labels:
        raise DlrmError(f"--criteo-tsv {path}: no samples")
    cats_a = np.array(cats, np.int64)
    batch = {"dense_x": np.array(dense, np.float32),
             "lS_o": np.tile(np.arange(len(labels), dtype=np.int64), (arch.tables, 1))}
    for k, rows in enumerate(arch.embedding_sizes):
        batch[f"lS_i_{k}"] = cats_a[:, k] % rows
    return batch, np.array(labels, np.int64)


def slice_batch(batch: dict, start: int, stop: int, tables: int) -> dict[str, np.ndarray]:
    """Samples [start, stop) of a checked batch, offsets rebased to 0."""
    out = {"dense_x": batch["dense_x"][start:stop]}
    offsets = []
    for k in range(tables):
        o, idx = batch["lS_o"][k], batch[f"lS_i_{k}"]
        first = o[start]
        last = o[stop] if stop < len(o) else len(idx)
        out[f"lS_i_{k}"] = idx[first:last]
        offsets.append(o[start:stop] - first)
    out["lS_o"] = np.array(offsets, np.int64)
    return out


batch_name = copy_name  # batch n of a graph of several batches is named as copy n of a repeated graph


def bag_length(batch: dict[str, np.ndarray], k: int) -> int | None:
    """N when every bag of table *k* in the checked *batch* holds N >= 1 indices (one-hot features: 1),
    else None. Such a table is an embedding_bag of indices [B, N] without offsets: the array gathers it
    without a bag-length stream (mapper/phases/embedding.py), one host row instead of two."""
    b, count = batch["dense_x"].shape[0], len(batch[f"lS_i_{k}"])
    if count == 0 or count % b:
        return None
    n = count // b
    return n if np.array_equal(batch["lS_o"][k], np.arange(0, count, n)) else None


def dlrm_graph(arch: Arch, weights: dict[str, np.ndarray], *batches: dict[str, np.ndarray]) -> Graph:
    """The rdagen graph of the model on batches of their shapes, one after the other, on the same
    weights (one program: weights the mapper keeps resident are loaded once): inputs ``dense_x``,
    ``idx<K>``, ``off<K>`` (``idx<K>`` [B, N] alone where every bag of table K holds N indices:
    ``bag_length``), output ``p`` [B, 1] (the click probabilities), of batch n > 0 named by
    ``batch_name``."""
    g = GraphBuilder()

    def mlp(prefix: str, h: str, widths: tuple[int, ...], last: str, p: str) -> str:
        for layer in range(len(widths) - 1):
            w = g.weight(f"{prefix}.{2 * layer}.weight^T", np.ascontiguousarray(weights[f"{prefix}.{2 * layer}.weight"].T))
            bias = g.weight(f"{prefix}.{2 * layer}.bias", weights[f"{prefix}.{2 * layer}.bias"])
            h = g.add(g.matmul(h, w), bias)
            h = g.relu(h) if layer < len(widths) - 2 or last == "relu" else g.sigmoid(h, name=p)
        return h

    for n, batch in enumerate(batches):
        b = batch["dense_x"].shape[0]
        x = g.input(batch_name("dense_x", n), (b, arch.dense_features))
        x = mlp("bot_l", x, arch.mlp_bot, "relu", "")
        features = []
        for k in range(arch.tables):
            table, count, name = weights[f"emb_l.{k}.weight"], len(batch[f"lS_i_{k}"]), f"emb_l.{k}.weight"
            if count == 0:  # a graph tensor has an element: one index, of an appended zero row (graph_inputs)
                table, count = np.vstack([table, np.zeros((1, table.shape[1]), np.float32)]), 1
                name += "" if len(batches) == 1 else " with a zero row"
            fixed = bag_length(batch, k)
            if fixed:
                indices, offsets = g.input(batch_name(f"idx{k}", n), (b, fixed), "int32"), None
            else:
                indices = g.input(batch_name(f"idx{k}", n), (count,), "int32")
                offsets = g.input(batch_name(f"off{k}", n), (b,), "int32")
            features.append(g.embedding_bag(g.weight(name, table), indices, offsets, name=batch_name(f"e{k}", n)))
        if arch.interaction == "dot":
            r = g.concat(x, g.dot_interaction(x, *features, name=batch_name("z", n)), name=batch_name("r", n))
        else:
            r = g.concat(x, *features, name=batch_name("r", n))
        g.output(mlp("top_l", r, arch.top_layers, "sigmoid", batch_name("p", n)))
    return dataclasses.replace(g.graph(), copies=len(batches))


def graph_inputs(arch: Arch, *batches: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The graph's input arrays for checked batches (``dlrm_graph``'s names). A table with no index in
    a whole batch reads its appended zero row in the last bag (dlrm_graph), which adds zero to the
    empty sum."""
    arrays = {}
    for n, batch in enumerate(batches):
        arrays[batch_name("dense_x", n)] = batch["dense_x"]
        for k, rows in enumerate(arch.embedding_sizes):
            idx = batch[f"lS_i_{k}"] if len(batch[f"lS_i_{k}"]) else np.array([rows])
            fixed = bag_length(batch, k)
            arrays[batch_name(f"idx{k}", n)] = (idx.reshape(-1, fixed) if fixed else idx).astype(np.int32)
            if not fixed:
                arrays[batch_name(f"off{k}", n)] = batch["lS_o"][k].astype(np.int32)
    return arrays
