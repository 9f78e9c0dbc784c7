"""The MLP phase (mapper/phases/mlp.py): a chain of Linear layers in one configuration, the weights resident
in PMUs and the samples pipelined through the layers. On the RTL (direct harness) it equals the golden
array model bit for bit and NumPy within the fp32 bound, and the cost model is within 10 % of the RTL's
cycles; the lowering fuses exactly the chains it may, by the ``mlp_weights`` choice; the weights cross
the array's edge once per run whatever the batch; refusals name the resource.

Seeds are printed; rerun with ``pytest --seed N``.
"""

import numpy as np
import pytest

from rdagen.mapper.frontend.graph import GraphBuilder
from rdagen.mapper.frontend.inputs import check_inputs, random_inputs
from rdagen.mapper.phases.matmul import feeders, reduction_depth
from rdagen.mapper.phases.mlp import Layer, MlpPhase
from rdagen.mapper.phases.phase import MapError
from rdagen.mapper.phases.phase import place_and_route
from rdagen.mapper.program import Program, lower, map_graph
from rdagen.mapper.apps.workloads import mlp_graph
from rdagen.rtl.spec.config import preset
from rdagen.rtl.spec.memory import DDR4, IDEAL
from rdagen.mapper.lowering.state import Lowering
from rdagen.cli import main
from rdagen.sim.graph_run import run_program
from rdagen.mapper.report import text_report

from .conftest import test_seed


CASES = [  # config, samples, widths, a ReLU after the last layer (the epilogue PCU), ReLUs between the layers:
    # chains of links (layer 0 on small), one-link layers, D = lanes, odd widths; groups of column blocks
    # feeding the next layer's links one each (layer 0 on small: a chain after it needs 4 stages, 5 with
    # the ReLU, and small has 4), the last group holding the next layer's 1.0 column
    ("small", 1, (13, 16, 8, 4), False, True),
    ("small", 8, (8, 8, 4), True, True),
    ("small", 6, (7, 3, 10, 2, 5), False, True),
    ("tiny", 5, (3, 3, 2), True, True),
    ("small", 1, (5, 40, 12), False, False),
    ("small", 2, (5, 28, 4), True, False),
    # medium's 6 stages and 3 vector inputs: the links add their partial sums in a tree (``tree_links``)
    ("medium", 1, (200, 64, 32, 8), False, True),
    ("medium", 1, (120, 64, 24), False, False),
    # short layers over many samples: the pace is the X PMUs' double-buffer round, whose turn grows with
    # the PMU's address stages, not the PCU's (4 cycles a PCU stage was 20 % and 18 % over here)
    ("medium", 32, (6, 16, 5), False, True),
    ("medium", 64, (13, 24, 1), False, True),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-m{c[1]}-{'-'.join(map(str, c[2]))}{'-relu' * c[3]}{'-linear' * (not c[4])}"
                                             for c in CASES])
def test_an_mlp_phase_on_the_rtl_equals_the_golden_model_and_numpy(request, case):
    config, m, widths, relu_last, relu_between = case
    seed = test_seed(request)
    print(f"[seed] {seed}")
    cfg = preset(config)
    graph = mlp_graph(m, widths, seed % 1000, relu_last, relu_between)
    program = map_graph(graph, cfg, seed=seed % 1000, mlp_weights="resident")
    assert [p.phase.name for p in program.phases] == ["mlp0"]  # the ReLU after the last layer included
    phase = program.phases[0].phase
    assert bool(phase.epilogue) == relu_last
    print("groups x links per layer:", [(t.groups, t.chain) for t in phase.tilings])
    assert phase.trees == tuple(cfg.stages >= 5 + layer.relu_in and cfg.vector_inputs >= 3 and cfg.registers >= 5
                                for layer in phase.layers)
    if config == "medium":
        assert all(phase.trees) and max(t.chain for t in phase.tilings) >= 3  # some link adds two feeders' sums
    if not relu_between:  # the grouped cases: layer 0's groups are layer 1's links
        assert phase.tilings[0].groups > 1 and phase.tilings[1].chain == phase.tilings[0].groups
    run = run_program(program, check_inputs(graph, random_inputs(graph, seed)), harness="direct")
    assert not run.mismatches, run.mismatches  # bit-exact with the golden model
    assert all(run.within.values()), (run.max_error, run.bound)
    cycles, estimate = run.phases[0].cycles, program.estimates[0]
    print(f"cycles {cycles}, cost model {estimate}")
    assert abs(estimate - cycles) <= 0.1 * cycles


