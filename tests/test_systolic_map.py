"""Matmuls in the systolic mode (mapper/phases/systolic.py): K sections on chains of systolic PCUs, on the
RTL of ``small`` bit-exact against the golden array model and within the graph's bound, the cost model
within 10 % of every section's RTL cycles, and the mapper's choice and refusals.

Seeds are printed; rerun with ``pytest --seed N``.
"""

import dataclasses
import functools

import numpy as np
import pytest

from rdagen.mapper.frontend.graph import GraphBuilder
from rdagen.mapper.frontend.inputs import check_inputs, random_inputs
from rdagen.mapper.lowering import ops
from rdagen.mapper.phases.phase import MapError
from rdagen.mapper.phases.systolic import tile_systolic
from rdagen.mapper.program import map_graph
from rdagen.rtl.spec.config import preset
from rdagen.rtl.spec.config_port import SEAL_BEATS, SWAP_CYCLES
from rdagen.rtl.spec.memory import DDR4, IDEAL
from rdagen.rtl.spec.systolic import systolic_program
from rdagen.sim.graph_run import run_program

from .conftest import test_seed


def _gemm(m, k, n, bias=True, relu_in=False):
    g = GraphBuilder()
    x = g.input("x", (m, k))
    y = g.matmul(g.relu(x) if relu_in else x, g.weight("w", shape=(k, n), seed=1, scale=1 / np.sqrt(k)))
    g.output(g.add(y, g.weight("b", shape=(n,), seed=2, scale=0.1), name="y") if bias else y)
    return g.graph()


@pytest.mark.parametrize("shape,bias", [((64, 64, 64), True), ((37, 45, 29), False)])
def test_a_systolic_gemm_runs_on_the_rtl_bit_exact_near_its_cost_model(shape, bias, request):
    """The DRAM scheme: GEMM 64 (and a ragged 37 x 45 x 29 without bias) on small's RTL in the direct harness: every
    section equals the golden array model bit for bit, the result is within the graph's bound, the
    sections share one bitstream (after the first, a reconfiguration is the swap alone) and each section's cycles are
    within 10 % of the cost model; GEMM 64 keeps all 8 PCUs busy at >= 65 % of the physical peak
    (lanes x stages x PCUs multiply-adds per cycle), configuration included, on the default DDR4
    memory (each of its 4 sections waits 100 cycles for its first weights; 73 % on the ideal one)."""
    seed = test_seed(request)
    graph, cfg = _gemm(*shape, bias=bias), preset("small")
    program = map_graph(graph, cfg, seed=1, matmul_mode="systolic", partial_sums="dram")
    assert {p.phase.mode for p in program.phases} == {"systolic"}
    assert len({p.bitstream for p in program.phases}) == 1
    assert program.loads[1:] == [SEAL_BEATS] * (len(program.phases) - 1)  # nothing changes: the seal alone
    assert program.reconfigurations[1:] == [SWAP_CYCLES] * (len(program.phases) - 1)  # hidden but the swap
    run = run_program(program, check_inputs(graph, random_inputs(graph, seed)), harness="direct", tag="test-systolic")
    assert run.ok, (run.mismatches, run.max_error, run.bound)
    for phase in run.phases:
        print(phase)
        assert abs(phase.cycles - phase.estimate) <= 0.1 * phase.cycles, phase
    if shape == (64, 64, 64):
        m, k, n = shape
        total = sum(p.cycles + p.reconfiguration for p in run.phases)
        peak = cfg.lanes * cfg.stages * 8
        print(f"GEMM 64: {total} cycles, {m * n * k / total:.1f} multiply-adds per cycle of {peak}")
        assert program.pcus_used() == 8 and m * n * k / total >= 0.65 * peak


