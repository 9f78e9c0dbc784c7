"""Design-space sweeps (explore/, `rdagen sweep`): a small sweep on a LocalCluster of 2 workers gives the
results of a 1-worker run; a worker killed mid-sweep and a sweep stopped and started again leave every
task in the store once, nothing stored run twice, results unchanged; refused points kept with their
reason; bad specs refused naming the key, exit status 2, nothing written."""

import csv
import dataclasses
import os
import signal

import pytest

from rdagen.cli import main
from rdagen.explore.area import UNIT_FIELDS, UNITS
from rdagen.explore.execute import client_for, run_sweep
from rdagen.explore.report import pareto
from rdagen.explore.spec import load_spec
from rdagen.explore.store import Store
from rdagen.rtl.spec.config import preset

SPEC = """
base = "tiny"
constraints = ["lanes <= stages", "rows * cols <= 12"]
[vary]
lanes = [2, 3, 4]
stages = [2, 4]
rows = { from = 3, to = 4 }
[[workload]]
gemm = [8, 12, 6]
[[workload]]
dlrm = { sparse_feature_size = 2, embedding_sizes = [4, 3, 2], mlp_bot = [4, 3, 2], mlp_top = [4, 2, 1] }
batch = [2]
[measure]
seed = 3
"""


def _spec(tmp_path, text=SPEC, name="s.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _results(store_path):
    """{key: (status, reason, metrics without the seconds)} of a store."""
    with Store(store_path, create=False) as store:
        return {r["key"]: (r["status"], r["reason"], r["metrics"]) for r in store.rows()}


def test_a_sweep_on_two_workers_gives_the_one_worker_results_and_keeps_refused_points(tmp_path, capsys):
    spec = _spec(tmp_path)
    sweep = load_spec(spec)
    # lanes 2, 3, 4 x stages 2, 4 with lanes <= stages (4 pairs) x rows 3, 4 (cols 3: both <= 12): 8 points.
    assert len(sweep.points()) == 8 and len(sweep.tasks()) == 16
    assert main(["sweep", str(spec), "--workers", "1", "--store", str(tmp_path / "one.sqlite"),
                 "--out", str(tmp_path / "one")]) == 0
    assert main(["sweep", str(spec), "--workers", "2", "--store", str(tmp_path / "two.sqlite"),
                 "--out", str(tmp_path / "two")]) == 0
    out = capsys.readouterr().out
    one, two = _results(tmp_path / "one.sqlite"), _results(tmp_path / "two.sqlite")
    assert one == two and len(one) == 16
    refused = [v for v in one.values() if v[0] == "refused"]
    assert len(refused) == 2 * 2 and all("'lanes' = 3 is invalid: must be a power of two" in r for _, r, _ in refused)
    ok = [m for s, _, m in one.values() if s == "ok"]
    assert len(ok) == 12 and all(m["cycles"] > 0 and m["source"] == "model" for m in ok)
    assert all(0 < m["mac_utilization"] < 1 and m["functional_units"] % 4 == 0 for m in ok)
    assert "16 tasks: 0 stored before, 12 ok, 4 refused, 0 failed this run" in out
    rows = list(csv.DictReader((tmp_path / "two" / "results.csv").read_text().splitlines()))
    assert [r["workload"] for r in rows[:2]] == ["gemm8x12x6", "dlrm-b2"]  # the spec's order
    assert (tmp_path / "two" / "pareto.png").read_bytes()[:4] == b"\x89PNG"
    # --report redraws the same table from the store alone.
    assert main(["sweep", "--report", str(tmp_path / "two.sqlite"), "--out", str(tmp_path / "again")]) == 0
    assert _without_seconds(tmp_path / "again" / "results.csv") == _without_seconds(tmp_path / "two" / "results.csv")
    assert _without_seconds(tmp_path / "one" / "results.csv") == _without_seconds(tmp_path / "two" / "results.csv")


def _without_seconds(path):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(path.read_text().splitlines())]


