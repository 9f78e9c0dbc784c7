"""Golden operand fetch (rtl/spec/pcu_layout.py ``Src``) and stages, shared by the PCU and PMU golden models."""

from __future__ import annotations

import numpy as np

from rdagen.rtl.spec.ops import OPS, lfsr_step
from rdagen.rtl.spec.pcu_layout import Src

from .arith import evaluate_op

__all__ = ["fetch_operand", "stage_operands", "run_stages"]

U32 = np.uint32


def fetch_operand(view, const: int, *, regs: np.ndarray, vins, sins, ctrs, lanes: int, lane: int = 0,
                  weights: np.ndarray | None = None) -> np.ndarray:
    """The ``lanes`` words of the operand *view* (``src``, ``index``): register rows *regs*, vector input
    heads *vins* (whole vectors, or word *lane* broadcast), scalar input heads *sins* (broadcast),
    per-lane counter values *ctrs*, the lane index, *const* (broadcast) or the stage's *weights*."""
    src, index = view.src, int(view.index)
    if src == Src.REG:
        return regs[index]
    if src == Src.VIN:
        return vins[index]
    if src == Src.BVIN:
        return np.full(lanes, vins[index][lane], U32)
    if src == Src.WGT:
        return weights
    if src == Src.SIN:
        return np.full(lanes, sins[index], U32)
    if src == Src.CTR:
        return ctrs[index]
    if src == Src.LANE:
        return np.arange(lanes, dtype=U32)
    return np.full(lanes, const, U32)


def stage_operands(stage, *, regs: np.ndarray, vins, sins, ctrs, lanes: int,
                   weights: np.ndarray | None = None) -> list[np.ndarray]:
    """The a, b and c operands of *stage* (a PCU stage, with its *weights* row when the unit has
    weights, or a PMU address stage). An op reads only its
    first ``arity`` operands (rtl/spec/ops.py), so the others are zeros whatever their selectors say: the
    encoders check only the slots an op reads, so an unused slot may name an input the firing rule
    does not require."""
    arity = OPS[int(stage.op.value)].arity
    lane = int(getattr(stage, "lane", 0))  # a PMU stage has no broadcast lane
    return [fetch_operand(o, int(stage.const), regs=regs, vins=vins, sins=sins, ctrs=ctrs, lanes=lanes, lane=lane,
                          weights=weights) if i < arity
            else np.zeros(lanes, U32) for i, o in enumerate((stage.a, stage.b, stage.c))]


def run_stages(stages, registers: int, lanes: int, vins, sins, ctrs: list, generators: list | None = None,
               tile: np.ndarray | None = None) -> np.ndarray:
    """One firing through *stages* (decoded stages of a PCU or of a PMU address pipeline): the
    registers after the last stage, (registers, lanes) words; registers start at 0. *vins*/*sins* are
    the input heads by index, *ctrs* the counters as each lane sees them; *generators* (per stage, per
    lane) are the stochastic-rounding states, stepped by ``f2bf_sr`` (a PMU stage has no such op); *tile*
    (stages, lanes) is the PCU's current weight tile (operand ``wgt``), None without weights."""
    regs = np.zeros((registers, lanes), U32)
    for s, stage in enumerate(stages):
        name = OPS[int(stage.op.value)].name
        a, b, cc = stage_operands(stage, regs=regs, vins=vins, sins=sins, ctrs=ctrs, lanes=lanes,
                                  weights=None if tile is None else tile[s])
        rand = None
        if name == "f2bf_sr":
            rand = np.array([g >> 16 for g in generators[s]], U32)
            generators[s] = [lfsr_step(g) for g in generators[s]]
        regs = regs.copy()
        regs[int(stage.dst)] = evaluate_op(name, a, b, cc, rand)
    return regs