@pytest.mark.parametrize("shape,bias", [((64, 64, 64), True), ((37, 45, 29), False), ((8, 64, 64), True)])
def test_a_partial_sum_ring_runs_every_k_section_in_one_configuration_bit_exact(shape, bias, request):
    """The ring scheme on small's RTL (direct harness, DDR4): one phase for all K rounds (a PMU FIFO per
    chain, starting filled, takes the last link's sums back to the first, which reads its first round's
    as zero), bit for bit the golden array model's, within the graph's bound; only the weight tiles
    cross DRAM; the run within 10 % of the cost model (2 % when fitted); GEMM 64 at >= 78 % of the
    physical peak, configuration included (the DRAM scheme's sections: >= 65 %, test above), and faster
    than the PMU scheme's four configurations on the same RTL by the cost model. GEMM 8 x 64 x 64 is
    bound by the ring's turn (8 rows a round)."""
    seed = test_seed(request)
    graph, cfg = _gemm(*shape, bias=bias), preset("small")
    program = map_graph(graph, cfg, seed=1, matmul_mode="systolic")
    (placed,) = program.phases
    t = placed.phase.t
    assert placed.phase.partial_sums == "ring" and len(t.sections) >= 2, t
    run = run_program(program, check_inputs(graph, random_inputs(graph, seed)), harness="direct", tag="test-ring")
    assert run.ok, (run.mismatches, run.max_error, run.bound)
    assert sum(d["bytes"] for d in run.dram) == t.chains * placed.phase.tile_words * 4
    (phase,) = run.phases
    print(t, phase)
    assert abs(phase.cycles - phase.estimate) <= 0.1 * phase.cycles, phase
    if shape == (64, 64, 64):
        m, k, n = shape
        total = phase.cycles + phase.reconfiguration
        peak = cfg.lanes * cfg.stages * t.pcus
        print(f"GEMM 64 in a ring: {total} cycles, {m * n * k / total:.1f} multiply-adds per cycle of {peak}")
        assert t.pcus == 8 and m * n * k / total >= 0.78 * peak
        sections = map_graph(graph, cfg, seed=1, matmul_mode="systolic", partial_sums="pmu")
        assert program.estimate_cycles() < 0.9 * sections.estimate_cycles()


def test_a_ring_on_weights_used_again_loads_them_once_into_pmus_and_later_rings_read_them_there(request):
    """Two copies of a GEMM on the same weights in one program (batches through a loaded program):
    the first ring writes each chain's weight tiles into a W PMU as they stream past, the later one
    reads them there (a start token begins the read with the FIFO's): bit for bit the golden array
    model's on small's RTL, only the first crosses DRAM, every run within 10 % of the cost model."""
    seed = test_seed(request)
    graph, cfg = _gemm(24, 44, 32).repeated(2), preset("small")
    program = map_graph(graph, cfg, seed=1, matmul_mode="systolic")
    assert [(p.phase.partial_sums, p.phase.variant) for p in program.phases] == \
        [("ring", "load"), ("ring", "loaded")]
    first = program.phases[0].phase
    assert program.phases[1].phase.weight_sources() == {"w": "resident in PMUs since mm0 (systolic weight tiles, "
                                                               "K in rounds around a ring)"}
    run = run_program(program, check_inputs(graph, random_inputs(graph, seed)), harness="direct", tag="test-ring-resident")
    assert run.ok, (run.mismatches, run.max_error, run.bound)
    assert [d["bytes"] for d in run.dram] == [first.t.chains * first.tile_words * 4, 0]
    for phase in run.phases:
        print(phase)
        assert abs(phase.cycles - phase.estimate) <= 0.1 * phase.cycles, phase
    # a chain's tiles must fit its W PMU: GEMM 64 with its bias row (65 x 16 words per chain) does not
    assert [p.phase.variant for p in map_graph(_gemm(64, 64, 64).repeated(2), cfg, seed=1,
                                               matmul_mode="systolic").phases] == [None, None]


