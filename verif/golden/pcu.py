"""Golden model of a PCU: interprets a configuration word (rtl/spec/pcu_layout.py) on input streams and
gives the output streams (values and order, not timing). Written from the semantics in the layout
module's docstring, not from the RTL.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.ops import OPS, lfsr_seed
from rdagen.rtl.spec.layout_fields import plain_view
from rdagen.rtl.spec.pcu_layout import FoldMode, ScaOut, VecOut, decode

from .arith import evaluate_op
from .counters import CounterChain
from .operands import run_stages

__all__ = ["PcuStreams", "reduce_tree", "run_pcu"]

U32 = np.uint32


@dataclasses.dataclass
class PcuStreams:
    vout: list[np.ndarray]  # per vector output: (n, lanes) words
    sout: list[np.ndarray]  # per scalar output: (n,) words
    done_tokens: int
    firings: int  # data firings
    groups: int  # accumulator groups emitted (including empty ones)
    empty_groups: int  # groups of length 0 (their value is the accumulator's init)
    consumed: list[int]  # words taken from each vector input, each scalar input, then start tokens
    tiles: int = 0  # weight tiles released (systolic mode)


def reduce_tree(name: str, values: np.ndarray) -> int:
    """The lanes' words folded pairwise, level by level: ((l0 . l1) . (l2 . l3)) ..."""
    level = values.astype(U32)
    while len(level) > 1:
        level = evaluate_op(name, level[0::2], level[1::2])
    return int(level[0])


