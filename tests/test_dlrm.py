"""DLRM end to end (mapper/apps/dlrm.py, sim/dlrm_run.py, ``rdagen dlrm``): small models on tiny and small run
on the RTL (direct harness) bit-exact against the golden array model, and their probabilities match an
independent NumPy DLRM within the fp32 bound (and 1e-6); the weights are the reference's for its
flags; the Criteo sample is reproducible and runs; bad flags and files exit with status 2 and write
nothing."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import rdagen.mapper
from rdagen.mapper.apps.dlrm import (Arch, bag_length, check_batch, dlrm_graph, graph_inputs, lower_bound, random_batch,
                                     read_criteo_tsv, reference_weights)
from rdagen.mapper.program import SCHEDULES
from rdagen.rtl.spec.config import preset
from rdagen.rtl.spec.memory import DDR4, IDEAL, Memory
from rdagen.cli import main
from rdagen.sim.dlrm_run import run_batch, run_batches
from rdagen.verif.golden.dlrm import forward

from .conftest import test_seed

EXAMPLES = Path(rdagen.mapper.__file__).parent / "examples"
SAMPLE = str(EXAMPLES / "criteo_sample.tsv")
_spec = importlib.util.spec_from_file_location("make_criteo_sample", EXAMPLES / "make_criteo_sample.py")
make_criteo_sample = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_criteo_sample)


def _drawn_as_the_reference_does(m_spa, ln_emb, ln_bot, ln_top, seed):
    """dlrm_s_pytorch.py's order: np.random.seed, create_emb (tables in order), then create_mlp of the
    bottom and of the top MLP, each Linear's W then b."""
    np.random.seed(seed)
    weights = {}
    for i, n in enumerate(ln_emb):
        weights[f"emb_l.{i}.weight"] = np.random.uniform(low=-np.sqrt(1 / n), high=np.sqrt(1 / n),
                                                         size=(n, m_spa)).astype(np.float32)
    for prefix, ln in (("bot_l", ln_bot), ("top_l", ln_top)):
        for i in range(len(ln) - 1):
            n, m = ln[i], ln[i + 1]
            weights[f"{prefix}.{2 * i}.weight"] = np.random.normal(0.0, np.sqrt(2 / (m + n)), size=(m, n)).astype(np.float32)
            weights[f"{prefix}.{2 * i}.bias"] = np.random.normal(0.0, np.sqrt(1 / m), size=m).astype(np.float32)
    return weights


@pytest.mark.parametrize("interaction", ["dot", "cat"])
def test_the_weights_are_the_ones_the_reference_draws_for_its_flags(interaction):
    arch = Arch(16, (1000, 2000, 500), (13, 32, 16), (64, 1), interaction)
    num_fea = 4
    num_int = num_fea * (num_fea - 1) // 2 + 16 if interaction == "dot" else 16 * num_fea
    want = _drawn_as_the_reference_does(16, [1000, 2000, 500], [13, 32, 16], [num_int, 64, 1], 7)
    got = reference_weights(arch, 7)
    assert list(got) == list(want)
    for name in want:
        assert got[name].dtype == np.float32 and np.array_equal(got[name], want[name]), name
    assert not np.array_equal(reference_weights(arch, 8)["emb_l.0.weight"], got["emb_l.0.weight"])


def _edge_batch(arch: Arch, rng) -> dict:
    """8 samples: bags of every size from 0 to 3, the first and last empty, repeated indices."""
    batch = {"dense_x": rng.standard_normal((8, arch.dense_features)).astype(np.float32)}
    lengths = [0, 2, 3, 1, 0, 3, 2, 0]
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    for k, rows in enumerate(arch.embedding_sizes):
        idx = rng.integers(0, rows, sum(lengths))
        idx[3:5] = idx[2]  # a bag that holds one row three times, and a row shared with the next bag
        batch[f"lS_i_{k}"] = idx
    batch["lS_o"] = np.tile(offsets, (arch.tables, 1))
    return batch


def _mixed_batch(arch: Arch, rng) -> dict:
    """5 samples: table 0 one-hot, table 1 three indices per bag (fixed bags: indices [B, N] without
    offsets in the graph), the others bags of 0 to 3 (offsets)."""
    batch = {"dense_x": rng.standard_normal((5, arch.dense_features)).astype(np.float32)}
    offsets = []
    for k, rows in enumerate(arch.embedding_sizes):
        lengths = [1] * 5 if k == 0 else [3] * 5 if k == 1 else [2, 0, 3, 1, 0]
        offsets.append(np.concatenate([[0], np.cumsum(lengths)[:-1]]))
        batch[f"lS_i_{k}"] = rng.integers(0, rows, sum(lengths))
    batch["lS_o"] = np.array(offsets)
    return batch


