"""Helpers for the tests that run a part in Amaranth's simulator."""

import numpy as np
from amaranth.sim import Simulator


def simulate(dut, bench) -> None:
    """Runs the async testbench *bench* (it takes the simulator context) on *dut* with a clock."""
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


def vector(words) -> int:
    """The lanes' 32-bit *words* as one integer, lane 0 in the low bits."""
    return sum(int(w) << (32 * i) for i, w in enumerate(words))


def lanes_of(value: int, lanes: int) -> np.ndarray:
    """The *lanes* 32-bit words of the integer *value*, lane 0 first."""
    return np.array([value >> (32 * i) & 0xFFFFFFFF for i in range(lanes)], np.uint32)
