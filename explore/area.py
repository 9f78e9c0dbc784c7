"""The area of an array point by synthesis: each unit kind the array instantiates (PCU, PMU, AG, the
switch of each network, the configuration port) synthesized once per distinct unit configuration
(synth/yosys.py, hierarchical, memories kept as macros), counted as Yosys cells and as NAND2-equivalent
gates, times the unit counts of the point.

Two methods (``METHODS``; every result says which in ``source``): ``full`` synthesizes every module of
the unit; ``parts`` (the default) synthesizes each part once (synth/parts.py: modules that differ only
in their names and constants, such as the lanes of a stage, share one definition) and counts it per
instance, the area model for units whose full synthesis takes hours (the plasticine PCU: 1,039
modules, 102 parts). Its error against the full synthesis is measured on the ``tiny``, ``small`` and
``medium`` units by ``make bench ARGS="--only area"`` (docs/sweep.md).

A unit's synthesis depends only on the ArrayConfig fields its Verilog reads (``UNIT_FIELDS``, checked by tests/test_sweep.py: changing any other field leaves
its Verilog unchanged), so points that share them share one synthesis; results are cached on disk by
the Verilog's hash (build/synth/units/), so a synthesis is never repeated across sweeps either.

NAND2 equivalents: each Yosys internal gate weighed by the area of the matching cell of the NanGate
FreePDK45 open cell library over that of NAND2_X1 (``NAND2``); scratchpad and FIFO memories kept as
``$mem`` macros are reported in bits (``memory_bits``), not in gates. The longest path (``ltp``, in
cells, inside one module) is the clock proxy: the largest over the unit kinds.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from pathlib import Path

from rdagen.rtl.spec.config import ArrayConfig

__all__ = ["UNITS", "UNIT_FIELDS", "METHODS", "NAND2", "unit_counts", "unit_key", "nand2_gates", "synthesize_unit",
           "array_area"]

METHODS = ("parts", "full")

UNITS = {"pcu": "pcu", "pmu": "pmu", "ag": "ag", "switch_vector": "array_switch_vector",
         "switch_scalar": "array_switch_scalar", "switch_control": "array_switch_control",
         "config_port": "config_port"}
"""Unit kind -> the top (sim/tops.py) synthesized for it."""

UNIT_FIELDS = {
    "pcu": ("lanes", "stages", "registers", "counters", "vector_inputs", "scalar_inputs", "vector_outputs",
            "scalar_outputs", "fifo_depth"),
    "pmu": ("lanes", "counters", "vector_inputs", "scalar_inputs", "fifo_depth", "pmu_depth", "pmu_stages"),
    "ag": ("lanes", "fifo_depth"),
    "switch_vector": ("lanes", "vector_inputs", "vector_outputs", "vector_tracks"),
    "switch_scalar": ("scalar_inputs", "scalar_outputs", "scalar_tracks"),
    "switch_control": ("control_tracks",),
    "config_port": tuple(f for f in ArrayConfig.__dataclass_fields__ if f != "name"),
}
"""The ArrayConfig fields each unit kind's Verilog depends on (more would only share less)."""

# NanGate FreePDK45 cell area / NAND2_X1 area (0.798 um^2).
NAND2 = {"$_NOT_": 0.67, "$_BUF_": 1.0, "$_NAND_": 1.0, "$_NOR_": 1.0, "$_AND_": 1.33, "$_OR_": 1.33,
         "$_ANDNOT_": 1.33, "$_ORNOT_": 1.33, "$_XOR_": 2.0, "$_XNOR_": 2.0, "$_MUX_": 2.33, "$_NMUX_": 2.33,
         "$_AOI3_": 1.33, "$_OAI3_": 1.33, "$_AOI4_": 1.67, "$_OAI4_": 1.67}
_FLOPS = ((r"^\$_DFF_[NP]_$", 5.67), (r"^\$_DFFE_", 8.0), (r"^\$_SDFF_", 6.67), (r"^\$_SDFFC?E_", 8.67),
          (r"^\$_DFF_[NP][NP][01]_$", 6.67), (r"^\$_DFFE_[NP][NP][01][NP]_$", 8.67), (r"^\$_DLATCH_", 5.33),
          (r"^\$_(DFFSR|DFFSRE|ALDFF|ALDFFE)_", 8.67))


