"""Golden stall rules of the output credits (rtl/spec/timing.py): how many firings a PCU or a PMU read
port makes when nothing reads its outputs and every input it needs is there. Written from the spec: a
firing reserves a slot in every output FIFO it will write and happens only while each of them has one
not yet promised (``room = pending < depth``), and nothing leaves a FIFO that is not read.
"""

from __future__ import annotations

from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.layout_fields import plain_view
from rdagen.rtl.spec.pcu_layout import FoldMode, ScaOut, VecOut
from rdagen.rtl.spec.pcu_layout import decode as decode_pcu
from rdagen.rtl.spec.pmu_layout import decode as decode_pmu
from rdagen.rtl.spec.timing import pcu_output_depth, pmu_output_depth

__all__ = ["output_credit_limits", "pcu_credit_limit", "pmu_read_credit_limit", "held_consumption"]


def output_credit_limits(cfg: ArrayConfig, bits: int) -> dict[str, int]:
    """Per enabled output of the PCU configured by *bits* (``vout0``, ``sout0``, ...), the data firings its
    credits allow with nothing read.

    An output written every firing (``reg``, ``red``) takes one slot per firing: ``depth`` firings. One
    written per group (``acc``, fixed fold f) takes its slot on a group's last firing only, so the
    first f - 1 firings of group ``depth + 1`` still go: ``(depth + 1) * f - 1``."""
    c = plain_view(decode_pcu(cfg, bits))
    depth = pcu_output_depth(cfg)
    kinds = {f"vout{k}": ("firing" if o.sel == VecOut.REG else "group" if o.sel == VecOut.ACC else None)
             for k, o in enumerate(c.vout)}
    kinds |= {f"sout{k}": ("firing" if o.sel in (ScaOut.REG, ScaOut.RED) else "group" if o.sel == ScaOut.ACC else None)
              for k, o in enumerate(c.sout)}
    limits = {}
    for name, kind in kinds.items():
        if kind == "firing":
            limits[name] = depth
        elif kind == "group":
            if c.acc.fold_mode != FoldMode.CONST:
                raise ValueError("the credit limit of groups whose lengths come from a scalar input depends on "
                                 "the lengths: give the case a fixed fold")
            limits[name] = (depth + 1) * int(c.acc.fold) - 1
    if not limits:
        raise ValueError("no output is enabled, so no credit limits the firings")
    return limits


def pcu_credit_limit(cfg: ArrayConfig, bits: int) -> int:
    """Data firings of the PCU configured by *bits* before its credits run out with no output read: the
    unit stops at the smallest of its outputs' limits (``output_credit_limits``)."""
    return min(output_credit_limits(cfg, bits).values())


def pmu_read_credit_limit(cfg: ArrayConfig, bits: int) -> int:
    """Firings of the PMU read port configured by *bits* before its credits run out with no output read:
    every firing reserves a slot in each enabled output (``vout``, ``sout``), ``pmu_output_depth``."""
    read = plain_view(decode_pmu(cfg, bits)).read
    if not (read.vout or read.sout):
        raise ValueError("the read port has no output enabled, so no credit limits its firings")
    return pmu_output_depth(cfg)


def held_consumption(cfg: ArrayConfig, words: int, firings: int, limit: int) -> int:
    """Words an input popped once per firing has given when the unit stopped on its credits: the words of
    the firings made (at most *limit* of the case's *firings*) plus a full input FIFO, at most *words*."""
    return min(words, min(firings, limit) + cfg.fifo_depth)