def test_a_ring_in_k_parts_adds_them_on_adder_pcus_and_keeps_its_weights_resident(request):
    """GEMM 8 x 128 x 8 twice on small's RTL: 8 rows a round cannot fill a ring's turn, so its K goes
    in 3 parts round 3 rings side by side (each its own X streams, weight tiles and FIFO), an adder PCU
    per column group summing the parts' sums round by round (the last round's is Y): rings of one link,
    whose turn is a link's, not the three of the best one-part ring in as many rounds. Bit for bit the golden array model's, within the graph's bound; the first run loads every
    chain's tiles into its W PMU, the second reads them there (no DRAM); each within 10 % of the cost
    model, which finds the parts faster than one ring."""
    seed = test_seed(request)
    graph, cfg = _gemm(8, 128, 8).repeated(2), preset("small")
    program = map_graph(graph, cfg, seed=1, matmul_mode="systolic")
    first, second = (p.phase for p in program.phases)
    t = first.t
    assert (first.variant, second.variant, t.parts, t.chains) == ("load", "loaded", 3, 3), t
    assert first.units_used()["pcu"] == t.pcus + t.groups  # the multiplying links and an adder per group
    one = tile_systolic(cfg, "mm0", 8, 128, 8, True, "ring", resident=True, parts=1)
    assert t.estimate < 0.75 * one.estimate and t.chain < one.chain, (t, one)
    run = run_program(program, check_inputs(graph, random_inputs(graph, seed)), harness="direct", tag="test-ring-parts")
    assert run.ok, (run.mismatches, run.max_error, run.bound)
    assert [d["bytes"] for d in run.dram] == [t.chains * first.tile_words * 4, 0]
    for phase in run.phases:
        print(phase)
        assert abs(phase.cycles - phase.estimate) <= 0.1 * phase.cycles, phase


def _mlp2(m, k, h, n):
    """x -> matmul + b -> ReLU -> matmul + b."""
    g = GraphBuilder()
    x = g.input("x", (m, k))
    y = g.add(g.matmul(x, g.weight("w1", shape=(k, h), seed=1, scale=1 / np.sqrt(k))), g.weight("b1", shape=(h,), seed=2))
    w2 = g.weight("w2", shape=(h, n), seed=3, scale=1 / np.sqrt(h))
    g.output(g.add(g.matmul(g.relu(y), w2), g.weight("b2", shape=(n,), seed=4), name="z"))
    return g.graph()


@pytest.mark.parametrize("parts", [None, 1], ids=["adders", "one-part"])
def test_a_relu_between_systolic_layers_comes_from_the_producing_ring(parts, request, monkeypatch):
    """Where PCUs have 2 vector outputs (medium), the ring that computes a ReLU's input sends the ReLU
    of its sums, so the layer after reads it with no elementwise phase between them: from its adders
    where its K runs in parts (the cost model's choice here: 3), from its last link in one part (whose
    last stage takes fmax(p, 0) while the ring goes on with p). Bit for bit the golden array model's on
    medium's RTL, within the graph's bound, each phase within 10 % of the cost model. On small (1
    vector output) the ring in parts takes it in its adders too (checked on small's RTL), and in one
    part the ReLU stays an elementwise phase; the PCU program refuses a ReLU output it cannot have."""
    seed = test_seed(request)
    if parts:
        monkeypatch.setattr(ops, "tile_systolic", functools.partial(tile_systolic, parts=parts))
    graph = _mlp2(16, 30, 40, 24)
    for cfg in (preset("medium"), preset("small")):
        program = map_graph(graph, cfg, seed=1, matmul_mode="systolic")
        if parts and cfg.vector_outputs < 2:  # one part: the tail would need a second vector output
            assert [p.phase.name for p in program.phases] == ["mm0", "mm3r", "mm3"]
            continue
        assert [(p.phase.name, p.phase.partial_sums, p.phase.t.relu_out) for p in program.phases] == \
            [("mm0", "ring", True), ("mm3", "ring", False)]
        assert (program.phases[0].phase.t.parts > 1) == (parts is None)
        run = run_program(program, check_inputs(graph, random_inputs(graph, seed)), harness="direct",
                          tag="test-ring-relu")
        assert run.ok, (cfg.name, run.mismatches, run.max_error, run.bound)
        for phase in run.phases:
            print(cfg.name, phase)
            assert abs(phase.cycles - phase.estimate) <= 0.1 * phase.cycles, (cfg.name, phase)
    with pytest.raises(ValueError, match="relu_out 1: a vector output other than 0 .of 1."):
        systolic_program(preset("small"), rows=4, relu_out=1)


