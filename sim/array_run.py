"""Running the array RTL: the loader (a validated bitstream -> config-port writes) and one run of the
array top on cocotb with host streams, AG commands and DRAM contents (verif/tb/array_tb.py). A mapped
graph runs through sim/graph_run.py."""

from __future__ import annotations


import numpy as np

from rdagen.rtl.spec.array_layout import load
from rdagen.rtl.spec.config_port import config_beats, config_port_writes
from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.memory import IDEAL, Memory

from .streams import DRAIN, cycle_budget, run_stream_cases
from .verilog import generate

__all__ = ["config_loads", "program_loads", "run_array"]


def config_loads(cfg: ArrayConfig, bitstream: bytes, previous: bytes | None = None) -> list[list[tuple[int, int]]]:
    """The config-port loads, each swapped in after it (rtl/spec/config_port.py), that configure a reset
    array with *bitstream* (validated): its configured units. With *previous* (the phase before, validated),
    two: *previous*, then the units the phase after it changes (``config_port_writes``), so that a run
    checks the configuration the cost model's reconfiguration counts."""
    return program_loads(cfg, [previous, bitstream] if previous is not None else [bitstream])


def program_loads(cfg: ArrayConfig, bitstreams: list[bytes]) -> list[list[tuple[int, int]]]:
    """The config-port loads of a program's configurations run one after the other (each validated):
    the first's configured units, then for each the units that change from the one before."""
    words = [load(cfg, b)[0] for b in bitstreams]
    return [config_port_writes(cfg, w, before) for w, before in zip(words, [None] + words[:-1])]


def run_array(cfg: ArrayConfig, bitstream: bytes, *, sources: dict, sinks: dict, dram: dict | None = None,
              gap: float = 0.0, stall: float = 0.0, seed: int = 0, tag: str = "array", work: int = 0,
              waves: bool = False, done_tokens: int = 0, readback=(), previous: bytes | None = None,
              memory: Memory = IDEAL) -> dict:
    """Runs the array configured with *bitstream* (after *previous*: ``config_loads``): *sources*
    {host input port: words}, *sinks* {host output port: transfers expected}, *dram* {AG row: {word
    address: words}}, *work* the cycles the run is expected to take at full speed (for the hang
    budget), *done_tokens* the ``done_tokens`` host register, *readback*
    (AG row, word address, words) regions of DRAM to read after the run, *memory* the DRAM's timing
    (verif/tb/timed_memory.py). Returns the bench's record (``finish``: the cycle of the last expected
    output; ``readback``: one uint32 array per region; ``dram``: what a timed memory measured)."""
    gen = generate("array", cfg)
    job = {
        "name": "array", "seed": seed, "gap": gap, "stall": stall,
        "config": [config_beats(cfg, w) for w in config_loads(cfg, bitstream, previous)], "done_tokens": done_tokens,
        "sources": sources, "sinks": list(sinks),
        "expect": list(sinks.values()),
        # An AxiRam for every AG with a DRAM image or a region to read back (an AG that only writes).
        "dram": {**{str(row): [] for row, _, _ in readback},
                 **{str(row): [(int(b), np.asarray(w, "<u4").tobytes().hex()) for b, w in regions.items()]
                    for row, regions in (dram or {}).items()}},
        "drain": DRAIN, "budget": cycle_budget(4 * sum(sinks.values()) + DRAIN + work, gap, stall, 256),
        "readback": [(int(row), int(base), int(count)) for row, base, count in readback],
        **({} if memory == IDEAL else {"memory": {"name": memory.name, "read_latency": memory.read_latency,
                                                  "bytes_per_cycle": memory.bytes_per_cycle}}),
    }
    (record,) = run_stream_cases(gen, [job], tag=tag, bench="rdagen.verif.tb.array_tb", waves=waves)
    record["readback"] = [np.frombuffer(bytes.fromhex(blob), "<u4") for blob in record["readback"]]
    return record
