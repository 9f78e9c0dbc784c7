"""Benchmark of ``rdagen sweep``: the design-space study of issue 25 run twice from cold (a fresh
build directory each time, so every Verilog generation and unit synthesis is done again), on a Dask
LocalCluster of 1 worker and of 2, as a user runs it (``rdagen sweep`` in a subprocess). Writes
bench/results/sweep.json (the wall times, the speed-up, the unit syntheses run and those the sharing
saved, the seconds of each kind of task, and every row) and copies the 2-worker run's table and plots
to bench/results/sweep/. Beforehand it times one task of each kind on its own (``COSTS``: mappings
by the cost model on ``plasticine``, and a mapping with its RTL run on ``small``), so a user can size
a cluster; the syntheses' seconds per unit kind and preset are in bench/results/area.json.

Each run is also recorded on its own (bench/results/sweep-workers<N>.json, with a hash of the code it
ran); a run of fewer workers than the last is taken from its record when the code and the study are
the same, so the two runs (about 2 hours together here) can be measured in two sittings, each on an
idle machine. The JSON names the runs so taken (``reused_runs``).

The study: lanes {4, 8, 16} x stages {4, 6} x arrays {4x4, 8x8, 16x8} x PMU depth {1024, 4096} on
the ``plasticine`` base (36 points), each with a 256 x 256 x 256 GEMM and the Criteo-Kaggle DLRM at
batch 1 and 64 (108 tasks), area by parts (explore/area.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rdagen.explore.store import Store

from .arith import RESULTS

__all__ = ["run", "STUDY", "COSTS"]

COSTS = (("plasticine", "gemm = [256, 256, 256]", False), ("plasticine", 'dlrm = "kaggle"\nbatch = [1, 64]', False),
         ("small", "gemm = [64, 64, 64]", True))
"""(base, workload, rtl): the tasks timed one by one."""

STUDY = """\
base = "plasticine"
constraints = ["lanes <= 4 * stages", "rows == cols or (rows == 16 and cols == 8)"]

[vary]
lanes = [4, 8, 16]
stages = [4, 6]
rows = [4, 8, 16]
cols = [4, 8]
pmu_depth = [1024, 4096]

[[workload]]
gemm = [256, 256, 256]

[[workload]]
dlrm = "kaggle"
batch = [1, 64]

