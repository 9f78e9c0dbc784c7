"""What a change of layout must not change, against fingerprints recorded before it
(tests/data/invariance.json): every command's flags (names, defaults, choices, types), the bitstreams of
the workloads, the DLRM cases and a set of random graphs, byte for byte, and every workload's cycles on
the array (the direct harness at full rate, which is deterministic).

The fingerprints use fixed seeds, not the suite's base seed: they are the same on every run. A change
that is meant to alter them (a new flag, a different mapping) rewrites the file on purpose with
``python -m tests.test_invariance --write [flags|bitstreams|cycles]`` and says why in its commit.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from rdagen.cli import parser
from rdagen.mapper.apps.dlrm import Arch, dlrm_graph, random_batch, reference_weights
from rdagen.mapper.apps.workloads import WORKLOADS, workload
from rdagen.mapper.program import map_graph
from rdagen.rtl.spec.config import preset

from .random_graphs import random_graph

DATA = Path(__file__).parent / "data" / "invariance.json"
RANDOM_GRAPHS = [(config, seed) for config in ("tiny", "small") for seed in range(8)]
DLRM_CASES = [  # config, D, tables, bottom, top, interaction, batch, MLP weights
    ("tiny", 2, (5,), (4, 3, 2), (3, 1), "dot", 1, "resident"),
    ("tiny", 3, (5, 7, 3), (4, 3), (2, 1), "cat", 3, "auto"),
    ("small", 4, (3, 11), (6, 5, 4), (4, 1), "dot", 4, "auto"),
    ("small", 6, (9,), (13, 6), (5, 1), "cat", 1, "streamed"),
    ("small", 5, (4, 7, 6), (13, 8, 5), (7, 3, 1), "dot", 8, "auto"),
]


def command_flags() -> dict:
    """{command: [every argument's names, default, choices, type, nargs, action]}."""
    def describe(p: argparse.ArgumentParser) -> list:
        return [{"names": a.option_strings or [a.dest], "default": repr(a.default), "nargs": repr(a.nargs),
                 "choices": None if a.choices is None else [str(c) for c in a.choices],
                 "type": getattr(a.type, "__name__", None), "action": type(a).__name__, "metavar": a.metavar}
                for a in p._actions if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))]

    top = parser()
    sub = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    return {"": describe(top), **{name: describe(p) for name, p in sub.choices.items()}}


def _digest(program) -> dict:
    return {"phases": len(program.phases),
            "sha256": hashlib.sha256(b"".join(len(b).to_bytes(4, "little") + b for b in program.bitstreams)).hexdigest()}


def bitstreams() -> dict:
    """{case: digest of its program's bitstreams} for the workloads, the DLRM cases and random graphs."""
    out = {}
    for config in ("tiny", "small"):
        cfg = preset(config)
        for name in WORKLOADS:
            graph, _ = workload(name, cfg, 1)
            out[f"workload {name} {config}"] = _digest(map_graph(graph, cfg, seed=1))
    for config, d, tables, bottom, top, interaction, batch, mlp_weights in DLRM_CASES:
        arch = Arch(d, tables, bottom, top, interaction, indices_per_lookup=3)
        graph = dlrm_graph(arch, reference_weights(arch, 7), random_batch(arch, batch, 7))
        key = f"dlrm {config} D{d} {'-'.join(map(str, tables))} {interaction} b{batch} {mlp_weights}"
        out[key] = _digest(map_graph(graph, preset(config), seed=7, mlp_weights=mlp_weights))
    for config, seed in RANDOM_GRAPHS:
        graph = random_graph(np.random.default_rng(1000 + seed))
        out[f"random {config} {seed}"] = _digest(map_graph(graph, preset(config), seed=seed))
    return out


def workload_cycles() -> dict:
    """{workload on config: [each phase's cycles]} in the direct harness at full rate, seed 1."""
    from rdagen.sim.graph_run import run_program

    out = {}
    for config in ("tiny", "small"):
        cfg = preset(config)
        for name in WORKLOADS:
            graph, arrays = workload(name, cfg, 1)
            run = run_program(map_graph(graph, cfg, seed=1), arrays, harness="direct", tag="test-invariance")
            assert run.ok, (name, config, run.mismatches)
            out[f"{name} {config}"] = [p.cycles for p in run.phases]
    return out


def _recorded(part: str) -> dict:
    return json.loads(DATA.read_text())[part]


def test_every_command_keeps_its_flags():
    assert command_flags() == _recorded("flags")


def test_the_same_graphs_give_the_same_bitstreams():
    got, want = bitstreams(), _recorded("bitstreams")
    assert got.keys() == want.keys()
    changed = [case for case in want if got[case] != want[case]]
    assert not changed, changed


@pytest.mark.cocotb
def test_every_workload_takes_the_same_cycles_on_the_array():
    got, want = workload_cycles(), _recorded("cycles")
    assert got == want


if __name__ == "__main__":
    PARTS = {"flags": command_flags, "bitstreams": bitstreams, "cycles": workload_cycles}
    if not sys.argv[1:] or sys.argv[1] != "--write" or not set(sys.argv[2:]) <= PARTS.keys():
        sys.exit(f"usage: python -m tests.test_invariance --write [{'|'.join(PARTS)} ...]"
                 "  (records today's fingerprints: all, or the parts named)")
    recorded = json.loads(DATA.read_text()) if DATA.exists() else {}
    for part in sys.argv[2:] or PARTS:
        recorded[part] = PARTS[part]()
    DATA.parent.mkdir(exist_ok=True)
    DATA.write_text(json.dumps({part: recorded[part] for part in PARTS}, indent=1) + "\n")
    print(f"wrote {DATA}: {', '.join(sys.argv[2:] or PARTS)}")
