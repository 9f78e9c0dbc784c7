"""The shadow configuration context on the array's RTL (tiny, one run of the direct harness): each
configuration streams into the shadow while the one before runs and is swapped in, many times over;
nothing mixed (every segment's host outputs bit-exact against the golden array model of the
configuration that should be active), nothing lost, the PMU's scratchpad kept across swaps; a damaged
and a cut-off load refused naming what is wrong, the active configuration kept running, and the whole
load that must follow a refusal accepted. The port alone, cycle by cycle: tests/test_config_port.py."""

import numpy as np

from rdagen.mapper.backend.builder import ArrayBuilder
from rdagen.rtl.spec.array_layout import load
from rdagen.rtl.spec.config import preset
from rdagen.rtl.spec.config_port import (SEAL_BEATS, SWAP_REFUSALS, config_beats, config_groups, config_port_layout,
                                         config_port_writes, describe_refusal)
from rdagen.rtl.spec.pcu_layout import LANE, Counter, Operand, PcuProgram, Stage, ctr, vin
from rdagen.rtl.spec.pmu_layout import AddressStage, PmuProgram, Port
from rdagen.sim.direct import Segment, run_segments
from rdagen.sim.streams import pack, unpack
from rdagen.verif.golden.array import run_array as golden_array

from .conftest import seeded_rng

TINY = preset("tiny")
L, VECTORS = TINY.lanes, 16
PMU, PCU = (0, 1), (1, 1)
REASON = {name: 1 << k for k, (name, _) in enumerate(SWAP_REFUSALS)}


def _address():
    """Vector n's lane i at word n * lanes + i (the counter steps by lanes)."""
    return {"stages": [AddressStage("add", ctr(0), LANE, dst=0)], "counters": [Counter(0, VECTORS * L, L)]}


def _writer() -> bytes:
    """The host's vectors into the PMU's scratchpad."""
    b = ArrayBuilder(TINY)
    b.pmu(*PMU, PmuProgram(write=Port(**_address(), vin_required=[0], data=vin(0))))
    b.route("vector", ("host", 0, "vsend"), ("pmu", *PMU, "vin", 0))
    return b.bitstream()


def _reader(add: float | None) -> bytes:
    """The PMU's scratchpad out to the host, directly or through a PCU adding *add* to every word, on
    a start token from the host."""
    b = ArrayBuilder(TINY)
    b.pmu(*PMU, PmuProgram(read=Port(**_address(), wait_start=True)))
    b.route("control", ("host", 0, "csend"), ("pmu", *PMU, "ctrl_in", 0))
    if add is None:
        b.route("vector", ("pmu", *PMU, "vout", 0), ("host", 0, "vrecv"))
    else:
        const = int(np.float32(add).view(np.uint32))
        b.pcu(*PCU, PcuProgram(stages=[Stage("fadd", vin(0), Operand("const"), dst=0, const=const)],
                               vin_required=[0], vout=[("reg", 0)]))
        b.route("vector", ("pmu", *PMU, "vout", 0), ("pcu", *PCU, "vin", 0))
        b.route("vector", ("pcu", *PCU, "vout", 0), ("host", 0, "vrecv"))
    return b.bitstream()


def _beats(bitstream: bytes, before: bytes | None, whole: bool = False) -> list[int]:
    """The load of *bitstream* over the shadow holding *before*, as port beats, sealed."""
    previous = load(TINY, before)[0] if before is not None else None
    return config_beats(TINY, config_port_writes(TINY, load(TINY, bitstream)[0], previous, whole=whole))


def _flip_a_data_bit(beats: list[int], rng) -> list[int]:
    """*beats* with one bit of one written word (not a seal entry) inverted: a damaged word."""
    lane, groups = config_port_layout(TINY).elem_shape, config_groups(TINY)
    writes = [(n, k) for n, beat in enumerate(beats[:-SEAL_BEATS]) for k, group in enumerate(groups)
              if beat >> (k * lane.size) & 1
              and (beat >> (k * lane.size + lane["unit"].offset) & ((1 << lane["unit"].width) - 1)) < len(group)]
    n, k = writes[rng.integers(len(writes))]
    damaged = list(beats)
    damaged[n] ^= 1 << (k * lane.size + lane["data"].offset + int(rng.integers(32)))
    return damaged


def test_configurations_swap_in_while_running_and_bad_loads_are_refused(request):
    rng = seeded_rng(request)
    writer, reader, adder = _writer(), _reader(None), _reader(1.0)
    # the configuration active in each segment, in run order: three rounds of write, read, read through
    # the PCU; then a load damaged and one cut off, each refused, so the configuration before runs again
    plan = [writer, reader, adder] * 3 + [reader, reader, adder, adder, reader]
    streamed = plan[1:] + [None]  # the load streamed during each segment
    refusals = {len(plan) - 5: "checksum", len(plan) - 3: "unsealed"}
    streamed[len(plan) - 5], streamed[len(plan) - 3] = adder, reader  # refused: the one before runs on
    segments, expect, pmus, written = [], [], {}, None
    for n, bitstream in enumerate(plan):
        beats = []
        if streamed[n] is not None:  # over the active configuration (written whole after a refusal)
            beats = _beats(streamed[n], bitstream, whole=n - 1 in refusals)
            if refusals.get(n) == "checksum":
                beats = _flip_a_data_bit(beats, rng)
            elif refusals.get(n) == "unsealed":
                beats = beats[:-SEAL_BEATS]  # cut off before its seal
        sources, sinks = {"csend__0": [1]}, {"vrecv__0": VECTORS}
        if bitstream == writer:
            written = rng.standard_normal((VECTORS, L)).astype(np.float32)
            sources, sinks = {"vsend__0": pack(written.view(np.uint32))}, {}
        golden = golden_array(TINY, bitstream, sources, pmus=pmus)
        pmus = golden.pmus  # the scratchpad stays across the swap
        want = None if bitstream == writer else unpack(golden.outputs["vrecv__0"], L)
        if want is not None:  # the golden model reads back what the writer left, the adder plus one
            assert np.array_equal(want.view(np.float32), written + np.float32(bitstream == adder))
        expect.append(want)
        segments.append(Segment(sources, sinks, work=200, loads=[_beats(bitstream, None)] if n == 0 else [],
                                next=beats))

    records = run_segments(TINY, segments, tag="test-shadow")
    for n, (record, want) in enumerate(zip(records, expect)):
        refused = refusals.get(n - 1)
        print(f"segment {n}: {record['cycles']} cycles, loaded {len(segments[n].next)} beats; before it "
              f"{record['load_cycles']} cycles; refused: {describe_refusal(record['refused'], record['refused_lanes'])}")
        assert record["refused"] == (REASON[refused] if refused else 0), n
        assert bool(record["refused_lanes"]) == bool(refused), n
        assert record["registers"]["errors"] == 0 and not record["timed_out"], n
        if want is not None:
            assert np.array_equal(unpack(record["outputs"]["vrecv__0"], L), want), f"segment {n} differs"
        if n:  # the load streamed during the segment before, a beat per cycle: what is left, and the swap
            left = max(0, len(segments[n - 1].next) - records[n - 1]["cycles"])
            assert record["load_cycles"] == left + 1, n
    # every segment runs longer than the load streamed during it takes: each swap is all that is left
    assert all(r["load_cycles"] == 1 for r in records[1:])