def test_a_killed_worker_and_a_restarted_sweep_store_every_task_once(tmp_path):
    spec = _spec(tmp_path)
    sweep = load_spec(spec)
    reference = tmp_path / "ref.sqlite"
    with Store(reference) as store, client_for("local", 1, {}) as client:
        run_sweep(sweep, store, client)
    store_path = tmp_path / "faults.sqlite"
    killed = []
    with Store(store_path) as store, client_for("local", 2, {}) as client:
        pids = client.run(os.getpid)

        def kill_one(line):  # after the first result: a worker dies with its task in flight
            if "done" in line and not killed:
                killed.append(next(iter(pids.values())))
                os.kill(killed[0], signal.SIGKILL)

        counts = run_sweep(sweep, store, client, kill_one)
    assert killed and counts["failed"] == 0 and counts["ok"] + counts["refused"] == 16
    assert _results(store_path) == _results(reference)
    # Stopped mid-way: the tasks still running have no row; a new run runs only those.
    with Store(store_path) as store:
        with store.db:
            store.db.execute("DELETE FROM tasks WHERE position % 3 = 0")
        missing = 16 - len(store.keys())
        with client_for("local", 2, {}) as client:
            counts = run_sweep(sweep, store, client)
    assert missing == 6 and counts["stored_before"] == 10 and counts["ok"] + counts["refused"] == 6
    assert _results(store_path) == _results(reference)


BAD = [
    ("[vary]\nlanez = [2]\n", "vary.lanez: unknown ArrayConfig field"),
    ("[vary]\nrows = { from = 5, to = 3 }\n", "vary.rows: empty range (from 5 to 3)"),
    ("[vary]\nrows = []\n", "vary.rows: give a non-empty list"),
    ('constraints = ["lanes > 4", "lanes < 3"]\n[vary]\nlanes = [2, 8]\n',
     "constraints[1] 'lanes < 3': no point meets it"),
    ('constraints = ["__import__(1)"]\n', "constraints[0] '__import__(1)': only arithmetic"),
    ('constraints = ["lane < 3"]\n', "'lane' is not an ArrayConfig field"),
    ("colour = 1\n", "unknown key(s) colour"),
    ("[measure]\nmemory = 'fast'\n", "measure.memory"),
    ("[measure]\narea = 'guess'\n", "measure.area = 'guess': give false, true (= 'parts') or one of 'parts', 'full'"),
    ("[measure]\narea = 3\n", "measure.area = 3: wrong type"),
]


@pytest.mark.parametrize("text,message", BAD, ids=[m[:30] for _, m in BAD])
def test_a_bad_spec_is_refused_naming_the_key_and_nothing_is_written(tmp_path, capsys, text, message):
    spec = _spec(tmp_path, 'base = "tiny"\n' + text + '[[workload]]\ngemm = [4, 4, 4]\n')
    assert main(["sweep", str(spec)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]


def test_no_workload_and_a_bad_scheduler_are_refused(tmp_path, capsys):
    assert main(["sweep", str(_spec(tmp_path, 'base = "tiny"\n'))]) == 2
    assert "workload: give at least one [[workload]]" in capsys.readouterr().err
    assert main(["sweep", str(_spec(tmp_path, SPEC)), "--scheduler", "yarn"]) == 2
    assert "--scheduler 'yarn'" in capsys.readouterr().err
    assert main(["sweep", "--report", str(tmp_path / "none.sqlite")]) == 2
    assert "no such sweep store" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]


def test_rtl_runs_check_the_points_small_enough_and_say_which_were_skipped(tmp_path, capsys):
    """measure.rtl: the base point (tiny, 5 PCUs) runs on the direct harness, checked, beside the cost
    model (model_error = model / RTL - 1); with rtl_max_pcus below its PCUs it is skipped, saying why."""
    for cap, name in ((16, "run"), (4, "skip")):
        spec = _spec(tmp_path, f'base = "tiny"\n[[workload]]\ngemm = [8, 12, 6]\n[measure]\nrtl = true\n'
                               f'rtl_max_pcus = {cap}\n', f"{name}.toml")
        assert main(["sweep", str(spec), "--workers", "1"]) == 0
        (row,) = list(csv.DictReader((tmp_path / f"{name}.sweep" / "results.csv").read_text().splitlines()))
        assert row["status"] == "ok" and int(row["cycles"]) > 0
        if name == "run":
            assert int(row["rtl_cycles"]) > 0 and abs(float(row["model_error"])) < 0.5 and not row["rtl_skipped"]
            assert float(row["model_error"]) == pytest.approx(int(row["cycles"]) / int(row["rtl_cycles"]) - 1, abs=1e-4)
        else:
            assert row["rtl_skipped"] == "5 PCUs > rtl_max_pcus 4" and not row["rtl_cycles"]
    capsys.readouterr()


