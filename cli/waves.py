"""``rdagen waves``: one test run with tracing; prints the path of its VCD."""

from __future__ import annotations

from .common import UsageError, add_config_argument, config

NAME = "waves"
HELP = "run one test with tracing and print the path of its VCD"


def add_arguments(p) -> None:
    p.add_argument("--test", default="", help="test name (an op name, or 'mixed')")
    p.add_argument("--seed", type=int, default=1, help="random seed (default %(default)s)")
    add_config_argument(p)


def run(args) -> int:
    from rdagen.sim.waves import WAVE_TESTS, run_waves

    if not args.test or args.test not in WAVE_TESTS:
        what = f"unknown test {args.test!r}" if args.test else "give a test: make waves TEST=<test>"
        raise UsageError(f"{what}; valid tests: {', '.join(WAVE_TESTS)}")
    cfg = config(args.config)
    vcd, reg = run_waves(args.test, cfg, seed=args.seed)
    print(f"{args.test}: {reg.vectors} operations, {reg.mismatches} mismatches against the golden model")
    print(vcd)
    return 0 if reg.mismatches == 0 else 1