def test_the_mode_of_a_matmul_after_a_relu_is_weighed_with_the_relu_from_the_producing_ring(request, monkeypatch):
    """A GEMV after a ring and a ReLU (DLRM's last top layer, on medium): the systolic mode needs its
    input's ReLU from an elementwise phase; the producing ring can send that ReLU instead
    (``_relu_from_producer``), and ``matmul_phases`` weighs the systolic mode so: two rings, no ReLU
    phase, a program the cost model finds cheaper than what it took before (``_producer_sending_relu``
    disabled: the ring, the ReLU's elementwise phase and a ring for the GEMV; a SIMD GEMV with the ReLU
    fused into its first stage, 64 X blocks paced by their writes, costs more); bit for bit on medium's
    RTL, each phase within 10 % of the cost model."""
    from rdagen.mapper.lowering import lower
    from rdagen.mapper.lowering.state import Lowering

    seed = test_seed(request)
    graph, cfg = _mlp2(64, 128, 64, 1), preset("medium")

    def lowered() -> Lowering:
        state = Lowering(graph, cfg, "streamed", memory=DDR4)
        state.phases = lower(graph, cfg, "streamed", memory=DDR4)
        return state

    now = lowered()
    assert [(p.name, type(p).__name__, p.t.relu_out) for p in now.phases] == \
        [("mm0", "SystolicRingPhase", True), ("mm3", "SystolicRingPhase", False)]
    with monkeypatch.context() as m:
        m.setattr(ops, "_producer_sending_relu", lambda *args: None)
        before = lowered()
    assert [type(p).__name__ for p in before.phases] == ["SystolicRingPhase", "EltwisePhase", "SystolicRingPhase"], \
        before.phases
    assert now.program_cost() < before.program_cost(), (now.program_cost(), before.program_cost())
    program = map_graph(graph, cfg, seed=1, mlp_weights="streamed")
    assert [p.phase.name for p in program.phases] == ["mm0", "mm3"]
    run = run_program(program, check_inputs(graph, random_inputs(graph, seed)), harness="direct", tag="test-gemv-relu")
    assert run.ok, (run.mismatches, run.max_error, run.bound)
    for phase in run.phases:
        print(phase)
        assert abs(phase.cycles - phase.estimate) <= 0.1 * phase.cycles, phase


@pytest.mark.parametrize("config", ["small", "medium"])
def test_a_relu_after_a_layer_comes_from_its_ring_instead_of_a_phase_of_its_own(config, request, monkeypatch):
    """A layer whose result only a ReLU reads, and not as a matmul's input (DLRM's bottom MLP before the
    interaction), 128 -> 32 at 8 samples: before, the matmul's ring and the ReLU's elementwise phase, Y
    written to DRAM and read back; now a ring that sends the ReLU of its sums (``_ring_sending_relu_after``: from
    its adders, the cost model's choice here, as it must be on small, whose PCUs have one vector output), the relu
    node absorbed, a program the cost model finds cheaper. Bit for bit on the RTL, within the graph's
    bound, the ring within 10 % of the cost model."""
    from rdagen.mapper.lowering import lower
    from rdagen.mapper.lowering.state import Lowering

    seed = test_seed(request)
    g = GraphBuilder()
    x = g.input("x", (8, 128))
    y = g.add(g.matmul(x, g.weight("w", shape=(128, 32), seed=1, scale=1 / 11)), g.weight("b", shape=(32,), seed=2))
    g.output(g.relu(y, name="z"))
    graph, cfg = g.graph(), preset(config)

    def lowered() -> Lowering:
        state = Lowering(graph, cfg, "streamed", memory=DDR4)
        state.phases = lower(graph, cfg, "streamed", memory=DDR4)
        return state

    now = lowered()
    assert [(p.name, type(p).__name__, p.t.relu_out, p.writes) for p in now.phases] == \
        [("mm0", "SystolicRingPhase", True, ("z",))]
    assert now.phases[0].t.parts > 1 or cfg.vector_outputs > 1  # one part: its last link's second output
    with monkeypatch.context() as m:
        m.setattr(ops, "_ring_sending_relu_after", lambda *args: None)
        before = lowered()
    assert [(p.name, type(p).__name__) for p in before.phases] == [("mm0", "SystolicRingPhase"), ("relu2", "EltwisePhase")]
    assert now.program_cost() < before.program_cost(), (now.program_cost(), before.program_cost())
    program = map_graph(graph, cfg, seed=1, mlp_weights="streamed")
    assert [p.phase.name for p in program.phases] == ["mm0"]
    run = run_program(program, check_inputs(graph, random_inputs(graph, seed)), harness="direct", tag="test-relu-after")
    assert run.ok, (run.mismatches, run.max_error, run.bound)
    for phase in run.phases:
        print(phase)
        assert abs(phase.cycles - phase.estimate) <= 0.1 * phase.cycles, phase


