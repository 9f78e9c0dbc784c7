"""Running the array RTL: the loader (a validated bitstream -> config-port writes) and one run of the
array top with host streams, AG commands and DRAM contents (verif/tb/array_tb.py)."""

from __future__ import annotations

import numpy as np

from rtl.array_layout import configuration_units, plan, unit_layout
from rtl.bitstream import decode
from rtl.config import ArrayConfig

from .streams import cycle_budget, run_stream_cases
from .verilog import generate

__all__ = ["config_writes", "run_array"]


def config_writes(cfg: ArrayConfig, bitstream: bytes) -> list[tuple[int, int]]:
    """The config-port writes that load *bitstream* (validated first): every unit, unconfigured ones
    with zeros, each as ceil(bits / 32) words, the most significant first."""
    words = decode(plan(cfg), bitstream)
    writes = []
    for unit, address in enumerate(configuration_units(cfg)):
        chunks = -(-unit_layout(cfg, address).size // 32)
        word = words.get(address, 0)
        writes += [(unit, (word >> (32 * j)) & 0xFFFFFFFF) for j in reversed(range(chunks))]
    return writes


def run_array(cfg: ArrayConfig, bitstream: bytes, *, sources: dict, sinks: dict, dram: dict | None = None,
              gap: float = 0.0, stall: float = 0.0, seed: int = 0, tag: str = "array") -> dict:
    """Runs the array: *sources* {host input port: words}, *sinks* {host output port: transfers
    expected}, *dram* {AG row: {word address: words}}. Returns the bench's record."""
    gen = generate("array", cfg)
    units = len(configuration_units(cfg))
    job = {
        "name": "array", "seed": seed, "gap": gap, "stall": stall, "config": config_writes(cfg, bitstream),
        "unit_bits": (units - 1).bit_length() or 1, "sources": sources, "sinks": list(sinks),
        "expect": list(sinks.values()),
        "dram": {str(row): [(int(b), np.asarray(w, "<u4").tobytes().hex()) for b, w in regions.items()]
                 for row, regions in (dram or {}).items()},
        "drain": 64, "budget": cycle_budget(4 * sum(sinks.values()) + 64, gap, stall, 256),
    }
    (record,) = run_stream_cases(gen, [job], tag=tag, bench="verif.tb.array_tb")
    return record
