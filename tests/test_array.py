"""The array top on the `tiny` configuration (3 x 3 tiles), configured through the builder and loaded
from a bitstream through the config port: host streams through a PCU, DRAM reads through an AG, the
three DLRM kernels (GEMV, embedding bag, two-layer MLP) against the golden array model and NumPy,
bitstream fuzzing; the golden array model alone; the builder's, loader's and model's refusals.

Seeds are printed; rerun with ``pytest --seed N``.
"""

import dataclasses

import numpy as np
import pytest
from amaranth import Shape

from rdagen.mapper import kernels
from rdagen.mapper.builder import ArrayBuilder, BuildError
from rdagen.mapper.kernels import KERNELS, KernelError, build
from rdagen.rtl.ag_layout import AgProgram, ag_layout
from rdagen.rtl.array_layout import local_counts, plan
from rdagen.rtl.bitstream import NETWORKS, Address, BitstreamError, Kind, decode, encode
from rdagen.rtl.config import preset
from rdagen.rtl.ops import Op
from rdagen.rtl.pcu_layout import Counter, Operand, PcuProgram, Src, Stage, pcu_layout, vin
from rdagen.rtl.pmu_layout import pmu_layout
from rdagen.rtl.switch_layout import networks
from rdagen.sim.array_run import config_writes, run_array, run_kernel
from rdagen.sim.direct import run_direct as run_array_direct
from rdagen.sim.streams import pack, unpack
from rdagen.verif.golden.array import ArrayModelError
from rdagen.verif.golden.array import run_array as golden_array

from .conftest import seeded_rng, test_seed

TINY = preset("tiny")


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
@pytest.mark.parametrize("name", list(KERNELS))
def test_kernel_on_the_array(request, name):
    """GEMV, embedding bag and two-layer MLP, configured from the ArrayConfig through the builder, loaded
    from their bitstream: every host output bit-exact against the golden array model, the results within
    the fp32 bound of NumPy's float64, under random input gaps and output stalls."""
    seed = test_seed(request)
    print(f"[seed] {name}: {seed}")
    kernel = build(name, TINY, seed)
    gap = stall = 0.2
    result = run_kernel(kernel, seed=seed, gap=gap, stall=stall, tag="test")
    assert result.ok, result.problems
    assert result.max_error <= result.bound
    # The streamed operand moves at most one vector per cycle, and at worst at the product of the
    # source's and the sink's duty cycles; 200 cycles cover loading x, pipeline and DRAM latency.
    print(f"{name}: {result.cycles} cycles, ideal {result.ideal}")
    assert result.ideal <= result.cycles <= result.ideal / ((1 - gap) * (1 - stall)) + 200


def test_direct_harness_runs_the_kernels(request):
    """The C++ harness (no Python per cycle) gives the golden model's outputs bit for bit, and the done
    register, for the three kernels at full rate."""
    seed = test_seed(request)
    print(f"[seed] {seed}")
    for name in KERNELS:
        result = run_kernel(build(name, TINY, seed), seed=seed, tag="test-direct", harness="direct")
        assert result.ok, (name, result.problems)
        assert result.ideal <= result.cycles < 2 * result.ideal + 200, (name, result.cycles)


