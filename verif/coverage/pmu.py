"""Functional coverage of the PMU regressions (sim/pmu_regression.py), sampled per access of every case
whose streams, counters and contents matched the golden model, from the golden model's account of the
access (verif/golden/pmu.py ``Access``):

* ``mode_pattern``: mode (none, buffer, double, fifo) x access pattern: contiguous (consecutive word
  addresses), strided (a constant step other than 1, 0 included), gather (anything else), scalar.
* ``pattern_conflicts``: pattern x bank conflicts of the lanes performed: none, some, all lanes on one
  bank (two lanes or more).
* ``port_conflicts``: port (write, read) x bank conflicts.
* ``mode_range``: mode x out-of-range lanes: none, some, all.
"""

from __future__ import annotations

import numpy as np

from rdagen.rtl.config import ArrayConfig
from rdagen.rtl.pmu_layout import MODES

from .group import Group

__all__ = ["pmu_group", "sample_pmu", "pattern", "conflicts"]

PATTERNS = ("contiguous", "strided", "gather", "scalar")
CONFLICTS = ("none", "some", "all_one_bank")
RANGES = ("none", "some", "all")

_GROUPS: dict[str, Group] = {}


def pmu_group(cfg: ArrayConfig) -> Group:
    """The PMU's coverage group for *cfg* (which bins exist depends on its lanes)."""
    if cfg.name not in _GROUPS:
        one_lane = "a scalar access has one lane: it cannot conflict"
        unreachable = {
            ("pattern_conflicts", ("contiguous", "some")): "consecutive words sit in consecutive banks",
            ("pattern_conflicts", ("contiguous", "all_one_bank")): "consecutive words sit in consecutive banks",
            ("pattern_conflicts", ("scalar", "some")): one_lane,
            ("pattern_conflicts", ("scalar", "all_one_bank")): one_lane,
            ("mode_pattern", ("fifo", "strided")): "fifo mode addresses the consecutive words of a slot",
            ("mode_pattern", ("fifo", "gather")): "fifo mode addresses the consecutive words of a slot",
            ("mode_pattern", ("fifo", "scalar")): "a FIFO moves whole vectors: the encoder refuses a scalar port",
            ("mode_range", ("fifo", "some")): "fifo mode's slots lie inside the scratchpad",
            ("mode_range", ("fifo", "all")): "fifo mode's slots lie inside the scratchpad",
        }
        if cfg.lanes < 3:
            why = f"{cfg.lanes} lanes: a conflict puts every lane on one bank"
            unreachable |= {("pattern_conflicts", (None, "some")): why, ("port_conflicts", (None, "some")): why}
            why = f"{cfg.lanes} lanes: any {cfg.lanes} addresses are a constant step apart"
            unreachable |= {("mode_pattern", (None, "gather")): why, ("pattern_conflicts", ("gather", None)): why}
        _GROUPS[cfg.name] = Group("pmu", {
            "mode": MODES, "pattern": PATTERNS, "conflicts": CONFLICTS, "port": ("write", "read"), "range": RANGES,
        }, {"mode_pattern": ("mode", "pattern"), "pattern_conflicts": ("pattern", "conflicts"),
            "port_conflicts": ("port", "conflicts"), "mode_range": ("mode", "range")}, unreachable)
    return _GROUPS[cfg.name]


def pattern(addresses: np.ndarray) -> str:
    if len(addresses) == 1:
        return "scalar"
    steps = np.diff(addresses.astype(np.int64))
    if np.all(steps == 1):
        return "contiguous"
    return "strided" if np.all(steps == steps[0]) else "gather"


def conflicts(banks: np.ndarray) -> str:
    most = int(np.bincount(banks).max()) if len(banks) else 0
    if most <= 1:
        return "none"
    return "all_one_bank" if most == len(banks) else "some"


def sample_pmu(cfg: ArrayConfig, mode: str, golden, scope: str) -> None:
    """Samples every access of one checked case (mode *mode*; *golden*: its PmuResult)."""
    group = pmu_group(cfg)
    seen = set()
    for access in golden.accesses:
        n = len(access.addresses)
        event = (pattern(access.addresses), conflicts(access.banks), access.port,
                 "none" if access.out_of_range == 0 else "all" if access.out_of_range == n else "some")
        if event not in seen:  # the bins hit are what closure asks; one sample per distinct event
            seen.add(event)
            group.sample(scope, mode=mode, pattern=event[0], conflicts=event[1], port=event[2], range=event[3])
