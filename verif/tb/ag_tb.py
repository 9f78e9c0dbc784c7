"""cocotb testbench of the AG top with cocotbext-axi's AxiRam as the DRAM.

Runs a list of cases (RDAGEN_STIMULUS, written by sim/ag_regression.py): each loads DRAM regions,
configures the AG, feeds read commands or row indices, write commands and write vectors with random
gaps, takes the read vectors with random back-pressure, pauses every AXI channel at random
(``set_pause_generator``), and records the vectors, every AR and AW burst (address, beats) with the
bursts of its channel in flight as it is issued (itself included), the most read bursts seen in
flight, and, once every write is acknowledged, the DRAM words the case names. The
DRAM model's command queues (AR, AW) and its write-response queue are deepened so that the AG, not the
model, limits the bursts in flight.
Results go to RDAGEN_RESULTS.
"""

import itertools
import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge
from cocotbext.axi import AxiBus, AxiRam, AxiResp

from .stream_tb import _Sink, _Source, axi_monitors, violations


def _pauses(rng, probability):
    while True:
        yield rng.random() < probability


POISON = 0xDEADBEEF


def _fail_beats(ram, failed: set):
    """Make *ram* answer reads and writes of the beats in *failed* (a set, changed between cases) with
    errors. The model answers SLVERR with zeros; a real DRAM's data on an error is undefined, so the
    failed beat carries POISON words instead, and every other failed beat answers DECERR: an AG that
    passed a failed beat's data on, or read only one of the two codes, shows up."""
    read, write, send = ram.read_if._read, ram.write_if._write, ram.read_if.r_channel.send
    lanes = ram.read_if.byte_lanes
    codes = itertools.cycle((AxiResp.SLVERR, AxiResp.DECERR))

    async def _read(address, length):
        if address // lanes in failed:
            raise OSError(f"failed beat {address // lanes}")
        return await read(address, length)

    async def _write(address, data):
        if address // lanes in failed:
            raise OSError(f"failed beat {address // lanes}")
        await write(address, data)

    async def _send(r):
        if int(r.rresp) == AxiResp.SLVERR:
            r.rresp = next(codes)
            r.rdata = int.from_bytes(POISON.to_bytes(4, "little") * (lanes // 4), "little")
        await send(r)

    ram.read_if._read, ram.write_if._write, ram.read_if.r_channel.send = _read, _write, _send


@cocotb.test()
async def ag_cases(dut):
    with open(os.environ["RDAGEN_STIMULUS"]) as f:
        cases = json.load(f)
    Clock(dut.clk, int(os.environ.get("RDAGEN_CLOCK_NS", "10")), unit="ns").start()
    falling = FallingEdge(dut.clk)
    ram = AxiRam(AxiBus.from_prefix(dut, "m_axi_"), dut.clk, dut.rst, size=2**34)
    for channel in (ram.read_if.ar_channel, ram.write_if.aw_channel, ram.write_if.b_channel):
        channel.queue_occupancy_limit = 32
    failed: set = set()
    _fail_beats(ram, failed)
    channels = [ram.read_if.ar_channel, ram.read_if.r_channel, ram.write_if.aw_channel, ram.write_if.w_channel,
                ram.write_if.b_channel]
    results = []
    for case in cases:
        rng = random.Random(case["seed"])
        dut.rst.value = 1
        dut.configuration.value = int(case["config"])
        failed.clear()
        failed.update(case["failed_beats"])
        for base, blob in case["memory"]:
            ram.write(4 * base, bytes.fromhex(blob))
        for channel, name in zip(channels, ("ar", "r", "aw", "w", "b")):
            channel.set_pause_generator(_pauses(rng, case[f"{name}_pause"]))
        cmd = _Source(dut.cmd__valid, dut.cmd__ready, dut.cmd__payload,
                      [b | (n << 32) for b, n in case["commands"]], case["gap"], rng)
        idx = _Source(dut.idx__valid, dut.idx__ready, dut.idx__payload, case["indices"], case["gap"], rng)
        wcmd = _Source(dut.wcmd__valid, dut.wcmd__ready, dut.wcmd__payload,
                       [b | (n << 32) for b, n in case["write_commands"]], case["gap"], rng)
        wdata = _Source(dut.wdata__valid, dut.wdata__ready, dut.wdata__payload, [int(v) for v in case["write_vectors"]],
                        case["gap"], rng)
        sources = [cmd, idx, wcmd, wdata]
        out = _Sink(dut.rdata__valid, dut.rdata__ready, dut.rdata__payload, case["stall"], rng, "rdata")
        monitors = [out.monitor, *axi_monitors(dut, "m_axi__")]
        bursts, writes, in_flight, most, acked = [], [], 0, 0, 0
        read_depth, write_depth = [], []  # bursts in flight (this one included) as each burst is issued
        for source in sources:
            source.valid.value = 0
        out.ready.value = 0
        for _ in range(3):
            await falling
        dut.rst.value = 0
        cycles, drain = 0, 0
        first = last = None
        while drain < 64 and cycles < case["budget"]:
            await falling
            cycles += 1
            if dut.m_axi__arvalid.value and dut.m_axi__arready.value:
                bursts.append((int(dut.m_axi__araddr.value), int(dut.m_axi__arlen.value) + 1))
                in_flight += 1
                read_depth.append(in_flight)
            if dut.m_axi__rvalid.value and dut.m_axi__rready.value and dut.m_axi__rlast.value:
                in_flight -= 1
            if dut.m_axi__awvalid.value and dut.m_axi__awready.value:
                writes.append((int(dut.m_axi__awaddr.value), int(dut.m_axi__awlen.value) + 1))
                write_depth.append(len(writes) - acked)
            if dut.m_axi__bvalid.value and dut.m_axi__bready.value:
                acked += 1
            most = max(most, in_flight)
            for source in sources:
                source.step()
            for monitor in monitors[1:]:
                monitor.step()
            before = len(out.got)
            out.step()
            if len(out.got) != before:
                first = cycles if first is None else first
                last = cycles
            if (len(out.got) >= case["expect"] and all(s.pos == len(s.words) for s in sources)
                    and acked == len(writes)):
                drain += 1
        results.append({"name": case["name"], "cycles": cycles, "first_out": first, "last_out": last,
                        "timed_out": cycles >= case["budget"], "vectors": out.got, "bursts": bursts,
                        "most_in_flight": most, "errors": int(dut.errors.value), "write_bursts": writes,
                        "read_depth": read_depth, "write_depth": write_depth,
                        "protocol": violations(monitors),
                        "readback": [ram.read(4 * base, 4 * count).hex() for base, count in case["readback"]]})
        for channel in channels:
            channel.set_pause_generator(itertools.repeat(False))
    with open(os.environ["RDAGEN_RESULTS"], "w") as f:
        json.dump(results, f)
