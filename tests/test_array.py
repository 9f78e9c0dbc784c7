"""The array top on the `tiny` configuration (3 x 3 tiles), configured through the builder and loaded
from a bitstream through the config port: host streams through a PCU, DRAM reads through an AG, the
workloads (GEMV, GEMM, two-layer MLP, embedding bag) mapped by the mapper against the golden array
model and NumPy, bitstream fuzzing; the golden array model alone; the builder's, loader's and model's
refusals.

Seeds are printed; rerun with ``pytest --seed N``.
"""


import numpy as np
import pytest
from amaranth import Shape

from rdagen.mapper.backend.builder import ArrayBuilder, BuildError
from rdagen.mapper.program import map_graph
from rdagen.mapper.apps.workloads import WORKLOADS, workload
from rdagen.rtl.spec.ag_layout import AgProgram, ag_layout
from rdagen.rtl.array import configured_modules, configured_unit
from rdagen.rtl.spec.array_layout import configuration_units, local_counts, plan, unit_layout
from rdagen.rtl.spec.config_port import SEAL_BEATS, config_beats, config_groups, config_port_layout, config_port_writes
from rdagen.rtl.spec.bitstream import NETWORKS, Address, BitstreamError, Kind, decode, encode
from rdagen.rtl.spec.config import preset
from rdagen.rtl.spec.ops import Op
from rdagen.rtl.spec.pcu_layout import Counter, Operand, PcuProgram, Src, Stage, pcu_layout, vin
from rdagen.rtl.spec.pmu_layout import pmu_layout
from rdagen.rtl.spec.switch_layout import networks
from rdagen.sim.array_run import config_loads, run_array
from rdagen.sim import direct
from rdagen.sim.direct import run_direct as run_array_direct
from rdagen.sim.graph_run import format_table, golden_phase, run_program
from rdagen.sim.streams import pack, unpack
from rdagen.verif.golden.array import ArrayModelError
from rdagen.verif.golden.array import run_array as golden_array

from .conftest import seeded_rng, test_seed

TINY = preset("tiny")


def _mapped(name, cfg, seed, matmul_mode="auto", **sizes):
    """(program, arrays) of workload *name* mapped on *cfg*."""
    graph, arrays = workload(name, cfg, seed, **sizes)
    return map_graph(graph, cfg, seed=seed, matmul_mode=matmul_mode), arrays


def _phases(name, cfg, seed, matmul_mode="auto"):
    """[(placed phase, its io with the workload's arrays)]: each phase's bitstream and streams alone."""
    program, arrays = _mapped(name, cfg, seed, matmul_mode)
    ios = []
    program.execute(arrays, lambda placed, io: (ios.append((placed, io)), _golden_run(cfg, placed, io))[1])
    return ios


def _golden_run(cfg, placed, io):
    """A backend for ``Program.execute``: the golden array model alone."""
    result, readback = golden_phase(cfg, placed, io)
    return result.outputs, readback, 0