def test_golden_array_composes_the_unit_models():
    """The golden array model alone: the embedding bag against a float32 sum in accumulator order, and
    the GEMV against the layer computed step by step in the PCUs' order of operations."""
    kernel = build("embedding_bag", TINY, 3)
    result = golden_array(TINY, kernel.bitstream, kernel.sources, kernel.dram)
    got = kernel.decode(result.outputs)
    table = kernel.dram[1][4096].view(np.float32).reshape(-1, TINY.lanes)
    indices, lengths = kernel.sources["ssend__1"], kernel.sources["ssend__0"]
    at, want = 0, []
    for n in lengths:
        acc = np.zeros(TINY.lanes, np.float32)
        for i in indices[at: at + n]:
            acc = acc + table[i]
        want.append(acc)
        at += n
    assert np.array_equal(got, np.array(want)) and result.errors == 0
    kernel = build("gemv", TINY, 3)
    result = golden_array(TINY, kernel.bitstream, kernel.sources, kernel.dram)
    L = TINY.lanes
    x = unpack(kernel.sources["vsend__0"], L).view(np.float32).ravel()
    w = kernel.dram[0][0].view(np.float32).reshape(-1, len(x))
    b = np.array(kernel.sources["ssend__1"], np.uint32).view(np.float32)
    y = []
    for row, bias in zip(w, b):
        acc = np.float32(0)
        for chunk in range(len(x) // L):
            products = row[chunk * L:(chunk + 1) * L] * x[chunk * L:(chunk + 1) * L]
            acc = np.float32(acc + np.float32(products[0] + products[1]))  # the 2-lane tree, then the accumulator
        y.append(np.float32(acc + bias))
    assert np.array_equal(kernel.decode(result.outputs), np.array(y, np.float32))


def _reseal(bitstream: bytes, change, cfg=TINY) -> bytes:
    """The bitstream with its words changed by *change* ({Address: word} -> None) and a valid CRC: a
    damage the format itself cannot detect."""
    words = decode(plan(cfg), bitstream)
    change(words)
    return encode(plan(cfg), words)


def test_switch_selects_that_lose_words_are_refused():
    kernel = build("gemv", TINY, 1)
    words = decode(plan(TINY), kernel.bitstream)
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
            config_writes(TINY, _reseal(kernel.bitstream, change))
    # a loop of selects between two switches, feeding nothing
    def loop(w):
        east, west = 1 * tracks, 3 * tracks  # direction outputs (north, east, south, west by track)
        w[Address(Kind.SWITCH, 2, 1, "vector")] = (1 + east) << (east * width)  # east out <- east in
        w[Address(Kind.SWITCH, 2, 2, "vector")] = (1 + west) << (west * width)  # west out <- west in
    with pytest.raises(BitstreamError, match="loop"):
        golden_array(TINY, _reseal(kernel.bitstream, loop), kernel.sources, kernel.dram)
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


def test_kernels_say_which_resource_is_missing():
    with pytest.raises(KernelError, match=r"kernel mlp does not fit .*needs 3x3 tiles \(it has 2x2\)"):
        build("mlp", dataclasses.replace(TINY, name="two", rows=2, cols=2), 1)
    with pytest.raises(KernelError, match="needs 2 PCU stages"):
        build("mlp", dataclasses.replace(TINY, name="one", stages=1), 1)
    with pytest.raises(KernelError, match="unknown kernel 'conv'"):
        build("conv", TINY, 1)
    with pytest.raises(KernelError, match="scratchpad words"):
        kernels.gemv(TINY, np.random.default_rng(0), k=TINY.pmu_words + 1)


@pytest.mark.cocotb
def test_small_array_runs_the_kernels(request):
    """The `small` array (4x4, 4 lanes), which `make sim` simulates by default, in the direct harness:
    the three kernels bit-exact against the golden array model, within the fp32 bound of NumPy, the
    done register high, under the same cycle bound as on tiny."""
    seed = test_seed(request)
    print(f"[seed] {seed}")
    for name in KERNELS:
        result = run_kernel(build(name, preset("small"), seed), seed=seed, tag="test-small", harness="direct")
        print(f"small {name}: {result.cycles} cycles, ideal {result.ideal}")
        assert result.ok, (name, result.problems)
        assert result.ideal <= result.cycles < 2 * result.ideal + 200, (name, result.cycles)


def test_bitstream_fuzzing(request):
    """Random truncations and bit flips are all refused by the loader (the CRC); random switch selects
    behind a valid CRC (which the format cannot tell from good ones) are refused by the route check or
    the golden model, or give the same host outputs on the RTL as in the golden array model (the first
    three accepted ones on the cocotb bench, then up to 50 in all in the direct harness)."""
    rng = seeded_rng(request)
    kernel = build("embedding_bag", TINY, test_seed(request))
    good = kernel.bitstream
    for _ in range(100):
        cut = good[: int(rng.integers(0, len(good)))]
        with pytest.raises(BitstreamError):
            config_writes(TINY, cut)
        damaged = bytearray(good)
        for bit in rng.choice(8 * len(good), int(rng.integers(1, 4)), replace=False):
            damaged[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(BitstreamError):
            config_writes(TINY, bytes(damaged))
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
            config_writes(TINY, mutant)
            golden = golden_array(TINY, mutant, kernel.sources, kernel.dram)
        except (BitstreamError, ArrayModelError):
            refused += 1
            continue
        accepted += 1
        sinks = {port: len(values) for port, values in golden.outputs.items()}
        args = dict(sources=kernel.sources, sinks=sinks, dram=kernel.dram, work=4 * kernel.ideal_cycles,
                    done_tokens=golden.done_tokens)
        if simulated < 3:
            record = run_array(TINY, mutant, seed=test_seed(request), tag="fuzz", **args)
        else:
            record = run_array_direct(TINY, mutant, tag="fuzz-switch", **args)
        simulated += 1
        assert not record["timed_out"], (address, output, value)
        assert record["registers"]["done"] == (golden.done_tokens > 0)
        for port, values in golden.outputs.items():
            assert record["outputs"][port] == [int(v) for v in values], (address, output, value, port)
        assert record["registers"]["errors"] == golden.errors
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
        config_writes(TINY, small)


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
    kernel = build("mlp", cfg, 1)
    words = decode(plan(cfg), kernel.bitstream)
    pcu = next(a for a in words if a.kind == Kind.PCU)
    pmu = next(a for a in words if a.kind == Kind.PMU)
    ag = next(a for a in words if a.kind == Kind.AG)
    layouts = {Kind.PCU: pcu_layout(cfg), Kind.PMU: pmu_layout(cfg), Kind.AG: ag_layout(cfg)}
    cases = [
        (pcu, ("stages", 0, "a"), Src.VIN.value | 3 << 3, r"pcu at \(0, 0\): PCU stage 0, field 'a': vin 3 does not exist"),
        (pcu, ("stages", 1, "op"), 31, r"PCU stage 1, field 'op': code 31 is not a valid Op"),
        (pcu, ("stages", 0, "b", "src"), 7, r"PCU stage 0, field 'b': code 7 is not a valid Src"),
        (pcu, ("fire", "sin_pop_level", 1), 2, r"field 'sin_pop_level': input 1 has a pop level but is not required"),
        (pcu, ("counters", 2, "start"), 5, r"PCU word, field 'counters\[2\].start': holds 5, where the encoder writes 0"),
        (pmu, ("write", "data", "src"), Src.LANE.value, r"pmu at \(.*\): PMU write port, field 'data': .*must come "
                                                        r"from vin\(k\) or sin\(k\)"),
        (pmu, ("read", "stages", 0, "op"), Op.FADD.value, r"PMU read port stage 0, field 'op': 'fadd' is not an address op"),
        (ag, ("row_words",), 0, r"ag at \(.*\): AG field 'row_words': 0 is not an integer"),
    ]
    for address, path, value, message in cases:
        mutant = _reseal(kernel.bitstream, lambda w: w.__setitem__(address, _set_field(
            layouts[address.kind], w[address], path, value)), cfg)
        with pytest.raises(BitstreamError, match=message):
            config_writes(cfg, mutant)
        with pytest.raises(BitstreamError, match=message):
            golden_array(cfg, mutant, kernel.sources, kernel.dram)


def test_unit_word_fuzzing(request):
    """Random 1- and 2-bit flips in the PCU, PMU and AG words of the three kernels, behind a valid CRC:
    each mutant is refused (by the encoders' rules, the route check or the golden model) or accepted;
    at least 50 accepted mutants run on the RTL (direct harness) and give the golden array model's
    host outputs, errors register and done tokens."""
    rng = seeded_rng(request)
    built = [build(name, TINY, test_seed(request)) for name in KERNELS]
    refused = simulated = 0
    reasons = set()
    while simulated < 50:
        assert refused < 5000, f"only {simulated} of 50 mutants accepted in {refused + simulated} tries"
        kernel = built[int(rng.integers(len(built)))]
        words = decode(plan(TINY), kernel.bitstream)
        address = sorted(a for a in words if a.kind != Kind.SWITCH)[int(rng.integers(sum(a.kind != Kind.SWITCH
                                                                                              for a in words)))]
        size = plan(TINY).units[address]
        flips = sum(1 << int(b) for b in rng.choice(size, int(rng.integers(1, 3)), replace=False))
        mutant = _reseal(kernel.bitstream, lambda w: w.__setitem__(address, w[address] ^ flips))
        try:
            config_writes(TINY, mutant)
            # a flip in a counter bound can make a unit fire millions of times: too long for a test
            golden = golden_array(TINY, mutant, kernel.sources, kernel.dram, max_firings=20 * kernel.ideal_cycles)
        except (BitstreamError, ArrayModelError) as exc:
            refused += 1
            reasons.add(str(exc).split(":")[0])
            continue
        simulated += 1
        sinks = {port: len(values) for port, values in golden.outputs.items()}
        record = run_array_direct(TINY, mutant, sources=kernel.sources, sinks=sinks, dram=kernel.dram,
                                  work=8 * kernel.ideal_cycles, done_tokens=golden.done_tokens, tag="fuzz-unit")
        where = (kernel.name, str(address), hex(flips))
        assert not record["timed_out"], where
        for port, values in golden.outputs.items():
            assert record["outputs"][port] == [int(v) for v in values], (*where, port)
        assert record["registers"]["errors"] == golden.errors, where
        assert record["registers"]["done"] == (golden.done_tokens > 0), where
    print(f"unit-word mutations: {refused} refused ({len(reasons)} distinct places), {simulated} simulated")
    assert refused > 0


@pytest.mark.parametrize("lengths", [[3, 0, 2, 0, 0], [0, 0, 0], [0], [4, 0, 1]])
def test_embedding_bags_with_empty_bags_anywhere(request, lengths):
    """Empty bags anywhere, the last and all of them included, on the RTL (direct harness): zeros for
    the empty bags, the sums bit for bit as the golden model, and the done register high."""
    kernel = kernels.embedding_bag(TINY, np.random.default_rng(test_seed(request)), lengths=lengths)
    result = run_kernel(kernel, harness="direct", tag="test-bags")
    assert result.ok, result.problems
    # An empty bag's reference is 0 with a bound of 0, so result.ok means its output is exactly zero.
    assert not kernel.reference[np.asarray(lengths) == 0].any() and not kernel.tolerance[np.asarray(lengths) == 0].any()


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
