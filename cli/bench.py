"""``rdagen bench``: the benchmarks (bench/); each writes bench/results/<name>.json."""

from __future__ import annotations

from .common import UsageError, add_config_argument, config

NAME = "bench"
HELP = "benchmarks; writes bench/results/*.json"


def add_arguments(p) -> None:
    p.add_argument("--only", default="all", help="all (default) or a comma list of arith, pcu, systolic, pmu, ag, array, mapper, dlrm, area, sweep")
    p.add_argument("--harness", choices=["cocotb", "direct", "specialised"], default="cocotb",
                   help="array bench: run the kernels on cocotb (default), in the direct harness, or on models "
                        "specialised to each phase (large arrays); the long GEMM runs on direct and specialised")
    add_config_argument(p)
    p.add_argument("--seed", type=int, default=1, help="random seed (default %(default)s)")
    p.add_argument("--fp-random", type=int, default=50_000,
                   help="random vectors per fp op in the throughput run (default %(default)s)")


def run(args) -> int:
    from rdagen.bench import ag, area, arith, array, dlrm, mapper, pcu, pmu, sweep, systolic

    cfg = config(args.config)
    benches = {"arith": lambda: arith.run(cfg, seed=args.seed, fp_random=args.fp_random),
               "pcu": lambda: pcu.run(cfg, seed=args.seed), "systolic": lambda: systolic.run(cfg, seed=args.seed),
               "pmu": lambda: pmu.run(cfg, seed=args.seed),
               "ag": lambda: ag.run(cfg, seed=args.seed),
               "array": lambda: array.run(cfg, seed=args.seed, harness=args.harness),
               "mapper": lambda: mapper.run(cfg, seed=args.seed), "dlrm": lambda: dlrm.run(cfg, seed=args.seed),
               "area": lambda: area.run(), "sweep": lambda: sweep.run()}
    names = list(benches) if args.only == "all" else [n.strip() for n in args.only.split(",")]
    for name in names:
        if name not in benches:
            raise UsageError(f"unknown benchmark {name!r}; valid: all, {', '.join(benches)}")
    outs = [benches[name]() for name in names]
    print("results:", *outs)
    return 0
