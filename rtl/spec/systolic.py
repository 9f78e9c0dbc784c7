"""The systolic PCU program: a matrix product on one PCU in its weight-stationary mode, and the layout of
the words it takes (rtl/spec/pcu_layout.py, "Weights").

A *block* is ``depth`` rows of K by ``lanes`` columns of N (``depth = min(stages, lanes - offset)``):
the PCU holds one block of B as a weight tile and, for each row of A that arrives (a vector whose
words ``offset .. offset + depth - 1`` are that row's K slice), sends out the row's partial sums for
the block's ``lanes`` columns: ``p = ffma(a[offset + s], w[s][l], p)`` for s = 0 .. depth-1, starting
from the partial-sum input's vector (or 0.0), one rounding per step. Per input (one firing per cycle):
A one vector, the partial sums one vector, the weights one vector per cycle while a tile loads
(``stages`` vectors per tile, loaded while the previous tile computes), the result one vector.

Used by the mapper's systolic lowering, the PCU kernels and the benchmark; a spec module (no
implementation).
"""

from __future__ import annotations

import numpy as np

from .config import ArrayConfig
from .pcu_layout import CONST, WGT, Counter, PcuProgram, Stage, Weights, bvin, reg, vin

__all__ = ["systolic_depth", "relu_depth", "systolic_program", "weight_tiles"]


def systolic_depth(cfg: ArrayConfig, offset: int = 0) -> int:
    """Rows of K a PCU multiplies per firing when A's slice starts at word *offset* of the vector."""
    if not 0 <= offset < cfg.lanes:
        raise ValueError(f"offset {offset} is not a lane of {cfg.name} (0..{cfg.lanes - 1})")
    return min(cfg.stages, cfg.lanes - offset)


def systolic_program(cfg: ArrayConfig, *, rows: int, a: int = 0, weights: int = 1, psum: int | None = None,
                     offset: int = 0, out: int = 0, tiles: int | None = None, period: int = 1,
                     phase: int = 0, rounds: int | None = None, zero_first: bool = False,
                     relu_out: int | None = None) -> PcuProgram:
    """The PCU program that multiplies *rows* rows of A (vector input *a*) by one weight tile per *rows*
    firings (tiles on vector input *weights*; of every *period* tiles there it keeps tile *phase*),
    adding the partial sums of vector input *psum* (None: 0.0), to vector output *out*. With *tiles*
    the counter chain ends (a done token) after that many tiles (times *rounds*, a third counter, when
    given); None: it runs for as long as its inputs last. *zero_first*: the partial sums read as zero
    in the first round (the head of a partial-sum ring, which drains what the ring holds then).
    *relu_out*: a second vector output that sends ``fmax(p, 0.0)`` (rtl/spec/expression.py RELU) beside
    the sums; its stage takes the last stage when every stage multiplies (``relu_depth``), so the PCU
    multiplies one row of K fewer."""
    for name, value, low in (("rows", rows, 1), ("tiles", 1 if tiles is None else tiles, 1),
                             ("rounds", 1 if rounds is None else rounds, 1)):
        if not isinstance(value, int) or not low <= value < 2**31:
            raise ValueError(f"{name} {value!r} must be a positive integer below 2**31")
    if (rounds is not None or zero_first) and (tiles is None or psum is None or cfg.counters < 3):
        raise ValueError(f"rounds need tiles, a partial-sum input and 3 counters ({cfg.name} has {cfg.counters})")
    if relu_out is not None and (relu_out == out or not 0 <= relu_out < cfg.vector_outputs or cfg.registers < 2
                                 or cfg.stages < 2):
        raise ValueError(f"relu_out {relu_out!r}: a vector output other than {out} (of {cfg.vector_outputs}), "
                         f"2 registers and 2 stages ({cfg.name} has {cfg.registers} and {cfg.stages})")
    depth = systolic_depth(cfg, offset) if relu_out is None else relu_depth(cfg, offset)
    first = vin(psum) if psum is not None else CONST
    stages = [Stage("ffma", bvin(a), WGT, first if s == 0 else reg(0), dst=0, lane=offset + s) for s in range(depth)]
    stages += [Stage("fmax", reg(0), CONST, dst=1, const=0)] if relu_out is not None else []
    stages += [Stage("pass", reg(0), dst=0)] * (cfg.stages - len(stages))
    vout = [None] * max(out, relu_out or 0) + [None]
    vout[out] = ("reg", 0)
    if relu_out is not None:
        vout[relu_out] = ("reg", 1)
    counters = [Counter(0, rows, 1)] + ([Counter(0, tiles, 1)] if tiles is not None else [])
    counters += [Counter(0, rounds, 1)] if rounds is not None else []
    return PcuProgram(stages=stages, counters=counters,
                      vin_required=[a] if psum is None else sorted({a, psum}),
                      vin_zero_first=[psum] if zero_first else [], zero_counter=2 if zero_first else 0,
                      weights=Weights(weights, level=1, period=period, phase=phase), vout=vout)


def relu_depth(cfg: ArrayConfig, offset: int = 0) -> int:
    """Rows of K a PCU multiplies per firing beside a ReLU'd output (``systolic_program``'s *relu_out*):
    a stage fewer when every stage multiplies."""
    return min(systolic_depth(cfg, offset), cfg.stages - 1)


def weight_tiles(cfg: ArrayConfig, blocks, offset: int = 0) -> np.ndarray:
    """The weights input stream (tiles, then ``stages`` vectors each, fp32 words) for *blocks*: a sequence
    of (depth, lanes) arrays or fewer rows/columns (zero-padded), one tile per block."""
    depth = systolic_depth(cfg, offset)
    tiles = np.zeros((len(blocks), cfg.stages, cfg.lanes), np.float32)
    for t, block in enumerate(blocks):
        block = np.asarray(block, np.float32)
        if block.ndim != 2 or block.shape[0] > depth or block.shape[1] > cfg.lanes:
            raise ValueError(f"block {t} has shape {block.shape}; a tile holds at most {depth} x {cfg.lanes}")
        tiles[t, : block.shape[0], : block.shape[1]] = block
    return tiles.reshape(-1, cfg.lanes).view(np.uint32)