def test_grouped_layers_of_a_relu_mlp_on_medium_equal_numpy():
    """Groups in every layer but the last, the next layer's links one per group, with the ReLU stage
    (chains after groups need 5 stages: medium has 6): the golden array model within the fp32 bound."""
    cfg = preset("medium")
    graph = mlp_graph(3, (13, 40, 24, 4), 5)
    program = map_graph(graph, cfg, seed=5, mlp_weights="resident")
    tilings = program.phases[0].phase.tilings
    assert [t.groups > 1 for t in tilings] == [True, True, False], tilings
    assert all(after.chain == before.groups for before, after in zip(tilings, tilings[1:]))
    run = run_program(program, check_inputs(graph, random_inputs(graph, 5)), harness=None)
    assert all(run.within.values()), (run.max_error, run.bound)


def test_a_group_holds_outputs_besides_the_next_layers_one_column():
    """24 outputs and the 1.0 column are 7 blocks of 4 on small; in 3, 4 or 7 groups (of 3, 2 and 1
    blocks) the last would hold the 1.0 alone (an empty K range for the next layer's last link):
    refused, as is a next layer fed by such groups."""
    from rdagen.mapper.phases.mlp import _tiling
    cfg, layer = preset("small"), Layer("w", "b", False, 3, 24, "y")
    assert [_tiling(cfg, 1, layer, False, 1, groups=g) is None for g in (7, 4, 3)] == [True] * 3
    assert _tiling(cfg, 1, layer, False, 1, groups=2).blocks == 4  # the last group: columns 16 to 31
    after = Layer("w", "b", False, 24, 5, "z")
    assert _tiling(cfg, 1, after, True, 1, fed_by=1) is None and _tiling(cfg, 1, after, True, 1, fed_by=2) is None
    after = Layer("w", "b", False, 23, 5, "z")  # groups of 8 columns, the last with the 1.0 at column 23
    assert _tiling(cfg, 1, after, True, 1, fed_by=2).chunks == ((0, 8), (8, 16), (16, 23))


SHARED = [  # config, samples, widths (no ReLU between), loaders: several W PMUs on one loader's stream
    ("small", 2, (5, 28, 4), 2),
    ("small", 4, (9, 20, 12, 3), 1),
]


