"""Functional coverage of the switches, sampled per switch input in use (one that feeds outputs) in
every checked routing: the switch-grid regression's (sim/switch_regression.py: vector network, with
and without back-pressure on the consumers) and the mapped graphs' bitstreams run on the array
(sim/graph_run.py: every network):

* ``network_fanout``: network x fan-out of the input (outputs it feeds: 1, 2, 3, 4 or more).
* ``fanout_backpressure``: fan-out x back-pressure on its consumers (none, stalled); the grid
  regression alone controls back-pressure, so array runs sample only ``network_fanout``.
"""

from __future__ import annotations

from collections import Counter

from amaranth import Shape

from rdagen.rtl.array_layout import local_counts, plan
from rdagen.rtl.bitstream import NETWORKS, Kind, decode
from rdagen.rtl.config import ArrayConfig
from rdagen.rtl.switch_layout import networks, switch_layout

from .group import Group

__all__ = ["switch_group", "sample_selects", "sample_bitstream", "fanouts"]

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


def sample_bitstream(cfg: ArrayConfig, bitstream: bytes, scope: str) -> None:
    """Samples the switches of one checked array bitstream, network by network."""
    words = decode(plan(cfg), bitstream)
    for network in NETWORKS:
        layout = switch_layout(networks(cfg)[network].tracks, *local_counts(cfg, network))
        width = Shape.cast(layout.elem_shape).width
        select = {(a.row, a.col, o): (word >> (o * width)) & ((1 << width) - 1)
                  for a, word in words.items() if a.kind == Kind.SWITCH and a.network == network
                  for o in range(layout.length)}
        sample_selects(network, select, None, scope)
