"""Formal proofs (verif/formal.py, sim/formal.py): every property proven by k-induction, each cover
reached (the proof is not vacuous), each broken variant refuted with a counterexample from reset; and
`rdagen formal` reports a failing proof with its counterexample and exit status 1."""

import dataclasses
from pathlib import Path

import pytest

from rdagen.sim import formal
from rdagen.cli import main
from rdagen.verif.formal import PROPERTIES


@pytest.mark.parametrize("prop", PROPERTIES, ids=lambda p: p.name)
def test_every_property_is_proven_not_vacuous_and_tells_its_broken_variant(prop):
    """One property a test, so that the suite's workers share the proofs."""
    checks = formal.run_checks([prop.name])
    for check in checks:
        print(formal.format_check(check))
    assert all(c.ok for c in checks), [formal.format_check(c) for c in checks if not c.ok]
    names = {c.name for c in checks}
    assert prop.name in names and f"{prop.name} broken" in names
    assert prop.covers and all(f"{prop.name} cover {c}" in names for c in prop.covers)
    broken = [c for c in checks if c.name.endswith(" broken")]
    assert broken and all(c.vcd and Path(c.vcd).stat().st_size > 0 for c in broken)  # a counterexample trace each


def test_a_failing_proof_prints_fail_with_its_counterexample_and_exits_1(monkeypatch, capsys):
    # A property whose "correct" unit is the broken one: its proof must fail.
    prop = PROPERTIES[0]
    wrong = dataclasses.replace(prop, name="wrong.multicast", build=lambda cover, broken: prop.build(cover, True))
    monkeypatch.setattr(formal, "PROPERTIES", [wrong])
    assert main(["formal", "--no-broken"]) == 1
    out = capsys.readouterr().out
    line = next(l for l in out.splitlines() if l.startswith("FAIL wrong.multicast ("))
    assert "counterexample" in line and line.rstrip().endswith(".vcd")


def test_an_unknown_property_exits_2(capsys):
    assert main(["formal", "--property", "switch.nothing"]) == 2
    assert "unknown property 'switch.nothing'" in capsys.readouterr().err