@pytest.mark.parametrize("case", SHARED, ids=[f"{c[0]}-m{c[1]}-{'-'.join(map(str, c[2]))}-loaders{c[3]}" for c in SHARED])
def test_w_pmus_sharing_a_loader_take_their_parts_through_write_windows(request, case):
    """Fewer loaders than links (what a configuration that keeps AGs for other work gives an MLP): a
    loader multicasts the parts of its links one after the other, each W PMU writing its own through a
    window. RTL = golden bit for bit, NumPy within the bound, the cost model within 10 %, and every
    part crosses the edge once."""
    config, m, widths, loaders = case
    seed = test_seed(request)
    print(f"[seed] {seed}")
    cfg = preset(config)
    graph = mlp_graph(m, widths, seed % 1000, relu_between=False)
    layers = tuple(Layer(f"w{n}", f"b{n}", False, k, w, graph.nodes[2 * n + 1].output)
                   for n, (k, w) in enumerate(zip(widths, widths[1:])))
    phase = MlpPhase(cfg, "mlp0", tuple(range(len(graph.nodes))), "x", layers, m, loaders=loaders)
    assert len(phase.streams) == loaders and len(phase.links) > loaders
    program = Program(cfg, graph, [place_and_route(phase, cfg, seed=seed % 1000)], seed % 1000, 0.0)
    arrays = check_inputs(graph, random_inputs(graph, seed))
    io = program.phases[0].io({**arrays, **{n: t.values for n, t in graph.weights.items()}})
    streamed = sum(len(w) for regions in io.dram.values() for w in regions.values())
    streamed += sum(len(v) * cfg.lanes for k, v in io.sources.items()
                    if k.startswith("vsend") and k != f"vsend__{program.phases[0].placement.sites['mlp0.host0'][0]}")
    assert streamed == sum(phase.streams) == sum(t.kb(j) * t.blocks * cfg.lanes for i, g, j in phase.links
                                                 for t in [phase.tilings[i]])
    run = run_program(program, arrays, harness="direct")
    assert not run.mismatches, run.mismatches
    assert all(run.within.values()), (run.max_error, run.bound)
    cycles, estimate = run.phases[0].cycles, program.estimates[0]
    print(f"cycles {cycles}, cost model {estimate}")
    assert abs(estimate - cycles) <= 0.1 * cycles


def _layers(widths):
    return tuple(Layer(f"w{n}", f"b{n}", n > 0, k, width, f"y{n}") for n, (k, width) in enumerate(zip(widths, widths[1:])))


