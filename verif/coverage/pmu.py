"""Functional coverage of the PMU regressions (sim/pmu_regression.py), sampled per access of every case
whose streams, counters and contents matched the golden model, from the golden model's account of the
access (verif/golden/pmu.py ``Access``):

* ``access``: mode (none, buffer, double, fifo) x access pattern: contiguous (consecutive word
  addresses), strided (a constant step other than 1, 0 included), gather (anything else), scalar x bank
  conflicts of the lanes performed: none, some, all lanes on one bank (two lanes or more) x
  out-of-range lanes: none, some, all.
* ``port_conflicts``: port (write, read) x bank conflicts.
"""

from __future__ import annotations

import numpy as np

from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.pmu_layout import MODES

from .group import Group

__all__ = ["pmu_group", "sample_pmu", "pattern", "conflicts"]

PATTERNS = ("contiguous", "strided", "gather", "scalar")
CONFLICTS = ("none", "some", "all_one_bank")
RANGES = ("none", "some", "all")

_GROUPS: dict[str, Group] = {}


def pmu_group(cfg: ArrayConfig) -> Group:
    """The PMU's coverage group for *cfg* (which bins exist depends on its lanes)."""
    if cfg.name not in _GROUPS:
        contiguous, one_lane = "consecutive words sit in consecutive banks", "a scalar access has one lane"
        fifo = "fifo mode addresses the consecutive words of a slot, inside the scratchpad"
        unreachable = {
            ("access", (None, "contiguous", "some", None)): contiguous,
            ("access", (None, "contiguous", "all_one_bank", None)): contiguous,
            ("access", (None, "scalar", "some", None)): one_lane,
            ("access", (None, "scalar", "all_one_bank", None)): one_lane,
            ("access", (None, "scalar", None, "some")): one_lane,
            ("access", (None, None, "some", "all")): "every lane out of range: none is performed",
            ("access", (None, None, "all_one_bank", "all")): "every lane out of range: none is performed",
            ("access", ("fifo", "strided", None, None)): fifo,
            ("access", ("fifo", "gather", None, None)): fifo,
            ("access", ("fifo", "scalar", None, None)): "a FIFO moves whole vectors: the encoder refuses a scalar port",
            ("access", ("fifo", None, None, "some")): fifo,
            ("access", ("fifo", None, None, "all")): fifo,
        }
        if cfg.lanes < 3:
            why = f"{cfg.lanes} lanes: a conflict puts every performed lane on one bank"
            unreachable |= {("access", (None, None, "some", None)): why, ("port_conflicts", (None, "some")): why,
                            ("access", (None, None, "all_one_bank", "some")): f"{cfg.lanes} lanes, one out of range: "
                                                                             "one performed, no conflict"}
            why = f"{cfg.lanes} lanes: any {cfg.lanes} addresses are a constant step apart"
            unreachable |= {("access", (None, "gather", None, None)): why}
        _GROUPS[cfg.name] = Group("pmu", {
            "mode": MODES, "pattern": PATTERNS, "conflicts": CONFLICTS, "port": ("write", "read"), "range": RANGES,
        }, {"access": ("mode", "pattern", "conflicts", "range"), "port_conflicts": ("port", "conflicts")}, unreachable)
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
