"""The DRAM model of the direct harness (rtl/spec/memory.py): the read latency and the bandwidth measured
from the AXI handshakes equal the settings, the results stay bit-exact against the golden array model,
and the ideal memory is the one every other test runs on."""

import numpy as np
import pytest

from rdagen.mapper.frontend.graph import GraphBuilder
from rdagen.mapper.frontend.inputs import check_inputs, random_inputs
from rdagen.mapper.program import map_graph
from rdagen.rtl.spec.config import preset
from rdagen.rtl.spec.memory import DDR4, IDEAL, Memory, memory
from rdagen.sim.graph_run import run_program

from .conftest import test_seed


def _relu_program(cfg, rows: int, cols: int):
    g = GraphBuilder()
    g.output(g.relu(g.input("x", (rows, cols)), name="y"))
    graph = g.graph()
    return graph, map_graph(graph, cfg, seed=1)


def _measured(run):
    (seen,) = [d for d in run.dram if d["bytes"]]
    return seen, seen["bytes"] / (seen["last_beat"] - seen["first_beat"] + 1)


@pytest.mark.cocotb
def test_latency_and_bandwidth_measured_from_the_handshakes_equal_the_settings(request):
    seed = test_seed(request)
    print(f"[seed] {seed}")
    cfg = preset("tiny")  # 3 AGs of 8-byte beats: up to 24 B/cycle each way
    graph, program = _relu_program(cfg, 96, 8)
    arrays = check_inputs(graph, random_inputs(graph, seed))
    runs = {}
    for mem in (IDEAL, Memory("slow", 40, 6.0), Memory("latency", 37, None)):
        run = run_program(program, arrays, harness="direct", memory=mem, tag="test-dram")
        assert run.ok, (mem, run.mismatches)  # bit-exact against the golden model, within the fp32 bound
        runs[mem.name] = run
        seen, rate = _measured(run)
        print(mem.describe(), seen, f"{rate:.2f} B/cycle", run.phases[0].cycles)
        assert seen["read_latency_min"] == mem.read_latency
        if mem.bytes_per_cycle:  # saturated: within one beat of the budget over the busy cycles
            assert mem.bytes_per_cycle * 0.95 <= rate <= mem.bytes_per_cycle + 8 / (seen["last_beat"] - seen["first_beat"] + 1)
    assert np.array_equal(runs["ideal"].outputs["y"], runs["slow"].outputs["y"])
    ideal, slow = runs["ideal"].phases[0].cycles, runs["slow"].phases[0].cycles
    moved = _measured(runs["slow"])[0]["bytes"]
    assert slow >= moved / 6.0 and slow > 2 * ideal  # the bandwidth, not the array, sets the pace
    assert runs["latency"].phases[0].cycles >= ideal + 36


def test_memories_by_name_and_refusals():
    assert memory("ideal") == IDEAL and memory("ddr4") == DDR4 and DDR4.read_latency == 100
    assert memory("20,8.5") == Memory("20,8.5", 20, 8.5) and memory("5").bytes_per_cycle is None
    for spec, message in (("0,8", "read_latency 0 must be"), ("3,-1", "bytes_per_cycle -1.0 must be > 0"),
                          ("fast", "give one of ideal, ddr4 or LATENCY,BYTES_PER_CYCLE")):
        with pytest.raises(ValueError, match=message):
            memory(spec)
    graph, program = _relu_program(preset("tiny"), 4, 4)
    with pytest.raises(ValueError, match="needs the direct or specialised harness"):
        run_program(program, check_inputs(graph, random_inputs(graph, 1)), harness="cocotb", memory=DDR4)