CASES = [  # config, D, tables, bottom, top, interaction, batch ("edge", "mixed": _edge_batch, _mixed_batch, else random of that size), MLP weights
    ("tiny", 2, (5,), (4, 3, 2), (3, 1), "dot", 1, "resident"),  # one table, D = lanes, batch 1, MLP phases
    ("tiny", 3, (5, 7, 3), (4, 3), (2, 1), "cat", "edge", "auto"),  # odd table sizes, D != lanes
    ("small", 4, (3, 11), (6, 5, 4), (4, 1), "dot", "edge", "auto"),  # D = lanes, empty bags (the last too)
    ("small", 6, (9,), (13, 6), (5, 1), "cat", 1, "streamed"),
    ("small", 5, (4, 7, 6), (13, 8, 5), (7, 3, 1), "dot", 8, "auto"),  # auto takes MLP phases here
    ("small", 4, (6, 9, 5), (5, 4), (3, 1), "dot", "mixed", "auto"),  # fixed bags beside bags with offsets
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-D{c[1]}-{len(c[2])}t-{c[5]}-b{c[6]}-{c[7]}" for c in CASES])
def test_small_dlrms_on_the_rtl_equal_the_golden_model_and_numpy(request, case):
    config, d, tables, bottom, top, interaction, batch, mlp_weights = case
    seed = test_seed(request)
    print(f"[seed] {seed}")
    rng = np.random.default_rng(seed)
    arch = Arch(d, tables, bottom, top, interaction, indices_per_lookup=3)
    weights = reference_weights(arch, seed % 1000)
    data = {"edge": _edge_batch, "mixed": _mixed_batch}[batch](arch, rng) if batch in ("edge", "mixed") else \
        random_batch(arch, batch, seed)
    result = run_batch(arch, weights, data, preset(config), harness="direct", seed=seed % 1000, mlp_weights=mlp_weights)
    assert result.ok, result.mismatches  # every phase bit-exact; probabilities within the fp32 bound
    assert result.max_error <= 1e-6, result.max_error
    assert result.samples == data["dense_x"].shape[0] and result.cycles > 0
    print(f"cycles {result.cycles}, cost model {result.estimate}")
    # The cost model within 10 %: the sum of the phase models on the default DDR4 memory (each phase
    # pays its reads' latency: mapper/phases/dram.py), the chained elementwise phases (the sigmoid's
    # pieces) priced from their placed routes (mapper/phases/chain_timing.py).
    assert abs(result.estimate - result.cycles) <= 0.10 * result.cycles
    assert np.all((result.probabilities > 0) & (result.probabilities < 1))
    if mlp_weights != "auto":
        assert result.weights.startswith({"resident": "resident in PMUs: bot_l.0", "streamed": "streamed from DRAM"}[mlp_weights])


RESIDENT = Arch(4, (5, 3, 7), (3, 8, 4), (4, 1), "dot", indices_per_lookup=3)
"""A DLRM whose two MLPs both fit the PMUs of ``small`` that the other phases leave (8: 4 + 4)."""


def test_batches_in_one_program_load_the_mlp_weights_once(request):
    """Three batches through one program on the RTL: every phase bit-exact, every probability within
    the bound; the bottom and top MLP weights cross the array's edge once (the first batch's MLP
    phases read them from DRAM, the later ones read nothing but their samples and a start token), and
    the later MLP runs take the cost model's cycles (within 10 %) without the load."""
    from rdagen.mapper.apps.dlrm import dlrm_graph, graph_inputs
    from rdagen.mapper.frontend.inputs import check_inputs
    from rdagen.mapper.phases.dram import traffic
    from rdagen.mapper.phases.mlp import MlpPhase
    from rdagen.mapper.program import map_graph
    from rdagen.rtl.spec.ag_layout import beat_bytes
    from rdagen.sim.graph_run import run_program

    seed = test_seed(request)
    print(f"[seed] {seed}")
    cfg, weights = preset("small"), reference_weights(RESIDENT, seed % 1000)
    batches = [check_batch(RESIDENT, random_batch(RESIDENT, 2, seed + n), "b") for n in range(3)]
    results = run_batches(RESIDENT, weights, batches, cfg, harness="direct", seed=seed % 1000)
    for r in results:
        assert r.ok and r.max_error <= 1e-6, r.mismatches
    assert results[0].weights.startswith("loaded into PMUs once: bot_l.0"), results[0].weights

    program = map_graph(dlrm_graph(RESIDENT, weights, *batches), cfg, seed=seed % 1000)
    mlps = [(n, q, p) for n, p in enumerate(program.phases) for q in getattr(p.phase, "parts", (p.phase,))
            if isinstance(q, MlpPhase)]  # (position, the MLP phase, the placed phase holding it)
    loading = [(n, q) for n, q, _ in mlps if q.loaded_by is None]
    assert [q.name for _, q in loading] == ["mlp0", "mlp11"] and len(mlps) == 6
    beat = beat_bytes(cfg)
    for n, q in loading:  # every loader an AG here: its whole stream read from DRAM, once
        assert all(a < cfg.rows for a, _ in q.loads)
        assert program.traffic[n].bytes(cfg) == sum(-(-4 * words // beat) * beat for words in q.streams)
    zeros = {name: np.zeros(t.shape, np.int32 if t.dtype == "int32" else np.float32)
             for name, t in program.graph.inputs.items()}
    for n, q, p in mlps:
        if q.loaded_by is None:
            continue
        first = next(f for f in program.phases if f.phase is q.loaded_by)
        # the same units on the same sites, alone or beside the phases it shares a configuration with
        assert all(p.placement.sites[u.name] == first.placement.sites[u.name] for u in q.netlist()[0])
        io = q.io(p.placement.sites, {**zeros, **{name: np.zeros(program.graph.tensors[name].shape, np.float32)
                                                  for name in q.reads}})
        assert traffic(cfg, io.sources, io.gathers).bytes(cfg) == 0
        host = p.placement.sites[q._u("host", 0)][0]
        assert set(io.sources) == {f"vsend__{host}", f"csend__{host}"} and not io.dram  # samples and a start token
    warm = [n for n, q, _ in mlps if q.loaded_by is not None]
    runs = run_program(program, check_inputs(program.graph, graph_inputs(RESIDENT, *batches), source="b"),
                       harness="direct").phases
    for n in warm:
        print(f"{program.phases[n].phase.name}: RTL {runs[n].cycles}, cost model {runs[n].estimate}")
        assert abs(runs[n].estimate - runs[n].cycles) <= 0.1 * runs[n].cycles


def test_phases_that_run_each_on_their_own_keep_no_weights_resident():
    """The specialised and cocotb harnesses run each phase on its own (the PMUs are not kept): the
    lowering for them loads the weights in every batch."""
    from rdagen.mapper.apps.dlrm import dlrm_graph
    from rdagen.mapper.lowering import lower

    weights = reference_weights(RESIDENT, 1)
    graph = dlrm_graph(RESIDENT, weights, *[check_batch(RESIDENT, random_batch(RESIDENT, 2, n), "b") for n in range(2)])
    assert len([p for p in lower(graph, preset("small"), memory=DDR4) if p.resident_units()]) == 4
    assert not [p for p in lower(graph, preset("small"), memory=DDR4, pmus_kept=False) if p.resident_units()]


def test_a_dlrm_runs_in_the_cocotb_bench_too(request):
    """The cocotb harness (an AxiRam per AG: also for an AG that only writes) gives the golden model's
    bits on every phase."""
    seed = test_seed(request)
    print(f"[seed] {seed}")
    arch = Arch(2, (5,), (4, 3, 2), (3, 1), "dot", 3)
    result = run_batch(arch, reference_weights(arch, seed % 1000), random_batch(arch, 2, seed), preset("tiny"),
                       harness="cocotb", seed=seed % 1000)
    assert result.ok and result.cycles > 0 and result.max_error <= 1e-6, result.mismatches


def test_the_criteo_sample_is_reproducible_and_read_as_the_reference_preprocesses_it(tmp_path):
    again = tmp_path / "again.tsv"
    make_criteo_sample.main(str(again))
    assert again.read_text() == open(SAMPLE).read()
    arch = Arch(2, (7, 5), (13, 4, 2), (2, 1))
    batch, labels = read_criteo_tsv(SAMPLE, arch)
    fields = open(SAMPLE).read().splitlines()[0].split("\t")
    ints = np.array([int(f) if f else 0 for f in fields[1:14]])
    assert np.allclose(batch["dense_x"][0], np.log(np.maximum(ints, 0) + 1), rtol=1e-6)
    assert batch["lS_i_1"][0] == (int(fields[15], 16) if fields[15] else 0) % 5
    assert len(labels) == 16 and set(labels) <= {0, 1}
    check_batch(arch, batch, "sample")


def test_rdagen_dlrm_runs_the_criteo_sample_and_writes_the_probabilities(tmp_path, capsys):
    out = tmp_path / "out"
    status = main(["dlrm", "--config", "tiny", "--criteo-tsv", SAMPLE, "--arch-mlp-bot", "13-4-2",
                   "--arch-embedding-size", "7-5", "--mini-batch-size", "8", "--out", str(out)])
    text = capsys.readouterr().out
    assert status == 0, text
    assert "PASS" in text and text.count(" ok") == 2  # two batches of 8
    # the program's phases, RTL cycles beside the cost model's: their total is the two batches' cycles
    header = next(n for n, line in enumerate(text.splitlines()) if line.split()[:4] == ["phase", "PCUs", "cycles", "estimate"])
    lines = text.splitlines()
    total = next(line for line in lines[header:] if line.startswith("total")).split()
    batches = [line.split() for line in lines if line.split()[:1] in (["0"], ["1"]) and line.rstrip().endswith("ok")]
    assert int(total[2]) == sum(int(b[3]) for b in batches), (total, batches)
    p = np.load(out / "probabilities.npy")
    assert p.shape == (16,) and p.dtype == np.float32 and np.all((p > 0) & (p < 1))


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


def _bad_inputs(tmp_path):
    arch = Arch(2, (4, 3, 2), (4, 3, 2), (4, 2, 1))
    good = random_batch(arch, 2, 1)
    good["lS_i_1"] = np.array([0, 1, 2, 1])
    good["lS_o"][1] = [0, 2]
    beyond = {**good, "lS_i_1": np.array([0, 1, 2, 3])}
    offsets = {**good, "lS_o": np.array([good["lS_o"][0], [1, 2], good["lS_o"][2]])}
    decreasing = {**good, "lS_o": np.array([good["lS_o"][0], [0, 3], good["lS_o"][2]])}
    decreasing["lS_o"][1] = [0, 5]
    missing = {k: v for k, v in good.items() if k != "lS_i_2"}
    return {"beyond": _npz(tmp_path / "beyond.npz", **beyond), "offsets": _npz(tmp_path / "offsets.npz", **offsets),
            "past": _npz(tmp_path / "past.npz", **decreasing), "missing": _npz(tmp_path / "missing.npz", **missing)}


BAD = [
    (["--arch-mlp-bot", "4-3-5"], "--arch-mlp-bot ends with 5, but --arch-sparse-feature-size is 2"),
    (["--arch-embedding-size", "4-x"], "--arch-embedding-size '4-x': expected positive integers"),
    (["--arch-interaction-op", "sum"], "--arch-interaction-op 'sum': valid: dot, cat"),
    (["--inputs", "{beyond}"], "table 1, sample 1, position 3 of lS_i_1: index 3 is outside the table's 3 rows"),
    (["--inputs", "{offsets}"], "lS_o[1] starts at 1; table 1's first bag starts at 0"),
    (["--inputs", "{past}"], "lS_o[1] at sample 1 is 5: offsets do not decrease and stay within table 1's 4 indices"),
    (["--inputs", "{missing}"], "missing key 'lS_i_2'"),
    (["--weights", "{weights}"], "missing key 'top_l.4.bias'"),
    (["--criteo-tsv", "{tsv}", "--arch-mlp-bot", "13-2"], "line 2: 39 tab-separated fields, the Criteo format has 40"),
    (["--criteo-tsv", "{tsv}"], "the bottom MLP takes 4 dense features, the Criteo format has 13"),
    (["--mini-batch-size", "0"], "--mini-batch-size 0: must be >= 1"),
    (["--num-batches", "0"], "--num-batches 0: must be >= 1"),
    (["--clock-ghz", "0"], "--clock-ghz 0"),
    (["--requests", "0"], "--requests 0: must be >= 1"),
    (["--rate", "1000"], "--rate 1000: give --requests N"),
    (["--requests", "2", "--rate", "-5"], "--rate -5: must be > 0 requests per second"),
    (["--requests", "2", "--mini-batch-size", "4"], "--requests 2 sends random batch-1 requests: not with --mini-batch-size"),
    (["--requests", "2", "--num-batches", "3"], "--requests 2 sends random batch-1 requests: not with --num-batches"),
    (["--requests", "2", "--inputs", "{offsets}"], "--requests 2 sends random batch-1 requests: not with --inputs"),
    (["--requests", "2", "--pipeline", "--schedule", "phases"],
     "--pipeline runs requests side by side: the spatial schedule, not --schedule phases"),
]


@pytest.mark.parametrize("args, message", BAD, ids=[m[:40] for _, m in BAD])
def test_rdagen_dlrm_refuses_bad_input_with_status_2_writing_nothing(tmp_path, capsys, args, message):
    files = _bad_inputs(tmp_path)
    weights = reference_weights(Arch(2, (4, 3, 2), (4, 3, 2), (4, 2, 1)))
    del weights["top_l.4.bias"]
    files["weights"] = _npz(tmp_path / "w.npz", **weights)
    lines = open(SAMPLE).read().splitlines()
    (tmp_path / "bad.tsv").write_text(lines[0] + "\n" + lines[1].rsplit("\t", 1)[0] + "\n")
    files["tsv"] = str(tmp_path / "bad.tsv")
    out = tmp_path / "out"
    for schedule in SCHEDULES:  # refused the same way in both schedules
        status = main(["dlrm", "--config", "tiny", "--harness", "golden", "--out", str(out), "--schedule", schedule]
                      + [a.format(**files) for a in args])
        err = capsys.readouterr().err
        assert status == 2 and message in err and "Traceback" not in err, (schedule, err)
        assert "None" not in err, err  # names the flag that is wrong, not the ones left unset
        assert not out.exists()


def test_a_top_mlp_with_several_outputs_gives_every_probability(tmp_path, capsys):
    """--arch-mlp-top 4-2-3: three sigmoids per sample, as the reference's forward gives; probabilities.npy
    is [B, 3] and equals the independent NumPy DLRM within the bound (no column dropped)."""
    out = tmp_path / "out"
    status = main(["dlrm", "--config", "tiny", "--harness", "golden", "--arch-mlp-top", "4-2-3",
                   "--mini-batch-size", "3", "--num-batches", "2", "--out", str(out)])
    text = capsys.readouterr().out
    assert status == 0 and "PASS" in text, text
    p = np.load(out / "probabilities.npy")
    assert p.shape == (6, 3) and "6 x 3: samples x outputs" in text
    arch = Arch(2, (4, 3, 2), (4, 3, 2), (4, 2, 3))
    weights = reference_weights(arch, 123)
    for n in range(2):
        batch = random_batch(arch, 3, 123 + n)
        want = forward(weights, batch["dense_x"], batch["lS_o"], [batch[f"lS_i_{k}"] for k in range(3)], "dot")
        assert want.shape == (3, 3) and np.allclose(p[3 * n:3 * n + 3], want, atol=1e-6)


def test_the_lookups_line_says_where_the_indices_come_from(capsys):
    assert main(["dlrm", "--config", "tiny", "--harness", "golden", "--criteo-tsv", SAMPLE, "--arch-mlp-bot", "13-4-2",
                 "--arch-embedding-size", "7-5", "--mini-batch-size", "16"]) == 0
    assert "1 index per lookup (the Criteo TSV's one per table)" in capsys.readouterr().out
    assert main(["dlrm", "--config", "tiny", "--harness", "golden", "--num-indices-per-lookup", "3"]) == 0
    assert "0 to 3 indices per lookup" in capsys.readouterr().out
    assert main(["dlrm", "--config", "tiny", "--harness", "golden", "--num-indices-per-lookup", "3",
                 "--num-indices-per-lookup-fixed"]) == 0
    assert "3 indices per lookup" in capsys.readouterr().out


def test_the_lower_bound_counts_the_dram_words_the_weight_reads_the_critical_path_and_the_multiply_adds():
    arch = Arch(4, (10, 20), (13, 8, 4), (8, 1), "dot", 2)  # top input 4 + 2 * 3 / 2 = 7
    cfg = preset("small")
    bound = lower_bound(arch, cfg, 8, 2)
    words = 8 * (13 + 2 * 2 * 4 + 1)
    assert bound.dram_bytes == 4 * words and bound.dram_cycles == 100 + -(-words // (cfg.rows * cfg.lanes))
    assert lower_bound(arch, cfg, 8, 2, IDEAL).dram_cycles == 1 + -(-words // (cfg.rows * cfg.lanes))
    slow = lower_bound(arch, cfg, 8, 2, Memory("slow", 30, 2.0)).dram_cycles
    assert slow == 30 + 4 * words // 2  # the bandwidth, not the AGs, sets the pace
    # The MLPs' multiply-adds and the dot interaction's: 3 features (2 tables and the bottom MLP's
    # output), 3 pairs of D = 4, per sample; against one multiply-add per lane-stage of the 8 PCUs.
    assert bound.multiply_adds == 8 * (13 * 8 + 8 * 4 + 7 * 8 + 8 * 1 + 3 * 4)
    assert bound.peak_multiply_adds_per_cycle == 8 * cfg.lanes * cfg.stages  # 8 PCUs on small
    assert bound.compute_cycles == -(-bound.multiply_adds // bound.peak_multiply_adds_per_cycle)
    assert bound.utilization(100) == bound.multiply_adds / (100 * 8 * cfg.lanes * cfg.stages)
    layer = lambda k: 3 * (1 + int(np.ceil(np.log2(k))) + 2)  # noqa: E731
    assert bound.critical_path_cycles == layer(13) + layer(8) + layer(4) + layer(7) + layer(8) + 3 * 29
    # Weights and biases, each read once from the 8 PMUs of small at a vector per cycle.
    assert bound.weight_words == 14 * 8 + 9 * 4 + 8 * 8 + 9 * 1
    assert bound.weight_cycles == -(-bound.weight_words // (8 * cfg.lanes))
    assert bound.cycles == max(bound.dram_cycles, bound.weight_cycles, bound.critical_path_cycles, bound.compute_cycles)


def test_rdagen_dlrm_model_only_projects_beside_the_lower_bound(capsys):
    status = main(["dlrm", "--model-only", "--config", "small", "--arch-sparse-feature-size", "4",
                   "--arch-embedding-size", "50-60", "--arch-mlp-bot", "13-8-4", "--arch-mlp-top", "8-1",
                   "--num-indices-per-lookup", "2", "--mini-batch-size", "8"])
    captured = capsys.readouterr()
    text = captured.out
    steps = [line for line in captured.err.splitlines() if "placing and routing" in line]
    assert steps and all(line.strip().startswith(("batch 1: ", "batch 64: ", "batch 8: ")) for line in steps), steps
    assert status == 0, text
    rows = [line.split() for line in text.splitlines() if line.split() and line.split()[0] in ("1", "8", "64")]
    assert [r[0] for r in rows] == ["1", "64", "8"]
    for r in rows:
        cycles, reconfig, bound = (int(r[i].replace(",", "")) for i in (2, 3, 6))
        assert reconfig < cycles and bound < cycles
    assert "MLP layers' PCUs/PMUs at batch 1: bot_l.0 2/4 (mlp0)" in text  # batch 64 streams its layers
    assert "V100, batch 1: 0.855 ms" in text


def test_fixed_lookups_give_every_bag_n_indices():
    arch = Arch(2, (5, 6), (4, 2), (2, 1), "cat", 3)
    batch = random_batch(arch, 7, 1, fixed=True)
    assert np.array_equal(batch["lS_o"], np.tile(np.arange(0, 21, 3), (2, 1)))
    assert len(batch["lS_i_0"]) == len(batch["lS_i_1"]) == 21


def test_tables_whose_bags_all_hold_n_indices_are_gathered_without_offsets():
    """bag_length: N where every bag of the table holds N >= 1 indices (a batch of 1 with a non-empty
    bag, one-hot features), else None; dlrm_graph gives those tables indices [B, N] and no offsets
    input, and graph_inputs their indices in that shape."""
    arch = Arch(4, (6, 9, 5), (5, 4), (3, 1), "dot", indices_per_lookup=3)
    batch = check_batch(arch, _mixed_batch(arch, np.random.default_rng(1)), "batch")
    assert [bag_length(batch, k) for k in range(3)] == [1, 3, None]
    single = check_batch(arch, random_batch(arch, 1, 2, fixed=True), "batch")
    assert [bag_length(single, k) for k in range(3)] == [3, 3, 3]
    graph = dlrm_graph(arch, reference_weights(arch), batch)
    arrays = graph_inputs(arch, batch)
    assert graph.inputs["idx0"].shape == (5, 1) and graph.inputs["idx1"].shape == (5, 3)
    assert graph.inputs["idx2"].shape == (6,) and set(graph.inputs) >= {"off2"} and not {"off0", "off1"} & set(graph.inputs)
    assert arrays["idx1"].tolist() == batch["lS_i_1"].reshape(5, 3).tolist() and "off1" not in arrays


def test_a_table_with_no_index_in_the_whole_batch_gives_zero_bags():
    arch = Arch(2, (5, 6), (4, 2), (2, 1), "dot", 2)
    batch = random_batch(arch, 3, 1)
    batch["lS_i_1"] = np.zeros(0, np.int64)
    batch["lS_o"][1] = 0
    result = run_batch(arch, reference_weights(arch), batch, preset("tiny"), harness=None, seed=1)
    assert result.ok and result.max_error <= 1e-6, result.mismatches


def test_published_models_are_selected_by_name(capsys):
    """--model kaggle|terabyte gives the reference's flags (its top MLP's input, 367 and 479, is the
    reference's ln_top[0] for the dot interaction); with --arch-* flags, or for a run, it is refused
    naming why (exit status 2)."""
    from rdagen.cli import parser
    from rdagen.cli.dlrm import _dlrm_arch
    from rdagen.mapper.apps.dlrm import KAGGLE, TERABYTE

    for name, arch, top_input in (("kaggle", KAGGLE, 367), ("terabyte", TERABYTE, 479)):
        args = parser().parse_args(["dlrm", "--model", name, "--model-only"])
        assert _dlrm_arch(args) is arch and arch.top_input == top_input and arch.tables == 26
    assert main(["dlrm", "--model", "terabyte", "--model-only", "--arch-mlp-bot", "13-4-2"]) == 2
    assert "--model terabyte sets the model's flags; it does not take --arch-mlp-bot" in capsys.readouterr().err
    assert main(["dlrm", "--model", "kaggle", "--harness", "golden"]) == 2
    assert "--model kaggle: its tables (up to 10,131,227 rows) are for --model-only projections" in capsys.readouterr().err


def test_summary_json_holds_every_batch_beside_its_bound(tmp_path, capsys):
    """DIR/summary.json of a run (golden model: the cost model's cycles, source "model") and of a
    --model-only projection: a row per batch with the schedule, cycles, latency and samples/s at the
    clock, multiply-adds against lanes x stages x PCUs, and the lower bound, the largest of its terms."""
    import json

    cfg = preset("tiny")
    arch = Arch(2, (4, 3, 2), (4, 3, 2), (4, 2, 1))
    for extra, sizes in ((["--harness", "golden", "--mini-batch-size", "3", "--num-batches", "2",
                           "--num-indices-per-lookup-fixed", "--num-indices-per-lookup", "2"], [3, 3]),
                         (["--model-only", "--mini-batch-size", "2", "--arch-sparse-feature-size", "2",
                           "--arch-embedding-size", "4-3-2", "--arch-mlp-bot", "4-3-2", "--arch-mlp-top", "4-2-1",
                           "--num-indices-per-lookup", "2"], [1, 64, 2])):
        out = tmp_path / extra[0].strip("-")
        assert main(["dlrm", "--config", "tiny", "--clock-ghz", "2", "--out", str(out)] + extra) == 0
        summary = json.loads((out / "summary.json").read_text())
        assert summary["config"] == "tiny" and summary["clock_ghz"] == 2 and summary["model"] == "flags"
        assert [r["batch"] for r in summary["rows"]] == sizes
        for row in summary["rows"]:
            bound = lower_bound(arch, cfg, row["batch"], 2)
            macs = bound.multiply_adds
            assert row["source"] == "model" and row["schedule"] == "spatial" and row["pipelined"] is False
            assert row["latency_us"] == pytest.approx(row["cycles"] / 2e3, abs=1e-4)
            assert row["samples_per_s"] == pytest.approx(row["batch"] * 2e9 / row["cycles"], rel=1e-6)
            assert row["mac_utilization"] == pytest.approx(macs / (row["cycles"] * 2 * 2 * row["pcus"]), abs=1e-6)
            assert row["bound_cycles"] == bound.cycles == max(row["bound_terms"].values())
            assert row["pcus"] == 5 and 0 < row["pcus_used"] <= 5 and row["configurations"] >= 1


def test_requests_report_each_latency_and_the_throughput(tmp_path, capsys):
    """--requests N: N random batch-1 requests (drawn as batches 0..N-1 are) through one program, each
    served when the one before is done (its phases follow the phases of the one before): latency
    percentiles over the requests' cycles, throughput N over their sum; with --rate the array waits
    for arrivals (throughput is the rate's) or the requests wait for it; summary.json's requests block;
    --model-only serves the cost model's program of two requests (the first loads the weights)."""
    import json

    out = tmp_path / "rq"
    assert main(["dlrm", "--config", "tiny", "--harness", "golden", "--requests", "4", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    cycles = sorted(r["cycles"] for r in summary["rows"])
    assert [r["batch"] for r in summary["rows"]] == [1] * 4
    q = summary["requests"]
    assert q["count"] == 4 and q["rate_per_s"] is None and q["max_wait_cycles"] == 0
    assert (q["p50_cycles"], q["p99_cycles"], q["max_cycles"]) == (cycles[1], cycles[3], cycles[3])
    assert q["samples_per_s"] == pytest.approx(4e9 / sum(cycles), rel=1e-6)
    assert f"latency from first input in to probability out p50 {cycles[1]:,} cycles" in printed
    slow = main(["dlrm", "--config", "tiny", "--harness", "golden", "--requests", "4", "--rate", "1000",
                 "--out", str(tmp_path / "slow")])
    capsys.readouterr()
    q = json.loads((tmp_path / "slow" / "summary.json").read_text())["requests"]
    assert slow == 0 and q["max_wait_cycles"] == 0 and q["p99_cycles"] == cycles[3]
    assert q["samples_per_s"] == pytest.approx(4 / (3 / 1000 + summary["rows"][3]["cycles"] / 1e9), abs=0.1)
    assert main(["dlrm", "--config", "tiny", "--model-only", "--arch-embedding-size", "4-3-2", "--requests", "3",
                 "--rate", "1e9", "--out", str(tmp_path / "model")]) == 0
    model = json.loads((tmp_path / "model" / "summary.json").read_text())
    (row,) = model["rows"]
    q = model["requests"]
    first, later = q["max_cycles"], q["p50_cycles"]  # the first request loads the resident weights
    assert row["batch"] == 1 and later < first and abs(first + later - 2 * row["cycles"]) <= 1
    assert q["max_wait_cycles"] == first + later - 2  # one a cycle: the third waits for two


def test_a_request_stream_waits_for_the_array_or_the_array_for_the_requests():
    from rdagen.sim.requests import serve

    back = serve([10, 30, 20])
    assert back.latencies == (10, 30, 20) and back.waits == (0, 0, 0) and back.span_cycles == 60
    assert (back.percentile(50), back.percentile(99)) == (20, 30)
    assert back.samples_per_s(1.0) == pytest.approx(3 / 60e-9)
    fast = serve([10, 30, 20], rate=1e8)  # one every 10 cycles: the array falls behind
    assert fast.starts == (0, 10, 40) and fast.waits == (0, 0, 20) and fast.latencies == (10, 30, 20)
    slow = serve([10, 30, 20], rate=2.5e7, clock_ghz=1.0)  # one every 40 cycles
    assert slow.waits == (0, 0, 0) and slow.span_cycles == 100
    with pytest.raises(ValueError, match="must be > 0"):
        serve([10], rate=0)
    with pytest.raises(ValueError, match="no requests"):
        serve([])


def test_the_timeline_follows_configurations_that_serve_two_requests():
    """A pipelined program's configurations compute for several requests: a request's latency runs from
    its first configuration's start to its last's end, a configuration that starts a request waits for
    its arrival; one configuration per request gives ``serve``'s figures."""
    from rdagen.sim.requests import repeat_steady, serve, timeline

    assert timeline([4, 6, 20], [(0,), (0,), (1,), ]).latencies == (10, 20)
    assert timeline([10, 30, 20], [(0,), (1,), (2,)]) == serve([10, 30, 20])
    # request 1's first configuration runs beside request 0's last: 0 takes 5 + 30, 1 takes 30 + 10
    back = timeline([5, 30, 10], [(0,), (0, 1), (1,)])
    assert back.starts == (0, 5) and back.finishes == (35, 45) and back.latencies == (35, 40)
    paced = timeline([5, 30, 10], [(0,), (0, 1), (1,)], rate=1e8)  # request 1 arrives at cycle 10
    assert paced.starts == (0, 10) and paced.waits == (0, 0) and paced.finishes == (40, 50)
    # a steady pattern from the second-to-last request on, repeated for more requests
    cycles, copies = [7, 3, 5, 3, 5, 3, 5], [(0,), (0, 1), (1, 2), (2,), (2, 3), (3,), (3,)]
    long_cycles, long_copies = repeat_steady(cycles, copies, 6)
    assert long_copies == [(0,), (0, 1), (1, 2), (2,), (2, 3), (3,), (3, 4), (4,), (4, 5), (5,), (5,)]
    assert long_cycles == [7, 3, 5, 3, 5, 3, 5, 3, 5, 3, 5]
    with pytest.raises(ValueError, match="needs 3 or more"):
        repeat_steady([1, 2], [(0,), (1,)], 5)


def test_pipelined_requests_repeat_a_steady_pattern():
    """The cost model's program of 4 pipelined requests, its steady configurations repeated
    (``repeat_steady``), gives the timeline of a program of 7 within 1 % (each placement's routes may
    change a configuration's cycles by a few): the model-only projection of N requests from a program
    of 4 is that of N."""
    from rdagen.mapper.program import map_graph
    from rdagen.sim.requests import repeat_steady, timeline

    weights = reference_weights(RESIDENT, 1)
    timelines = {}
    for n in (4, 7):
        batches = [check_batch(RESIDENT, random_batch(RESIDENT, 1, 1 + k, fixed=True), "request") for k in range(n)]
        program = map_graph(dlrm_graph(RESIDENT, weights, *batches), preset("medium"), seed=1, pipelined=True)
        timelines[n] = (program.estimated_phases(), program.phase_copies())
    assert any(len(c) > 1 for c in timelines[4][1])  # requests run side by side
    extended, mapped = timeline(*repeat_steady(*timelines[4], 7)), timeline(*timelines[7])
    assert len(repeat_steady(*timelines[4], 7)[0]) == len(timelines[7][0])
    # equal but for the routes of each placement (a configuration's cycles may differ by a few)
    assert np.allclose(extended.latencies, mapped.latencies, rtol=0.01), (extended.latencies, mapped.latencies)
    assert extended.span_cycles == pytest.approx(mapped.span_cycles, rel=0.01)


def test_pipelined_requests_on_the_rtl_overlap_and_take_the_cost_models_latency(request):
    """8 batch-1 requests through one pipelined program on medium's RTL (a request's gathers and bottom
    MLP beside the top MLP of the one before): every phase bit-exact, every probability within its
    bound, each request's latency (from its first configuration's start to its last's end) within 10 %
    of the cost model's, and the 8 take at least 10 % fewer cycles than the cost model gives them one
    after the other. (The issue's stream of 16 requests on the RTL is the unpipelined test on small,
    below; 8 show the overlap in half the time.)"""
    from rdagen.mapper.program import map_graph

    seed = test_seed(request)
    print(f"[seed] {seed}")
    weights = reference_weights(RESIDENT, seed % 1000)
    requests = [random_batch(RESIDENT, 1, seed + n) for n in range(8)]
    results = run_batches(RESIDENT, weights, requests, preset("medium"), harness="direct", seed=seed % 1000,
                          pipelined=True)
    copies = results[0].program_copies
    assert sum(len(c) > 1 for c in copies) >= 4, copies  # most requests start beside the one before
    for r in results:
        print(f"request {r.index}: RTL {r.cycles}, cost model {r.estimate}")
        assert r.ok and r.max_error <= 1e-6, r.mismatches
        assert abs(r.estimate - r.cycles) <= 0.1 * r.cycles
    batches = [check_batch(RESIDENT, b, "request") for b in requests]
    serial = map_graph(dlrm_graph(RESIDENT, weights, *batches), preset("medium"), seed=seed % 1000)
    one_by_one = sum(serial.estimated_copies())
    print(f"pipelined on the RTL: {sum(results[0].program_cycles)} cycles; one after the other (cost model): {one_by_one}")
    assert sum(results[0].program_cycles) <= 0.9 * one_by_one


def test_rdagen_dlrm_schedules_project_requests(tmp_path, capsys):
    """--model-only --requests N in the three ways a program can take them: --schedule phases (kernel
    by kernel: every request loads the MLP weights again), spatial (the default: phases side by side
    where they fit, weights resident) and spatial --pipeline (a request's phases beside the one
    before's): each faster per request than the one before it, the pipelined one for a longer latency;
    summary.json and the report name the schedule; without --requests or --num-batches, --pipeline is
    refused with status 2."""
    flags = ["dlrm", "--config", "medium", "--model-only", "--arch-sparse-feature-size", "4", "--arch-embedding-size",
             "5-3-7", "--arch-mlp-bot", "3-8-4", "--arch-mlp-top", "4-1", "--num-indices-per-lookup", "3",
             "--requests", "8"]
    summaries, texts = {}, {}
    for name, extra in (("phases", ["--schedule", "phases"]), ("spatial", []), ("pipelined", ["--pipeline"])):
        out = tmp_path / name
        assert main(flags + extra + ["--out", str(out)]) == 0
        texts[name] = capsys.readouterr().out
        summaries[name] = json.loads((out / "summary.json").read_text())
    assert "pipelined, a request's phases beside the one before's (spatial schedule" in texts["pipelined"]
    assert "served one at a time (phases schedule" in texts["phases"]
    assert "schedule: spatial, batches (requests) pipelined" in texts["pipelined"]
    phases, spatial, pipelined = (summaries[k] for k in ("phases", "spatial", "pipelined"))
    assert [(r["schedule"], r["pipelined"]) for r in pipelined["rows"]] == [("spatial", True)]
    assert [(r["schedule"], r["pipelined"]) for r in spatial["rows"]] == [("spatial", False)]
    assert [(r["schedule"], r["pipelined"]) for r in phases["rows"]] == [("phases", False)]
    assert pipelined["requests"]["count"] == spatial["requests"]["count"] == phases["requests"]["count"] == 8
    assert phases["requests"]["p50_cycles"] > spatial["requests"]["p50_cycles"]  # the weights load every request
    assert pipelined["requests"]["samples_per_s"] > 1.1 * spatial["requests"]["samples_per_s"]
    assert pipelined["requests"]["p50_cycles"] > spatial["requests"]["p50_cycles"]
    assert main(["dlrm", "--config", "tiny", "--model-only", "--pipeline"]) == 2
    err = capsys.readouterr().err
    assert "--pipeline overlaps requests or batches: give --requests N or --num-batches N" in err
    assert "Traceback" not in err


def test_rdagen_run_pipelines_requests_of_any_graph(tmp_path, capsys):
    """`rdagen run GRAPH --requests N --pipeline`: the requests of a graph file (a batch-1 DLRM written
    as JSON) side by side in one program, every request checked, more requests per second than one
    at a time; --schedule phases maps a configuration per phase (the report says so); --pipeline
    without requests, in the phases schedule or in a harness that runs phases on their own is refused
    with status 2."""
    weights = reference_weights(RESIDENT, 123)
    batch = check_batch(RESIDENT, random_batch(RESIDENT, 1, 5, fixed=True), "request")
    graph = tmp_path / "dlrm1.json"
    graph.write_text(dlrm_graph(RESIDENT, weights, batch).to_json())
    flags = ["run", str(graph), "--config", "medium", "--harness", "golden", "--requests", "6"]
    stream = {}
    for name, extra in (("phases", ["--schedule", "phases"]), ("spatial", []), ("pipelined", ["--pipeline"])):
        out = tmp_path / name
        assert main(flags + extra + ["--out", str(out)]) == 0
        text = capsys.readouterr().out
        assert "PASS" in text and f"schedule {name if name != 'pipelined' else 'spatial, copies pipelined'}," in text
        assert np.load(out / "outputs.npz")["p"].shape[0] == 6
        line = next(l for l in text.splitlines() if l.startswith("requests: 6 runs of the graph"))
        stream[name] = float(line.rsplit("throughput ", 1)[1].split()[0].replace(",", ""))
        assert ("pipelined, a request's phases beside the one before's" in line) == (name == "pipelined"), line
    assert stream["phases"] < stream["spatial"] < stream["pipelined"] / 1.1, stream
    for extra, message in ((["--requests", "1"], "--pipeline overlaps requests: give --requests N (N > 1)"),
                           (["--schedule", "phases"], "--pipeline runs requests side by side: the spatial schedule"),
                           (["--harness", "specialised"], "--pipeline runs requests side by side in one continuous run")):
        assert main(flags + ["--pipeline", "--out", str(tmp_path / "refused")] + extra) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, err
        assert not (tmp_path / "refused").exists()


def test_model_only_projects_batches_through_one_program_per_batch(tmp_path, capsys):
    """--model-only --num-batches N: the cost model of N batches through one program; a batch costs
    less there than in a program of its own (its MLP weights loaded once, gathers shared), and
    summary.json says how many batches the program held."""
    flags = ["dlrm", "--config", "small", "--model-only", "--arch-sparse-feature-size", "4", "--arch-embedding-size",
             "5-3-7", "--arch-mlp-bot", "3-8-4", "--arch-mlp-top", "4-1", "--mini-batch-size", "2"]
    rows = {}
    for n in (1, 4):
        out = tmp_path / str(n)
        assert main(flags + ["--num-batches", str(n), "--out", str(out)]) == 0
        text = capsys.readouterr().out
        rows[n] = {r["batch"]: r for r in json.loads((out / "summary.json").read_text())["rows"]}
        assert all(r["batches_in_program"] == n for r in rows[n].values())
    assert "4 batches through one program" in text and "loaded into PMUs once: bot_l.0" in text, text
    for b in (1, 2):
        assert rows[4][b]["cycles"] < rows[1][b]["cycles"], (b, rows[4][b]["cycles"], rows[1][b]["cycles"])


def test_a_stream_of_16_requests_on_the_rtl_takes_the_cost_models_latency(request):
    """16 batch-1 requests through one program on small's RTL: every phase bit-exact, every probability
    within its bound, and each request's latency (its phases' cycles, reconfigurations included)
    within 10 % of the cost model's; the requests after the first, on resident weights, are faster."""
    seed = test_seed(request)
    print(f"[seed] {seed}")
    weights = reference_weights(RESIDENT, seed % 1000)
    requests = [random_batch(RESIDENT, 1, seed + n) for n in range(16)]
    results = run_batches(RESIDENT, weights, requests, preset("small"), harness="direct", seed=seed % 1000)
    assert len(results) == 16
    for r in results:
        print(f"request {r.index}: RTL {r.cycles}, cost model {r.estimate}")
        assert r.ok and r.max_error <= 1e-6, r.mismatches
        assert abs(r.estimate - r.cycles) <= 0.1 * r.cycles
    assert max(r.cycles for r in results[1:]) < results[0].cycles
