"""cocotb testbench of the PCU top: runs a list of cases, each a configuration word with input streams,
random input gaps and random output back-pressure, and records every output transfer.

Cases come from RDAGEN_STIMULUS (JSON written by sim/pcu_regression.py); results go to RDAGEN_RESULTS.
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
async def pcu_cases(dut):
    with open(os.environ["RDAGEN_STIMULUS"]) as f:
        cases = json.load(f)
    Clock(dut.clk, int(os.environ.get("RDAGEN_CLOCK_NS", "10")), unit="ns").start()
    falling = FallingEdge(dut.clk)
    results = []
    for case in cases:
        rng = random.Random(case["seed"])
        dut.rst.value = 1
        dut.configuration.value = int(case["config"])
        sources = [_Source(getattr(dut, f"vin__{k}__valid"), getattr(dut, f"vin__{k}__ready"),
                           getattr(dut, f"vin__{k}__payload"), words, case["gap"], rng)
                   for k, words in enumerate(case["vin"])]
        sources += [_Source(getattr(dut, f"sin__{k}__valid"), getattr(dut, f"sin__{k}__ready"),
                            getattr(dut, f"sin__{k}__payload"), words, case["gap"], rng)
                    for k, words in enumerate(case["sin"])]
        sources.append(_Source(dut.ctrl_in__valid, dut.ctrl_in__ready, dut.ctrl_in__payload,
                               [1] * case["start_tokens"], case["gap"], rng))
        sinks = [_Sink(getattr(dut, f"vout__{k}__valid"), getattr(dut, f"vout__{k}__ready"),
                       getattr(dut, f"vout__{k}__payload"), case["stall"], rng) for k in range(len(case["expect_v"]))]
        sinks += [_Sink(getattr(dut, f"sout__{k}__valid"), getattr(dut, f"sout__{k}__ready"),
                        getattr(dut, f"sout__{k}__payload"), case["stall"], rng) for k in range(len(case["expect_s"]))]
        tokens = _Sink(dut.ctrl_out__valid, dut.ctrl_out__ready, dut.ctrl_out__payload, case["stall"], rng)
        for s in sources:
            s.valid.value = 0
        for s in (*sinks, tokens):
            s.ready.value = 0
        await falling
        await falling
        dut.rst.value = 0
        want = [len(x) for x in case["expect_v"]] + [len(x) for x in case["expect_s"]]
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
            tokens.step()
            if sum(len(s.got) for s in sinks) != before:
                first_out = cycles if first_out is None else first_out
                last_out = cycles
            if all(len(s.got) >= n for s, n in zip(sinks, want)) and len(tokens.got) >= case["expect_tokens"]:
                drain += 1
        results.append({
            "name": case["name"], "cycles": cycles, "first_out": first_out, "last_out": last_out,
            "timed_out": cycles >= case["budget"],
            "vout": [s.got for s in sinks[:len(case["expect_v"])]],
            "sout": [s.got for s in sinks[len(case["expect_v"]):]],
            "tokens": len(tokens.got),
            "consumed": [s.pos for s in sources],
        })
    with open(os.environ["RDAGEN_RESULTS"], "w") as f:
        json.dump(results, f)
    timed_out = [r["name"] for r in results if r["timed_out"]]
    assert not timed_out, f"cases did not finish within their cycle budget: {timed_out[:5]}"
