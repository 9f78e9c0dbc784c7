"""DLRM kernels configured through the builder, each computed from the ArrayConfig (lanes, stages,
scratchpad depth, array size): fp32 GEMV y = W x + b, an embedding-bag sum over a DRAM table, and a
two-layer MLP (dense + bias + ReLU, twice) whose hidden vector passes through a PMU.

A kernel instance (``Kernel``) carries everything a run needs (bitstream, host streams, DRAM) and what
to check it against: a float64 NumPy reference and, per element, the fp32 error bound the hardware's
arithmetic can reach (``tolerance``). A configuration too small for a kernel raises ``KernelError``
saying which resource is missing.

Dense layer (``_dense``), the dataflow of GEMV and of each MLP layer::

    host/PCU --x--> PMU (buffer mode: x written once, read back once per row of W) --x--+
    DRAM --AG read--> W rows, padded to Kp = ceil(K / lanes) * lanes words ----------> PCU "dot"
    PCU "dot": W row chunk * x chunk (fmul), lane tree (fadd), accumulator over Kp / lanes chunks
            --dot (scalar)--> PCU "out": + b (fadd) [, ReLU (fmax with +0)] --y (scalar)-->

Ideal cycles are the PCU "dot" firings (one vector of W per cycle: the AG's peak of one beat per cycle).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from rdagen.rtl.ag_layout import AgProgram
from rdagen.rtl.array_layout import pack_vectors, unpack_vectors
from rdagen.rtl.config import ArrayConfig
from rdagen.rtl.pcu_layout import CONST, LANE, Accumulate, Counter, PcuProgram, Reduce, Stage, ctr, reg, sin, vin
from rdagen.rtl.pmu_layout import AddressStage, PmuProgram, Port

from .builder import ArrayBuilder, BuildError

__all__ = ["Kernel", "KernelError", "KERNELS", "gemv", "embedding_bag", "mlp", "build"]

U32 = np.uint32
F32 = np.float32
UNIT_ROUNDOFF = 2.0 ** -24


class KernelError(BuildError):
    """The configuration cannot hold the kernel; the message names the missing resource."""


@dataclasses.dataclass
class Kernel:
    name: str
    cfg: ArrayConfig
    description: str
    bitstream: bytes
    sources: dict  # host input port -> transfers (the formats of verif/golden/array.py)
    dram: dict  # AG row -> {word address: words}
    sinks: dict  # host output port -> transfers expected
    ideal_cycles: int
    decode: Callable[[dict], np.ndarray]  # host outputs -> the result as float32
    reference: np.ndarray  # float64 NumPy result
    tolerance: np.ndarray  # per element: the fp32 error bound
    done_tokens: int = 1  # tokens on the host's done ports when the kernel has finished


def _gamma(n: int) -> float:
    """The classic bound on the relative error of n fp32 roundings (Higham's gamma_n)."""
    return n * UNIT_ROUNDOFF / (1 - n * UNIT_ROUNDOFF)


def _bits(values) -> np.ndarray:
    return np.asarray(values, F32).view(U32)


def _floats(words) -> np.ndarray:
    return np.asarray(words, U32).view(F32)


def _require(cfg: ArrayConfig, kernel: str, rows: int, cols: int, stages: int = 1, counters: int = 1) -> None:
    missing = []
    if cfg.rows < rows or cfg.cols < cols:
        missing.append(f"{rows}x{cols} tiles (it has {cfg.rows}x{cfg.cols})")
    if cfg.stages < stages:
        missing.append(f"{stages} PCU stages (it has {cfg.stages})")
    if cfg.counters < counters:
        missing.append(f"{counters} counters per chain (it has {cfg.counters})")
    if cfg.vector_inputs < 2:
        missing.append(f"2 vector inputs per unit (it has {cfg.vector_inputs})")
    if cfg.scalar_inputs < 2:
        missing.append(f"2 scalar inputs per unit (it has {cfg.scalar_inputs})")
    if missing:
        raise KernelError(f"kernel {kernel} does not fit {cfg.name}: it needs {', '.join(missing)}")


def _padded(k: int, lanes: int) -> int:
    return -(-k // lanes) * lanes


def _dense(b: ArrayBuilder, *, x_pmu, dot, out, ag_row: int, x_source, x_scalar: bool, k: int, m: int,
           relu: bool, b_source, y_sink) -> None:
    """One dense layer y = W x + b (ReLU optional) of m rows over k inputs; W comes from AG *ag_row*
    (one read command of m * Kp words), x from *x_source* (vectors, or scalars when *x_scalar*)."""
    cfg = b.cfg
    L = cfg.lanes
    kp = _padded(k, L)
    if kp > cfg.pmu_words:
        raise KernelError(f"a dense layer over {k} inputs needs {kp} scratchpad words; a PMU of {cfg.name} "
                          f"holds {cfg.pmu_words}")
    if kp // L >= 2 ** 16:
        raise KernelError(f"a dense layer over {k} inputs folds {kp // L} vectors; the accumulator folds < 65536")
    contiguous = [AddressStage("add", ctr(0), LANE)]
    if x_scalar:  # x arrives word by word: scalar writes to words 0 .. k-1 (the padding stays 0)
        write = Port(stages=[AddressStage("pass", ctr(0))], counters=[Counter(0, k, 1)], sin_required=[0],
                     scalar=True, data=sin(0))
    else:
        write = Port(stages=contiguous, counters=[Counter(0, kp, L)], vin_required=[0], data=vin(0))
    # The read run replays x once per row of W: counter 0 walks x, counter 1 counts the rows.
    read = Port(stages=contiguous, counters=[Counter(0, kp, L), Counter(0, m, 1)])
    b.pmu(*x_pmu, PmuProgram(write=write, read=read, mode="buffer"))
    b.ag(ag_row, AgProgram("read"))
    b.pcu(*dot, PcuProgram(stages=[Stage("fmul", vin(0), vin(1), dst=0)], vin_required=[0, 1],
                           reduce=Reduce("fadd", 0), accumulate=Accumulate("fadd", init=0, fold=kp // L),
                           sout=[("acc", 0)]))
    stages = [Stage("fadd", sin(0), sin(1), dst=0)] + ([Stage("fmax", reg(0), CONST, dst=0, const=0)] if relu else [])
    # Its counter counts the m outputs: the run's end sends a done token (routed by the caller).
    b.pcu(*out, PcuProgram(stages=stages, counters=[Counter(0, m, 1)], sin_required=[0, 1], sout=[("reg", 0)]))
    b.route("scalar" if x_scalar else "vector", x_source, ("pmu", *x_pmu, "sin" if x_scalar else "vin", 0))
    b.route("vector", ("pmu", *x_pmu, "vout", 0), ("pcu", *dot, "vin", 1))
    b.route("vector", ("ag", ag_row, "rdata"), ("pcu", *dot, "vin", 0))
    b.route("scalar", ("pcu", *dot, "sout", 0), ("pcu", *out, "sin", 0))
    b.route("scalar", b_source, ("pcu", *out, "sin", 1))
    if y_sink is not None:  # else the next layer routes y as its x
        b.route("scalar", ("pcu", *out, "sout", 0), y_sink)


def _weights(rng, m: int, k: int) -> np.ndarray:
    return (rng.standard_normal((m, k)) / np.sqrt(k)).astype(F32)


def _dram_matrix(w: np.ndarray, lanes: int) -> np.ndarray:
    """W row-major with rows padded to a whole number of vectors (zeros), as words."""
    m, k = w.shape
    padded = np.zeros((m, _padded(k, lanes)), F32)
    padded[:, :k] = w
    return _bits(padded).ravel()


def _layer_bound(w, x, b, x_error) -> tuple[np.ndarray, np.ndarray]:
    """(float64 W x + b, its fp32 error bound) for inputs *x* known within *x_error*: k products and
    k additions into the sum, one for the bias (gamma_{k+2}), plus the propagated input error."""
    w64, x64, b64 = (np.asarray(a, np.float64) for a in (w, x, b))
    exact = w64 @ x64 + b64
    bound = _gamma(w.shape[1] + 2) * (np.abs(w64) @ (np.abs(x64) + x_error) + np.abs(b64)) + np.abs(w64) @ x_error
    return exact, bound


# -- the kernels ---------------------------------------------------------------------------------------------
def gemv(cfg: ArrayConfig, rng: np.random.Generator, m: int | None = None, k: int | None = None) -> Kernel:
    """fp32 y = W x + b: W (m x k) streamed from DRAM by AG 0, x from the host into the PMU at (0, 1),
    the dot products on the PCU at (0, 0), + b on the PCU at (1, 1)."""
    _require(cfg, "gemv", 2, 2, counters=2)
    L = cfg.lanes
    k = k or min(cfg.pmu_words, 16 * L) - 1  # not a multiple of the lanes: the padding is exercised
    m = m or 8 * L
    w, x, bias = _weights(rng, m, k), rng.standard_normal(k).astype(F32), rng.standard_normal(m).astype(F32)
    b = ArrayBuilder(cfg)
    _dense(b, x_pmu=(0, 1), dot=(0, 0), out=(1, 1), ag_row=0, x_source=("host", 0, "vsend"), x_scalar=False,
           k=k, m=m, relu=False, b_source=("host", 1, "ssend"), y_sink=("host", 1, "srecv"))
    b.route("control", ("pcu", 1, 1, "ctrl_out", 0), ("host", 1, "done"))
    kp = _padded(k, L)
    xp = np.zeros(kp, F32)
    xp[:k] = x
    exact, bound = _layer_bound(w, x, bias, np.zeros(k))
    return Kernel(
        "gemv", cfg, f"fp32 GEMV y = W x + b, W {m}x{k} from DRAM", b.bitstream(),
        sources={"vsend__0": pack_vectors(_bits(xp).reshape(-1, L)), "ag_cmd__0": [0 | (m * kp) << 32],
                 "ssend__1": [int(v) for v in _bits(bias)]},
        dram={0: {0: _dram_matrix(w, L)}}, sinks={"srecv__1": m}, ideal_cycles=m * kp // L,
        decode=lambda out: _floats(out["srecv__1"]), reference=exact, tolerance=bound)


def embedding_bag(cfg: ArrayConfig, rng: np.random.Generator, table_rows: int = 64, bags: int = 16,
                  max_bag: int = 6, lengths=None) -> Kernel:
    """Embedding-bag sum over a DRAM table of d = lanes fp32 columns: row indices from the host to AG 1
    (gathers), rows to the PCU at (0, 0), whose accumulator sums each bag (its length from the host);
    empty bags give zeros, wherever they are (the last, or all of them). The sums pass through the PCU
    at (1, 1), whose counter counts the bags, so the done token follows the last bag, empty or not.
    *lengths* (bag sizes) overrides the random ones, which always include empty bags, the last among
    them."""
    _require(cfg, "embedding_bag", 2, 2)
    L = cfg.lanes
    table = rng.standard_normal((table_rows, L)).astype(F32)
    if lengths is None:
        lengths = rng.integers(0, max_bag + 1, bags)
        lengths[[1, bags // 2, bags - 1]] = 0  # empty bags, always: in the middle and at the end
    lengths = np.asarray(lengths, U32)
    bags = len(lengths)
    if bags < 1:
        raise KernelError("kernel embedding_bag needs at least one bag")
    indices = rng.integers(0, table_rows, int(lengths.sum())).astype(U32)
    base = 4096
    b = ArrayBuilder(cfg)
    b.ag(1, AgProgram("gather", table_base=base, row_words=L, rows=table_rows))
    b.pcu(0, 0, PcuProgram(stages=[Stage("pass", vin(0), dst=1)], vin_required=[0],
                           accumulate=Accumulate("fadd", init=0, src=1, fold_scalar=0), vout=[("acc", 0)]))
    # One firing per bag: its counter's run ends with the last bag and sends the done token to the host.
    b.pcu(1, 1, PcuProgram(stages=[Stage("pass", vin(0), dst=0)], counters=[Counter(0, bags, 1)],
                           vin_required=[0], vout=[("reg", 0)]))
    b.route("control", ("pcu", 1, 1, "ctrl_out", 0), ("host", 1, "done"))
    b.route("scalar", ("host", 1, "ssend"), ("ag", 1, "idx"))
    b.route("vector", ("ag", 1, "rdata"), ("pcu", 0, 0, "vin", 0))
    b.route("scalar", ("host", 0, "ssend"), ("pcu", 0, 0, "sin", 0))
    b.route("vector", ("pcu", 0, 0, "vout", 0), ("pcu", 1, 1, "vin", 0))
    b.route("vector", ("pcu", 1, 1, "vout", 0), ("host", 1, "vrecv"))
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(int)
    t64 = table.astype(np.float64)
    exact = np.array([t64[indices[s: s + n]].sum(axis=0) if n else np.zeros(L)
                      for s, n in zip(starts, lengths)]).reshape(bags, L)
    bound = np.array([_gamma(int(n)) * np.abs(t64[indices[s: s + n]]).sum(axis=0)
                      for s, n in zip(starts, lengths)]).reshape(bags, L)
    return Kernel(
        "embedding_bag", cfg, f"embedding-bag sum, {bags} bags of 0..{max_bag} rows, table {table_rows}x{L}",
        b.bitstream(), sources={"ssend__1": [int(i) for i in indices], "ssend__0": [int(n) for n in lengths]},
        dram={1: {base: _bits(table).ravel()}}, sinks={"vrecv__1": bags},
        ideal_cycles=max(1, int(lengths.sum())),
        decode=lambda out: unpack_vectors(out["vrecv__1"], L).view(F32),
        reference=exact, tolerance=bound)


def mlp(cfg: ArrayConfig, rng: np.random.Generator, k: int | None = None, hidden: int | None = None,
        m: int | None = None) -> Kernel:
    """Two dense layers with bias and ReLU: h = relu(W1 x + b1) on the PCUs at (0, 0) and (1, 1) (W1 from
    AG 0, x in the PMU at (0, 1)); h goes word by word into the PMU at (1, 0), which replays it to layer
    2: y = relu(W2 h + b2) on the PCUs at (2, 0) and (2, 2) (W2 from AG 2)."""
    _require(cfg, "mlp", 3, 3, stages=2, counters=2)
    L = cfg.lanes
    k = k or min(cfg.pmu_words, 16 * L) - 1
    hidden = hidden or min(cfg.pmu_words, 12 * L) - 1
    m = m or 4 * L
    w1, w2 = _weights(rng, hidden, k), _weights(rng, m, hidden)
    x = rng.standard_normal(k).astype(F32)
    b1, b2 = (0.1 * rng.standard_normal(hidden)).astype(F32), (0.1 * rng.standard_normal(m)).astype(F32)
    b = ArrayBuilder(cfg)
    _dense(b, x_pmu=(0, 1), dot=(0, 0), out=(1, 1), ag_row=0, x_source=("host", 0, "vsend"), x_scalar=False,
           k=k, m=hidden, relu=True, b_source=("host", 1, "ssend"), y_sink=None)
    _dense(b, x_pmu=(1, 0), dot=(2, 0), out=(2, 2), ag_row=2, x_source=("pcu", 1, 1, "sout", 0), x_scalar=True,
           k=hidden, m=m, relu=True, b_source=("host", 2, "ssend"), y_sink=("host", 2, "srecv"))
    b.route("control", ("pcu", 2, 2, "ctrl_out", 0), ("host", 2, "done"))
    kp, hp = _padded(k, L), _padded(hidden, L)
    xp = np.zeros(kp, F32)
    xp[:k] = x
    h, h_bound = _layer_bound(w1, x, b1, np.zeros(k))
    y, y_bound = _layer_bound(w2, np.maximum(h, 0), b2, h_bound)  # ReLU does not grow an error
    return Kernel(
        "mlp", cfg, f"two-layer MLP {k} -> {hidden} -> {m}, bias + ReLU, hidden vector through a PMU", b.bitstream(),
        sources={"vsend__0": pack_vectors(_bits(xp).reshape(-1, L)), "ag_cmd__0": [0 | (hidden * kp) << 32],
                 "ag_cmd__2": [0 | (m * hp) << 32], "ssend__1": [int(v) for v in _bits(b1)],
                 "ssend__2": [int(v) for v in _bits(b2)]},
        dram={0: {0: _dram_matrix(w1, L)}, 2: {0: _dram_matrix(w2, L)}}, sinks={"srecv__2": m},
        ideal_cycles=hidden * kp // L + m * hp // L,
        decode=lambda out: _floats(out["srecv__2"]), reference=np.maximum(y, 0), tolerance=y_bound)


KERNELS = {"gemv": gemv, "embedding_bag": embedding_bag, "mlp": mlp}


def build(name: str, cfg: ArrayConfig, seed: int) -> Kernel:
    """Kernel *name* for *cfg* with the data of *seed*."""
    if name not in KERNELS:
        raise KernelError(f"unknown kernel {name!r}; valid: {', '.join(KERNELS)}")
    return KERNELS[name](cfg, np.random.default_rng(seed))