def unit_counts(cfg: ArrayConfig) -> dict[str, int]:
    """How many of each unit kind an array of *cfg* has: PCUs and PMUs of the checkerboard, an AG per
    row, a switch per tile and network, one configuration port."""
    from rdagen.rtl.spec.array_layout import tile_kind

    tiles = [tile_kind(r, c) for r in range(cfg.rows) for c in range(cfg.cols)]
    switches = cfg.rows * cfg.cols
    return {"pcu": tiles.count("pcu"), "pmu": tiles.count("pmu"), "ag": cfg.rows, "switch_vector": switches,
            "switch_scalar": switches, "switch_control": switches, "config_port": 1}


def unit_key(kind: str, config: dict) -> str:
    """The hash of what unit *kind* depends on in the hardware fields *config*."""
    fields = {f: config[f] for f in UNIT_FIELDS[kind]}
    return hashlib.sha256(json.dumps([kind, fields], sort_keys=True).encode()).hexdigest()[:16]


def nand2_gates(cells_by_type: dict[str, int]) -> float:
    """NAND2 equivalents of a synthesis's cells (memories excluded); an unknown gate type is an error."""
    total = 0.0
    for gate, count in cells_by_type.items():
        if gate.startswith("$mem") or not gate.startswith("$_"):
            continue  # macros (reported in bits) and submodule instances (counted in their own cells)
        weight = NAND2.get(gate) or next((w for pattern, w in _FLOPS if re.match(pattern, gate)), None)
        if weight is None:
            raise ValueError(f"no NAND2 equivalent for the Yosys cell type {gate}")
        total += weight * count
    return round(total, 1)


def synthesize_unit(kind: str, config: dict, timeout: float = 3600, method: str = "parts") -> dict:
    """Unit *kind* of the hardware fields *config* synthesized by *method* (or its result cached by
    the Verilog's hash in build/synth/units): cells, flip-flops, NAND2 equivalents, memory bits, longest
    path, the Verilog's hash, seconds, ``source`` (the method)."""
    from rdagen.sim.paths import BUILD, write_atomic
    from rdagen.sim.verilog import generate
    from rdagen.synth.yosys import synthesize

    if method not in METHODS:
        raise ValueError(f"area method {method!r}: valid methods are {', '.join(METHODS)}")
    cache = BUILD / "synth" / "units"
    cfg = ArrayConfig(name=f"{kind}-{unit_key(kind, config)}", **config)
    gen = generate(UNITS[kind], cfg)
    done = cache / f"{kind}-{gen.digest[:16]}-{method}.json"
    if done.is_file():
        result = json.loads(done.read_text())
    else:
        # A directory of its own: another sweep or worker may synthesize the same unit at once. Kept
        # only when Yosys fails (the error names its log).
        (cache / "work").mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f"{kind}-{method}-", dir=cache / "work"))
        report = synthesize(gen.path, gen.module, work, unit=f"{kind}-{method}", config=cfg.name,
                            config_hash=cfg.hash, memories="macros", flatten=False, parts=method == "parts",
                            timeout=timeout)
        shutil.rmtree(work)
        result = {"kind": kind, "cells": report["cells"], "flipflops": report["flipflops"],
                  "nand2": nand2_gates(report["cells_by_type"]), "memory_bits": report["memory_bits"],
                  "longest_path": report["longest_path"], "verilog": gen.digest[:16], "seconds": report["seconds"],
                  "yosys": report["yosys"], "source": method, "parts": report["parts"]}
        write_atomic(done, json.dumps(result, indent=1) + "\n")
    return result


def array_area(cfg: ArrayConfig, units: dict[str, dict]) -> dict:
    """The point's area from its units' syntheses *units* {kind: synthesize_unit result}."""
    counts = unit_counts(cfg)
    return {"area_cells": sum(n * units[k]["cells"] for k, n in counts.items()),
            "area_nand2": round(sum(n * units[k]["nand2"] for k, n in counts.items())),
            "area_memory_bits": sum(n * units[k]["memory_bits"] for k, n in counts.items()),
            "longest_path": max(units[k]["longest_path"] for k in counts),
            "area_source": "+".join(sorted({units[k]["source"] for k in counts}))}
