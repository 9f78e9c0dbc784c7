"""Functional coverage of the PMU regressions (sim/pmu_regression.py), sampled per access of every case
whose streams, counters and contents matched the golden model, from the golden model's account of the
access (verif/golden/pmu.py ``Access``):

* ``access``: mode (none, buffer, double, fifo) x access pattern: contiguous (consecutive word
  addresses), strided (a constant step other than 1, 0 included), gather (anything else), scalar x bank
  conflicts of the lanes performed: none, some, all lanes on one bank (two lanes or more) x
  out-of-range lanes: none, some, all.
* ``port_conflicts``: port (write, read) x bank conflicts.
* ``full_queue``: each queue whose slots are promised ahead (the read port's ``vout`` and ``sout``
  FIFOs, each port's request queue) full while the port wants to fire. An output FIFO: the outputs
  were held and the golden model's reads outnumber the credits (verif/golden/credits.py). A request
  queue: with every input there from the start, some k accesses of the port, fired one per cycle,
  keep the serialiser busy longer than ``k + queue depth + pmu_stages + 3`` cycles, which the queue
  cannot absorb.
"""

from __future__ import annotations

import numpy as np

from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.pmu_layout import MODES
from rdagen.rtl.spec.timing import pmu_request_queue_depth
from rdagen.verif.golden.credits import pmu_read_credit_limit
from rdagen.verif.golden.pmu import access_cycles

from .group import Group

__all__ = ["pmu_group", "sample_pmu", "pattern", "conflicts"]

PATTERNS = ("contiguous", "strided", "gather", "scalar")
QUEUES = ("vout", "sout", "write_queue", "read_queue")
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
            "full_queue": QUEUES,
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


def _queue_fills(cfg: ArrayConfig, accesses) -> bool:
    """Whether a port firing *accesses* one per cycle must find its request queue full (the rule above)."""
    busy, slack = 0, pmu_request_queue_depth(cfg) + cfg.pmu_stages + 3
    for k, access in enumerate(accesses, 1):
        busy += access_cycles(access.banks)
        if busy > k + slack:
            return True
    return False


def sample_pmu(cfg: ArrayConfig, case, golden, scope: str) -> None:
    """Samples every access of one checked case (sim/pmu_regression.py ``PmuCase``; *golden*: its
    PmuResult) and the queues it filled."""
    group, mode = pmu_group(cfg), case.program.mode
    if case.hold and case.program.read is not None:
        limit = pmu_read_credit_limit(cfg, case.program.encode(cfg))
        if golden.read_firings > limit:
            for name in ("vout", "sout"):
                if getattr(case.program.read, name):
                    group.sample(scope, full_queue=name)
    if case.gap == 0 and not case.start_tokens:
        for port in ("write", "read"):
            accesses = [a for a in golden.accesses if a.port == port]
            if port == "read" and case.hold:
                accesses = accesses[:pmu_read_credit_limit(cfg, case.program.encode(cfg))]
            if _queue_fills(cfg, accesses):
                group.sample(scope, full_queue=f"{port}_queue")
    seen = set()
    for access in golden.accesses:
        n = len(access.addresses)
        event = (pattern(access.addresses), conflicts(access.banks), access.port,
                 "none" if access.out_of_range == 0 else "all" if access.out_of_range == n else "some")
        if event not in seen:  # the bins hit are what closure asks; one sample per distinct event
            seen.add(event)
            group.sample(scope, mode=mode, pattern=event[0], conflicts=event[1], port=event[2], range=event[3])
