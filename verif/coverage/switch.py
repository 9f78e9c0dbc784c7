"""Functional coverage of the switches, sampled per switch input in use (one that feeds outputs) in
every routing the switch-grid regression checked (sim/switch_regression.py: random unicast and
multicast routes over a grid of one network's switches, traffic with random gaps, consumers with and
without back-pressure, a scoreboard per sink):

* ``network_fanout``: network (vector, scalar, control) x fan-out of the input (outputs it feeds: 1, 2,
  3, 4 or more).
* ``fanout_backpressure``: fan-out x back-pressure on its consumers (none, stalled).
"""

from __future__ import annotations

from collections import Counter

from rdagen.rtl.bitstream import NETWORKS

from .group import Group

__all__ = ["switch_group", "sample_selects", "fanouts"]

FANOUTS = ("1", "2", "3", "4+")

_GROUP = Group("switch", {"network": NETWORKS, "fanout": FANOUTS, "backpressure": ("none", "stalled")},
               {"network_fanout": ("network", "fanout"), "fanout_backpressure": ("fanout", "backpressure")})


def switch_group() -> Group:
    return _GROUP


def fanouts(select: dict) -> Counter:
    """{(row, col, input + 1): outputs it feeds} from the selects {(row, col, output): input + 1}."""
    return Counter((r, c, value) for (r, c, _), value in select.items() if value)


def sample_selects(network: str, select: dict, backpressure: bool | None, scope: str) -> None:
    """Samples every switch input in use of one checked routing of *network*; *backpressure*: whether
    its consumers stalled (None: not known)."""
    seen = set()
    for n in fanouts(select).values():
        fanout = FANOUTS[min(n, 4) - 1]
        if fanout not in seen:
            seen.add(fanout)
            event = {"network": network, "fanout": fanout}
            if backpressure is not None:
                event["backpressure"] = "stalled" if backpressure else "none"
            _GROUP.sample(scope, **event)