def run_pcu(cfg: ArrayConfig, bits: int, vin: list, sin: list, start_tokens: int = 0,
            max_firings: int = 1_000_000) -> PcuStreams:
    """Run the PCU configured by *bits* until it cannot fire any more (an input, a group length or a
    start token is missing) or *max_firings* data firings have happened."""
    c = plain_view(decode(cfg, bits))
    lanes = cfg.lanes
    vin = [np.asarray(v, dtype=U32).reshape(-1, lanes) for v in vin]
    sin = [np.asarray(s, dtype=U32).ravel() for s in sin]
    if len(vin) != cfg.vector_inputs or len(sin) != cfg.scalar_inputs:
        raise ValueError(f"give {cfg.vector_inputs} vector and {cfg.scalar_inputs} scalar input streams")
    vpos = [0] * cfg.vector_inputs
    spos = [0] * cfg.scalar_inputs
    vreq = [bool(int(c.fire.vin_required) >> k & 1) for k in range(cfg.vector_inputs)]
    lazy = [bool(int(c.fire.vin_lazy) >> k & 1) for k in range(cfg.vector_inputs)]
    zero_first = [bool(int(c.fire.vin_zero_first) >> k & 1) for k in range(cfg.vector_inputs)]
    zero_counter = int(c.fire.zero_counter)
    levels_v = [min(int(x), cfg.counters) for x in c.fire.vin_pop_level]
    w_on, w_src, w_level = bool(c.weights.enable), int(c.weights.src), min(int(c.weights.level), cfg.counters)
    period, phase = int(c.weights.period), int(c.weights.phase)
    tiles = vin[w_src][: len(vin[w_src]) // cfg.stages * cfg.stages].reshape(-1, cfg.stages, lanes)[phase::period] \
        if w_on else ()
    released = 0
    sreq = [bool(int(c.fire.sin_required) >> k & 1) for k in range(cfg.scalar_inputs)]

    spread = int(c.spread.counter) if c.spread.enable else None
    chain = CounterChain(c.counters)
    chain.steps = [stride * lanes if k == spread else stride for k, (*_, stride) in enumerate(chain.counters)]
    any_counter = chain.any_enabled
    run_active = False
    tokens = start_tokens
    generators = [[lfsr_seed(int(c.seed), lane) for lane in range(lanes)] for _ in range(cfg.stages)]
    lane_index = np.arange(lanes, dtype=U32)

    acc_on = bool(c.acc.enable)
    acc_op = OPS[int(c.acc.op.value)].name
    init = int(c.acc.init)
    acc = np.full(lanes, init, U32)
    remaining = 0  # firings left in the current group
    first = True
    red_on = bool(c.reduce.enable)
    red_op = OPS[int(c.reduce.op.value)].name

    vout = [[] for _ in range(cfg.vector_outputs)]
    sout = [[] for _ in range(cfg.scalar_outputs)]
    done = firings = groups = empty_groups = 0

    def emit_acc(vector):
        for k, o in enumerate(c.vout):
            if o.sel == VecOut.ACC:
                vout[k].append(vector.copy())
        for k, o in enumerate(c.sout):
            if o.sel == ScaOut.ACC:
                sout[k].append(int(vector[0]))

    while firings < max_firings:
        if acc_on and remaining == 0:
            if c.acc.fold_mode == FoldMode.CONST:
                remaining = int(c.acc.fold)
            else:
                k = int(c.acc.fold_scalar)
                if spos[k] >= len(sin[k]):
                    break
                remaining = int(sin[k][spos[k]])
                spos[k] += 1
                if remaining == 0:
                    emit_acc(np.full(lanes, init, U32))
                    groups += 1
                    empty_groups += 1
                    continue
            first = True
        # a lazy input is needed (and read) only on the firings that pop it; it reads zero on the others
        popping = chain.carries()
        skipped = [lazy[k] and not popping[levels_v[k]] for k in range(cfg.vector_inputs)]
        if any(vreq[k] and not skipped[k] and vpos[k] >= len(vin[k]) for k in range(cfg.vector_inputs)):
            break
        # an input of vin_zero_first is needed and popped as usual but reads zero while counter
        # zero_counter is at its start
        at_start = zero_counter < cfg.counters and chain.values[zero_counter] == chain.counters[zero_counter][1]
        zero = [skipped[k] or (zero_first[k] and at_start) for k in range(cfg.vector_inputs)]
        if any(sreq[k] and spos[k] >= len(sin[k]) for k in range(cfg.scalar_inputs)):
            break
        if w_on and released >= len(tiles):
            break
        if any_counter and c.fire.wait_start and not run_active:
            if tokens == 0:
                break
            tokens -= 1
            run_active = True

        # -- one data firing -----------------------------------------------------------------------
        heads_v = [(np.zeros(lanes, U32) if zero[k] else vin[k][vpos[k]]) if vreq[k] else None
                   for k in range(cfg.vector_inputs)]
        heads_s = [int(sin[k][spos[k]]) if sreq[k] else None for k in range(cfg.scalar_inputs)]
        ctr_lanes = []
        for k, (enabled, start, stop, stride) in enumerate(chain.counters):
            base = chain.values[k] & 0xFFFFFFFF
            if k == spread:
                ctr_lanes.append(((base + lane_index.astype(np.int64) * stride) & 0xFFFFFFFF).astype(U32))
            else:
                ctr_lanes.append(np.full(lanes, base, U32))
        regs = run_stages(c.stages, cfg.registers, lanes, heads_v, heads_s, ctr_lanes, generators,
                          tile=tiles[released] if w_on else None)
        red = reduce_tree(red_op, regs[int(c.reduce.src)]) if red_on else 0
        for k, o in enumerate(c.vout):
            if o.sel == VecOut.REG:
                vout[k].append(regs[int(o.reg)].copy())
        for k, o in enumerate(c.sout):
            if o.sel == ScaOut.REG:
                sout[k].append(int(regs[int(o.reg)][0]))
            elif o.sel == ScaOut.RED:
                sout[k].append(red)
        if acc_on:
            x = np.full(lanes, red, U32) if red_on else regs[int(c.acc.src)]
            base = np.full(lanes, init, U32) if first else acc
            acc = evaluate_op(acc_op, base, x)
            first = False
            remaining -= 1
            if remaining == 0:
                emit_acc(acc)
                groups += 1
        firings += 1

        # -- counters and pops ---------------------------------------------------------------------
        carry = chain.advance()
        if chain.run_ends(carry):
            done += 1
            run_active = False
        levels_s = [int(x) for x in c.fire.sin_pop_level]
        for k in range(cfg.vector_inputs):
            if vreq[k] and carry[levels_v[k]]:
                vpos[k] += 1
        for k in range(cfg.scalar_inputs):
            if sreq[k] and carry[min(levels_s[k], cfg.counters)]:
                spos[k] += 1
        if w_on and carry[w_level]:
            released += 1

    if w_on:  # the unit holds two tiles (the one in use and the next) and drops the others' tiles as they come
        vpos[w_src] = min(len(vin[w_src]), ((released + 2) * period + phase) * cfg.stages)

    return PcuStreams(
        vout=[np.array(v, U32).reshape(-1, lanes) for v in vout],
        sout=[np.array(s, U32) for s in sout],
        done_tokens=done, firings=firings, groups=groups, empty_groups=empty_groups, consumed=[*vpos, *spos, start_tokens - tokens],
        tiles=released)
