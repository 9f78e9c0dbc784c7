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
records (a case that runs out of its cycle budget is marked ``timed_out``). Inputs are driven as legal
bursty producers (valid and payload held until taken); every output stream has a protocol Monitor
whose violations are recorded as ``protocol`` and refused by sim/streams.py.

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


PROTOCOL_MONITOR = os.environ.get("RDAGEN_PROTOCOL_MONITOR", "1") != "0"
"""Protocol monitors on every output stream, on unless RDAGEN_PROTOCOL_MONITOR=0."""


class Monitor:
    """Checks one stream the DUT drives against ``lib.stream``'s (and AXI4's) rules: once ``valid`` is
    offered without ``ready``, ``valid`` stays high and the payload stays the same until the transfer.
    Stepped at every falling edge; the first violations are kept in ``violations``."""

    def __init__(self, name, valid, ready, payloads, enabled=PROTOCOL_MONITOR):
        self.name, self.valid, self.ready, self.payloads = name, valid, ready, payloads
        self.enabled, self.cycle = enabled, 0
        self.held = None  # the payload offered and not taken at the previous edge
        self.violations: list[str] = []

    def step(self, ready=None):
        """Sample this edge; *ready* is the value the testbench drives for it (default: read ``ready``)."""
        self.cycle += 1
        if not self.enabled:
            return
        valid = str(self.valid.value) == "1"
        payload = tuple(str(p.value) for p in self.payloads)
        if self.held is not None and len(self.violations) < 5:
            if not valid:
                self.violations.append(f"{self.name}: valid dropped at cycle {self.cycle} before the transfer")
            elif payload != self.held:
                self.violations.append(f"{self.name}: payload changed at cycle {self.cycle} while valid and not "
                                       f"ready")
        ready = (str(self.ready.value) == "1") if ready is None else ready
        self.held = payload if valid and not ready else None


def axi_monitors(dut, prefix):
    """Monitors of the three channels an AXI4 manager drives (AR, AW, W) of the port *prefix*."""
    signal = lambda name: getattr(dut, f"{prefix}{name}")  # noqa: E731
    return [Monitor(f"{prefix}{ch}", signal(f"{ch}valid"), signal(f"{ch}ready"), [signal(f) for f in fields])
            for ch, fields in (("ar", ("araddr", "arlen", "arsize", "arburst", "arid")),
                               ("aw", ("awaddr", "awlen", "awsize", "awburst", "awid")),
                               ("w", ("wdata", "wstrb", "wlast")))]


class _Source:
    """Drives one input stream as a legal bursty producer: it offers a word after a random gap and
    holds ``valid`` and the payload until the word is taken."""

    def __init__(self, valid, ready, payload, words, gap, rng):
        self.valid, self.ready, self.payload = valid, ready, payload
        self.words, self.gap, self.rng = words, gap, rng
        self.pos = 0
        self.offering = False
        self.pending = False

    def step(self):
        if self.pending:  # taken at the rising edge just gone
            self.pos += 1
            self.offering = False
        if not self.offering and self.pos < len(self.words) and self.rng.random() >= self.gap:
            self.offering = True
            self.payload.value = self.words[self.pos]
        self.valid.value = int(self.offering)
        self.pending = self.offering and bool(self.ready.value)


class _Sink:
    """Takes one output stream with random back-pressure, recording every transfer, and checks the
    DUT's side of the stream rules with a Monitor."""

    def __init__(self, valid, ready, payload, stall, rng, name="stream"):
        self.valid, self.ready, self.payload = valid, ready, payload
        self.stall, self.rng = stall, rng
        self.got = []
        self.pending = None
        self.monitor = Monitor(name, valid, ready, [payload])

    def step(self, hold=False):
        if self.pending is not None:
            self.got.append(self.pending)
        take = not hold and self.rng.random() >= self.stall
        self.ready.value = int(take)
        self.monitor.step(take)
        if take and self.valid.value:
            value = self.payload.value
            self.pending = value.to_unsigned() if hasattr(value, "to_unsigned") else int(value)  # 1-bit: Logic
        else:
            self.pending = None


def violations(monitors) -> list[str]:
    return [v for m in monitors for v in m.violations]


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
        sinks = [_Sink(port(name, "valid"), port(name, "ready"), port(name, "payload"), case["stall"], rng, name)
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
        # With a hold, every sink keeps ready low for the case's first `hold` cycles: long enough to fill
        # every output FIFO, so the unit must stop on its credits; the words each source had given by
        # then show how many firings it made.
        hold = case.get("hold", 0)
        consumed_at_release = None
        while drain < case["drain"] and cycles < case["budget"]:
            await falling
            cycles += 1
            for s in sources:
                s.step()
            if cycles == hold + 1:
                consumed_at_release = [s.pos for s in sources]
            before = sum(len(s.got) for s in sinks)
            for s in sinks:
                s.step(hold=cycles <= hold)
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
            "consumed_at_release": consumed_at_release,
            "protocol": violations(s.monitor for s in sinks),
        })
    with open(os.environ["RDAGEN_RESULTS"], "w") as f:
        json.dump(results, f)