def test_the_pareto_front_keeps_the_points_no_other_beats():
    points = [(1, 10), (2, 9), (2, 20), (4, 20), (4, 30), (8, 25)]
    assert pareto(points) == [0, 2, 4]


@pytest.mark.parametrize("kind", [k for k in UNIT_FIELDS if k != "config_port"])
def test_a_unit_depends_on_no_field_beyond_its_list(kind):
    """Every ArrayConfig field outside UNIT_FIELDS[kind], changed at once, leaves the unit's Verilog as
    it was: points that differ only there may share its synthesis."""
    import dataclasses
    import hashlib

    from amaranth.back import verilog

    from rdagen.sim.tops import top

    base = preset("tiny")
    other = {"lanes": 4, "stages": 3, "registers": 5, "counters": 3, "vector_inputs": 3, "scalar_inputs": 3,
             "vector_outputs": 2, "scalar_outputs": 2, "fifo_depth": 8, "pmu_depth": 32, "pmu_stages": 3, "rows": 4,
             "cols": 4, "vector_tracks": 2, "scalar_tracks": 2, "control_tracks": 2}
    changed = dataclasses.replace(base, name="changed", **{f: v for f, v in other.items() if f not in UNIT_FIELDS[kind]})
    digest = lambda cfg: hashlib.sha256(verilog.convert(top(UNITS[kind]).build(cfg), name="u").encode()).digest()  # noqa: E731
    assert digest(changed) == digest(base)
    listed = dataclasses.replace(base, name="listed", **{f: other[f] for f in UNIT_FIELDS[kind]})
    assert digest(listed) != digest(base)  # and the listed ones matter


def test_area_by_synthesis_shares_each_unit_configuration(tmp_path, capsys):
    """measure.area on tiny with rows 3 and 4: the PCU, PMU, AG and switches depend on neither, so each is
    synthesized once for both points (the configuration port twice); the area is the unit counts times
    their cells and NAND2 equivalents; a second sweep takes every unit from the cache."""
    from rdagen.explore.area import nand2_gates, unit_counts
    from rdagen.sim.paths import BUILD

    spec = _spec(tmp_path, 'base = "tiny"\n[vary]\nrows = [3, 4]\n[[workload]]\ngemm = [8, 12, 6]\n'
                           '[measure]\narea = true\n')
    assert main(["sweep", str(spec), "--workers", "2"]) == 0
    err = capsys.readouterr().err
    assert "8 unit syntheses for 2 tasks" in err, err
    rows = list(csv.DictReader((tmp_path / "s.sweep" / "results.csv").read_text().splitlines()))
    units = {p.name: p for p in (BUILD / "synth" / "units").glob("*-parts.json")}
    assert len(rows) == 2 and all(r["area_source"] == "parts" for r in rows)
    for row in rows:
        cfg = dataclasses.replace(preset("tiny"), rows=int(row["rows"]))
        counts = unit_counts(cfg)
        assert counts["ag"] == cfg.rows and counts["pcu"] + counts["pmu"] == cfg.rows * cfg.cols
        assert int(row["area_cells"]) > 0 and float(row["area_nand2"]) > int(row["area_cells"]) * 0.6
        assert float(row["per_s_per_mgate"]) == pytest.approx(float(row["per_s"]) / (float(row["area_nand2"]) / 1e6),
                                                               rel=1e-3)
    assert units and int(rows[1]["area_cells"]) > int(rows[0]["area_cells"])  # a row more of units
    assert nand2_gates({"$_NAND_": 3, "$_DFF_P_": 1, "$mem_v2": 2}) == pytest.approx(3 + 5.67, abs=0.05)
    with pytest.raises(ValueError, match="no NAND2 equivalent for the Yosys cell type \\$_FOO_"):
        nand2_gates({"$_FOO_": 1})
    # The parts (synth/parts.py) against the whole unit synthesized module by module: the tiny PCU's 71
    # modules are 45 parts, which differ from the modules they stand for only in constants (lane seeds).
    from rdagen.explore.area import synthesize_unit

    tiny = {f: v for f, v in dataclasses.asdict(preset("tiny")).items() if f != "name"}
    parts, full = (synthesize_unit("pcu", tiny, 3600, method) for method in ("parts", "full"))
    assert parts["source"] == "parts" and parts["parts"]["parts"] < parts["parts"]["modules"] and full["parts"] is None
    assert parts["cells"] == pytest.approx(full["cells"], rel=0.005) and parts["flipflops"] == full["flipflops"]
    assert parts["memory_bits"] == full["memory_bits"] > 0 and parts["nand2"] == pytest.approx(full["nand2"], rel=0.005)
    first = _without_seconds(tmp_path / "s.sweep" / "results.csv")
    stamps = {p: p.stat().st_mtime_ns for p in (BUILD / "synth" / "units").glob("*.json")}
    assert main(["sweep", str(spec), "--workers", "1", "--store", str(tmp_path / "again.sqlite")]) == 0
    assert _without_seconds(tmp_path / "s.sweep" / "results.csv") == first  # the same areas, from the cache
    assert {p: p.stat().st_mtime_ns for p in (BUILD / "synth" / "units").glob("*.json")} == stamps  # none redone
    capsys.readouterr()


