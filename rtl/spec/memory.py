"""The DRAM the array's AGs read and write through their AXI4 ports: its read latency and its bandwidth,
which the simulation harnesses model and the cost model and lower bounds are to use. This is a *spec*
module: the harnesses (sim/), the golden models and the mapper read it.

Semantics of a ``Memory`` (what the direct harness, sim/harness/array_main.cpp, implements):

* ``read_latency``: cycles from the cycle an AR request is accepted to the first cycle its first R beat
  is valid. Bursts are served in order per AG, one beat per cycle at most; a burst's first beat never
  comes before its latency, nor before the previous burst's last beat.
* ``bytes_per_cycle``: the bandwidth of all AGs together, reads and writes (a beat is ``4 x lanes``
  bytes). A shared budget gains ``bytes_per_cycle`` every cycle and holds at most one cycle's worth
  plus one beat; a beat moves only when the budget holds its bytes (AGs taken round robin, reads
  before writes). ``None``: no limit (each AG one beat per cycle each way).

``IDEAL`` is the memory of the unit tests: a read beat the cycle after its request, no bandwidth
limit. ``DDR4`` is a DDR-class memory at 1 GHz: 100 cycles of read latency and 102.4 bytes per cycle
(DDR4-3200: 25.6 GB/s per channel, four channels).
"""

from __future__ import annotations

import dataclasses

__all__ = ["Memory", "MEMORIES", "IDEAL", "DDR4", "memory"]


@dataclasses.dataclass(frozen=True)
class Memory:
    name: str
    read_latency: int  # cycles, >= 1
    bytes_per_cycle: float | None  # all AGs together; None: unlimited

    def __post_init__(self):
        if not isinstance(self.read_latency, int) or self.read_latency < 1:
            raise ValueError(f"memory {self.name!r}: read_latency {self.read_latency!r} must be a whole number of "
                             f"cycles >= 1")
        if self.bytes_per_cycle is not None and not self.bytes_per_cycle > 0:
            raise ValueError(f"memory {self.name!r}: bytes_per_cycle {self.bytes_per_cycle!r} must be > 0 (or None: "
                             f"unlimited)")

    def describe(self) -> str:
        bandwidth = "unlimited bandwidth" if self.bytes_per_cycle is None else f"{self.bytes_per_cycle:g} B/cycle"
        return f"{self.name}: read latency {self.read_latency} cycles, {bandwidth}"


IDEAL = Memory("ideal", 1, None)
DDR4 = Memory("ddr4", 100, 102.4)
MEMORIES = {m.name: m for m in (IDEAL, DDR4)}


def memory(spec: str) -> Memory:
    """The memory named *spec* (``ideal``, ``ddr4``) or given as ``LATENCY,BYTES_PER_CYCLE`` (e.g.
    ``100,102.4``); ValueError naming what is wrong."""
    if spec in MEMORIES:
        return MEMORIES[spec]
    latency, _, bandwidth = spec.partition(",")
    try:
        numbers = int(latency), float(bandwidth) if bandwidth else None
    except ValueError:
        raise ValueError(f"memory {spec!r}: give one of {', '.join(MEMORIES)} or LATENCY,BYTES_PER_CYCLE "
                         f"(e.g. 100,102.4)") from None
    return Memory(spec, *numbers)
