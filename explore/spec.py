"""The spec of a design-space sweep (``rdagen sweep SPEC.toml``): the ArrayConfig fields to vary, the
constraints the points must meet, the workloads and what to measure; and the tasks it expands to (one
per point and workload), each keyed by a hash of what determines its result.

Format (TOML)::

    base = "small"                       # preset or ArrayConfig JSON: the fields not varied
    constraints = ["lanes <= 4 * stages"]  # Python-like expressions of the fields

    [vary]                               # any ArrayConfig field: a list, or an inclusive range
    lanes = [4, 8, 16]
    rows = { from = 4, to = 8, step = 4 }

    [[workload]]                         # a GEMM M x K x N (no bias) ...
    gemm = [256, 256, 256]
    [[workload]]                         # ... a DLRM by name (kaggle, terabyte) at batch sizes ...
    dlrm = "kaggle"
    batch = [1, 64]
    [[workload]]                         # ... or by the reference's flags ...
    dlrm = { sparse_feature_size = 2, embedding_sizes = [4, 3, 2], mlp_bot = [4, 3, 2], mlp_top = [4, 2, 1] }
    [[workload]]                         # ... or any graph file (relative to the spec)
    graph = "../mapper/examples/dlrm_tiny.json"

    [measure]
    memory = "ddr4"                      # the DRAM of the cost model (rtl/spec/memory.py)
    clock_ghz = 1.0
    seed = 1                             # placement seed (and of the RTL runs' inputs)
    rtl = false                          # also run each point on the RTL (direct harness), checked
    rtl_max_pcus = 16                    # ... where its array has at most this many PCUs
    area = false                         # "parts" (or true) / "full": synthesize each unit kind once per
                                         # distinct unit configuration (explore/area.py)
    synth_timeout = 3600                 # seconds per unit synthesis

    [jobqueue]                           # --scheduler slurm|lsf|pbs: dask-jobqueue's settings
    cores = 2
    memory = "8GB"

Every key is checked: an unknown field or key, an empty list or range, a constraint that is not an
expression of the fields or that no point meets is a ``SpecError`` naming the key. A point whose
fields the ArrayConfig refuses (lanes not a power of two, ...) is kept, as refused, with the reason.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import itertools
import json
import tomllib
from pathlib import Path

from rdagen.rtl.spec.config import ArrayConfig, load
from rdagen.rtl.spec.memory import memory as memory_named

from .area import METHODS

__all__ = ["SpecError", "Sweep", "Task", "load_spec", "parse_spec", "dlrm_arch"]

_FIELDS = tuple(f for f in ArrayConfig.__dataclass_fields__ if f != "name")
_DLRM_FLAGS = {"sparse_feature_size": int, "embedding_sizes": list, "mlp_bot": list, "mlp_top": list,
               "interaction": str, "indices_per_lookup": int}
_MEASURE = {"memory": str, "clock_ghz": (int, float), "seed": int, "rtl": bool, "rtl_max_pcus": int, "area": (bool, str),
            "synth_timeout": (int, float)}


class SpecError(ValueError):
    """A sweep spec that cannot be run; the message names the key."""


@dataclasses.dataclass(frozen=True)
class Task:
    """One point of the sweep and one workload: ``key`` hashes everything its result depends on;
    ``position`` orders the tables (points in the spec's order, each point's workloads in order)."""
    key: str
    position: int
    point: dict  # the varied fields
    config: dict  # every ArrayConfig field of the point (hardware fields; name excluded)
    workload: dict  # {"name", "kind": gemm|dlrm|graph, ...}
    measure: dict

    def payload(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Sweep:
    path: Path | None
    base: ArrayConfig
    vary: dict  # field -> tuple of values
    constraints: tuple[str, ...]
    workloads: tuple[dict, ...]
    measure: dict
    jobqueue: dict = dataclasses.field(default_factory=dict)

    def points(self) -> list[dict]:
        """Every combination of the varied fields (fields in ArrayConfig order, values in the order
        given) that meets the constraints."""
        fields = [f for f in _FIELDS if f in self.vary]
        combos = [dict(zip(fields, values)) for values in itertools.product(*(self.vary[f] for f in fields))]
        return [p for p in combos if all(_holds(c, {**self.base.hardware_dict(), **p}) for c in self.constraints)]

    def tasks(self) -> list[Task]:
        tasks = []
        for point in self.points():
            config = {**self.base.hardware_dict(), **point}
            for workload in self.workloads:
                canonical = json.dumps({"config": config, "workload": workload, "measure": self.measure},
                                       sort_keys=True, separators=(",", ":"))
                tasks.append(Task(hashlib.sha256(canonical.encode()).hexdigest()[:20], len(tasks), point, config,
                                  workload, self.measure))
        return tasks


def load_spec(path: str | Path) -> Sweep:
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"{path}: no such spec file")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: not valid TOML ({exc})") from None
    return parse_spec(data, path)


def parse_spec(data: dict, path: Path | None = None) -> Sweep:
    unknown = sorted(set(data) - {"base", "constraints", "vary", "workload", "measure", "jobqueue"})
    if unknown:
        raise SpecError(f"unknown key(s) {', '.join(unknown)}: a spec has base, constraints, vary, workload, measure, "
                        f"jobqueue")
    jobqueue = data.get("jobqueue", {})
    if not isinstance(jobqueue, dict):
        raise SpecError("jobqueue: give a table of dask-jobqueue settings")
    base_name = data.get("base", "small")
    if not isinstance(base_name, str):
        raise SpecError(f"base = {base_name!r}: give a preset name or an ArrayConfig JSON file")
    try:
        base_ref = str(path.parent / base_name) if path and base_name.endswith(".json") else base_name
        base = load(base_ref)
    except ValueError as exc:
        raise SpecError(f"base: {exc}") from None
    vary = _vary(data.get("vary", {}))
    workloads = _workloads(data.get("workload"), path)
    measure = _measure(data.get("measure", {}))
    constraints = data.get("constraints", [])
    if not isinstance(constraints, list) or not all(isinstance(c, str) for c in constraints):
        raise SpecError(f"constraints = {constraints!r}: give a list of expressions as strings")
    sweep = Sweep(path, base, vary, tuple(constraints), workloads, measure, jobqueue)
    fields = {**base.hardware_dict(), **{f: v[0] for f, v in vary.items()}}
    for n, c in enumerate(constraints):
        _check_expression(f"constraints[{n}]", c, fields)
    # A constraint that removes every point left by those before it contradicts them (or the ranges).
    combos = Sweep(path, base, vary, (), workloads, measure).points()
    for n, c in enumerate(constraints):
        left = [p for p in combos if _holds(c, {**base.hardware_dict(), **p})]
        if not left:
            raise SpecError(f"constraints[{n}] {c!r}: no point meets it (of the {len(combos)} the vary ranges and "
                            f"the constraints before it leave)")
        combos = left
    return sweep


def _vary(vary) -> dict:
    if not isinstance(vary, dict):
        raise SpecError("vary: give a table of ArrayConfig fields")
    out = {}
    for field, values in vary.items():
        key = f"vary.{field}"
        if field not in _FIELDS:
            raise SpecError(f"{key}: unknown ArrayConfig field (fields: {', '.join(_FIELDS)})")
        if isinstance(values, dict):
            extra = sorted(set(values) - {"from", "to", "step"})
            if extra or not {"from", "to"} <= set(values):
                raise SpecError(f"{key} = {values}: a range is {{ from = A, to = B, step = S }} (step optional)")
            lo, hi, step = values["from"], values["to"], values.get("step", 1)
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in (lo, hi, step)) or step < 1:
                raise SpecError(f"{key} = {values}: from, to and step must be integers, step >= 1")
            values = list(range(lo, hi + 1, step))
            if not values:
                raise SpecError(f"{key}: empty range (from {lo} to {hi})")
        if not isinstance(values, list) or not values:
            raise SpecError(f"{key}: give a non-empty list of values or a range")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise SpecError(f"{key} = {values}: every value must be an integer")
        if len(set(values)) != len(values):
            raise SpecError(f"{key} = {values}: a value is listed twice")
        out[field] = tuple(values)
    return out


def _workloads(workloads, path: Path | None) -> tuple[dict, ...]:
    if not workloads:
        raise SpecError("workload: give at least one [[workload]] (gemm, dlrm or graph)")
    if not isinstance(workloads, list):
        raise SpecError("workload: give it as [[workload]] tables")
    out = []
    for n, w in enumerate(workloads):
        key = f"workload[{n}]"
        kinds = [k for k in ("gemm", "dlrm", "graph") if k in w]
        if len(kinds) != 1:
            raise SpecError(f"{key}: give exactly one of gemm, dlrm, graph")
        kind = kinds[0]
        allowed = {kind, "name"} | ({"batch"} if kind == "dlrm" else set())
        extra = sorted(set(w) - allowed)
        if extra:
            raise SpecError(f"{key}: unknown key(s) {', '.join(extra)} for a {kind} workload")
        if kind == "gemm":
            shape = w["gemm"]
            if not (isinstance(shape, list) and len(shape) == 3 and all(isinstance(v, int) and v >= 1 for v in shape)):
                raise SpecError(f"{key}.gemm = {shape!r}: give [M, K, N], positive integers")
            out.append({"name": w.get("name", "gemm" + "x".join(map(str, shape))), "kind": "gemm", "shape": shape})
        elif kind == "graph":
            file = Path(w["graph"])
            file = file if file.is_absolute() or path is None else path.parent / file
            if not file.is_file():
                raise SpecError(f"{key}.graph: {file}: no such graph file")
            out.append({"name": w.get("name", file.stem), "kind": "graph", "path": str(file.resolve()),
                        "digest": hashlib.sha256(file.read_bytes()).hexdigest()[:16]})
        else:
            model = w["dlrm"]
            batches = w.get("batch", [1])
            batches = batches if isinstance(batches, list) else [batches]
            if not batches or not all(isinstance(b, int) and not isinstance(b, bool) and b >= 1 for b in batches):
                raise SpecError(f"{key}.batch = {w.get('batch')!r}: give batch sizes >= 1")
            if isinstance(model, str):
                from rdagen.mapper.apps.dlrm import MODELS
                if model not in MODELS:
                    raise SpecError(f"{key}.dlrm = {model!r}: a model by name is one of {', '.join(MODELS)}; "
                                    f"or give its flags as a table")
                arch = {"model": model}
            elif isinstance(model, dict):
                unknown = sorted(set(model) - set(_DLRM_FLAGS))
                if unknown:
                    raise SpecError(f"{key}.dlrm: unknown flag(s) {', '.join(unknown)} (flags: {', '.join(_DLRM_FLAGS)})")
                for flag, kind_of in _DLRM_FLAGS.items():
                    if flag in model and not isinstance(model[flag], kind_of):
                        raise SpecError(f"{key}.dlrm.{flag} = {model[flag]!r}: expected {kind_of.__name__}")
                arch = {"flags": model}
                dlrm_arch(arch, f"{key}.dlrm")  # refused now, not on a worker
            else:
                raise SpecError(f"{key}.dlrm = {model!r}: a model name or a table of its flags")
            name = w.get("name", model if isinstance(model, str) else "dlrm")
            out += [{"name": f"{name}-b{b}", "kind": "dlrm", **arch, "batch": b} for b in batches]
    names = [w["name"] for w in out]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SpecError(f"workload: the name(s) {', '.join(twice)} are given twice (set name = ... to tell them apart)")
    return tuple(out)


def dlrm_arch(workload: dict, where: str = "workload"):
    """The DLRM Arch of a workload (by name, or by flags: the reference's defaults for those not given,
    but one index per lookup, as the published models' data has)."""
    from rdagen.mapper.apps.dlrm import MODELS, Arch
    from rdagen.mapper.frontend.graph import GraphError

    if "model" in workload:
        return MODELS[workload["model"]]
    f = workload["flags"]
    try:
        return Arch(f.get("sparse_feature_size", 2), tuple(f.get("embedding_sizes", (4, 3, 2))),
                    tuple(f.get("mlp_bot", (4, 3, 2))), tuple(f.get("mlp_top", (4, 2, 1))), f.get("interaction", "dot"),
                    f.get("indices_per_lookup", 1))
    except (GraphError, ValueError, TypeError) as exc:
        raise SpecError(f"{where}: {exc}") from None


def _measure(measure) -> dict:
    if not isinstance(measure, dict):
        raise SpecError("measure: give a table")
    unknown = sorted(set(measure) - set(_MEASURE))
    if unknown:
        raise SpecError(f"measure: unknown key(s) {', '.join(unknown)} (keys: {', '.join(_MEASURE)})")
    out = {"memory": "ddr4", "clock_ghz": 1.0, "seed": 1, "rtl": False, "rtl_max_pcus": 16, "area": False,
           "synth_timeout": 3600, **measure}
    for key, kind in _MEASURE.items():
        if not isinstance(out[key], kind) or (isinstance(out[key], bool) and bool not in (kind if isinstance(
                kind, tuple) else (kind,))):
            raise SpecError(f"measure.{key} = {out[key]!r}: wrong type")
    if out["area"] is True:
        out["area"] = METHODS[0]
    if out["area"] is not False and out["area"] not in METHODS:
        raise SpecError(f"measure.area = {out['area']!r}: give false, true (= {METHODS[0]!r}) or one of "
                        f"{', '.join(map(repr, METHODS))}")
    try:
        memory_named(out["memory"])
    except ValueError as exc:
        raise SpecError(f"measure.memory: {exc}") from None
    if not out["clock_ghz"] > 0:
        raise SpecError(f"measure.clock_ghz = {out['clock_ghz']}: must be > 0")
    out["clock_ghz"] = float(out["clock_ghz"])
    if out["rtl_max_pcus"] < 1:
        raise SpecError(f"measure.rtl_max_pcus = {out['rtl_max_pcus']}: must be >= 1")
    if not out["synth_timeout"] > 0:
        raise SpecError(f"measure.synth_timeout = {out['synth_timeout']}: must be > 0 seconds")
    return out


_NODES = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.BinOp, ast.Add, ast.Sub,
          ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt,
          ast.GtE, ast.Name, ast.Load, ast.Constant)


def _check_expression(key: str, text: str, fields: dict) -> None:
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise SpecError(f"{key} {text!r}: not an expression ({exc.msg})") from None
    for node in ast.walk(tree):
        if not isinstance(node, _NODES):
            raise SpecError(f"{key} {text!r}: only arithmetic, comparisons, and/or/not of fields and numbers")
        if isinstance(node, ast.Name) and node.id not in fields:
            raise SpecError(f"{key} {text!r}: {node.id!r} is not an ArrayConfig field (fields: {', '.join(fields)})")
        if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float)):
            raise SpecError(f"{key} {text!r}: only numbers as constants")


def _holds(text: str, fields: dict) -> bool:
    # Checked by _check_expression: names are fields, nodes arithmetic and comparisons only.
    return bool(eval(compile(ast.parse(text, mode="eval"), "<constraint>", "eval"), {"__builtins__": {}}, dict(fields)))
