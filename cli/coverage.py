"""``rdagen coverage``: the functional-coverage regression of every group, and code coverage."""

from __future__ import annotations

import json

from .common import UsageError, add_config_argument, config

NAME = "coverage"
HELP = ("the functional-coverage regression (arith, pcu, pmu, ag, switch, bitstream, "
        "array groups); writes build/coverage/summary.json and report.md")


def add_arguments(p) -> None:
    add_config_argument(p)
    p.add_argument("--seed", type=int, default=1, help="random seed (default %(default)s)")
    p.add_argument("--only", default="", help="a comma list of groups (default: all)")
    p.add_argument("--code", action="store_true",
                   help="also code coverage: toggle-instrumented builds, covered lines per rtl/ source file")
    p.add_argument("--fp-random", type=int, default=None, help="random vectors per fp op (default 200000)")


def run(args) -> int:
    """The functional-coverage regression of every group; build/coverage/summary.json and report.md."""
    from rdagen.sim import code_coverage
    from rdagen.sim.coverage_regression import CODE_GOAL, GROUPS, format_summary, markdown_report, run_coverage
    from rdagen.sim.runner import BUILD

    cfg = config(args.config)
    groups = [g.strip() for g in args.only.split(",")] if args.only else list(GROUPS)
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        raise UsageError(f"--only {args.only}: unknown group {unknown[0]!r}; groups: {', '.join(GROUPS)}")
    sizes = {}
    if args.fp_random is not None:
        if args.fp_random < 1:
            raise UsageError(f"--fp-random {args.fp_random}: give at least 1 random operand pair per fp op")
        sizes["arith"] = args.fp_random
    print(f"rdagen coverage: {', '.join(groups)} on verilator, config {cfg.name}, seed {args.seed}"
          f"{', with code coverage (toggle-instrumented builds)' if args.code else ''} ...", flush=True)
    progress = lambda line: print(line, flush=True)  # noqa: E731
    code = None
    if args.code:
        with code_coverage.collecting() as runs:
            parts = run_coverage(cfg, args.seed, groups, sizes, progress=progress)
            print(f"code coverage: reading {len(runs)} coverage.dat files "
                  f"({sum(r.stat().st_size for r in runs) / 1e9:.1f} GB) ...", flush=True)
            code = code_coverage.report()
    else:
        parts = run_coverage(cfg, args.seed, groups, sizes, progress=progress)
    summary = {"config": cfg.name, "seed": args.seed,
               "functional": {p.group: {**p.report, "regression": p.ran, "failures": p.failures} for p in parts}}
    if code is not None:
        summary["code"] = code
    out = BUILD / "coverage"
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    (out / "report.md").write_text(markdown_report(cfg, args.seed, parts, code))
    print("\n" + format_summary(parts))
    code_ok = True
    if code is not None:
        lines, hit = sum(c["lines"] for c in code.values()), sum(c["hit"] for c in code.values())
        signals, toggled = sum(c["signals"] for c in code.values()), sum(c["toggled"] for c in code.values())
        for path, c in sorted(code.items()):
            print(f"  {path:28} {c['hit']:5d} of {c['lines']:5d} lines ({100 * c['hit'] / c['lines']:5.1f} %), "
                  f"{c['toggled']:5d} of {c['signals']:5d} signals toggled")
        print(f"code: {hit} of {lines} rtl/ lines covered ({100 * hit / max(1, lines):.1f} %, goal "
              f"{100 * CODE_GOAL:.0f} %), {toggled} of {signals} signals toggled "
              f"({100 * toggled / max(1, signals):.1f} %); missed lines in {out / 'report.md'}")
        code_ok = hit >= CODE_GOAL * lines
    print(f"summary: {out / 'summary.json'}; report: {out / 'report.md'}")
    return 0 if all(p.ok for p in parts) and code_ok else 1