@pytest.mark.cocotb
def test_host_stream_through_a_pcu_and_a_dram_read(request):
    rng = seeded_rng(request)
    L = TINY.lanes
    b = ArrayBuilder(TINY)
    b.pcu(0, 0, PcuProgram(stages=[Stage("fmax", vin(0), Operand("const"), dst=0, const=0)], vin_required=[0],
                           vout=[("reg", 0)]))
    b.route("vector", ("host", 0, "vsend"), ("pcu", 0, 0, "vin", 0))
    b.route("vector", ("pcu", 0, 0, "vout", 0), ("host", 0, "vrecv"))
    b.ag(1, AgProgram("read"))
    b.route("vector", ("ag", 1, "rdata"), ("host", 1, "vrecv"))
    x = rng.standard_normal((40, L)).astype(np.float32)
    table = rng.integers(0, 2**32, 200, dtype=np.uint64).astype(np.uint32)
    base, length = 3, 101
    record = run_array(TINY, b.bitstream(), sources={"vsend__0": pack(x.view(np.uint32)),
                                                     "ag_cmd__1": [base | (length << 32)]},
                       sinks={"vrecv__0": len(x), "vrecv__1": -(-length // L)}, dram={1: {0: table}},
                       gap=0.2, stall=0.2, seed=test_seed(request), tag="array-smoke")
    relu = unpack(record["outputs"]["vrecv__0"], L).view(np.float32)
    assert np.array_equal(relu, np.maximum(x, 0))
    words = unpack(record["outputs"]["vrecv__1"], L).ravel()
    assert np.array_equal(words[:length], table[base: base + length]) and not words[length:].any()
    assert record["registers"]["errors"] == 0 and record["registers"]["cycles"] > len(x)


@pytest.mark.cocotb
@pytest.mark.parametrize("name", WORKLOADS)
def test_workload_on_the_array(request, name):
    """Each workload mapped onto tiny and loaded from its bitstreams: every phase's host outputs and DRAM
    writes bit-exact against the golden array model, the results within the fp32 bound of NumPy's
    float64, under random input gaps and output stalls."""
    seed = test_seed(request)
    print(f"[seed] {name}: {seed}")
    program, arrays = _mapped(name, TINY, seed)
    gap = stall = 0.2
    run = run_program(program, arrays, harness="cocotb", gap=gap, stall=stall, seed=seed, tag="test")
    print(format_table(program, run))
    assert run.ok, (run.mismatches, run.max_error, run.bound)
    # The streamed operands move at most one word per cycle, and at worst at the product of the
    # source's and the sink's duty cycles; the cost model's latency allowance covers the rest.
    for phase in run.phases:
        assert phase.ideal <= phase.cycles + 64 <= phase.estimate / ((1 - gap) * (1 - stall)) + 200, phase


def test_direct_harness_runs_the_workloads(request):
    """The C++ harness (no Python per cycle) gives the golden model's outputs and DRAM bit for bit, and
    the done register, for every workload at full rate, within twice the cost model's cycles."""
    seed = test_seed(request)
    print(f"[seed] {seed}")
    for name in WORKLOADS:
        program, arrays = _mapped(name, TINY, seed)
        run = run_program(program, arrays, harness="direct", tag="test-direct")
        assert run.ok, (name, run.mismatches)
        assert all(p.cycles <= 2 * p.estimate for p in run.phases), (name, run.phases)


@pytest.mark.parametrize("cfg,blocks,names", [(TINY, False, WORKLOADS), (TINY, True, ("embedding_bag",)),
                                              (preset("small"), False, ("gemm",))],
                         ids=["tiny-flat", "tiny-blocks", "small-flat"])
def test_specialised_model_is_cycle_exact(request, monkeypatch, cfg, blocks, names):
    """The model specialised to a bitstream (``--harness specialised``) gives the generic model's run
    cycle for cycle: every handshake of every host stream and AXI channel at the same cycle with the
    same payload (the harness's trace digest), the same outputs, DRAM and registers, on every phase of
    the workloads; built flat (every module inlined) and, as for the large arrays, with each configured
    unit a hierarchical block."""
    seed = test_seed(request)
    print(f"[seed] {seed}")
    monkeypatch.setattr(direct, "FLAT_LANE_STAGES", -1 if blocks else direct.FLAT_LANE_STAGES)
    for name in names:
        for n, (placed, io) in enumerate(_phases(name, cfg, seed)):
            args = dict(sources=io.sources, sinks=io.sinks, dram=io.dram, done_tokens=io.done_tokens,
                        readback=io.readback, work=4 * placed.phase.estimate_cycles + 1000, tag="test-spec")
            generic = run_array_direct(cfg, placed.bitstream, **args)
            special = run_array_direct(cfg, placed.bitstream, specialised=True, **args)
            assert not generic["timed_out"] and generic["trace"] == special["trace"], (name, n)
            for key in ("cycles", "finish", "outputs", "registers"):
                assert special[key] == generic[key], (name, n, key)
            assert all(np.array_equal(a, b) for a, b in zip(special["readback"], generic["readback"])), (name, n)
    if blocks:  # a traced unit is inlined into the top, the other blocks stay folded and untraced
        traced = run_array_direct(cfg, placed.bitstream, specialised=True, waves=True, scope="pcu_1_1", **args)
        assert traced["trace"] == special["trace"]
        with open(traced["vcd"]) as vcd:
            header = vcd.read().split("$enddefinitions")[0]
        assert "$scope module pcu_1_1 $end" in header and "$scope module stage0_lane0 $end" in header
        lines = [line.strip() for line in header.splitlines()]
        others = [i for i, line in enumerate(lines) if line.startswith(("$scope module pmu_", "$scope module ag_"))]
        assert others and all(lines[i + 1] == "$upscope $end" for i in others)  # empty: blocks are not traced


def test_units_that_differ_only_in_numbers_share_a_configured_module():
    """A specialised array has one module per unit kind and structure: the SIMD GEMM's PMUs hold different
    blocks (different address constants and bounds) but share one module; a different op does not."""
    cfg = preset("small")
    (placed, _), = _phases("gemm", cfg, 1, "simd")
    words = decode(plan(cfg), placed.bitstream)
    pmus = {w for a, w in words.items() if a.kind == Kind.PMU}
    modules = configured_modules(cfg, words)
    assert len(pmus) > 1 and sum(name.startswith("rdagen_pmu_") for name in modules) == 1, (len(pmus), modules)
    assert sum(len(units) for _, units in modules.values()) == sum(a.kind != Kind.SWITCH for a in plan(cfg).units)
    pcu = next(a for a in words if a.kind == Kind.PCU)
    layout = pcu_layout(cfg)
    other_op = words[pcu] ^ (1 << layout["stages"].shape.elem_shape["op"].offset + layout["stages"].offset)
    assert configured_unit(cfg, pcu, other_op).name != configured_unit(cfg, pcu, words[pcu]).name


def test_golden_array_composes_the_unit_models():
    """The golden array model alone: the embedding bag against a float32 sum in accumulator order, and
    the GEMV against the layer computed step by step in the PCUs' order of operations (products summed
    in K order in fp32, then + b)."""
    program, arrays = _mapped("embedding_bag", TINY, 3)
    table = program.graph.weights["table"].values
    bounds = list(arrays["off"]) + [len(arrays["idx"])]
    want = []
    for start, end in zip(bounds[:-1], bounds[1:]):
        acc = np.zeros(table.shape[1], np.float32)
        for i in arrays["idx"][start:end]:
            acc = acc + table[i]
        want.append(acc)
    got = program.execute(arrays, lambda placed, io: _golden_run(TINY, placed, io))[0]["e"]
    assert np.array_equal(got, np.array(want))
    program, arrays = _mapped("gemv", TINY, 3)
    w, b = program.graph.weights["w0"].values, program.graph.weights["b0"].values
    x = arrays["x"][0]
    y = []
    for col in range(w.shape[1]):
        acc = np.float32(0)
        for k in range(len(x)):
            acc = np.float32(acc + np.float32(x[k] * w[k, col]))
        y.append(np.float32(acc + b[col]))
    got = program.execute(arrays, lambda placed, io: _golden_run(TINY, placed, io))[0]
    (name,) = got
    assert np.array_equal(got[name][0], np.array(y, np.float32))


def _reseal(bitstream: bytes, change, cfg=TINY) -> bytes:
    """The bitstream with its words changed by *change* ({Address: word} -> None) and a valid CRC: a
    damage the format itself cannot detect."""
    words = decode(plan(cfg), bitstream)
    change(words)
    return encode(plan(cfg), words)


def test_switch_selects_that_lose_words_are_refused():
    ((placed, io),) = _phases("gemv", TINY, 1)
    words = decode(plan(TINY), placed.bitstream)
    tracks = TINY.vector_tracks
    width = (4 * tracks + local_counts(TINY, "vector")[0]).bit_length()
    cases = {
        "beyond the array's edge": (Address(Kind.SWITCH, 0, 0, "vector"), 0, 1),  # north input of row 0
        "is a tied-off local port": (Address(Kind.SWITCH, 0, 0, "scalar"), 0,
                                     4 * TINY.scalar_tracks + local_counts(TINY, "scalar")[0]),
        "no switch takes its words": (Address(Kind.SWITCH, 2, 1, "vector"), 1, 4 * tracks + 1),
    }
    for message, (address, output, value) in cases.items():
        def change(w, address=address, output=output, value=value):
            element = (4 * networks(TINY)[address.network].tracks
                       + local_counts(TINY, address.network)[0]).bit_length()
            w[address] = w.get(address, 0) & ~(((1 << element) - 1) << (output * element)) | value << (output * element)
        with pytest.raises(BitstreamError, match=message):
            config_loads(TINY, _reseal(placed.bitstream, change))
    # a loop of selects between two switches, feeding nothing
    def loop(w):
        east, west = 1 * tracks, 3 * tracks  # direction outputs (north, east, south, west by track)
        w[Address(Kind.SWITCH, 2, 1, "vector")] = (1 + east) << (east * width)  # east out <- east in
        w[Address(Kind.SWITCH, 2, 2, "vector")] = (1 + west) << (west * width)  # west out <- west in
    with pytest.raises(BitstreamError, match="loop"):
        golden_array(TINY, _reseal(placed.bitstream, loop), io.sources, io.dram)
    assert words  # the unmodified bitstream decodes


def test_golden_array_refuses_what_it_cannot_give_a_meaning():
    b = ArrayBuilder(TINY)
    b.pcu(0, 0, PcuProgram(stages=[Stage("pass", Operand("lane"))], vin_required=[0], vout=[("reg", 0)]))
    fire = pcu_layout(TINY)["fire"]
    required = fire.offset + fire.shape["vin_required"].offset  # the encoder refuses this; a bitstream can hold it
    free_running = _reseal(b.bitstream(), lambda w: w.__setitem__(Address(Kind.PCU, 0, 0),
                                                                  w[Address(Kind.PCU, 0, 0)] & ~(1 << required)))
    # the encoder's own rule refuses it on load, before the model would (it fires without any input)
    with pytest.raises(BitstreamError, match=r"pcu at \(0, 0\): PCU firing rule.*would fire without end"):
        golden_array(TINY, free_running, {})
    b = ArrayBuilder(TINY)
    b.pcu(0, 0, PcuProgram(stages=[Stage("pass", vin(0))], vin_required=[0], vout=[("reg", 0)]))
    b.route("vector", ("host", 0, "vsend"), ("pcu", 0, 0, "vin", 0))
    with pytest.raises(ArrayModelError, match="routed nowhere"):
        golden_array(TINY, b.bitstream(), {"vsend__0": [1, 2]})
    b = ArrayBuilder(TINY)
    b.pcu(0, 0, PcuProgram(stages=[Stage("pass", vin(0))], vin_required=[0], vout=[("reg", 0)]))
    b.route("vector", ("host", 0, "vsend"), ("pcu", 0, 0, "vin", 0), ("pcu", 0, 0, "vin", 1))
    b.route("vector", ("pcu", 0, 0, "vout", 0), ("host", 0, "vrecv"))
    with pytest.raises(ArrayModelError, match="never reads that input"):
        golden_array(TINY, b.bitstream(), {"vsend__0": [1, 2]})
    with pytest.raises(ArrayModelError, match="unknown host input 'vsend__7'"):
        golden_array(TINY, b.bitstream(), {"vsend__7": [1]})
    # one start token, one run of two firings: the PCU takes 2 of the 5 vectors sent
    b = ArrayBuilder(TINY)
    b.pcu(0, 0, PcuProgram(stages=[Stage("pass", vin(0))], counters=[Counter(0, 2, 1)], vin_required=[0],
                           wait_start=True, vout=[("reg", 0)]))
    b.route("vector", ("host", 0, "vsend"), ("pcu", 0, 0, "vin", 0))
    b.route("control", ("host", 0, "csend"), ("pcu", 0, 0, "ctrl_in", 0))
    b.route("vector", ("pcu", 0, 0, "vout", 0), ("host", 0, "vrecv"))
    assert len(golden_array(TINY, b.bitstream(), {"vsend__0": [1, 2], "csend__0": [1]}).outputs["vrecv__0"]) == 2
    with pytest.raises(ArrayModelError, match=r"5 words are sent, the unit takes 2"):
        golden_array(TINY, b.bitstream(), {"vsend__0": [1, 2, 3, 4, 5], "csend__0": [1]})


@pytest.mark.cocotb
def test_small_array_runs_the_workloads(request):
    """The `small` array (4x4, 4 lanes), which `make sim` simulates by default, in the direct harness:
    every workload bit-exact against the golden array model, within the fp32 bound of NumPy, within
    twice the cost model's cycles."""
    seed = test_seed(request)
    print(f"[seed] {seed}")
    for name in WORKLOADS:
        program, arrays = _mapped(name, preset("small"), seed)
        run = run_program(program, arrays, harness="direct", tag="test-small")
        print(format_table(program, run))
        assert run.ok, (name, run.mismatches)
        assert all(p.cycles <= 2 * p.estimate for p in run.phases), (name, run.phases)


def _same_as_golden(record, golden, io, where):
    """The RTL run *record* of a (mutated) phase gives the golden model's host outputs, DRAM regions,
    errors register and done register."""
    assert not record["timed_out"], where
    for port, values in golden.outputs.items():
        assert record["outputs"][port] == [int(v) for v in values], (*where, port)
    for (row, base, count), got in zip(io.readback, record["readback"]):
        want = [golden.dram.get(row, {}).get(base + i, 0) for i in range(count)]  # the mutant's golden DRAM
        assert [int(v) for v in got] == want, (*where, row)
    assert record["registers"]["errors"] == golden.errors, where
    assert record["registers"]["done"] == (golden.done_tokens > 0), where


def test_bitstream_fuzzing(request):
    """Random truncations and bit flips are all refused by the loader (the CRC); random switch selects
    behind a valid CRC (which the format cannot tell from good ones) are refused by the route check or
    the golden model, or give the same host outputs on the RTL as in the golden array model (the first
    three accepted ones on the cocotb bench, then up to 50 in all in the direct harness)."""
    rng = seeded_rng(request)
    ((placed, io),) = _phases("embedding_bag", TINY, test_seed(request))
    good = placed.bitstream
    for _ in range(100):
        cut = good[: int(rng.integers(0, len(good)))]
        with pytest.raises(BitstreamError):
            config_loads(TINY, cut)
        damaged = bytearray(good)
        for bit in rng.choice(8 * len(good), int(rng.integers(1, 4)), replace=False):
            damaged[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(BitstreamError):
            config_loads(TINY, bytes(damaged))
    words = decode(plan(TINY), good)
    refused = accepted = simulated = 0
    while simulated < 50 and refused < 3000:
        # One switch output re-pointed at a random input (or switched off), behind a valid CRC.
        network = NETWORKS[int(rng.integers(len(NETWORKS)))]
        address = Address(Kind.SWITCH, int(rng.integers(TINY.rows)), int(rng.integers(TINY.cols)), network)
        tracks, (n_in, n_out) = networks(TINY)[network].tracks, local_counts(TINY, network)
        width = (4 * tracks + n_in).bit_length()
        output, value = int(rng.integers(4 * tracks + n_out)), int(rng.integers(4 * tracks + n_in + 1))
        old = words.get(address, 0)
        new = old & ~(((1 << width) - 1) << (output * width)) | value << (output * width)
        if new == old:
            continue
        mutant = _reseal(good, lambda w: w.__setitem__(address, new))
        try:
            config_loads(TINY, mutant)
            golden = golden_array(TINY, mutant, io.sources, io.dram)
        except (BitstreamError, ArrayModelError):
            refused += 1
            continue
        accepted += 1
        sinks = {port: len(values) for port, values in golden.outputs.items()}
        args = dict(sources=io.sources, sinks=sinks, dram=io.dram, work=4 * placed.phase.estimate_cycles,
                    done_tokens=golden.done_tokens, readback=io.readback)
        if simulated < 3:
            record = run_array(TINY, mutant, seed=test_seed(request), tag="fuzz", **args)
        else:
            record = run_array_direct(TINY, mutant, tag="fuzz-switch", **args)
        simulated += 1
        _same_as_golden(record, golden, io, (address, output, value))
    print(f"switch mutations: {refused} refused, {accepted} accepted ({simulated} simulated)")
    assert refused and simulated >= 3


def test_builder_refuses_with_a_named_unit_or_route():
    b = ArrayBuilder(TINY)
    with pytest.raises(BuildError, match=r"tile \(0, 1\) is a PMU, not a PCU"):
        b.pcu(0, 1, PcuProgram(vin_required=[0], vout=[("reg", 0)]))
    with pytest.raises(BuildError, match=r"PCU \(0, 0\): PCU stage 0, field 'dst'"):
        b.pcu(0, 0, PcuProgram(stages=[Stage(dst=9)], vin_required=[0], vout=[("reg", 0)]))
    with pytest.raises(BuildError, match="cannot receive from the scalar network"):
        b.route("scalar", ("host", 0, "ssend"), ("pcu", 0, 0, "vin", 0))
    with pytest.raises(BuildError, match="unknown network 'optical'"):
        b.route("optical", ("host", 0, "ssend"), ("pcu", 0, 0, "sin", 0))
    b.route("vector", ("host", 0, "vsend"), ("pcu", 0, 0, "vin", 0))
    with pytest.raises(BuildError, match="local output 0 of switch \\(0, 0\\) is taken"):
        b.route("vector", ("host", 1, "vsend"), ("pcu", 0, 0, "vin", 0))
    with pytest.raises(BuildError, match="there is no AG in row 5"):
        b.ag(5, AgProgram())


def test_loader_refuses_a_bitstream_for_another_array():
    small = ArrayBuilder(preset("small")).bitstream()
    with pytest.raises(BitstreamError, match="made for ArrayConfig hash"):
        config_loads(TINY, small)


def _set_field(layout, word: int, path: tuple, value: int) -> int:
    """*word* with the field at *path* (names and indices into *layout*) set to *value*."""
    offset, shape = 0, layout
    for key in path:
        field = shape[key]
        offset, shape = offset + field.offset, field.shape
    width = Shape.cast(shape).width
    return word & ~(((1 << width) - 1) << offset) | value << offset


def test_unit_words_the_encoders_would_not_write_are_refused():
    """A decoded PCU, PMU or AG word is checked by its encoder's rules: an operand beyond the
    configuration, an op code that names nothing, a pop level of an input not required, a field the
    encoder fixes: all refused by the loader and the golden model, naming the unit and the field."""
    cfg = preset("small")
    placed, io = _phases("mlp", cfg, 1, matmul_mode="simd")[0]  # (a PCU whose weights and counter 2 are off)
    words = decode(plan(cfg), placed.bitstream)
    pcu = next(a for a in words if a.kind == Kind.PCU)
    pmu = next(a for a in words if a.kind == Kind.PMU)
    ag = next(a for a in words if a.kind == Kind.AG)
    layouts = {Kind.PCU: pcu_layout(cfg), Kind.PMU: pmu_layout(cfg), Kind.AG: ag_layout(cfg)}
    cases = [
        (pcu, ("stages", 0, "a"), Src.VIN.value | 3 << 3, r"pcu at \(\d+, \d+\): PCU stage 0, field 'a': vin 3 does not exist"),
        (pcu, ("stages", 1, "op"), 31, r"PCU stage 1, field 'op': code 31 is not a valid Op"),
        (pcu, ("stages", 0, "b", "src"), Src.WGT.value, r"PCU stage 0, field 'b': reads the weights, which are not enabled"),
        (pcu, ("fire", "sin_pop_level", 1), 2, r"field 'sin_pop_level': input 1 has a pop level but is not required"),
        (pcu, ("counters", 2, "start"), 5, r"PCU word, field 'counters\[2\].start': holds 5, where the encoder writes 0"),
        (pmu, ("write", "data", "src"), Src.LANE.value, r"pmu at \(.*\): PMU write port, field 'data': .*must come "
                                                        r"from vin\(k\) or sin\(k\)"),
        (pmu, ("read", "stages", 0, "op"), Op.FADD.value, r"PMU read port stage 0, field 'op': 'fadd' is not an address op"),
        (ag, ("row_words",), 0, r"ag at \(.*\): AG field 'row_words': 0 is not an integer"),
    ]
    for address, path, value, message in cases:
        mutant = _reseal(placed.bitstream, lambda w: w.__setitem__(address, _set_field(
            layouts[address.kind], w[address], path, value)), cfg)
        with pytest.raises(BitstreamError, match=message):
            config_loads(cfg, mutant)
        with pytest.raises(BitstreamError, match=message):
            golden_array(cfg, mutant, io.sources, io.dram)


def test_unit_word_fuzzing(request):
    """Random 1- and 2-bit flips in the PCU, PMU and AG words of the workloads' phases, behind a valid CRC:
    each mutant is refused (by the encoders' rules, the route check or the golden model) or accepted;
    at least 50 accepted mutants run on the RTL (direct harness) and give the golden array model's
    host outputs, errors register and done tokens."""
    rng = seeded_rng(request)
    built = [phase for name in WORKLOADS for phase in _phases(name, TINY, test_seed(request))]
    refused = simulated = 0
    reasons = set()
    while simulated < 50:
        assert refused < 5000, f"only {simulated} of 50 mutants accepted in {refused + simulated} tries"
        placed, io = built[int(rng.integers(len(built)))]
        words = decode(plan(TINY), placed.bitstream)
        address = sorted(a for a in words if a.kind != Kind.SWITCH)[int(rng.integers(sum(a.kind != Kind.SWITCH
                                                                                              for a in words)))]
        size = plan(TINY).units[address]
        flips = sum(1 << int(b) for b in rng.choice(size, int(rng.integers(1, 3)), replace=False))
        mutant = _reseal(placed.bitstream, lambda w: w.__setitem__(address, w[address] ^ flips))
        try:
            config_loads(TINY, mutant)
            # a flip in a counter bound can make a unit fire millions of times: too long for a test
            golden = golden_array(TINY, mutant, io.sources, io.dram, max_firings=20 * placed.phase.estimate_cycles)
        except (BitstreamError, ArrayModelError) as exc:
            refused += 1
            reasons.add(str(exc).split(":")[0])
            continue
        simulated += 1
        sinks = {port: len(values) for port, values in golden.outputs.items()}
        record = run_array_direct(TINY, mutant, sources=io.sources, sinks=sinks, dram=io.dram, readback=io.readback,
                                  work=8 * placed.phase.estimate_cycles, done_tokens=golden.done_tokens, tag="fuzz-unit")
        _same_as_golden(record, golden, io, (placed.phase.name, str(address), hex(flips)))
    print(f"unit-word mutations: {refused} refused ({len(reasons)} distinct places), {simulated} simulated")
    assert refused > 0


@pytest.mark.parametrize("lengths", [[3, 0, 2, 0, 0], [0, 0, 1], [2], [4, 0, 1, 0]])
def test_embedding_bags_with_empty_bags_anywhere(request, lengths):
    """Empty bags anywhere, the first and the last included, on the RTL (direct harness): exact zeros
    for the empty bags, the sums bit for bit as the golden model."""
    program, arrays = _mapped("embedding_bag", TINY, test_seed(request), lengths=lengths)
    run = run_program(program, arrays, harness="direct", tag="test-bags")
    assert run.ok, run.mismatches
    empty = np.asarray(lengths) == 0
    assert not run.outputs["e"][empty].any() and run.outputs["e"][~empty].any()


@pytest.mark.cocotb
def test_dram_writes_through_an_ag(request):
    """Host vectors through a PCU (ReLU) into AG 0's writes at array level: commands from an unaligned
    address, of lengths that are not whole vectors, across a 4 KB boundary, and one past the address
    space (refused: its vectors are taken, nothing is written, errors counts it). The DRAM after the run,
    one vector beyond each side of every write, equals the golden array model's; the done token comes
    from the PCU's counter."""
    rng = seeded_rng(request)
    L = TINY.lanes
    commands = [(1001, 7), (2050, 2 * L + 1), (2**32 - 3, 5), (1024 - 3, 3 * L)]
    n = sum(-(-length // L) for _, length in commands)
    b = ArrayBuilder(TINY)
    b.pcu(0, 0, PcuProgram(stages=[Stage("fmax", vin(0), Operand("const"), dst=0, const=0)],
                           counters=[Counter(0, n, 1)], vin_required=[0], vout=[("reg", 0)]))
    b.ag(0, AgProgram("read"))
    b.route("vector", ("host", 0, "vsend"), ("pcu", 0, 0, "vin", 0))
    b.route("vector", ("pcu", 0, 0, "vout", 0), ("ag", 0, "wdata"))
    b.route("control", ("pcu", 0, 0, "ctrl_out", 0), ("host", 0, "done"))
    x = rng.standard_normal((n, L)).astype(np.float32)
    old = rng.integers(0, 2**32, 4096, dtype=np.uint64).astype(np.uint32)  # what the DRAM held before
    sources = {"vsend__0": pack(x.view(np.uint32)), "ag_wcmd__0": [base | length << 32 for base, length in commands]}
    dram = {0: {0: old}}
    golden = golden_array(TINY, b.bitstream(), sources, dram)
    assert golden.errors == 1
    regions = [(0, max(0, base - L), length + 2 * L) for base, length in commands if base + length <= 2**32]
    record = run_array(TINY, b.bitstream(), sources=sources, sinks={}, dram=dram, gap=0.2, stall=0.2,
                       seed=test_seed(request), tag="array-writes", work=4 * n, done_tokens=1, readback=regions)
    assert not record["timed_out"] and record["registers"]["done"] == 1
    assert record["registers"]["errors"] == golden.errors
    relu = np.maximum(x, 0).view(np.uint32).ravel()
    for (_, start, count), have in zip(regions, record["readback"]):
        want = np.array([golden.dram[0].get(w, 0) for w in range(start, start + count)], np.uint32)
        assert np.array_equal(have, want), (start, count)
    base, length = commands[0]
    assert np.array_equal(record["readback"][0][L: L + length], relu[:length])  # the first command's words
    assert record["readback"][0][L - 1] == old[base - 1]  # the word before it is untouched


@pytest.mark.parametrize("config", ["tiny", "small"])
def test_config_port_writes_load_the_units_that_change(config, request):
    """Configuration registers modelled from rtl/array.py's port (a lane per row, each write shifts 32
    bits in from below): the writes from one random configuration to another, sent as beats on the
    lanes, leave every register at its new word, and they write the changed units alone, each whole;
    from reset, the configured units alone."""
    cfg, rng = preset(config), seeded_rng(request)
    units = configuration_units(cfg)
    chunks = [-(-unit_layout(cfg, a).size // 32) for a in units]

    def draw():
        return {a: int.from_bytes(rng.bytes(4 * n), "little") >> (32 * n - unit_layout(cfg, a).size)
                for a, n in zip(units, chunks) if rng.random() < 0.3}

    groups = config_groups(cfg)
    lane = config_port_layout(cfg).elem_shape

    def load(registers, writes):
        """The registers after the port's beats for *writes* (rtl/array.py: lane k writes the unit at its
        local index in group k)."""
        registers = list(registers)
        beats = config_beats(cfg, writes)
        busiest = max(sum(1 for u, _ in writes if u in g) for g in groups) if writes else 0
        assert len(beats) == busiest + SEAL_BEATS  # the lanes in parallel: the busiest lane's words, sealed
        for beat in beats:
            for k, group in enumerate(groups):
                bits = beat >> (k * lane.size) & ((1 << lane.size) - 1)
                index = bits >> lane["unit"].offset & ((1 << lane["unit"].width) - 1)
                if bits & 1 and index < len(group):  # beyond the group: the lane's seal
                    unit = group[index]
                    word = bits >> lane["data"].offset & 0xFFFFFFFF
                    registers[unit] = ((registers[unit] << 32) | word) & ((1 << (32 * chunks[unit])) - 1)
        return registers

    for _ in range(20):
        before, after = draw(), draw()
        after.update({a: w for a, w in before.items() if rng.random() < 0.5})  # some units keep their word
        start = load([0] * len(units), config_port_writes(cfg, before))
        assert start == [before.get(a, 0) for a in units]
        writes = config_port_writes(cfg, after, before)
        assert load(start, writes) == [after.get(a, 0) for a in units]
        changed = [i for i, a in enumerate(units) if after.get(a, 0) != before.get(a, 0)]
        assert sorted({u for u, _ in writes}) == changed
        assert len(writes) == sum(chunks[i] for i in changed)


@pytest.mark.parametrize("config,most", [("small", 142), ("plasticine", 400)])
def test_a_whole_configuration_loads_on_the_lanes_in_parallel(config, most):
    """Every unit configured (all words ones): the port's lanes take about the same words, so the whole
    array loads in the busiest lane's beats and the seal: 141 on small (556 words), 325 on plasticine (5,168)."""
    cfg = preset(config)
    units = configuration_units(cfg)
    words = {a: (1 << unit_layout(cfg, a).size) - 1 for a in units}
    writes = config_port_writes(cfg, words)
    beats = config_beats(cfg, writes)
    print(f"{config}: {len(writes)} words in {len(beats)} beats on {len(config_groups(cfg))} lanes")
    assert len(beats) <= most and len(beats) * len(config_groups(cfg)) <= 1.02 * len(writes)