def test_the_weights_cross_the_edge_once_whatever_the_batch():
    """Resident: a W PMU's words arrive once (the load), however many samples read them."""
    cfg = preset("small")
    rng = np.random.default_rng(0)
    widths = (9, 12, 5)
    tensors = {f"w{n}": rng.standard_normal((k, w)).astype(np.float32) for n, (k, w) in enumerate(zip(widths, widths[1:]))}
    tensors |= {f"b{n}": rng.standard_normal(w).astype(np.float32) for n, w in enumerate(widths[1:])}
    loaded = []
    for m in (1, 16):
        phase = MlpPhase(cfg, "mlp", (), "x", _layers(widths), m)
        units, _ = phase.netlist()
        sites = {u.name: (i, 0) for i, u in enumerate(units)}  # io needs a row per AG and host unit only
        io = phase.io(sites, tensors | {"x": rng.standard_normal((m, widths[0])).astype(np.float32)})
        words = sum(len(w) for regions in io.dram.values() for w in regions.values())
        words += sum(len(v) * cfg.lanes for k, v in io.sources.items() if k.startswith("vsend") and k != "vsend__0")
        loaded.append(words)
    padded = sum((k + 1) * -(-(w + (n == 0)) // cfg.lanes) * cfg.lanes
                 for n, (k, w) in enumerate(zip(widths, widths[1:])))  # layer 0 also makes layer 1's 1.0 column
    assert loaded == [padded, padded]


def test_the_lowering_fuses_chains_of_linear_layers_by_the_choice():
    cfg = preset("small")
    names = lambda graph, mode: [p.name for p in lower(graph, cfg, mode)]  # noqa: E731
    graph = mlp_graph(8, (6, 5, 4, 3), 1)
    assert names(graph, "resident") == ["mlp0"]
    # streamed: each layer's matmul phases (a systolic one takes its input's ReLU from a phase "r" before it)
    streamed_names = names(graph, "streamed")
    assert [n for n in streamed_names if not n.endswith("r")] == ["mm0", "mm3", "mm6"]
    assert set(streamed_names) <= {"mm0", "mm3r", "mm3", "mm6r", "mm6"}
    # auto: the lower of the MLP phase's and the matmul phases' cost (cycles + unit configuration)
    resident, streamed = lower(graph, cfg, "resident"), lower(graph, cfg, "streamed")
    cost = lambda phases: sum(p.estimate_cycles + p.unit_configuration_cycles(cfg) for p in phases)  # noqa: E731
    assert names(graph, "auto") == (["mlp0"] if cost(resident) < cost(streamed) else streamed_names)
    # not fused: layers without a bias, a single layer, a layer whose result is used twice
    g = GraphBuilder()
    g.output(g.matmul(g.relu(g.matmul(g.input("x", (8, 6)), g.weight("w0", shape=(6, 5), seed=1))),
                      g.weight("w1", shape=(5, 4), seed=2)))
    assert names(g.graph(), "resident") == ["mm0", "mm2"]
    assert names(mlp_graph(8, (6, 5), 1), "resident") == ["mm0"]
    g = GraphBuilder()
    h = g.relu(g.add(g.matmul(g.input("x", (4, 6)), g.weight("w0", shape=(6, 5), seed=1)), g.weight("b0", shape=(5,), seed=2)))
    g.output(g.add(g.matmul(h, g.weight("w1", shape=(5, 3), seed=3)), g.weight("b1", shape=(3,), seed=4)), h)
    phases = lower(g.graph(), cfg, "resident")  # the ReLU from mm0's ring (cheaper than its own phase here)
    assert [(p.name, p.writes) for p in phases] == [("mm0", (h,)), ("mm3", (phases[1].y,))] and phases[0].t.relu_out
    # the ReLU after the chain is its epilogue; a sigmoid longer than a PCU (29 ops, 4 stages) is not
    assert names(mlp_graph(8, (6, 5, 4, 3), 1, relu_last=True), "resident") == ["mlp0"]
    g = GraphBuilder()
    y = g.add(g.matmul(g.relu(g.add(g.matmul(g.input("x", (4, 6)), g.weight("w0", shape=(6, 5), seed=1)),
                                    g.weight("b0", shape=(5,), seed=2))), g.weight("w1", shape=(5, 3), seed=3)),
              g.weight("b1", shape=(3,), seed=4))
    g.output(g.sigmoid(y))
    assert names(g.graph(), "resident") == ["mlp0", "sigmoid5p0", "sigmoid5p1", "sigmoid5p2"]
    # a ReLU fused into the matmul that reads it (no bias: not a layer of the chain) is not the epilogue:
    # the matmul reads the chain's own result (CI seed 143351702905 read a tensor no phase wrote)
    g = GraphBuilder()
    h = g.relu(g.add(g.matmul(g.input("x", (4, 6)), g.weight("w0", shape=(6, 5), seed=1)), g.weight("b0", shape=(5,), seed=2)))
    h = g.relu(g.add(g.matmul(h, g.weight("w1", shape=(5, 4), seed=3)), g.weight("b1", shape=(4,), seed=4)))
    g.output(g.matmul(h, g.weight("w2", shape=(4, 3), seed=5)))
    phases = lower(g.graph(), cfg, "resident")
    assert [p.name for p in phases][0] == "mlp0" and not phases[0].epilogue
    assert [p.name for p in phases][-1] == "mm6"  # (after its input's ReLU "mm6r" in the systolic mode)
    for n, phase in enumerate(phases[1:], 1):
        written = {t for p in phases[:n] for t in p.writes}
        assert set(phase.reads) <= written | {"w2"}, (phase.name, phase.reads, written)
    with pytest.raises(MapError, match="MLP weights 'pinned': valid: auto, resident, streamed"):
        lower(graph, cfg, "pinned")


def test_auto_weighs_the_phases_on_the_lowerings_memory():
    """A matmul phase per layer reads every layer's weights from DRAM, each after a read latency; the MLP
    phase reads them once. On the ideal memory the three matmul phases of this batch-1 MLP cost less,
    on DDR4 (100 cycles of latency, 102.4 B/cycle) the MLP phase does: ``auto`` takes the cheaper on
    the memory it is given (``Lowering.cost``)."""
    cfg, graph = preset("small"), mlp_graph(1, (13, 16, 8, 4), 1)
    choice = {memory.name: [p.name for p in lower(graph, cfg, "auto", memory=memory)] for memory in (IDEAL, DDR4)}
    assert choice == {IDEAL.name: ["mm0", "mm3", "mm6"], DDR4.name: ["mlp0"]}
    for memory in (IDEAL, DDR4):
        state = Lowering(graph, cfg, "auto", memory=memory)
        cost = {mode: sum(map(state.cost, lower(graph, cfg, mode, memory=memory))) for mode in ("resident", "streamed")}
        assert (cost["resident"] < cost["streamed"]) == (memory is DDR4), (memory.name, cost)


def test_auto_keeps_the_per_chain_choice_only_where_the_whole_program_costs_less():
    """``detect_chains`` weighs a chain's MLP phase against its layers' phases with each phase's unit
    configuration in full; in the program each configuration loads into the shadow registers while the
    phase before runs. For this chain followed by a matmul the MLP phase wins chain by chain and loses
    whole (``Lowering.program_cost``): ``auto`` gives the streamed program. Without the matmul after it,
    the MLP phase wins both ways and stays."""
    from rdagen.mapper.lowering import PIPELINE

    cfg = preset("small")

    def chain(tail: bool):
        g = GraphBuilder()
        h = g.input("x", (2, 11))
        for n, (k, width) in enumerate(((11, 13), (13, 5))):
            h = g.relu(g.add(g.matmul(h, g.weight(f"w{n}", shape=(k, width), seed=2 * n + 1)),
                             g.weight(f"b{n}", shape=(width,), seed=2 * n + 2)))
        g.output(g.relu(g.matmul(h, g.weight("w2", shape=(5, 17), seed=5))) if tail else h)
        return g.graph()

    def lowered(graph, weights: str, passes=None) -> Lowering:
        state = Lowering(graph, cfg, weights, memory=DDR4)
        if passes:
            for run in passes:
                run(state)
        else:
            state.phases = lower(graph, cfg, weights, memory=DDR4)
        return state

    for tail in (True, False):
        graph = chain(tail)
        per_chain, streamed = lowered(graph, "auto", PIPELINE), lowered(graph, "streamed")
        chosen = [p.name for p in lower(graph, cfg, "auto", memory=DDR4)]
        assert [p.name for p in per_chain.phases][0] == "mlp0"  # chain by chain the MLP phase wins
        if streamed.program_cost() < per_chain.program_cost():
            assert tail and chosen == [p.name for p in streamed.phases], (tail, chosen)
        else:
            assert not tail and chosen == [p.name for p in per_chain.phases], (tail, chosen)


def test_an_mlp_that_does_not_fit_is_refused_naming_the_resource_and_left_to_matmul_phases():
    tiny = preset("tiny")  # PMUs of 32 words: a 20-input row needs 2 x 22 double-buffered
    with pytest.raises(MapError, match="a sample row of 20 inputs .* needs 44 PMU words"):
        MlpPhase(tiny, "mlp", (), "x", _layers((20, 4, 2)), 4, "the MLP")
    with pytest.raises(MapError, match="7 layers need 7 PCUs and 14 PMUs"):
        MlpPhase(tiny, "mlp", (), "x", _layers((2,) * 8), 4, "the MLP")
    with pytest.raises(MapError, match="the MLP: 0 weight loaders: tiny has 1 to 5"):
        MlpPhase(tiny, "mlp", (), "x", _layers((3, 3, 2)), 4, "the MLP", loaders=0)
    assert [p.name for p in lower(mlp_graph(4, (20, 4, 2), 1), tiny, "resident")] == ["mm0", "mm3"]


def test_rdagen_map_takes_the_mlp_weights_choice_and_reports_where_the_weights_come_from(tmp_path, capsys):
    path = tmp_path / "mlp.json"
    path.write_text(mlp_graph(4, (6, 5, 3), 1).to_json())
    # Streamed, each matmul takes the faster mode: the first systolic; the second reads a ReLU of its input,
    # which the systolic mode has no stage for, so it stays SIMD.
    for choice, phases, where in (("resident", "mlp0         simd", "resident in PMUs: w0 (mlp0), w1 (mlp0)"),
                                  ("streamed", "mm0          systolic",
                                   "streamed from DRAM (systolic weight tiles): w0 (mm0); streamed from DRAM: w1 (mm3)")):
        assert main(["map", str(path), "--config", "small", "--mlp-weights", choice, "--out", str(tmp_path / choice)]) == 0
        out = capsys.readouterr().out
        assert f"\n{phases} " in out and f"matmul weights: {where}" in out, out
    assert "\nmm3          simd " in out
    with pytest.raises(SystemExit) as exc:
        main(["map", str(path), "--mlp-weights", "pinned"])
    assert exc.value.code == 2 and "invalid choice: 'pinned'" in capsys.readouterr().err


@pytest.mark.parametrize("m, widths", [(1, (13, 24, 1)), (8, (6, 16, 5))])
def test_a_sigmoid_after_the_last_layer_is_the_mlp_phases_epilogue_chain(request, m, widths):
    """The sigmoid after a top MLP (8 PCUs on medium, the elementwise phase's pieces) becomes the MLP
    phase's epilogue: one phase, the last layer's outputs multicast to the chain's PCUs, no DRAM
    between them; on the RTL (direct harness) bit-exact as the golden model, within the fp32 bound,
    and the cost model within 10 %. Without room for the chain (small: 13 pieces on 8 PCUs) the
    sigmoid keeps its own phases."""
    seed = test_seed(request)
    g = GraphBuilder()
    h = g.input("x", (m, widths[0]))
    for n, (k, out) in enumerate(zip(widths, widths[1:])):
        h = g.add(g.matmul(h, g.weight(f"w{n}", shape=(k, out), seed=seed % 1000 + n, scale=0.3)),
                  g.weight(f"b{n}", shape=(out,), seed=seed % 1000 + 10 + n, scale=0.1))
        h = g.relu(h) if n < len(widths) - 2 else g.sigmoid(h, name="p")
    g.output(h)
    graph = g.graph()
    program = map_graph(graph, preset("medium"), seed=seed, mlp_weights="resident")
    [phase] = [p.phase for p in program.phases]
    assert len(phase.epilogue) == 8 and phase.writes == ("p",)
    layers = phase.layer_units()  # every PCU and PMU of the phase is a layer's (the report's per-layer units)
    assert list(layers) == ["w0", "w1", "p (epilogue)"] and layers["p (epilogue)"] == {"pcu": 8, "pmu": 0}
    assert {kind: sum(u[kind] for u in layers.values()) for kind in ("pcu", "pmu")} == \
        {kind: phase.units_used()[kind] for kind in ("pcu", "pmu")}
    assert "layers' PCUs/PMUs: w0 " in text_report(program)
    run = run_program(program, check_inputs(graph, random_inputs(graph, seed)), harness="direct", tag="test-epilogue")
    assert run.ok, (run.mismatches, run.max_error)
    cycles, estimate = run.phases[0].cycles, program.estimates[0]
    print(f"cycles {cycles}, cost model {estimate}")
    assert abs(estimate - cycles) <= 0.1 * cycles
    small = map_graph(graph, preset("small"), seed=seed, mlp_weights="resident")
    assert not small.phases[0].phase.epilogue and small.phases[-1].phase.name.startswith("sigmoid")


@pytest.mark.parametrize("loaders", [None, 5], ids=["a-loader-a-link", "5-loaders"])
def test_resident_mlps_share_one_bank_of_w_pmus(request, monkeypatch, loaders):
    """Where the resident MLPs of a program run one after the other (a DLRM's bottom and top MLP, batch
    by batch), they keep their weights in ONE bank of W PMUs, each MLP on up to all of the bank's links
    rather than on its own share of the PMUs (Kaggle at batch 1 on plasticine: 49 and 45 links instead
    of 16 and 24). A DLRM on medium, 3 batch-1 requests through one program: both MLPs' W PMUs on the
    bank's sites, their X PMUs off them, each PMU's words split, the MLP loaded later below the one
    loaded first; bit for bit the golden array model's, within NumPy's bound, the runs on loaded
    weights within 10 % of the cost model. With 5 loaders (a stand-in for plasticine, whose bank has
    more links than its 31 loaders) the W PMUs take their parts through write windows from their base
    in the bank, the words a window writes before its part landing in the share loaded later."""
    from rdagen.mapper.apps.dlrm import Arch, check_batch, dlrm_graph, random_batch, reference_weights
    from rdagen.mapper.phases import mlp
    from rdagen.sim.dlrm_run import run_batches

    seed = test_seed(request)
    print(f"[seed] {seed}")
    if loaders:
        every = mlp.loading
        monkeypatch.setattr(mlp, "loading", lambda cfg, tilings, n=None: every(cfg, tilings, n or loaders))
    cfg, arch = preset("medium"), Arch(8, (5, 3), (8, 128, 128, 8), (128, 1), "dot", indices_per_lookup=3)
    weights = reference_weights(arch, seed % 1000)
    requests = [random_batch(arch, 1, seed + n) for n in range(3)]
    program = map_graph(dlrm_graph(arch, weights, *[check_batch(arch, r, "r") for r in requests]), cfg,
                        seed=seed % 1000, mlp_weights="resident")
    placed = [(q, p) for p in program.phases for q in getattr(p.phase, "parts", (p.phase,)) if isinstance(q, MlpPhase)]
    assert len(placed) == 6 and len({q.bank[0] for q, _ in placed if q.bank}) == 1, [q.bank for q, _ in placed]
    bottom, top = [q for q, _ in placed if q.loaded_by is None]
    size = bottom.bank[0]
    assert top.bank[1] == 0 and top.bank[1] + top.bank[2] <= bottom.bank[1] <= cfg.pmu_words - bottom.bank[2]
    bank = {f"{mlp.BANK}.pmu{n}" for n in range(size)}
    site = {name: placed[0][1].placement.sites[name] for name in bank}
    for q, p in placed:
        sites = p.placement.sites
        assert {name: sites[name] for name in bank} == site and len(q.links) <= size
        assert not {sites[u.name] for u in q.netlist()[0] if u.kind == "pmu" and u.name not in bank} & set(site.values())
    if loaders:
        assert len(bottom.streams) == loaders < len(bottom.links)
        assert any(offset and offset != bottom.bank[1] for _, offset in bottom.loads)
    results = run_batches(arch, weights, requests, cfg, harness="direct", seed=seed % 1000, mlp_weights="resident")
    for r in results:
        print(f"request {r.index}: RTL {r.cycles}, cost model {r.estimate}, max error {r.max_error:.3g}")
        assert r.ok and r.max_error <= 1e-6, r.mismatches
        assert "a bank of" in r.weights
    for r in results[1:]:
        assert abs(r.estimate - r.cycles) <= 0.1 * r.cycles


@pytest.mark.parametrize("tree", [True, False])
def test_links_feed_their_partial_sums_to_the_last_link_in_a_tree_or_a_chain(tree):
    """Every link of a chain of C but the last feeds exactly one other, none takes more than two (the
    PCU's vector inputs 1 and 2), every link reaches the last one, and the longest way there is
    ``reduction_depth``: floor(log2 C) links in a tree (7 links: 2), C - 1 in a chain."""
    for chain in range(1, 40):
        fed = {j: feeders(chain, j, tree) for j in range(chain)}
        fed_ones = sorted(f for fs in fed.values() for f in fs)
        assert fed_ones == list(range(chain - 1)), (chain, fed)
        assert all(len(fs) <= (2 if tree else 1) for fs in fed.values())
        parent = {f: j for j, fs in fed.items() for f in fs}

        def hops(j):
            return 0 if j == chain - 1 else 1 + hops(parent[j])
        assert max(hops(j) for j in range(chain)) == reduction_depth(chain, tree)
    assert reduction_depth(7, True) == 2 and reduction_depth(7, False) == 6