def test_the_sweep_benchmark_runs_a_study_cold_on_1_and_2_workers(tmp_path):
    """bench/sweep.py (`make bench ARGS="--only sweep"`) on a 2-point study: each run from a cold build
    in its own `rdagen sweep` process, its progress passed on line by line as it comes, and the JSON
    with both wall times, the speed-up and equal results, and a second sitting that reuses the 1-worker
    run recorded on the same code and study (no area here: the syntheses' sharing is
    test_area_by_synthesis_shares_each_unit_configuration's, and cold syntheses take minutes)."""
    import json

    from rdagen.bench.sweep import run

    study = ('base = "tiny"\n[vary]\nstages = [2, 4]\n[[workload]]\ngemm = [8, 12, 6]\n'
             '[measure]\nseed = 3\n')
    lines = []
    out = run(workers=(1, 2), study=study, log=lines.append, name="study", one_task=False, results=tmp_path)
    result = json.loads(out.read_text())
    assert result["points"] == 2 and result["tasks"] == 2 and result["status"]["ok"] == 2
    assert set(result["wall_s"]) == {"1", "2"} and result["same_results"] is True
    assert result["speedup"] == round(result["wall_s"]["1"] / result["wall_s"]["2"], 3)
    assert result["unit_syntheses"] == result["unit_syntheses_saved"] == 0
    assert any(line.startswith("[study] 2w ") and "done" in line for line in lines), lines[-10:]
    assert (tmp_path / "study" / "pareto.png").read_bytes()[:4] == b"\x89PNG"
    assert result["reused_runs"] == {}
    # A second sitting takes the 1-worker run from its record (same code and study) and runs 2 workers only.
    lines.clear()
    again = json.loads(run(workers=(1, 2), study=study, log=lines.append, name="study", one_task=False,
                           results=tmp_path).read_text())
    assert list(again["reused_runs"]) == ["1"] and again["wall_s"]["1"] == result["wall_s"]["1"]
    assert again["same_results"] is True and not any(line.startswith("[study] 1w ") for line in lines)
    # Not on another study.
    other = json.loads(run(workers=(1, 2), study=study.replace("seed = 3", "seed = 4"), log=lines.append,
                           name="study", one_task=False, results=tmp_path).read_text())
    assert other["reused_runs"] == {}


def test_a_local_cluster_leaves_port_8787_to_whoever_holds_it():
    """The local scheduler has no dashboard and puts its HTTP server on a free port: with 8787 taken
    (another cluster on the machine, a parallel test), distributed has nothing to warn about."""
    import socket
    import warnings

    from rdagen.explore.execute import client_for

    with socket.socket() as held:
        held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            held.bind(("", 8787))
            held.listen()
        except OSError:
            pass  # something else holds it already: the same condition
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            with client_for("local", 1, {}) as client:
                assert client.submit(sum, [1, 2]).result() == 3
    assert not [w for w in seen if "8787" in str(w.message)], [str(w.message) for w in seen]
