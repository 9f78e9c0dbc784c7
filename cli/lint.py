"""``rdagen lint``: verilator --lint-only on every generated top, or on one."""

from __future__ import annotations

from .common import UsageError, add_config_argument, config

NAME = "lint"
HELP = "verilator --lint-only on every generated top (or one with --unit)"


def add_arguments(p) -> None:
    p.add_argument("--unit", default="", help="lint only this top")
    add_config_argument(p)


def run(args) -> int:
    from rdagen.sim.direct import inlined
    from rdagen.sim.lint import WAIVERS, lint, lint_by_module
    from rdagen.sim.tops import TOPS, top
    from rdagen.sim.verilog import generate

    cfg = config(args.config)
    names = list(TOPS)
    if args.unit:
        try:
            top(args.unit)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        names = [args.unit]
    print(f"verilator --lint-only -Wall, waived: {', '.join(WAIVERS)} (see sim/lint.py for why)")
    failed = 0
    for name in names:
        gen = generate(name, cfg)
        if name == "array" and not inlined(cfg):
            print(f"  {name}: linted module by module (the whole hierarchy at once does not fit in memory)")
            results = lint_by_module(gen, ("rdagen_pcu", "rdagen_pmu", "rdagen_ag"))
        else:
            results = [lint(gen)]
        for result in results:
            print(f"  {result.top:14} {'clean' if result.clean else f'{len(result.warnings)} warnings'}", flush=True)
            for line in result.warnings[:20]:
                print(f"      {line}")
            failed += not result.clean
    return 1 if failed else 0