def test_the_resident_rings_of_a_model_share_one_bank_of_weight_pmus(request):
    """Two batches of a two-layer MLP (layer by layer, systolic rings) through one program on medium's
    RTL: the first batch's rings write their tiles into ONE bank of W PMUs (the second layer's chain 0
    in the first layer's chain-0 PMU, after its words), the second batch's rings read them there: bit
    for bit the golden array model's, within the graph's bound, only the first batch's weights cross
    DRAM, every run within 10 % of the cost model."""
    seed = test_seed(request)
    graph, cfg = _mlp2(16, 30, 40, 24).repeated(2), preset("medium")
    program = map_graph(graph, cfg, seed=1, matmul_mode="systolic", mlp_weights="streamed")
    phases = [p.phase for p in program.phases]
    assert [(p.partial_sums, p.variant) for p in phases] == [("ring", "load")] * 2 + [("ring", "loaded")] * 2
    first, second = program.phases[:2]
    assert second.phase.base >= first.phase.tile_words and first.phase.base == 0
    bank = {u: first.placement.sites[u] for u in first.phase.resident_units()}
    assert {u: second.placement.sites[u] for u in second.phase.resident_units()}.items() <= bank.items()
    run = run_program(program, check_inputs(graph, random_inputs(graph, seed)), harness="direct", tag="test-ring-bank")
    assert run.ok, (run.mismatches, run.max_error, run.bound)
    assert [d["bytes"] > 0 for d in run.dram] == [True, True, False, False], run.dram
    for phase in run.phases:
        print(phase)
        assert abs(phase.cycles - phase.estimate) <= 0.1 * phase.cycles, phase


def test_a_ring_whose_weights_fit_no_bank_leaves_the_other_weights_resident():
    """Two batches of a graph with a GEMM 64 (a ring whose tiles, 65 x 16 words a chain, fit no W PMU
    of small) and a two-layer MLP: the ring streams its weights every batch, the MLP's stay resident
    (the ring leaves the residency search; it does not take the MLP out with it)."""
    g = GraphBuilder()
    x = g.input("x", (64, 64))
    g.output(g.add(g.matmul(x, g.weight("w", shape=(64, 64), seed=1, scale=1 / 8)),
                   g.weight("b", shape=(64,), seed=2, scale=0.1), name="y"))
    x2 = g.input("x2", (4, 6))
    h = g.add(g.matmul(x2, g.weight("w1", shape=(6, 8), seed=3)), g.weight("b1", shape=(8,), seed=4))
    g.output(g.add(g.matmul(g.relu(h), g.weight("w2", shape=(8, 4), seed=5)), g.weight("b2", shape=(4,), seed=6),
                   name="z"))
    program = map_graph(g.graph().repeated(2), preset("small"), seed=1, matmul_mode="systolic", mlp_weights="resident")
    assert [(p.phase.name, p.phase.variant and p.phase.variant[0]) for p in program.phases] == \
        [("mm0", None), ("mlp2", "load"), ("mm7", None), ("mlp9", "loaded")]
    assert program.phases[3].phase.weight_sources() == {"w1": "resident in PMUs since mlp2",
                                                         "w2": "resident in PMUs since mlp2"}


