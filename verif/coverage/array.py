"""Functional coverage of the array regression (sim/coverage_regression.py ``array``): the named
workloads (mapper/apps/workloads.py) mapped onto the whole array and run on its RTL through cocotb, checked
phase by phase against the golden array model and against NumPy:

* ``workload``: each workload ran bit-exact with the golden model, within its error bound.
* ``network``: each network carried a route in a checked phase (a switch select in its bitstream).
"""

from __future__ import annotations

from rdagen.mapper.apps.workloads import WORKLOADS
from rdagen.rtl.spec.array_layout import load
from rdagen.rtl.spec.bitstream import NETWORKS, Kind
from rdagen.rtl.spec.config import ArrayConfig

from .group import Group

__all__ = ["array_group", "sample_array"]

_GROUP = Group("array", {"workload": WORKLOADS, "network": NETWORKS})


def array_group() -> Group:
    return _GROUP


def sample_array(cfg: ArrayConfig, name: str, bitstreams: list[bytes], scope: str) -> None:
    """Samples one workload *name* that ran bit-exact, with the bitstreams of its phases."""
    _GROUP.sample(scope, workload=name)
    for bitstream in bitstreams:
        words, _ = load(cfg, bitstream)
        for network in {a.network for a, word in words.items() if a.kind == Kind.SWITCH and word}:
            _GROUP.sample(scope, network=network)
