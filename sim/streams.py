"""Running cases on a unit with stream ports (verif/tb/stream_tb.py) and the helpers the regression
hosts share: packing vectors into port words, comparing streams with the golden model."""

from __future__ import annotations

import json

import numpy as np

from rdagen.rtl.spec.array_layout import pack_vectors as pack
from rdagen.rtl.spec.array_layout import unpack_vectors as unpack
from rdagen.verif.golden.credits import held_consumption

from .paths import new_run_dir
from .runner import SimulationFailed, run_cocotb
from .verilog import GeneratedVerilog

__all__ = ["DRAIN", "run_stream_cases", "pack", "unpack", "compare", "cycle_budget", "unit_sources", "held_input_problems",
           "ProtocolViolation"]

DRAIN = 64  # the quiet cycles that end an array run in every harness


def unit_sources(vins: list, sins: list, start_tokens: int) -> dict:
    """The input streams of a PCU or PMU as the stream bench takes them: vector inputs, scalar inputs,
    then the start tokens on ``ctrl_in`` (the order the bench draws its random gaps in)."""
    sources = {f"vin__{k}": pack(v) for k, v in enumerate(vins)}
    sources.update({f"sin__{k}": [int(x) for x in s] for k, s in enumerate(sins)})
    sources["ctrl_in"] = [1] * start_tokens
    return sources


def held_input_problems(cfg, vins: list, sins: list, per_firing: dict, consumed: list[int], firings: int,
                        limit: int, what: str = "firings") -> list[str]:
    """Problems of the words the inputs gave while a unit's outputs were held (``consumed``, per source in
    ``unit_sources`` order) against the golden credit rule (verif/golden/credits.py): each input in
    *per_firing* (``{"vin": [k, ...], "sin": [...]}``, the inputs popped once per firing of the port that
    the credits stop) gave the words of ``min(firings, limit)`` firings and a full input FIFO."""
    problems = []
    for kind, streams, first in (("vin", vins, 0), ("sin", sins, len(vins))):
        for k in per_firing.get(kind, ()):
            want = held_consumption(cfg, len(streams[k]), firings, limit)
            if consumed[first + k] != want:
                problems.append(f"{kind}{k}: {consumed[first + k]} words taken while the outputs were held; the credit "
                                f"rule gives {want} ({min(firings, limit)} {what} and a full input FIFO)")
    return problems


def compare(port: str, have, want) -> list[str]:
    """Problems of stream *have* against the golden *want* (count, then the first differing transfer)."""
    if len(have) != len(want):
        return [f"{port}: {len(have)} transfers, golden {len(want)}"]
    if not len(want):
        return []
    bad = np.flatnonzero((np.asarray(have) != np.asarray(want)).reshape(len(want), -1).any(axis=1))
    if len(bad):
        i = bad[0]
        return [f"{port}: {len(bad)} of {len(want)} transfers differ; first #{i}: {np.asarray(have)[i]} "
                f"vs golden {np.asarray(want)[i]}"]
    return []


class ProtocolViolation(AssertionError):
    """An output stream of the DUT dropped valid or changed its payload before the transfer."""


def cycle_budget(transfers: int, gap: float, stall: float, latency: int) -> int:
    """Cycles a case may take before the bench calls it hung: generous for its gaps and stalls."""
    slow = 1 / max(0.05, (1 - gap)) / max(0.05, (1 - stall))
    return int(4 * slow * transfers) + 4 * latency + 200


def run_stream_cases(gen: GeneratedVerilog, jobs: list[dict], *, tag: str, simulator: str = "verilator",
                     bench: str = "rdagen.verif.tb.stream_tb", waves: bool = False) -> list[dict]:
    """Run *jobs* (the case format of the cocotb module *bench*, by default verif/tb/stream_tb.py) on
    *gen*; returns the bench's records (with *waves*, the run's VCD is ``test_dir/dump.vcd``, whose
    path is added to every record as ``vcd``)."""
    test_dir = new_run_dir(f"{tag}-{gen.top}-{simulator}")
    stimulus, results_path = test_dir / "cases.json", test_dir / "results.json"
    stimulus.write_text(json.dumps(jobs))
    # The benches record (timeouts included) and leave every verdict to the caller, so any failure of
    # the simulation is a failure of the simulator or the bench: it is raised.
    run_cocotb(gen, bench, simulator=simulator, test_dir=test_dir, waves=waves,
               env={"RDAGEN_STIMULUS": str(stimulus), "RDAGEN_RESULTS": str(results_path)})
    if not results_path.exists():
        raise SimulationFailed(f"{bench} on {gen.top} finished without writing {results_path}")
    records = json.loads(results_path.read_text())
    broken = [f"{record.get('name', 'run')}: {v}" for record in records for v in record.get("protocol", [])]
    if broken:
        raise ProtocolViolation(f"{gen.top} broke the stream protocol (valid held until ready, payload stable) "
                                f"in {len(broken)} places; first: {'; '.join(broken[:3])}")
    if waves:
        for record in records:
            record["vcd"] = str(test_dir / "dump.vcd")
    return records
