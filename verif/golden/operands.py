"""Golden operand fetch (rtl/spec/pcu_layout.py ``Src``), shared by the PCU and PMU golden models."""

from __future__ import annotations

import numpy as np

from rdagen.rtl.spec.ops import OPS
from rdagen.rtl.spec.pcu_layout import Src

__all__ = ["fetch_operand", "stage_operands"]

U32 = np.uint32


def fetch_operand(view, const: int, *, regs: np.ndarray, vins, sins, ctrs, lanes: int) -> np.ndarray:
    """The ``lanes`` words of the operand *view* (``src``, ``index``): register rows *regs*, vector input
    heads *vins* (whole vectors), scalar input heads *sins* (broadcast), per-lane counter values *ctrs*,
    the lane index, or *const* (broadcast)."""
    src, index = view.src, int(view.index)
    if src == Src.REG:
        return regs[index]
    if src == Src.VIN:
        return vins[index]
    if src == Src.SIN:
        return np.full(lanes, sins[index], U32)
    if src == Src.CTR:
        return ctrs[index]
    if src == Src.LANE:
        return np.arange(lanes, dtype=U32)
    return np.full(lanes, const, U32)


def stage_operands(stage, *, regs: np.ndarray, vins, sins, ctrs, lanes: int) -> list[np.ndarray]:
    """The a, b and c operands of *stage* (a PCU stage or a PMU address stage). An op reads only its
    first ``arity`` operands (rtl/spec/ops.py), so the others are zeros whatever their selectors say: the
    encoders check only the slots an op reads, so an unused slot may name an input the firing rule
    does not require."""
    arity = OPS[int(stage.op.value)].arity
    return [fetch_operand(o, int(stage.const), regs=regs, vins=vins, sins=sins, ctrs=ctrs, lanes=lanes) if i < arity
            else np.zeros(lanes, U32) for i, o in enumerate((stage.a, stage.b, stage.c))]
