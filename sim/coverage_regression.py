"""``rdagen coverage``: the functional-coverage regression. Each group's regression (verif/coverage/) runs
on one configuration and samples, into one scope, what the golden model confirmed; the result is
build/coverage/summary.json and build/coverage/report.md:

* ``arith``: the arithmetic regression (every op: corner cross products, random operands).
* ``pcu``: random PCU configurations with random streams, gaps and back-pressure, and the directed
  kernels (fp32 and int32).
* ``pmu``: the directed modes, the access matrix (every pattern x conflict x range class in modes
  none, buffer and double) and random traffic in every mode.
* ``ag``: contiguous reads, gathers, coalesced rows, writes; long ones across 4 KB and 256 beats;
  slow channels (every burst in flight) and paused ones.
* ``switch``: random unicast and multicast routes (2 to 4 sinks) on the switch grid of each network,
  with and without back-pressure.
* ``bitstream``: the refusal regression (verif/bitstream_damage.py) on a mapped workload's bitstream.
* ``array``: the named workloads mapped onto the whole array and run on its RTL (cocotb).

A group passes when every case matched the golden model and every bin is hit or listed unreachable
(with the reason); a bin listed unreachable that was hit fails it too.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from rdagen.rtl.spec.ag_layout import AgProgram
from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.ops import OPS
from rdagen.rtl.spec.switch_layout import networks
from rdagen.verif.bitstream_damage import run_refusals
from rdagen.verif.coverage import arith_coverage, merge
from rdagen.verif.coverage.ag import ag_group
from rdagen.verif.coverage.array import array_group, sample_array
from rdagen.verif.coverage.bitstream import bitstream_group, sample_refusal
from rdagen.verif.coverage.pcu import pcu_group
from rdagen.verif.coverage.pmu import pmu_group
from rdagen.verif.coverage.switch import switch_group

from . import code_coverage

__all__ = ["GROUPS", "CODE_GOAL", "Part", "run_coverage", "format_summary", "markdown_report"]

GROUPS = ("arith", "pcu", "pmu", "ag", "switch", "bitstream", "array")
CODE_GOAL = 0.95  # of the rtl/ lines that make signals, covered (sim/code_coverage.py)


@dataclasses.dataclass
class Part:
    group: str
    report: dict  # {"bins", "hit", "missing", "unreachable", "contradicted"}
    ran: str  # what the regression checked, in a line
    failures: list[str]  # cases that did not match the golden model

    @property
    def ok(self) -> bool:
        return not (self.failures or self.report["missing"] or self.report["contradicted"])


def _failed(results) -> list[str]:
    return [f"{r.name}: {r.problems[0]}" for r in results if not r.ok]


def _arith(cfg, rng, scope, fp_random):
    from .arith_regression import make_plan, run_plan

    reg = run_plan(make_plan(int(rng.integers(2**31)), fp_random=fp_random, int_random=max(fp_random // 10, 1)), cfg,
                   tag="coverage")
    failures = [f"{r.op}: {r.mismatches} mismatches" for r in reg.rows if r.mismatches]
    return arith_coverage([op.name for op in OPS], reg.coverage_scope), f"{reg.vectors:,} vectors", failures


def _pcu(cfg, rng, scope, cases):
    from .pcu_regression import credit_cases, kernels, random_case, run_cases

    work = [random_case(cfg, rng, f"random{i}") for i in range(cases)]
    work += kernels(cfg, rng, "fp32") + kernels(cfg, rng, "int32") + credit_cases(cfg, rng)
    results = run_cases(cfg, work, tag="coverage-pcu", coverage=scope)
    return pcu_group(cfg).report(scope), f"{len(work)} cases, {sum(r.firings for r in results):,} firings", \
        _failed(results)


def _pmu(cfg, rng, scope, cases):
    from .pmu_regression import (access_matrix_cases, credit_pmu_cases, directed_pmu_cases, random_pmu_case,
                                 run_pmu_cases)

    work = directed_pmu_cases(cfg, rng) + access_matrix_cases(cfg, rng) + credit_pmu_cases(cfg, rng)
    work += [random_pmu_case(cfg, rng, f"random{i}") for i in range(cases)]
    results = run_pmu_cases(cfg, work, tag="coverage-pmu", coverage=scope)
    accesses = sum(len(r.golden.accesses) for r in results)
    return pmu_group(cfg).report(scope), f"{len(work)} cases, {accesses:,} accesses", _failed(results)


def _ag(cfg, rng, scope, _):
    from .ag_regression import AgCase, contiguous_case, failed_beats, gather_case, run_ag_cases, write_case

    L, page = cfg.lanes, 1024  # words in 4 KB
    slow_r, paused = {"r_pause": 0.7}, {"ar_pause": 0.3, "r_pause": 0.4, "stall": 0.3, "gap": 0.3}
    rows = 2 * page // 64
    work = [
        contiguous_case(cfg, rng, "short", list(range(0, 3 * L + 2))),
        contiguous_case(cfg, rng, "long", [3 * page + 5, 1000, 2 * L], base=page - 3),
        contiguous_case(cfg, rng, "long-paused", [3 * page, 7, 2500], base=5 * page, **paused),
        gather_case(cfg, rng, "rows", 16, rows=300, n=60, bad=2),
        gather_case(cfg, rng, "rows-paused", 40, rows=50, n=40, bad=1, **paused),
        contiguous_case(cfg, rng, "short-slow", [L] * 64, **slow_r),
        gather_case(cfg, rng, "scattered-slow", 16, rows=4096, n=64, **slow_r),
        AgCase("consecutive-aligned", AgProgram("gather", table_base=8 * page, row_words=64, rows=rows),
               {8 * page: rng.integers(0, 2**32, rows * 64, dtype=np.uint64).astype(np.uint32)},
               indices=list(range(rows)), r_pause=0.5),
        AgCase("consecutive-across-4kb", AgProgram("gather", table_base=16 * page - 40, row_words=16, rows=16),
               {16 * page - 40: rng.integers(0, 2**32, 16 * 16, dtype=np.uint64).astype(np.uint32)},
               indices=list(range(16))),
        write_case(cfg, rng, "writes", list(range(0, 3 * L + 2)) + [3 * page + 7]),
        write_case(cfg, rng, "writes-paused", [2000, 2 * L, 999], aw_pause=0.3, w_pause=0.4, b_pause=0.3, gap=0.3),
        write_case(cfg, rng, "writes-slow-b", [L] * 40, b_pause=0.9),
    ]
    # The DRAM answers some beats with SLVERR/DECERR: on a read, a gather and a write; and a refused write.
    for case in (contiguous_case(cfg, rng, "read-errors", [3 * L + 1, 700], r_pause=0.3),
                 gather_case(cfg, rng, "gather-errors", 40, rows=100, n=30),
                 write_case(cfg, rng, "write-errors", [5, 3 * L, 600], b_pause=0.3)):
        requests = case.commands or case.write_commands or [
            (case.program.table_base + i * 40, 40) for i in case.indices if i < case.program.rows]
        case.failed_beats = failed_beats(rng, requests, L, 5)
        work.append(case)
    refused = write_case(cfg, rng, "refused-write", [5, 5, 9])
    refused.write_commands[1] = (2**32 - 3, 5)  # runs past the address space: refused, its vectors taken
    work.append(refused)
    results = run_ag_cases(cfg, work, tag="coverage-ag", coverage=scope)
    bursts = sum(len(r.bursts) + len(r.write_bursts) for r in results)
    return ag_group().report(scope), f"{len(work)} cases, {bursts:,} bursts", _failed(results)


def _switch(cfg, rng, scope, routings):
    from rdagen.mapper.backend.route import GridRouter, Route

    from .switch_regression import random_routes, run_grid_traffic
    from .tops import SWITCH_LOCAL

    failures, routes = [], 0
    for network in networks(cfg):
        cases = []
        for i in range(routings):
            chosen, router = random_routes(cfg, rng, int(rng.integers(2, 2 * cfg.rows * cfg.cols)), multicast=0.4,
                                           network=network)
            cases.append((f"{network}{i}", chosen, router, int(rng.integers(20, 80)),
                          float(rng.choice([0, 0.3])), float(rng.choice([0, 0.3, 0.6])), int(rng.integers(2**31))))
            routes += len(chosen)
        # Every fan-out bin, with and without stalls, whatever the random routings drew (they missed
        # scalar fan-out 2 without stalls at one seed): a route from a local input to its own switch's
        # local outputs (one, then both) and to the switch east (and south) of it.
        for fanout in (1, 2, 3, 4):
            router = GridRouter(cfg.rows, cfg.cols, networks(cfg)[network].tracks, SWITCH_LOCAL, SWITCH_LOCAL)
            route = Route((0, 0, 0), ((0, 0, 0), (0, 0, 1), (0, 1, 0), (1, 0, 0))[:fanout])
            router.add(route)
            cases += [(f"{network}-fanout{fanout}-{stall}", [route], router, 40, 0.0, stall, int(rng.integers(2**31)))
                      for stall in (0.0, 0.6)]
        results = run_grid_traffic(cfg, cases, tag=f"coverage-switch-{network}", coverage=scope, network=network)
        failures += [f"{r['name']}: {r['problems'][0]}" for r in results if r["problems"]]
    return switch_group().report(scope), f"{routings} routings per network, {routes} routes", failures


def _bitstream(cfg, rng, scope, random):
    from rdagen.mapper.program import map_graph
    from rdagen.mapper.apps.workloads import workload

    valid = map_graph(workload("mlp", cfg, 1)[0], cfg).bitstreams[0]
    refused, problems = run_refusals(cfg, valid, rng, random, lambda reason: sample_refusal(cfg, reason, scope))
    return bitstream_group(cfg).report(scope), f"{refused} damaged bitstreams refused", problems


def _array(cfg, rng, scope, _):
    from rdagen.mapper.program import map_graph
    from rdagen.mapper.apps.workloads import WORKLOADS, workload

    from .graph_run import run_program

    failures, cycles = [], 0
    for name in WORKLOADS:
        graph, arrays = workload(name, cfg, int(rng.integers(2**31)))
        program = map_graph(graph, cfg)
        run = run_program(program, arrays, harness="cocotb", tag=f"coverage-array-{name}")
        cycles += sum(c for c, _ in run.simulated)
        if run.ok:
            sample_array(cfg, name, program.bitstreams, scope)
        else:
            failures.append(f"{name}: {(run.mismatches or ['outside the error bound'])[0]}")
    return array_group().report(scope), f"{len(WORKLOADS)} workloads, {cycles:,} cycles", failures


_RUNNERS = {"arith": _arith, "pcu": _pcu, "pmu": _pmu, "ag": _ag, "switch": _switch, "bitstream": _bitstream,
            "array": _array}
SIZES = {"arith": 200_000, "pcu": 300, "pmu": 150, "ag": 0, "switch": 12, "bitstream": 500, "array": 0}
"""The default size of each group's regression: random fp pairs per op, random PCU configurations,
random PMU cases, (AG: directed only), routings per network, random bitstream damages, (array: the
named workloads)."""


def run_coverage(cfg: ArrayConfig, seed: int, groups=GROUPS, sizes: dict | None = None,
                 progress: Callable[[str], None] | None = None) -> list[Part]:
    """Runs the regression of every group of *groups* on *cfg* (each from its own generator, drawn from
    *seed*), sampled into one scope."""
    unknown = [g for g in groups if g not in _RUNNERS]
    if unknown:
        raise ValueError(f"unknown coverage group {unknown[0]!r}; groups: {', '.join(GROUPS)}")
    sizes = {**SIZES, **(sizes or {})}
    scope = f"coverage-{cfg.name}-{seed}"
    parts = []
    for k, group in enumerate(groups):
        if progress:
            progress(f"[{k + 1}/{len(groups)}] {group} ...")
        rng = np.random.default_rng([seed, GROUPS.index(group)])
        report, ran, failures = _RUNNERS[group](cfg, rng, scope, sizes[group])
        parts.append(Part(group, report, ran, failures))
        if progress:
            progress(format_part(parts[-1]))
    return parts


def format_part(part: Part) -> str:
    r = part.report
    head = (f"{part.group:10} {r['hit']:5d} of {r['bins']:5d} bins hit, {len(r['unreachable']):3d} unreachable  "
            f"({part.ran}){'' if part.ok else '  FAIL'}")
    lines = [head]
    lines += [f"  MISSED {m}" for m in r["missing"]]
    lines += [f"  HIT BUT LISTED UNREACHABLE {c}" for c in r["contradicted"]]
    lines += [f"  CASE FAILED {f}" for f in part.failures[:10]]
    return "\n".join(lines)


def format_summary(parts: list[Part]) -> str:
    total = merge([p.report for p in parts])
    return "\n".join([format_part(p) for p in parts] + [
        f"{'total':10} {total['hit']:5d} of {total['bins']:5d} bins hit, {len(total['unreachable']):3d} unreachable"])


def markdown_report(cfg: ArrayConfig, seed: int, parts: list[Part], code: dict | None = None) -> str:
    lines = [f"# Coverage of rdagen on {cfg.name} (seed {seed})", "", "## Functional coverage", "",
             "| group | bins | hit | unreachable | missed | regression |", "|---|---:|---:|---:|---:|---|"]
    for p in parts:
        r = p.report
        lines.append(f"| {p.group} | {r['bins']} | {r['hit']} | {len(r['unreachable'])} | {len(r['missing'])} | "
                     f"{p.ran} |")
    for p in parts:
        if p.report["unreachable"] or p.report["missing"]:
            lines += ["", f"### {p.group}", ""]
            lines += [f"- missed: `{m}`" for m in p.report["missing"]]
            lines += [f"- unreachable: `{u['bin']}`: {u['why']}" for u in p.report["unreachable"]]
    if code:
        lines += ["", "## Code coverage (rtl/ lines whose signals toggled; sim/code_coverage.py)", "",
                  "| source file | lines | covered | % | signals | toggled |", "|---|---:|---:|---:|---:|---:|"]
        for path, c in sorted(code.items()):
            lines.append(f"| {path} | {c['lines']} | {c['hit']} | {100 * c['hit'] / max(1, c['lines']):.1f} | "
                         f"{c['signals']} | {c['toggled']} |")
        missed = code_coverage.missed_lines(code)
        if missed:
            lines += ["", "Lines none of whose signals toggled:", ""] + [f"- `{m}`" for m in missed]
    return "\n".join(lines) + "\n"