def test_the_mapper_takes_the_systolic_mode_where_the_cost_model_finds_it_faster():
    cfg = preset("small")
    graph = _gemm(64, 64, 64)
    auto, simd = map_graph(graph, cfg, seed=1), map_graph(graph, cfg, seed=1, matmul_mode="simd")
    assert {p.phase.mode for p in auto.phases} == {"systolic"} and [p.phase.mode for p in simd.phases] == ["simd"]
    assert 2.5 * auto.estimate_cycles() < simd.estimate_cycles()  # 2,982 against 8,897 cycles
    # a matmul reading a ReLU of its input: the SIMD mode fuses the ReLU into its first stage; the
    # systolic mode (all its stages multiply-adds) takes it from an elementwise phase before it
    relu = _gemm(8, 12, 8, relu_in=True)
    assert [p.phase.mode for p in map_graph(relu, cfg, seed=1).phases] == ["simd"]
    forced = map_graph(relu, cfg, seed=1, matmul_mode="systolic")
    assert [(p.phase.name, p.phase.mode) for p in forced.phases] == [("mm1r", ""), ("mm1", "systolic")]
    run = run_program(forced, check_inputs(relu, random_inputs(relu, 3)), harness="direct", tag="test-systolic-relu")
    assert run.ok, (run.mismatches, run.max_error, run.bound)
    # tiny's PCUs have two vector inputs; the systolic mode needs three
    with pytest.raises(MapError, match="needs 3 PCU vector inputs .* tiny has 2"):
        map_graph(_gemm(4, 4, 4), preset("tiny"), seed=1, matmul_mode="systolic")
    assert [p.phase.mode for p in map_graph(_gemm(4, 4, 4), preset("tiny"), seed=1).phases] == ["simd"]


@pytest.mark.parametrize("shape,bias", [((64, 64, 64), True), ((50, 24, 20), False)])
def test_partial_sums_in_pmus_never_cross_dram_and_run_bit_exact_on_the_rtl(shape, bias, request):
    """The PMU scheme on small's RTL (direct harness, DDR4): every section equals the golden array model
    bit for bit and the result is within the graph's bound; only the weights cross DRAM (the bytes the
    memory saw are the weight tiles' alone); four bitstreams (first, the two alternations, last) on one
    placement, each load hidden behind the section before (what remains is the swap); each section
    within 10 % of the cost model."""
    seed = test_seed(request)
    graph, cfg = _gemm(*shape, bias=bias), preset("small")
    program = map_graph(graph, cfg, seed=1, matmul_mode="systolic", partial_sums="pmu")
    phases = [p.phase for p in program.phases]
    t = phases[0].t
    assert t.psums == "pmu" and len(t.sections) >= 2
    assert len({p.bitstream for p in program.phases}) == min(4, len(t.sections))
    assert len({id(p.placement) for p in program.phases}) == 1
    assert program.reconfigurations[1:] == [SWAP_CYCLES] * (len(phases) - 1)
    assert [p.pmu_state for p in phases] == [False] + [True] * (len(phases) - 1)
    run = run_program(program, check_inputs(graph, random_inputs(graph, seed)), harness="direct", tag="test-systolic")
    assert run.ok, (run.mismatches, run.max_error, run.bound)
    weights = len(t.sections) * t.groups * phases[0].tile_words * 4
    assert sum(d["bytes"] for d in run.dram) == weights
    for phase in run.phases:
        print(phase)
        assert abs(phase.cycles - phase.estimate) <= 0.1 * phase.cycles, phase


def test_partial_sums_in_pmus_are_refused_where_they_cannot_stay():
    cfg = preset("small")
    # a chain's partial sums (128 rows x its 4 or more column blocks x 4 lanes) do not fit a PMU of 1,024 words
    with pytest.raises(MapError, match="partial sums in PMUs do not fit small: a chain's .128 rows"):
        map_graph(_gemm(128, 128, 128), cfg, seed=1, matmul_mode="systolic", partial_sums="pmu")
    with pytest.raises(MapError, match="partial sums 'disk': valid: auto, dram, pmu, ring"):
        map_graph(_gemm(8, 8, 8), cfg, seed=1, partial_sums="disk")
    # a ring holds a chain's rows x its column blocks in a PMU FIFO (small: 256 vectors) and counts rounds
    # on a third PCU counter (medium has 3)
    with pytest.raises(MapError, match="a partial-sum ring does not fit small: .* a chain's 300 rows x its "
                                       "column blocks within a PMU FIFO of 256 vectors"):
        map_graph(_gemm(300, 16, 64), cfg, seed=1, matmul_mode="systolic", partial_sums="ring")
    two = dataclasses.replace(preset("medium"), name="two-counters", counters=2)
    with pytest.raises(MapError, match="a partial-sum ring does not fit two-counters: it needs 3 PCU counters .it has 2."):
        map_graph(_gemm(8, 16, 8), two, seed=1, matmul_mode="systolic", partial_sums="ring")
    # a harness that runs each phase on its own would lose the PMUs' contents: refused before any run
    graph = _gemm(20, 50, 40)
    program = map_graph(graph, cfg, seed=1, matmul_mode="systolic", partial_sums="pmu")
    for harness in ("specialised", "cocotb"):
        with pytest.raises(ValueError, match=r"phase mm0s1 reads what the phase before left in the PMUs.*"
                                             rf"the {harness} harness runs each phase on its own.*partial sums in DRAM or a ring"):
            run_program(program, check_inputs(graph, random_inputs(graph, 1)), harness=harness)


