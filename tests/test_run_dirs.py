"""Simulation runs start from an empty directory and fail when the simulator fails: a crashed run can
never pass on the results file of an earlier (or its own partial) run. The simulator is replaced by a
fake that writes perfect results and then fails, so only the flow's own handling is tested."""

import numpy as np
import pytest

from rdagen.rtl.spec.config import preset
from rdagen.sim import arith_regression, streams
from rdagen.sim.arith_regression import explicit_plan, run_plan
from rdagen.sim.paths import new_run_dir
from rdagen.sim.runner import SimulationFailed
from rdagen.sim.verilog import GeneratedVerilog


def test_every_run_directory_is_new_and_empty():
    first, second = new_run_dir("probe"), new_run_dir("probe")
    assert first != second and not any(first.iterdir()) and not any(second.iterdir())


def _fake_top(*_):
    return GeneratedVerilog("arith_lane", "rdagen_arith_lane", None, "0" * 64, 0.0)


def test_arith_regression_fails_when_the_simulator_fails_after_writing_results(monkeypatch):
    plan = explicit_plan(1, "add", np.arange(8, dtype=np.uint32), lanes=1)
    seen = []

    def crashing_simulator(gen, module, *, test_dir, env, **_):
        seen.append(sorted(p.name for p in test_dir.iterdir()))
        np.savez(env["RDAGEN_RESULTS"], results=plan.expected, cycles=len(plan.expected))  # all correct
        raise SimulationFailed("the simulator crashed after writing its results")

    monkeypatch.setattr(arith_regression, "generate", _fake_top)
    monkeypatch.setattr(arith_regression, "build", lambda *a, **k: (None, 0.0))
    monkeypatch.setattr(arith_regression, "run_cocotb", crashing_simulator)
    for _ in range(2):  # the second run must not see the first run's results
        with pytest.raises(SimulationFailed, match="crashed"):
            run_plan(plan, preset("small"))
    assert seen == [["stimulus.npz"], ["stimulus.npz"]]


def test_arith_regression_fails_when_the_bench_writes_nothing(monkeypatch):
    plan = explicit_plan(1, "add", np.arange(8, dtype=np.uint32), lanes=1)
    monkeypatch.setattr(arith_regression, "generate", _fake_top)
    monkeypatch.setattr(arith_regression, "build", lambda *a, **k: (None, 0.0))
    monkeypatch.setattr(arith_regression, "run_cocotb", lambda *a, **k: None)
    with pytest.raises(SimulationFailed, match="without writing"):
        run_plan(plan, preset("small"))


def test_stream_benches_fail_when_the_simulator_fails_after_writing_results(monkeypatch):
    def crashing_simulator(gen, bench, *, test_dir, env, **_):
        assert sorted(p.name for p in test_dir.iterdir()) == ["cases.json"]
        with open(env["RDAGEN_RESULTS"], "w") as f:
            f.write("[]")
        raise SimulationFailed("the simulator crashed after writing its results")

    monkeypatch.setattr(streams, "run_cocotb", crashing_simulator)
    with pytest.raises(SimulationFailed, match="crashed"):
        streams.run_stream_cases(_fake_top(), [], tag="probe")


def test_old_run_directories_are_pruned_but_those_of_live_processes(tmp_path, monkeypatch):
    """build/runs keeps the newest RDAGEN_KEEP_RUNS directories; older ones go when a new one is made,
    unless the process that made them still runs."""
    import os
    import subprocess
    import sys

    from rdagen.sim import paths

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    monkeypatch.setattr(paths, "BUILD", tmp_path)
    runs = tmp_path / "runs"
    runs.mkdir()
    for n in range(6):
        pid = os.getpid() if n == 0 else dead  # the oldest belongs to this (live) process
        d = runs / f"old{n}-p{pid}-x"
        d.mkdir()
        (d / "dump.vcd").write_text("x")
        os.utime(d, (1000 + n, 1000 + n))
    monkeypatch.setenv("RDAGEN_KEEP_RUNS", "3")
    new = paths.new_run_dir("probe")
    left = sorted(p.name for p in runs.iterdir())
    assert left == sorted(["old0-p%d-x" % os.getpid(), "old4-p%s-x" % dead, "old5-p%s-x" % dead, new.name]), left
    monkeypatch.setenv("RDAGEN_KEEP_RUNS", "0")
    with pytest.raises(ValueError, match="RDAGEN_KEEP_RUNS='0': must be a whole number >= 1"):
        paths.new_run_dir("probe")


def test_a_vcd_is_moved_not_copied(tmp_path):
    from rdagen.sim.waves import move_vcd

    src = tmp_path / "runs" / "dump.vcd"
    src.parent.mkdir()
    src.write_bytes(b"$scope module $rootio $end\n$var wire 1 ! $1 $end\n$upscope $end\n$enddefinitions $end\n#0\n1!\n")
    dst = tmp_path / "waves" / "a.vcd"
    move_vcd(src, dst)
    assert not src.exists() and b"$var wire 1 ! _1 $end" in dst.read_bytes() and dst.read_bytes().endswith(b"#0\n1!\n")
