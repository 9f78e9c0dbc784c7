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
from rdagen.mapper.phases.mlp import Layer, MlpPhase
from rdagen.mapper.phases.phase import MapError
from rdagen.mapper.program import lower, map_graph
from rdagen.mapper.apps.workloads import mlp_graph
from rdagen.rtl.spec.config import preset
from rdagen.cli import main
from rdagen.sim.graph_run import run_program

from .conftest import test_seed


CASES = [  # config, samples, widths, a ReLU after the last layer (the epilogue PCU): chains of links (layer 0
    # on small), one-link layers, D = lanes, odd widths
    ("small", 1, (13, 16, 8, 4), False),
    ("small", 8, (8, 8, 4), True),
    ("small", 6, (7, 3, 10, 2, 5), False),
    ("tiny", 5, (3, 3, 2), True),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-m{c[1]}-{'-'.join(map(str, c[2]))}{'-relu' * c[3]}" for c in CASES])
def test_an_mlp_phase_on_the_rtl_equals_the_golden_model_and_numpy(request, case):
    config, m, widths, relu_last = case
    seed = test_seed(request)
    print(f"[seed] {seed}")
    cfg = preset(config)
    graph = mlp_graph(m, widths, seed % 1000, relu_last)
    program = map_graph(graph, cfg, seed=seed % 1000, mlp_weights="resident")
    assert [p.phase.name for p in program.phases] == ["mlp0"]  # the ReLU after the last layer included
    assert bool(program.phases[0].phase.epilogue) == relu_last
    run = run_program(program, check_inputs(graph, random_inputs(graph, seed)), harness="direct")
    assert not run.mismatches, run.mismatches  # bit-exact with the golden model
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
    assert names(graph, "streamed") == ["mm0", "mm3", "mm6"]
    # auto: the lower of the MLP phase's and the matmul phases' cost (cycles + unit configuration)
    resident, streamed = lower(graph, cfg, "resident"), lower(graph, cfg, "streamed")
    cost = lambda phases: sum(p.estimate_cycles + p.unit_configuration_cycles(cfg) for p in phases)  # noqa: E731
    assert names(graph, "auto") == (["mlp0"] if cost(resident) < cost(streamed) else ["mm0", "mm3", "mm6"])
    # not fused: layers without a bias, a single layer, a layer whose result is used twice
    g = GraphBuilder()
    g.output(g.matmul(g.relu(g.matmul(g.input("x", (8, 6)), g.weight("w0", shape=(6, 5), seed=1))),
                      g.weight("w1", shape=(5, 4), seed=2)))
    assert names(g.graph(), "resident") == ["mm0", "mm2"]
    assert names(mlp_graph(8, (6, 5), 1), "resident") == ["mm0"]
    g = GraphBuilder()
    h = g.relu(g.add(g.matmul(g.input("x", (4, 6)), g.weight("w0", shape=(6, 5), seed=1)), g.weight("b0", shape=(5,), seed=2)))
    g.output(g.add(g.matmul(h, g.weight("w1", shape=(5, 3), seed=3)), g.weight("b1", shape=(3,), seed=4)), h)
    assert names(g.graph(), "resident") == ["mm0", "relu2", "mm3"]
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
    assert [p.name for p in phases] == ["mlp0", "mm6"] and not phases[0].epilogue
    assert set(phases[1].reads) <= set(phases[0].writes) | {"w2"}, (phases[1].reads, phases[0].writes)
    with pytest.raises(MapError, match="MLP weights 'pinned': valid: auto, resident, streamed"):
        lower(graph, cfg, "pinned")


def test_an_mlp_that_does_not_fit_is_refused_naming_the_resource_and_left_to_matmul_phases():
    tiny = preset("tiny")  # PMUs of 32 words: a 20-input row needs 2 x 22 double-buffered
    with pytest.raises(MapError, match="a sample row of 20 inputs .* needs 44 PMU words"):
        MlpPhase(tiny, "mlp", (), "x", _layers((20, 4, 2)), 4, "the MLP")
    with pytest.raises(MapError, match="7 layers need 7 PCUs, 14 PMUs"):
        MlpPhase(tiny, "mlp", (), "x", _layers((2,) * 8), 4, "the MLP")
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
