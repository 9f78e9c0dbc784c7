"""Functional coverage of the switches, sampled per switch input in use (one that feeds outputs) in
every routing the switch-grid regression checked (sim/switch_regression.py: random unicast and
multicast routes over a grid of one network's switches, traffic with random gaps, consumers with and
without back-pressure, a scoreboard per sink):

* ``routing``: network (vector, scalar, control) x fan-out of the input (outputs it feeds: 1, 2, 3, 4
  or more) x back-pressure on its consumers (none, stalled).
"""

from __future__ import annotations

from collections import Counter

from rdagen.rtl.spec.bitstream import NETWORKS

from .group import Group

__all__ = ["switch_group", "sample_selects", "fanouts"]

FANOUTS = ("1", "2", "3", "4+")

_GROUP = Group("switch", {"network": NETWORKS, "fanout": FANOUTS, "backpressure": ("none", "stalled")},
               {"routing": ("network", "fanout", "backpressure")})


def switch_group() -> Group:
    return _GROUP


def fanouts(select: dict) -> Counter:
    """{(row, col, input + 1): outputs it feeds} from the selects {(row, col, output): input + 1}."""
    return Counter((r, c, value) for (r, c, _), value in select.items() if value)


def sample_selects(network: str, select: dict, backpressure: bool, scope: str) -> None:
    """Samples every switch input in use of one checked routing of *network*; *backpressure*: whether
    its consumers stalled."""
    for fanout in {FANOUTS[min(n, 4) - 1] for n in fanouts(select).values()}:
        _GROUP.sample(scope, network=network, fanout=fanout, backpressure="stalled" if backpressure else "none")
