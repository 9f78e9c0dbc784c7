"""cocotb testbench of a unit with stream ports (PCU, PMU): runs a list of cases, each a configuration
word with input streams, random input gaps and random output back-pressure, and records every output
transfer and, at the end of the case, the unit's status signals.

A case names its ports: ``sources`` maps an input stream (``vin__0``, ``ctrl_in``, ...) to its words,
``sinks`` lists the output streams to record, ``expect`` how many transfers each should see, and
``status`` the signals to read at the end; ``consume`` (optional) how many words each source must
deliver before the case may end. Reset clears the unit's state, not its memories, so a case
can read what the previous one left (the PMU's contents).

Cases come from RDAGEN_STIMULUS (JSON written by sim/streams.py); results go to RDAGEN_RESULTS.
The host compares them with the golden model (values and order per port); this bench only drives and
records, and fails if a case does not finish within its cycle budget.

Handshakes are sampled at the falling edge, when the DUT's valid/ready (which depend on its state, not
on this cycle's inputs) are stable; the transfer happens at the next rising edge, and the drivers move
on at the falling edge after it.
"""

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge


class _Source:
    def __init__(self, valid, ready, payload, words, gap, rng):
        self.valid, self.ready, self.payload = valid, ready, payload
        self.words, self.gap, self.rng = words, gap, rng
        self.pos = 0
        self.pending = False

    def step(self):
        if self.pending:
            self.pos += 1
        drive = self.pos < len(self.words) and self.rng.random() >= self.gap
        self.valid.value = int(drive)
        if drive:
            self.payload.value = self.words[self.pos]
        self.pending = drive and bool(self.ready.value)


class _Sink:
    def __init__(self, valid, ready, payload, stall, rng):
        self.valid, self.ready, self.payload = valid, ready, payload
        self.stall, self.rng = stall, rng
        self.got = []
        self.pending = None

    def step(self):
        if self.pending is not None:
            self.got.append(self.pending)
        take = self.rng.random() >= self.stall
        self.ready.value = int(take)
        if take and self.valid.value:
            value = self.payload.value
            self.pending = value.to_unsigned() if hasattr(value, "to_unsigned") else int(value)  # 1-bit: Logic
        else:
            self.pending = None


@cocotb.test()
async def stream_cases(dut):
    with open(os.environ["RDAGEN_STIMULUS"]) as f:
        cases = json.load(f)
    Clock(dut.clk, int(os.environ.get("RDAGEN_CLOCK_NS", "10")), unit="ns").start()
    falling = FallingEdge(dut.clk)
    results = []
    for case in cases:
        rng = random.Random(case["seed"])
        dut.rst.value = 1
        dut.configuration.value = int(case["config"])
        port = lambda name, signal: getattr(dut, f"{name}__{signal}")  # noqa: E731
        sources = [_Source(port(name, "valid"), port(name, "ready"), port(name, "payload"), words, case["gap"], rng)
                   for name, words in case["sources"].items()]
        sinks = [_Sink(port(name, "valid"), port(name, "ready"), port(name, "payload"), case["stall"], rng)
                 for name in case["sinks"]]
        for s in sources:
            s.valid.value = 0
        for s in sinks:
            s.ready.value = 0
        await falling
        await falling
        dut.rst.value = 0
        want = case["expect"]
        cycles = 0
        first_out = last_out = None
        drain = 0
        while drain < case["drain"] and cycles < case["budget"]:
            await falling
            cycles += 1
            for s in sources:
                s.step()
            before = sum(len(s.got) for s in sinks)
            for s in sinks:
                s.step()
            if sum(len(s.got) for s in sinks) != before:
                first_out = cycles if first_out is None else first_out
                last_out = cycles
            # Drain only once every output has its transfers and every input delivered what the golden
            # model consumed (work without outputs, such as writes, must finish before the next case).
            if all(len(s.got) >= n for s, n in zip(sinks, want)) and all(
                    s.pos >= n for s, n in zip(sources, case.get("consume", [0] * len(sources)))):
                drain += 1
        results.append({
            "name": case["name"], "cycles": cycles, "first_out": first_out, "last_out": last_out,
            "timed_out": cycles >= case["budget"],
            "outputs": {name: s.got for name, s in zip(case["sinks"], sinks)},
            "status": {name: int(getattr(dut, name).value) for name in case.get("status", [])},
            "consumed": [s.pos for s in sources],
        })
    with open(os.environ["RDAGEN_RESULTS"], "w") as f:
        json.dump(results, f)