def test_gemm_1024_on_plasticine_by_the_cost_model_fills_the_array_on_ddr4():
    """GEMM 1024 on plasticine mapped on the default DDR4 memory: partial sums in a ring (only the weights
    cross DRAM, one configuration), every PCU in a chain and >= 95 % of the physical peak (lanes x stages
    x PCUs multiply-adds per cycle) by the cost model, configuration and the memory's latency included;
    the PMU scheme's 43 configurations >= 85 %."""
    cfg = preset("plasticine")
    g = GraphBuilder()
    g.output(g.matmul(g.input("x", (1024, 1024)), g.weight("w", shape=(1024, 1024), seed=1), name="y"))
    program = map_graph(g.graph(), cfg, seed=1, matmul_mode="systolic")
    t = program.phases[0].phase.t
    ideal = 1024**3 / (cfg.lanes * cfg.stages * 64)
    print(t, program.estimate_cycles(), f"{ideal / program.estimate_cycles():.3f} of the peak")
    assert t.psums == "ring" and program.pcus_used() == 64
    assert ideal >= 0.95 * program.estimate_cycles()
    sections = map_graph(g.graph(), cfg, seed=1, matmul_mode="systolic", partial_sums="pmu")
    assert ideal >= 0.85 * sections.estimate_cycles() and sections.phases[0].phase.t.psums == "pmu"
    # the DRAM scheme's partial sums (2 x 4 MB a section) would hold it to a fifth of the peak
    assert tile_systolic(cfg, "gemm", 1024, 1024, 1024, partial_sums="dram", memory=DDR4).psums == "dram"


def test_the_run_command_keeps_partial_sums_where_its_harness_can(tmp_path, capsys):
    """`rdagen run` with a harness that runs each phase on its own: --partial-sums pmu refused (exit 2,
    naming why, nothing written); a program for such a harness (``pmus_kept`` false) takes the ring or
    DRAM, never PMU pairs, in ``auto``."""
    from rdagen.cli import main

    graph = tmp_path / "gemm.json"
    graph.write_text(_gemm(20, 50, 40).to_json())
    out = tmp_path / "out"
    assert main(["run", str(graph), "--config", "small", "--harness", "cocotb", "--partial-sums", "pmu",
                 "--out", str(out)]) == 2
    assert "--partial-sums pmu needs one continuous run (--harness direct or golden); the cocotb harness" in \
        capsys.readouterr().err
    assert not out.exists()
    assert main(["map", str(graph), "--config", "small", "--matmul-mode", "systolic", "--partial-sums", "pmu",
                 "--out", str(out)]) == 0
    assert "systolic partial sums between K sections: in PMUs (two per chain): mm0s0, mm0s1" in \
        (out / "report.txt").read_text()
    # PCUs of 2 counters (no ring) on the ideal memory: GEMM 20 x 50 x 40 takes PMU pairs where it can
    two = dataclasses.replace(preset("small"), name="small-2-counters", counters=2)
    schemes = [{p.phase.partial_sums for p in map_graph(_gemm(20, 50, 40), two, seed=1, matmul_mode="systolic",
                                                        memory=IDEAL, pmus_kept=kept).phases} for kept in (True, False)]
    assert schemes == [{"pmu"}, {"dram"}]
