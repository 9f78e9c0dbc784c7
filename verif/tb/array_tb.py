"""cocotb testbench of the array top: loads the configuration through the config port, starts the
array, drives the host streams and the AGs' commands, serves every AG's AXI port from one cocotbext-axi
AxiRam each, and records the host outputs and the host registers.

One case per run (RDAGEN_STIMULUS, written by sim/array_run.py): ``config`` is the list of loads, each
a list of config-port beats (a write per lane, rtl/spec/config_port.py ``config_beats``) into the
shadow context, swapped in after it; ``sources`` maps host input ports (``vsend__0``, ``ag_cmd__1``, ...) to words,
``sinks`` lists host output ports with ``expect`` transfers each, ``dram`` maps an AG row to its
memory regions, ``readback`` lists (AG row, word address, words) to read from the DRAM after the run,
``memory`` (absent: the ideal one) the DRAM's read latency and bandwidth (verif/tb/timed_memory.py).
The run ends after ``drain`` quiet cycles (outputs complete, sources taken, no DRAM read or write in
flight, errors unchanged, done high when done tokens are counted). Results go to RDAGEN_RESULTS.
"""

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge
from cocotbext.axi import AxiBus, AxiRam

from rdagen.rtl.spec.config_port import describe_refusal
from rdagen.rtl.spec.memory import Memory

from .stream_tb import _Sink, _Source, axi_monitors, violations
from .timed_memory import TimedMemory


@cocotb.test()
async def array_case(dut):
    with open(os.environ["RDAGEN_STIMULUS"]) as f:
        (case,) = json.load(f)  # one case per run: the configuration is loaded once
    Clock(dut.clk, 10, unit="ns").start()
    falling = FallingEdge(dut.clk)
    rng = random.Random(case["seed"])
    rams = {}
    for row, regions in case["dram"].items():
        ram = rams[row] = AxiRam(AxiBus.from_prefix(dut, f"m_axi__{row}_"), dut.clk, dut.rst, size=2**34)
        for base, blob in regions:
            ram.write(4 * base, bytes.fromhex(blob))
    port = lambda name, signal: getattr(dut, f"{name}__{signal}")  # noqa: E731
    sources = [_Source(port(n, "valid"), port(n, "ready"), port(n, "payload"), words, case["gap"], rng)
               for n, words in case["sources"].items()]
    sinks = [_Sink(port(n, "valid"), port(n, "ready"), port(n, "payload"), case["stall"], rng, n) for n in case["sinks"]]
    axi = [m for row in rams for m in axi_monitors(dut, f"m_axi__{row}__")]
    timed = None
    if case.get("memory") and rams:
        beat = len(getattr(dut, f"m_axi__{next(iter(rams))}__rdata")) // 8
        timed = TimedMemory(dut, rams, Memory(**case["memory"]), beat)
    for s in sources:
        s.valid.value = 0
    for s in sinks:
        s.ready.value = 0
    dut.run.value = 0
    dut.done_tokens.value = case.get("done_tokens", 0)
    dut.config__valid.value = 0
    dut.swap.value = dut.swap_on_done.value = 0
    dut.rst.value = 1
    await falling
    dut.rst.value = 0
    for load in case["config"]:  # each load into the shadow context, then swapped in
        for beat in load:  # a write per configuration lane
            dut.config__payload.value = beat
            dut.config__valid.value = 1
            await falling
        dut.config__valid.value = 0
        dut.swap.value = 1
        await falling
        dut.swap.value = 0
        if int(dut.config_refused.value):
            raise AssertionError(f"the configuration port refused a load: {describe_refusal(int(dut.config_refused.value), int(dut.config_refused_lanes.value))}")
    dut.run.value = 1
    cycles = drain = errors_seen = 0
    finish = None  # the cycle in which the last expected output arrived
    writes = {row: 0 for row in rams}  # write bursts issued and not yet acknowledged, per AG
    reads = {row: 0 for row in rams}  # read bursts issued and not yet completed, per AG
    signal = lambda row, name: getattr(dut, f"m_axi__{row}__{name}")  # noqa: E731
    while drain < case["drain"] and cycles < case["budget"]:
        await falling
        cycles += 1
        for s in sources:
            s.step()
        for s in sinks:
            s.step()
        for monitor in axi:
            monitor.step()
        if timed:
            timed.step(cycles)
        for row in rams:
            writes[row] += (int(signal(row, "awvalid").value) & int(signal(row, "awready").value)) - \
                (int(signal(row, "bvalid").value) & int(signal(row, "bready").value))
            reads[row] += (int(signal(row, "arvalid").value) & int(signal(row, "arready").value)) - \
                (int(signal(row, "rvalid").value) & int(signal(row, "rready").value) & int(signal(row, "rlast").value))
        # The run ends after `drain` quiet cycles: every output complete, every source taken, the errors
        # register unchanged (a unit still counting refused accesses is still working), no DRAM read or
        # write in flight (a run may only write to DRAM) and, when the case counts done tokens, the
        # done register high.
        errors = int(dut.errors.value)
        if all(len(s.got) >= n for s, n in zip(sinks, case["expect"])):
            finish = cycles if finish is None else finish
            quiet = (errors == errors_seen and not any(writes.values()) and not any(reads.values())
                     and all(s.pos >= len(s.words) for s in sources)
                     and (not case.get("done_tokens") or int(dut.done.value)))
            drain = drain + 1 if quiet else 0
        else:
            drain = 0
        errors_seen = errors
    result = {"cycles": cycles, "finish": finish, "timed_out": cycles >= case["budget"],
              "outputs": {n: s.got for n, s in zip(case["sinks"], sinks)},
              "registers": {"cycles": int(dut.cycles.value), "errors": int(dut.errors.value),
                            "done": int(dut.done.value)},
              "protocol": violations([*(s.monitor for s in sinks), *axi]),
              **({"dram": timed.summary()} if timed else {}),
              "readback": [rams[str(row)].read(4 * base, 4 * count).hex() for row, base, count in case.get("readback", [])]}
    with open(os.environ["RDAGEN_RESULTS"], "w") as f:
        json.dump([result], f)
