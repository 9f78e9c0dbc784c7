"""Running the array RTL: the loader (a validated bitstream -> config-port writes), one run of the
array top with host streams, AG commands and DRAM contents (verif/tb/array_tb.py), and a kernel run
checked against the golden array model (bit for bit) and NumPy (within the kernel's fp32 bound)."""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from rdagen.mapper.kernels import Kernel
from rdagen.rtl.array_layout import check_units, configuration_units, connections, plan, unit_layout
from rdagen.rtl.bitstream import decode
from rdagen.rtl.config import ArrayConfig
from rdagen.verif.golden.array import run_array as golden_array

from .streams import compare, cycle_budget, run_stream_cases
from .verilog import generate

__all__ = ["config_writes", "run_array", "KernelResult", "run_kernel", "format_kernel_table", "HARNESSES"]


def config_writes(cfg: ArrayConfig, bitstream: bytes) -> list[tuple[int, int]]:
    """The config-port writes that load *bitstream* (validated first): every unit, unconfigured ones
    with zeros, each as ceil(bits / 32) words, the most significant first."""
    words = decode(plan(cfg), bitstream)
    check_units(cfg, words)  # refuses unit words that their encoders would not write
    connections(cfg, words)  # refuses switch selects that would lose or block words
    writes = []
    for unit, address in enumerate(configuration_units(cfg)):
        chunks = -(-unit_layout(cfg, address).size // 32)
        word = words.get(address, 0)
        writes += [(unit, (word >> (32 * j)) & 0xFFFFFFFF) for j in reversed(range(chunks))]
    return writes


def run_array(cfg: ArrayConfig, bitstream: bytes, *, sources: dict, sinks: dict, dram: dict | None = None,
              gap: float = 0.0, stall: float = 0.0, seed: int = 0, tag: str = "array", work: int = 0,
              waves: bool = False, done_tokens: int = 0, readback=()) -> dict:
    """Runs the array: *sources* {host input port: words}, *sinks* {host output port: transfers
    expected}, *dram* {AG row: {word address: words}}, *work* the cycles the run is expected to take
    at full speed (for the hang budget), *done_tokens* the ``done_tokens`` host register, *readback*
    (AG row, word address, words) regions of DRAM to read after the run. Returns the bench's record
    (``finish``: the cycle of the last expected output; ``readback``: one uint32 array per region)."""
    gen = generate("array", cfg)
    units = len(configuration_units(cfg))
    job = {
        "name": "array", "seed": seed, "gap": gap, "stall": stall, "config": config_writes(cfg, bitstream),
        "done_tokens": done_tokens,
        "unit_bits": (units - 1).bit_length() or 1, "sources": sources, "sinks": list(sinks),
        "expect": list(sinks.values()),
        "dram": {str(row): [(int(b), np.asarray(w, "<u4").tobytes().hex()) for b, w in regions.items()]
                 for row, regions in (dram or {}).items()},
        "drain": 64, "budget": cycle_budget(4 * sum(sinks.values()) + 64 + work, gap, stall, 256),
        "readback": [(int(row), int(base), int(count)) for row, base, count in readback],
    }
    (record,) = run_stream_cases(gen, [job], tag=tag, bench="rdagen.verif.tb.array_tb", waves=waves)
    record["readback"] = [np.frombuffer(bytes.fromhex(blob), "<u4") for blob in record["readback"]]
    return record


@dataclasses.dataclass
class KernelResult:
    name: str
    description: str
    cycles: int | None  # run start to the last output (None if it never came)
    ideal: int
    max_error: float  # against the float64 NumPy reference
    bound: float  # the largest per-element fp32 bound
    problems: list[str]
    vcd: str | None
    seconds: float  # in all (golden model, cocotb start, simulation)
    sim_cycles: int = 0  # cycles simulated (the run, then the drain that checks for extra outputs)
    sim_seconds: float = 0.0  # wall time of the simulator run (cocotb + Verilator)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def utilization(self) -> float:
        return self.ideal / self.cycles if self.cycles else 0.0


HARNESSES = ("cocotb", "direct")


def run_kernel(kernel: Kernel, *, seed: int = 0, gap: float = 0.0, stall: float = 0.0, waves: bool = False,
               tag: str = "kernel", harness: str = "cocotb") -> KernelResult:
    """Run *kernel* on the array RTL; compare every host output with the golden array model bit for bit,
    the errors register with the model's, and the result with NumPy within the kernel's bound.

    *harness*: ``cocotb`` (verif/tb/array_tb.py: gaps, stalls) or ``direct`` (sim/direct.py: the whole
    run in C++ at full rate, for long runs); both write a VCD with *waves*."""
    if harness not in HARNESSES:
        raise ValueError(f"unknown harness {harness!r}; valid: {', '.join(HARNESSES)}")
    started = time.perf_counter()
    cfg = kernel.cfg
    golden = golden_array(cfg, kernel.bitstream, kernel.sources, kernel.dram)
    problems = [f"golden model: {port} gives {len(golden.outputs.get(port, []))} transfers, the kernel expects {n}"
                for port, n in kernel.sinks.items() if len(golden.outputs.get(port, [])) != n]
    sim_started = time.perf_counter()
    if harness == "direct":
        from .direct import run_direct  # imports the runner's toolchain only when asked

        if gap or stall:
            raise ValueError("the direct harness runs at full rate: no input gaps or output stalls")
        record = run_direct(cfg, kernel.bitstream, sources=kernel.sources, sinks=kernel.sinks, dram=kernel.dram,
                            work=4 * kernel.ideal_cycles, done_tokens=kernel.done_tokens, tag=f"{tag}-{kernel.name}",
                            waves=waves)
    else:
        record = run_array(cfg, kernel.bitstream, sources=kernel.sources, sinks=kernel.sinks, dram=kernel.dram,
                           gap=gap, stall=stall, seed=seed, tag=f"{tag}-{kernel.name}", work=4 * kernel.ideal_cycles,
                           waves=waves, done_tokens=kernel.done_tokens)
    sim_seconds = record["seconds"] if harness == "direct" else time.perf_counter() - sim_started
    if record["timed_out"]:
        problems.append(f"timed out after {record['cycles']} cycles; outputs so far: "
                        + ", ".join(f"{p} {len(v)}" for p, v in record["outputs"].items()))
    for port in kernel.sinks:
        problems += compare(port, record["outputs"][port], golden.outputs.get(port, []))
    if record["registers"]["errors"] != golden.errors:
        problems.append(f"errors register {record['registers']['errors']}, golden model {golden.errors}")
    if golden.done_tokens != kernel.done_tokens:
        problems.append(f"golden model: {golden.done_tokens} done tokens, the kernel expects {kernel.done_tokens}")
    if record["registers"]["done"] != 1:
        problems.append(f"the done register is low at the end ({kernel.done_tokens} done tokens expected)")
    max_error = bound = 0.0
    if not problems:
        got = kernel.decode(record["outputs"]).astype(np.float64)
        error = np.abs(got - kernel.reference)
        max_error, bound = float(error.max(initial=0.0)), float(kernel.tolerance.max(initial=0.0))
        over = np.flatnonzero((error > kernel.tolerance).ravel())
        if len(over):
            i = over[0]
            problems.append(f"{len(over)} results outside the fp32 bound vs NumPy; first #{i}: "
                            f"{got.ravel()[i]!r} vs {kernel.reference.ravel()[i]!r} (bound {kernel.tolerance.ravel()[i]:.3g})")
    return KernelResult(kernel.name, kernel.description, record.get("finish"), kernel.ideal_cycles, max_error, bound,
                        problems, record.get("vcd"), time.perf_counter() - started, record["cycles"], sim_seconds)


def format_kernel_table(results: list[KernelResult]) -> str:
    rows = [("kernel", "cycles", "ideal", "utilization", "max error", "fp32 bound", "result"),
            *((r.name, str(r.cycles or "-"), str(r.ideal), f"{100 * r.utilization:.1f} %", f"{r.max_error:.3g}",
               f"{r.bound:.3g}", "pass" if r.ok else "FAIL") for r in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    line = lambda row: "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)  # noqa: E731
                                 for i, (cell, w) in enumerate(zip(row, widths)))
    return "\n".join([line(rows[0]), "  ".join("-" * w for w in widths), *map(line, rows[1:])])
