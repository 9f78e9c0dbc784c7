"""``rdagen sim``: RTL simulation of kernels on the array (the workloads mapped onto the whole array, the
arithmetic regression, directed PCU kernels), checked against the golden model; a table and VCD paths."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from .common import UsageError, add_config_argument, config
from .map import add_dram_argument, dram

NAME = "sim"
HELP = "RTL simulation of kernels on the array, checked against the golden model; prints a table and VCD paths"

ARRAY_KERNELS = ("gemm", "mlp", "embedding_bag", "gemv")
UNIT_RUNS = ("arith", "pcu")


def add_arguments(p) -> None:
    add_config_argument(p)
    p.add_argument("--kernel", default="all",
                   help="all (default: the workloads gemm, mlp, embedding_bag and gemv mapped onto the whole array), "
                        "one or a comma list of them, arith (the arithmetic regression), pcu (directed PCU kernels)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default %(default)s)")
    p.add_argument("--simulator", choices=["verilator", "icarus"], default="verilator",
                   help="the simulator (default %(default)s)")
    p.add_argument("--harness", choices=["cocotb", "direct"], default="direct",
                   help="array kernels: direct (default: the C++ harness, no Python per cycle, a quick build) "
                        "or cocotb (the test suite's bench)")
    p.add_argument("--fp-random", type=int, default=None, help="random vectors per fp op (default 200000)")
    p.add_argument("--vcd", default="", help="where to write the VCD (default build/waves/...; 'none' to skip). "
                   "Array kernels: a VCD per phase of the array's top, its switches and every unit's ports")
    add_trace_arguments(p)
    add_dram_argument(p)


def add_trace_arguments(p) -> None:
    """What an array VCD holds: shared by `sim` and `run`."""
    p.add_argument("--vcd-scope", default="", metavar="UNIT",
                   help="trace one unit inside (pcu_R_C, pmu_R_C, ag_R, the names of the mapping report) or a network's "
                        "switches (e.g. vector_network) and the wires to its ports alone: a flat build of the "
                        "array for that scope (minutes the first time)")
    p.add_argument("--vcd-anonymous", action="store_true",
                   help="keep Yosys's anonymous nets ($1, $auto$...) in the VCD (left out by default: two thirds "
                        "of the signals, no name in the Amaranth source)")


def check_trace_arguments(args, cfg) -> None:
    """Refuses a --vcd-scope that is not a unit of *cfg* (naming the valid ones)."""
    if args.vcd_scope:
        from rdagen.sim.direct import check_scope

        try:
            check_scope(cfg, args.vcd_scope)
        except ValueError as exc:
            raise UsageError(f"--vcd-scope: {exc}") from None


def run(args) -> int:
    cfg = config(args.config)
    names = list(ARRAY_KERNELS) if args.kernel == "all" else [k.strip() for k in args.kernel.split(",")]
    for name in names:
        if name not in (*ARRAY_KERNELS, *UNIT_RUNS):
            raise UsageError(f"unknown kernel {name!r}; valid: all, {', '.join(ARRAY_KERNELS + UNIT_RUNS)}")
    ok = True
    kernels = [n for n in names if n in ARRAY_KERNELS]
    if (args.vcd_scope or args.vcd_anonymous) and (not kernels or args.vcd == "none" or args.harness != "direct"):
        raise UsageError("--vcd-scope and --vcd-anonymous shape the VCD of array kernels in the direct harness "
                         "(not with --vcd none)")
    check_trace_arguments(args, cfg)
    if kernels:
        ok &= _sim_array_kernels(cfg, kernels, args)
    if "arith" in names:
        ok &= _sim_arith(cfg, args)
    if "pcu" in names:
        ok &= _sim_pcu_kernels(cfg, args.seed, args.simulator)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def _sim_array_kernels(cfg, names: list[str], args) -> bool:
    """The workloads (graphs sized from the config) mapped onto the whole array and run on the RTL, every
    phase bit-exact against the golden array model, the outputs within the fp32 bound of NumPy; a table
    per workload and a VCD per phase."""
    from rdagen.mapper.frontend.graph import GraphError
    from rdagen.mapper.program import map_graph
    from rdagen.mapper.apps.workloads import workload

    from rdagen.sim.graph_run import format_table, run_program, runs_alone
    from rdagen.sim.verilog import generate
    from rdagen.sim.waves import keep_phase_vcd

    if args.simulator != "verilator":
        raise UsageError("the array workloads run on verilator (cocotbext-axi's AxiRam per AG); "
                         "use --kernel arith for the Icarus cross-check")
    waves = args.vcd != "none"
    memory = dram(args)
    try:
        built = []
        for name in names:
            graph, arrays = workload(name, cfg, args.seed)
            built.append((name, graph, arrays, map_graph(graph, cfg, seed=args.seed, memory=memory,
                                                         pmus_kept=not runs_alone(args.harness))))
    except GraphError as exc:  # MapError too: the configuration cannot host the workload
        print(f"rdagen sim: {exc}", file=sys.stderr)
        return False
    print(f"rdagen sim: {', '.join(names)} mapped onto the {cfg.rows}x{cfg.cols} array of {cfg.name} ({cfg.lanes} "
          f"lanes, {cfg.stages} stages, hash {cfg.hash}), seed {args.seed} (rerun with --seed {args.seed}), "
          f"{args.harness} harness, DRAM {memory.describe()}")
    started = time.perf_counter()
    gen = generate("array", cfg)
    print(f"  Verilog: {gen.path} ({'from cache' if not gen.seconds else f'{gen.seconds:.0f} s to generate'}); "
          f"building the Verilator model{' with tracing' if waves else ''} (cached by hash; minutes the first "
          f"time) ...", flush=True)
    if args.harness == "direct":
        from rdagen.sim.direct import build_direct

        _, seconds = build_direct(gen, cfg, waves, args.vcd_scope, args.vcd_anonymous)
        print(f"  direct harness {'built in %.0f s' % seconds if seconds else 'from cache'}", flush=True)
    ok = True
    for name, graph, arrays, program in built:
        shapes = ", ".join(f"{n} {list(a.shape)}" for n, a in arrays.items())
        print(f"\n== {name}: {len(graph.nodes)} nodes ({shapes}) in {len(program.phases)} phase(s)")
        run = run_program(program, arrays, harness=args.harness, waves=waves, scope=args.vcd_scope,
                          anonymous=args.vcd_anonymous, seed=args.seed, tag="sim")
        print(format_table(program, run))
        for problem in run.mismatches:
            print(f"  MISMATCH: {problem}")
        for n, vcd in enumerate(run.vcds):
            base = Path(args.vcd) if args.vcd else Path("build/waves") / f"array-{cfg.name}.vcd"
            single = args.vcd and len(built) == 1 and len(run.vcds) == 1
            target = base if single else base.with_name(f"{base.stem}-{name}-phase{n}.vcd")
            gtkw = keep_phase_vcd(Path(vcd), target, program.phases[n])
            print(f"  VCD of phase {n}: {target} (gtkwave {gtkw} opens it with the ports of the units it uses)")
        print(f"  {name}: {'pass' if run.ok else 'FAIL'} ({run.seconds:.1f} s)")
        ok &= run.ok
    print("\nEvery phase's host outputs and DRAM writes are compared bit for bit with the golden array model\n"
          "(verif/golden/array.py); the max error is against float64 NumPy, within the graph's fp32 bound.\n"
          "Cycles: each phase from start to its last DRAM write acknowledged; the total adds each phase's\n"
          "reconfiguration (the config-port beats of the units that change, streamed into the shadow context\n"
          "while the phase before runs: what it does not hide, and the swap). The VCD (phase 0) is of the\n"
          "whole program's run. Ideal: M N K / (lanes x PCUs used) per SIMD matmul, / (lanes x stages x PCUs) per\n"
          "systolic one, one gather or vector per cycle elsewhere, or, when more, the DRAM's read latency and its\n"
          "bytes over the bandwidth (the memory of --dram: ddr4 by default, as in the cost model's estimates).")
    print(f"{time.perf_counter() - started:.1f} s in all")
    return ok


def _sim_arith(cfg, args) -> bool:
    """The arithmetic regression (every op, millions of vectors) and a VCD of mixed ops through one lane."""
    from rdagen.sim.arith_regression import FP_RANDOM, format_table, make_plan, run_plan
    from rdagen.sim.waves import run_waves

    fp_random = FP_RANDOM if args.fp_random is None else args.fp_random
    print(f"rdagen sim: arithmetic regression on {args.simulator}, config {cfg.name} (hash {cfg.hash}), "
          f"seed {args.seed} (rerun with --seed {args.seed})")
    print(f"  {fp_random} random operand pairs per fp op, corner values crossed exhaustively")
    started = time.perf_counter()
    plan = make_plan(args.seed, fp_random=fp_random, int_random=max(fp_random // 10, 1))
    print(f"  plan: {plan.codes.shape[0]} cycles x {plan.lanes} lanes; building/running the model ...", flush=True)
    reg = run_plan(plan, cfg, simulator=args.simulator, tag="sim")
    print()
    print(format_table(reg))
    print()
    build = f"{reg.build_seconds:.1f} s build, " if reg.build_seconds else "model from cache, "
    print(f"{build}{reg.sim_seconds:.1f} s simulation, {reg.vectors / reg.sim_seconds:,.0f} ops checked/s, "
          f"{time.perf_counter() - started:.1f} s in all")
    for line in reg.first_mismatches:
        print("  MISMATCH", line)
    vcd_ok = True
    if args.vcd != "none":
        vcd, wave_reg = run_waves("mixed", cfg, seed=args.seed)
        if args.vcd:
            target = Path(args.vcd)
            target.parent.mkdir(parents=True, exist_ok=True)
            vcd = vcd.replace(target)
        vcd_ok = wave_reg.mismatches == 0
        print(f"VCD (mixed ops through one lane, {wave_reg.cycles} cycles"
              f"{'' if vcd_ok else ', MISMATCHES'}): {vcd}")
    return reg.mismatches == 0 and vcd_ok


def _sim_pcu_kernels(cfg, seed: int, simulator: str) -> bool:
    """The directed PCU kernels on the RTL: a table of cycles against ideal; False on any failure."""
    import numpy as np

    from rdagen.sim.pcu_regression import PcuKernelError, format_kernel_table, kernel_rows, kernels, run_cases

    rng = np.random.default_rng(seed)
    try:
        cases = kernels(cfg, rng, "int32") + kernels(cfg, rng, "fp32")
    except PcuKernelError as exc:
        print(f"PCU kernels skipped: {exc}")
        return True
    print(f"\nPCU kernels on one {cfg.lanes}-lane x {cfg.stages}-stage PCU ({simulator}; golden model "
          f"bit-exact, NumPy within the fp32 bound) ...", flush=True)
    results = run_cases(cfg, cases, simulator=simulator, tag="sim-kernels")
    print(format_kernel_table(kernel_rows(results)))
    for r in results:
        for problem in r.problems:
            print(f"  {r.name}: {problem}")
    return all(r.ok for r in results)
