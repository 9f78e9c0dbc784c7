"""What a user sees while long work runs and when it fails for want of disk (sim/build_progress.py,
sim/paths.py), and what `make clean` and `make help` say."""

import io
import os
import shutil
import subprocess
import time
from pathlib import Path

from rdagen.sim import paths
from rdagen.sim.build_progress import compile_commands, compile_count, heartbeat, planned_files
from rdagen.sim.runner import VERILATOR_MAKE_VARS, toolchain_env, verilator_bin

ROOT = Path(__file__).resolve().parent.parent

TOP = """module counter(input clk, input rst, output reg [7:0] q);
  always @(posedge clk) q <= rst ? 8'd0 : q + 8'd1;
endmodule
"""


def test_a_step_longer_than_the_interval_says_what_runs_and_for_how_long():
    out = io.StringIO()
    with heartbeat("[direct] small: compile", lambda: "3 of 9 files compiled", interval=0.05, stream=out):
        time.sleep(0.32)
    lines = out.getvalue().splitlines()
    assert len(lines) >= 3 and all(line.startswith("[direct] small: compile: ") for line in lines), lines
    assert lines[-1].endswith(" s, 3 of 9 files compiled")
    quiet = io.StringIO()
    with heartbeat("short", interval=5, stream=quiet):
        pass
    assert quiet.getvalue() == ""  # a short step prints nothing


def test_the_compile_progress_counts_the_files_verilators_make_compiles_of_those_it_plans(tmp_path):
    """A real Verilator model: ``make -n`` plans N files; while make runs, the count of compile commands
    in its output grows to exactly N."""
    toolchain_env()
    (tmp_path / "counter.v").write_text(TOP)
    obj = tmp_path / "obj"
    subprocess.run([verilator_bin(), "--cc", "--top-module", "counter", "-Mdir", str(obj), str(tmp_path / "counter.v")],
                   check=True, capture_output=True)
    files = planned_files(obj, "Vcounter.mk", VERILATOR_MAKE_VARS)
    planned = len(files or ())
    assert planned >= 3  # the model's files and Verilator's runtime
    log = tmp_path / "build.log"
    with open(log, "wb") as handle:
        subprocess.run(["make", "-C", str(obj), "-f", "Vcounter.mk", *(f"{k}={v}" for k, v in VERILATOR_MAKE_VARS.items())],
                       stdout=handle, stderr=subprocess.STDOUT, check=True)
    assert compile_commands(log.read_bytes()) == planned
    assert compile_count(log, lambda: files)() == f"{planned} of {planned} files compiled"
    assert planned_files(obj, "Vcounter.mk", VERILATOR_MAKE_VARS) is None  # nothing left to compile


def test_a_plan_asked_mid_build_counts_the_files_already_started_once(tmp_path):
    """The makefile appears while the build runs, so ``make -n`` lists only what is left (a file still
    compiling among them): the total is the union, never fewer than the files already counted (a
    build once said "30 of 25 files compiled")."""
    log = tmp_path / "build.log"
    log.write_text("".join(f"g++ -O2 -c -o f{i}.o f{i}.cpp\n" for i in range(5)))
    left = {f"f{i}.cpp".encode() for i in range(4, 9)}  # f4 still compiling; f5..f8 not started
    progress = compile_count(log, lambda: left)
    assert progress() == "5 of 9 files compiled"
    log.write_text(log.read_text() + "".join(f"g++ -O2 -c -o f{i}.o f{i}.cpp\n" for i in range(5, 9)))
    assert progress() == "9 of 9 files compiled"


def test_a_build_that_fails_for_want_of_disk_says_so(tmp_path, monkeypatch):
    log = tmp_path / "build.log"
    log.write_text("g++ -c x.cpp\nfatal error: cannot write x.o: No space left on device\n")
    note = paths.disk_note(tmp_path, log)
    assert "the disk is full" in note and "make clean" in note
    log.write_text("x.cpp:3: error: expected ';'\n")
    assert paths.disk_note(tmp_path, log) == ""  # a compile error is not blamed on the disk
    monkeypatch.setattr(shutil, "disk_usage", lambda _: shutil._ntuple_diskusage(100 << 30, 100 << 30, 200 << 20))
    assert "200 MiB free" in paths.disk_note(tmp_path, log)


def test_make_clean_says_what_it_freed_and_help_names_every_target(tmp_path):
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "build" / "sim").mkdir(parents=True)
    (tmp_path / "build" / "sim" / "model.bin").write_bytes(os.urandom(3 << 20))
    (tmp_path / "bench" / "results").mkdir(parents=True)
    run = subprocess.run(["make", "-s", "clean"], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0 and "make clean: freed 3 MiB" in run.stdout, run.stdout + run.stderr
    assert not (tmp_path / "build").exists()
    helped = subprocess.run(["make", "help"], cwd=ROOT, capture_output=True, text=True).stdout
    targets = subprocess.run(["make", "-pRrq"], cwd=ROOT, capture_output=True, text=True).stdout
    phony = next(line for line in targets.splitlines() if line.startswith(".PHONY:")).split()[1:]
    for target in phony:
        assert f"make {target} " in helped, target
    coverage = next(line for line in helped.splitlines() if line.strip().startswith("make coverage"))
    assert "every group" in coverage and "arithmetic" not in coverage