[measure]
area = "parts"
synth_timeout = 7200
"""


def costs(log=print) -> list[dict]:
    """The seconds of one task of each kind of ``COSTS``, on one core of this machine."""
    import tomllib

    from rdagen.explore.evaluate import evaluate
    from rdagen.explore.spec import parse_spec

    out = []
    for base, workload, rtl in COSTS:
        sweep = parse_spec(tomllib.loads(f'base = "{base}"\n[[workload]]\n{workload}\n[measure]\nrtl = {str(rtl).lower()}\n'
                                         f"rtl_max_pcus = 64\n"))
        for task in sweep.tasks():
            result = evaluate(task.payload())
            kind = "mapping and RTL run" if rtl else "mapping (cost model)"
            out.append({"config": base, "workload": task.workload["name"], "kind": kind, "status": result["status"],
                        "seconds": result["seconds"], "cycles": result["metrics"].get("cycles")})
            log(f"[sweep] one task: {kind}, {task.workload['name']} on {base}: {result['seconds']:.1f} s "
                f"({result['status']})")
    return out


def run(*, workers=(1, 2), study: str = STUDY, log=print, name: str = "sweep", one_task: bool = True,
        results: Path = RESULTS) -> Path:
    """The *study* from cold on each number of *workers*; ``results/<name>.json`` and ``results/<name>/``
    (the last run's table and plots). *one_task*: time one task of each kind first (``costs``)."""
    task_costs = costs(log) if one_task else []
    runs, reused, code = {}, [], code_hash()
    with tempfile.TemporaryDirectory(prefix="rdagen-sweep-bench-") as tmp:
        for n in workers:
            record = results / f"{name}-workers{n}.json"
            if n != max(workers) and record.exists():
                kept = json.loads(record.read_text())
                if kept["code"] == code and kept["study"] == study:
                    log(f"[{name}] {n} worker(s): the run of {kept['when']} on the same code and study "
                        f"({record}; delete it to run again): {kept['wall_s']:.0f} s")
                    runs[n] = kept
                    reused.append(n)
                    continue
            where = Path(tmp) / f"workers{n}"
            where.mkdir()
            (where / "study.toml").write_text(study)
            env = {**os.environ, "RDAGEN_BUILD": str(where / "build")}
            log(f"[{name}] {n} worker(s), cold build in {where}")
            started = time.perf_counter()
            returncode, tail = _sweep(where / "study.toml", n, env, lambda line: log(f"[{name}] {n}w {line}"))
            wall = time.perf_counter() - started
            if returncode not in (0, 1):  # 1: some task failed, recorded in the store
                raise RuntimeError(f"rdagen sweep exited {returncode}:\n{tail}")
            runs[n] = {"wall_s": round(wall, 1), "rows": _rows(where / "study.sweep.sqlite"),
                       "syntheses": _syntheses(where / "build" / "synth" / "units")}
            results.mkdir(parents=True, exist_ok=True)
            record.write_text(json.dumps({"code": code, "study": study, "when": time.strftime("%Y-%m-%d %H:%M"),
                                          **runs[n]}) + "\n")
            log(f"[{name}] {n} worker(s): {wall:.0f} s, {len(runs[n]['rows'])} tasks, "
                f"{len(runs[n]['syntheses'])} unit syntheses")
            if n == max(workers):
                out_dir = results / name
                shutil.rmtree(out_dir, ignore_errors=True)
                shutil.copytree(where / "study.sweep", out_dir)
    first, last = runs[min(workers)], runs[max(workers)]
    same = _comparable(first["rows"]) == _comparable(last["rows"])
    rows = last["rows"]
    syntheses = last["syntheses"]
    kinds = sorted({s["kind"] for s in syntheses})
    result = {
        "benchmark": name, "points": len({json.dumps(r["point"], sort_keys=True) for r in rows}), "tasks": len(rows),
        "wall_s": {str(n): r["wall_s"] for n, r in runs.items()},
        "reused_runs": {str(n): runs[n]["when"] for n in reused},
        "speedup": round(first["wall_s"] / last["wall_s"], 3),
        "same_results": same,
        "unit_syntheses": len(syntheses),
        "unit_syntheses_without_sharing": len({json.dumps(r["point"], sort_keys=True) for r in rows}) * len(kinds),
        "status": {s: sum(1 for r in rows if r["status"] == s) for s in ("ok", "refused", "failed")},
        "task_seconds": _spread([r["seconds"] for r in rows]), "one_task": task_costs,
        "synthesis_seconds": {k: _spread([s["seconds"] for s in syntheses if s["kind"] == k]) for k in kinds},
        "study": study, "rows": rows,
    }
    result["unit_syntheses_saved"] = result["unit_syntheses_without_sharing"] - result["unit_syntheses"]
    results.mkdir(parents=True, exist_ok=True)
    out = results / f"{name}.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    log(f"[{name}] speed-up {result['speedup']}x on {max(workers)} workers; results equal: {same}; "
        f"{result['unit_syntheses']} unit syntheses ({result['unit_syntheses_saved']} saved by sharing)")
    return out


def code_hash() -> str:
    """A hash of the sources a sweep's results and times depend on (rtl, synth, sim, mapper, explore): a
    run recorded on other code is not reused."""
    import hashlib

    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for folder in ("rtl", "synth", "sim", "mapper", "explore"):
        for path in sorted((root / folder).rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _sweep(spec: Path, workers: int, env: dict, log) -> tuple[int, str]:
    """``rdagen sweep SPEC --workers N`` in a subprocess, its progress lines (stderr) passed to *log* as
    they come; (exit status, the last 3,000 characters of stderr)."""
    proc = subprocess.Popen([sys.executable, "-m", "rdagen.cli", "sweep", str(spec), "--workers", str(workers)],
                            env=env, stderr=subprocess.PIPE, text=True)
    tail = ""
    for line in proc.stderr:
        log(line.rstrip())
        tail = (tail + line)[-3000:]
    return proc.wait(), tail


def _rows(path: Path) -> list[dict]:
    with Store(path, create=False) as store:
        return [{"point": r["point"], "workload": r["workload"]["name"], "status": r["status"], "reason": r["reason"],
                 "seconds": r["seconds"], "metrics": r["metrics"]} for r in store.rows()]


def _syntheses(cache: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(cache.glob("*.json"))]


def _comparable(rows: list[dict]) -> list:
    return [(r["point"], r["workload"], r["status"], r["reason"],
             {k: v for k, v in r["metrics"].items() if k != "seconds"}) for r in rows]


def _spread(values: list[float]) -> dict:
    values = sorted(values)
    if not values:
        return {}
    return {"count": len(values), "min": round(values[0], 2), "median": round(values[len(values) // 2], 2),
            "max": round(values[-1], 2), "total": round(sum(values), 1)}
