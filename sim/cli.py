"""The ``rdagen`` command: every flow of the project (the Makefile targets are thin wrappers over it)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from rdagen.rtl.spec.config import PRESETS, ArrayConfig, load

__all__ = ["main"]


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


def _config(spec: str) -> ArrayConfig:
    notes: list[str] = []
    try:
        cfg = load(spec, notes)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    for note in notes:
        print(f"rdagen: note: {note}", file=sys.stderr)
    return cfg


# -- config ---------------------------------------------------------------------------------------------
def cmd_config(args) -> int:
    if args.action == "list":
        for name, cfg in PRESETS.items():
            print(f"{name:12} {cfg.lanes} lanes x {cfg.stages} stages, {cfg.rows}x{cfg.cols} array, "
                  f"PMU {cfg.lanes} x {cfg.pmu_depth} words, hash {cfg.hash}")
        return 0
    if args.action == "fields":
        print(ArrayConfig.describe())
        return 0
    if not args.target:
        raise UsageError(f"rdagen config {args.action} needs a preset name or a JSON file")
    if args.action == "show":
        if args.target not in PRESETS and not Path(args.target).exists():
            raise UsageError(f"unknown preset {args.target!r}; valid presets: {', '.join(PRESETS)} "
                             f"(or give the path of a JSON file)")
        cfg = _config(args.target)
        print(json.dumps({**cfg.to_dict(), "hash": cfg.hash}, indent=2))
        return 0
    # check
    path = Path(args.target)
    if not path.exists():
        raise UsageError(f"no such file: {path}")
    notes: list[str] = []
    try:
        cfg = load(path, notes)
    except ValueError as exc:
        print(f"invalid: {exc}", file=sys.stderr)
        return 1
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"valid: {path} ({cfg.name}, hash {cfg.hash})")
    return 0


# -- sim ------------------------------------------------------------------------------------------------
ARRAY_KERNELS = ("gemm", "mlp", "embedding_bag", "gemv")
UNIT_RUNS = ("arith", "pcu")


def cmd_sim(args) -> int:
    cfg = _config(args.config)
    names = list(ARRAY_KERNELS) if args.kernel == "all" else [k.strip() for k in args.kernel.split(",")]
    for name in names:
        if name not in (*ARRAY_KERNELS, *UNIT_RUNS):
            raise UsageError(f"unknown kernel {name!r}; valid: all, {', '.join(ARRAY_KERNELS + UNIT_RUNS)}")
    ok = True
    kernels = [n for n in names if n in ARRAY_KERNELS]
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
    from rdagen.mapper.graph import GraphError
    from rdagen.mapper.program import map_graph
    from rdagen.mapper.workloads import workload

    from .graph_run import format_table, run_program
    from .verilog import generate
    from .waves import portable_vcd

    if args.simulator != "verilator":
        raise UsageError("the array workloads run on verilator (cocotbext-axi's AxiRam per AG); "
                         "use --kernel arith for the Icarus cross-check")
    waves = args.vcd != "none"
    try:
        built = []
        for name in names:
            graph, arrays = workload(name, cfg, args.seed)
            built.append((name, graph, arrays, map_graph(graph, cfg, seed=args.seed)))
    except GraphError as exc:  # MapError too: the configuration cannot host the workload
        print(f"rdagen sim: {exc}", file=sys.stderr)
        return False
    print(f"rdagen sim: {', '.join(names)} mapped onto the {cfg.rows}x{cfg.cols} array of {cfg.name} ({cfg.lanes} "
          f"lanes, {cfg.stages} stages, hash {cfg.hash}), seed {args.seed} (rerun with --seed {args.seed}), "
          f"{args.harness} harness")
    started = time.perf_counter()
    gen = generate("array", cfg)
    print(f"  Verilog: {gen.path} ({'from cache' if not gen.seconds else f'{gen.seconds:.0f} s to generate'}); "
          f"building the Verilator model{' with tracing' if waves else ''} (cached by hash; minutes the first "
          f"time) ...", flush=True)
    if args.harness == "direct":
        from .direct import build_direct

        _, seconds = build_direct(gen, cfg, waves)
        print(f"  direct harness {'built in %.0f s' % seconds if seconds else 'from cache'}", flush=True)
    ok = True
    for name, graph, arrays, program in built:
        shapes = ", ".join(f"{n} {list(a.shape)}" for n, a in arrays.items())
        print(f"\n== {name}: {len(graph.nodes)} nodes ({shapes}) in {len(program.phases)} phase(s)")
        run = run_program(program, arrays, harness=args.harness, waves=waves, seed=args.seed, tag="sim")
        print(format_table(program, run))
        for problem in run.mismatches:
            print(f"  MISMATCH: {problem}")
        for n, vcd in enumerate(run.vcds):
            base = Path(args.vcd) if args.vcd else Path("build/waves") / f"array-{cfg.name}.vcd"
            single = args.vcd and len(built) == 1 and len(run.vcds) == 1
            target = base if single else base.with_name(f"{base.stem}-{name}-phase{n}.vcd")
            target.parent.mkdir(parents=True, exist_ok=True)
            portable_vcd(Path(vcd), target)
            print(f"  VCD of phase {n}: {target}")
        print(f"  {name}: {'pass' if run.ok else 'FAIL'} ({run.seconds:.1f} s)")
        ok &= run.ok
    print("\nEvery phase's host outputs and DRAM writes are compared bit for bit with the golden array model\n"
          "(verif/golden/array.py); the max error is against float64 NumPy, within the graph's fp32 bound.\n"
          "Cycles: each phase from start to its last DRAM write acknowledged; the total adds each phase's\n"
          "reconfiguration (config-port writes of the units that change from the phase before).\n"
          "Ideal: M N K / (lanes x PCUs used) per matmul, one gather or vector per cycle elsewhere.")
    print(f"{time.perf_counter() - started:.1f} s in all")
    return ok


def _sim_arith(cfg, args) -> bool:
    """The arithmetic regression (every op, millions of vectors) and a VCD of mixed ops through one lane."""
    from .arith_regression import FP_RANDOM, format_table, make_plan, run_plan
    from .waves import run_waves

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

    from .pcu_regression import PcuKernelError, format_kernel_table, kernel_rows, kernels, run_cases

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


# -- synth ----------------------------------------------------------------------------------------------
def cmd_synth(args) -> int:
    from rdagen.synth.yosys import synthesize

    from .paths import BUILD
    from .tops import TOPS, top
    from .verilog import generate

    if not args.unit:
        raise UsageError(f"give a unit: make synth UNIT=<unit>; valid units: {', '.join(TOPS)}")
    try:
        top(args.unit)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    cfg = _config(args.config)
    gen = generate(args.unit, cfg)
    print(f"rdagen synth: {args.unit} for {cfg.name} ({gen.path}) ...", flush=True)
    report = synthesize(gen.path, gen.module, BUILD / "synth", unit=args.unit, config=cfg.name,
                        config_hash=cfg.hash, memories=args.memories, share=not args.noshare,
                        timeout=args.timeout, flatten=not args.hierarchical)
    print(f"  cells {report['cells']}, flip-flops {report['flipflops']}, longest path {report['longest_path']}, "
          f"memories as {report['memories']} ({report['memory_bits']} bits as macros), {report['seconds']} s")
    print(f"  report: {BUILD / 'synth' / f'{args.unit}-{cfg.name}.json'} (and .md)")
    return 0


# -- lint -----------------------------------------------------------------------------------------------
def cmd_lint(args) -> int:
    from .direct import inlined
    from .lint import WAIVERS, lint, lint_by_module
    from .tops import TOPS, top
    from .verilog import generate

    cfg = _config(args.config)
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


# -- waves ----------------------------------------------------------------------------------------------
def cmd_waves(args) -> int:
    from .waves import WAVE_TESTS, run_waves

    if not args.test or args.test not in WAVE_TESTS:
        what = f"unknown test {args.test!r}" if args.test else "give a test: make waves TEST=<test>"
        raise UsageError(f"{what}; valid tests: {', '.join(WAVE_TESTS)}")
    cfg = _config(args.config)
    vcd, reg = run_waves(args.test, cfg, seed=args.seed)
    print(f"{args.test}: {reg.vectors} operations, {reg.mismatches} mismatches against the golden model")
    print(vcd)
    return 0 if reg.mismatches == 0 else 1


# -- bench ----------------------------------------------------------------------------------------------
def cmd_bench(args) -> int:
    from rdagen.bench import ag, arith, array, dlrm, mapper, pcu, pmu

    cfg = _config(args.config)
    benches = {"arith": lambda: arith.run(cfg, seed=args.seed, fp_random=args.fp_random),
               "pcu": lambda: pcu.run(cfg, seed=args.seed), "pmu": lambda: pmu.run(cfg, seed=args.seed),
               "ag": lambda: ag.run(cfg, seed=args.seed),
               "array": lambda: array.run(cfg, seed=args.seed, harness=args.harness),
               "mapper": lambda: mapper.run(cfg, seed=args.seed), "dlrm": lambda: dlrm.run(cfg, seed=args.seed)}
    names = list(benches) if args.only == "all" else [n.strip() for n in args.only.split(",")]
    for name in names:
        if name not in benches:
            raise UsageError(f"unknown benchmark {name!r}; valid: all, {', '.join(benches)}")
    outs = [benches[name]() for name in names]
    print("results:", *outs)
    return 0


# -- graph ----------------------------------------------------------------------------------------------
def _graph_and_inputs(args):
    """The graph of args.graph and its inputs (args.inputs, the rest drawn from args.seed), checked."""
    from rdagen.mapper.graph import GraphError, check_inputs, load_graph, random_inputs

    try:
        graph = load_graph(args.graph)
        given = {}
        if getattr(args, "inputs", None):
            try:
                with np.load(args.inputs) as npz:
                    given = {name: npz[name] for name in npz.files}
            except (OSError, ValueError) as exc:
                raise GraphError(f"{args.inputs}: not a readable .npz file ({exc})") from None
        # Without --inputs every input is drawn from the seed (default 1). With --inputs, `graph` draws
        # the missing ones only when --seed is given, so that a missing array is not silently replaced;
        # `run` draws them from the seed (default 1) and says which.
        draw = args.command == "run" or args.seed is not None or not args.inputs
        seed = args.seed if args.seed is not None else 1
        if draw and args.inputs:
            drawn = [n for n in graph.inputs if n not in given]
            if drawn:
                print(f"rdagen {args.command}: note: inputs drawn from seed {seed}: {', '.join(drawn)}", file=sys.stderr)
        arrays = check_inputs(graph, random_inputs(graph, seed, given) if draw else given,
                              source=str(args.inputs or "inputs"))
    except GraphError as exc:
        raise UsageError(str(exc)) from None
    return graph, arrays


def cmd_graph(args) -> int:
    from rdagen.mapper.graph import error_bounds, reference

    graph, arrays = _graph_and_inputs(args)
    if args.action == "check":
        print(f"valid: {args.graph}: {len(graph.inputs)} inputs, {len(graph.weights)} weights, "
              f"{len(graph.nodes)} nodes, outputs {', '.join(graph.outputs)}")
        print(f"  {'node':>4}  {'op':14} {'operands':40} -> output")
        for i, node in enumerate(graph.nodes):
            operands = ", ".join(f"{n} {list(graph.tensors[n].shape)}" for n in node.inputs)
            print(f"  {i:4}  {node.op:14} {operands:40} -> {node.output} {list(graph.tensors[node.output].shape)}")
        return 0
    values, bounds = reference(graph, arrays), error_bounds(graph, arrays)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    path = out / "reference.npz"
    tmp = out / ".reference.npz.tmp.npz"
    np.savez(tmp, **{name: values[name] for name in graph.outputs},
             **{f"{name}.bound": bounds[name] for name in graph.outputs})
    tmp.replace(path)  # nothing half-written
    print(f"{'output':12} {'shape':14} {'max |value|':>12} {'max fp32 bound':>15}")
    for name in graph.outputs:
        print(f"{name:12} {str(list(values[name].shape)):14} {np.abs(values[name]).max(initial=0):12.4g} "
              f"{bounds[name].max(initial=0):15.3g}")
    print(f"wrote {path} (float64 reference of every output, and '<output>.bound': the fp32 error bound per "
          f"element)")
    return 0


# -- map and run ----------------------------------------------------------------------------------------
def _pins(specs: list[str]) -> dict:
    pins = {}
    for spec in specs or []:
        name, _, where = spec.partition("=")
        parts = where.split(",")
        if not name or len(parts) != 2 or not all(p.strip().lstrip("-").isdigit() for p in parts):
            raise UsageError(f"--pin {spec!r}: write NODE=ROW,COL (a node's output name, or a unit name from "
                             f"`rdagen map`'s report)")
        pins[name] = (int(parts[0]), int(parts[1]))
    return pins


def _mapped(args, graph):
    from rdagen.mapper.graph import GraphError
    from rdagen.mapper.program import map_graph

    cfg = _config(args.config)
    pins = _pins(args.pin)
    try:
        return map_graph(graph, cfg, seed=args.seed if args.seed is not None else 1, pins=pins,
                         progress=lambda step: print(f"  {step}", file=sys.stderr, flush=True),
                         mlp_weights=args.mlp_weights)
    except GraphError as exc:  # MapError too: the node or resource that does not fit
        raise UsageError(str(exc)) from None


def _out_dir(spec: str) -> Path:
    out = Path(spec)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a directory")
    return out


def cmd_map(args) -> int:
    from rdagen.mapper.graph import GraphError, load_graph
    from rdagen.mapper.report import text_report, write_outputs

    try:
        graph = load_graph(args.graph)
    except GraphError as exc:
        raise UsageError(str(exc)) from None
    out = _out_dir(args.out or f"build/map/{Path(args.graph).stem}-{args.config}")
    program = _mapped(args, graph)
    print(text_report(program))
    written = write_outputs(program, out)
    print(f"wrote {', '.join(str(p) for p in written)}")
    return 0


def cmd_run(args) -> int:
    from rdagen.mapper.report import text_report

    from .graph_run import format_table, run_program
    from .waves import portable_vcd

    graph, arrays = _graph_and_inputs(args)
    out = _out_dir(args.out or f"build/run/{Path(args.graph).stem}-{args.config}")
    if args.vcd and args.harness == "golden":
        raise UsageError("--vcd needs an RTL harness (direct, specialised or cocotb), not golden")
    if args.vcd_scope:
        from .direct import check_scope

        if not args.vcd or args.harness not in ("direct", "specialised"):
            raise UsageError("--vcd-scope limits the VCD of --vcd in the direct or specialised harness; give --vcd "
                             "PATH and --harness direct or specialised")
        try:
            check_scope(_config(args.config), args.vcd_scope)
        except ValueError as exc:
            raise UsageError(f"--vcd-scope: {exc}") from None
    program = _mapped(args, graph)
    print(text_report(program))
    harness = None if args.harness == "golden" else args.harness
    print(f"\nrunning {len(program.phases)} phase(s) on {'the golden array model' if harness is None else f'the RTL ({harness} harness), each checked against the golden array model'} "
          f"(the first RTL build of a configuration takes minutes; cached by hash) ...", flush=True)
    run = run_program(program, arrays, harness=harness, waves=bool(args.vcd), scope=args.vcd_scope,
                      progress=lambda step: print(f"  {step}", file=sys.stderr, flush=True))
    print()
    print(format_table(program, run))
    for problem in run.mismatches:
        print(f"  MISMATCH: {problem}")
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / ".outputs.tmp.npz"
    np.savez(tmp, **run.outputs)
    tmp.replace(out / "outputs.npz")
    print(f"wrote {out / 'outputs.npz'} (keys: {', '.join(run.outputs)})")
    for n, vcd in enumerate(run.vcds):
        target = Path(args.vcd)
        target = target if len(run.vcds) == 1 else target.with_name(f"{target.stem}-phase{n}{target.suffix or '.vcd'}")
        target.parent.mkdir(parents=True, exist_ok=True)
        portable_vcd(Path(vcd), target)
        print(f"VCD of phase {n}: {target}")
    print(f"{'PASS' if run.ok else 'FAIL'} ({run.seconds:.1f} s)")
    return 0 if run.ok else 1


# -- dlrm -----------------------------------------------------------------------------------------------
def _dlrm_arch(args):
    """The architecture of the --arch-* flags: the reference's defaults, or with --model-only and no
    --arch-* flag, the Criteo Kaggle model."""
    from rdagen.mapper.dlrm import KAGGLE, Arch, parse_sizes

    flags = ("arch_sparse_feature_size", "arch_embedding_size", "arch_mlp_bot", "arch_mlp_top", "arch_interaction_op",
             "num_indices_per_lookup")
    if args.model_only and all(getattr(args, f) is None for f in flags):
        return KAGGLE
    given = {f: getattr(args, f) for f in flags}
    defaults = {"arch_sparse_feature_size": 2, "arch_embedding_size": "4-3-2", "arch_mlp_bot": "4-3-2",
                "arch_mlp_top": "4-2-1", "arch_interaction_op": "dot", "num_indices_per_lookup": 10}
    v = {f: defaults[f] if given[f] is None else given[f] for f in flags}
    return Arch(v["arch_sparse_feature_size"], parse_sizes("--arch-embedding-size", v["arch_embedding_size"]),
                parse_sizes("--arch-mlp-bot", v["arch_mlp_bot"]), parse_sizes("--arch-mlp-top", v["arch_mlp_top"]),
                v["arch_interaction_op"], v["num_indices_per_lookup"])


def cmd_dlrm(args) -> int:
    from rdagen.mapper.dlrm import (check_batch, load_inputs, load_weights, random_batch, read_criteo_tsv,
                                    reference_weights)
    from rdagen.mapper.graph import GraphError

    from .dlrm_run import PROJECTION_TABLE_ROWS, format_projection, format_results, project, run_batch, split_batches

    if args.clock_ghz <= 0:
        raise UsageError(f"--clock-ghz {args.clock_ghz}: must be > 0")
    if (args.mini_batch_size is not None and args.mini_batch_size < 1) or args.num_batches < 1:
        raise UsageError(f"--mini-batch-size {args.mini_batch_size} and --num-batches {args.num_batches}: must be >= 1")
    if args.inputs and args.criteo_tsv:
        raise UsageError("give --inputs or --criteo-tsv, not both")
    if args.model_only and (args.inputs or args.criteo_tsv or args.weights or args.out):
        raise UsageError("--model-only projects from the cost model: no --inputs, --criteo-tsv, --weights or --out")
    cfg = _config(args.config)
    out = _out_dir(args.out) if args.out else None
    size = args.mini_batch_size or 1
    try:
        arch = _dlrm_arch(args)
        describe = (f"DLRM: D {arch.sparse_feature_size}, {arch.tables} tables "
                    f"({'-'.join(map(str, arch.embedding_sizes)) if arch.tables <= 8 else 'rows up to %d' % max(arch.embedding_sizes)}), "
                    f"bottom {'-'.join(map(str, arch.mlp_bot))}, top {'-'.join(map(str, arch.top_layers))}, "
                    f"{arch.interaction} interaction, {arch.indices_per_lookup} indices per lookup")
        if args.model_only:
            sizes = tuple(dict.fromkeys((1, 64) + ((args.mini_batch_size,) if args.mini_batch_size else ())))
            print(f"{describe}; projected on {cfg.name} by the cost model at batch {', '.join(map(str, sizes))} "
                  f"(bags of exactly {arch.indices_per_lookup} indices; tables capped at {PROJECTION_TABLE_ROWS:,} rows "
                  f"for the mapping: the cycles do not depend on them) ...", flush=True)
            rows = project(arch, cfg, sizes, seed=args.seed, weight_seed=args.numpy_rand_seed, mlp_weights=args.mlp_weights,
                           progress=lambda step: print(f"  {step}", file=sys.stderr, flush=True))
            print(format_projection(rows, args.clock_ghz))
            return 0
        weights = load_weights(args.weights, arch) if args.weights else reference_weights(arch, args.numpy_rand_seed)
        if args.criteo_tsv:
            whole, _ = read_criteo_tsv(args.criteo_tsv, arch)
        elif args.inputs:
            whole = load_inputs(args.inputs, arch)
        else:
            whole = None
        if whole is not None:
            batches = split_batches(check_batch(arch, whole, "inputs"), size, arch.tables)
        else:
            batches = [random_batch(arch, size, args.numpy_rand_seed + n, args.num_indices_per_lookup_fixed)
                       for n in range(args.num_batches)]
    except GraphError as exc:  # DlrmError, MapError: a flag, a file, or a model that does not fit
        raise UsageError(str(exc)) from None
    print(f"{describe}; weights {'from ' + args.weights if args.weights else f'drawn as the reference does (seed {args.numpy_rand_seed})'}; "
          f"{len(batches)} batch(es) on {cfg.name}, harness {args.harness}", flush=True)
    harness = None if args.harness == "golden" else args.harness
    results = []
    for n, batch in enumerate(batches):
        try:
            results.append(run_batch(arch, weights, batch, cfg, harness=harness, seed=args.seed, index=n,
                                     mlp_weights=args.mlp_weights,
                                     progress=lambda step, n=n: print(f"  batch {n}: {step}", file=sys.stderr, flush=True)))
        except GraphError as exc:  # DlrmError, MapError: the batch or the model does not fit
            raise UsageError(str(exc)) from None
        for problem in results[-1].mismatches:
            print(f"  MISMATCH (batch {n}): {problem}")
    print()
    print(format_results(results, args.clock_ghz))
    ok = all(r.ok for r in results)
    if out:
        out.mkdir(parents=True, exist_ok=True)
        tmp = out / ".probabilities.tmp.npy"
        np.save(tmp, np.concatenate([r.probabilities for r in results]).astype(np.float32))
        tmp.replace(out / "probabilities.npy")
        print(f"wrote {out / 'probabilities.npy'}")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


# -- ops ------------------------------------------------------------------------------------------------
def cmd_formal(args) -> int:
    from .formal import run_checks, summary_json
    from .runner import BUILD

    try:
        checks = run_checks(args.property or None, broken=not args.no_broken, progress=print)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    out = BUILD / "formal" / "summary.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(summary_json(checks) + "\n")
    failed = [c.name for c in checks if not c.ok]
    print(f"{len(checks) - len(failed)} of {len(checks)} checks pass; summary {out}"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def cmd_coverage(args) -> int:
    """The functional-coverage regression of every group; build/coverage/summary.json and report.md."""
    from . import code_coverage
    from .coverage_regression import CODE_GOAL, GROUPS, format_summary, markdown_report, run_coverage
    from .runner import BUILD

    cfg = _config(args.config)
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


def cmd_ops(args) -> int:
    from rdagen.rtl.spec.ops import table_markdown

    print(table_markdown())
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rdagen", description="rdagen: reconfigurable dataflow accelerator "
                                     "generator (RTL, golden models, simulation, synthesis)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name, func, help_text):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    def config_arg(p):
        p.add_argument("--config", default="small", help="preset name or JSON file (default: small)")

    p = add("config", cmd_config, "show, check or list ArrayConfigs")
    p.add_argument("action", choices=["show", "check", "list", "fields"],
                   help="show PRESET|FILE as JSON; check FILE; list the presets; fields and their ranges")
    p.add_argument("target", nargs="?", help="preset name or JSON file")

    p = add("sim", cmd_sim, "RTL simulation of kernels on the array, checked against the golden model; "
                            "prints a table and VCD paths")
    config_arg(p)
    p.add_argument("--kernel", default="all",
                   help="all (default: the workloads gemm, mlp, embedding_bag and gemv mapped onto the whole array), "
                        "one or a comma list of them, arith (the arithmetic regression), pcu (directed PCU kernels)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--simulator", choices=["verilator", "icarus"], default="verilator")
    p.add_argument("--harness", choices=["cocotb", "direct"], default="direct",
                   help="array kernels: direct (default: the C++ harness, no Python per cycle, a quick build) "
                        "or cocotb (the test suite's bench)")
    p.add_argument("--fp-random", type=int, default=None, help="random vectors per fp op (default 200000)")
    p.add_argument("--vcd", default="", help="where to write the VCD (default build/waves/...; 'none' to skip)")

    p = add("synth", cmd_synth, "Yosys synthesis of one unit; writes build/synth/<unit>-<config>.json and .md")
    p.add_argument("--unit", default="", help="unit (top) name; see `rdagen lint` for the list")
    p.add_argument("--memories", default="flops", choices=("flops", "macros"),
                   help="map memories to flip-flops (default) or keep them as macro cells (large scratchpads)")
    p.add_argument("--noshare", action="store_true",
                   help="skip Yosys's SAT-based resource sharing (too slow on the plasticine PCU)")
    p.add_argument("--hierarchical", action="store_true",
                   help="synthesize module by module, no flattening (the plasticine PCU does not fit flat)")
    p.add_argument("--timeout", type=float, default=3600, help="seconds before Yosys is stopped (default 3600)")
    config_arg(p)

    p = add("lint", cmd_lint, "verilator --lint-only on every generated top (or one with --unit)")
    p.add_argument("--unit", default="", help="lint only this top")
    config_arg(p)

    p = add("waves", cmd_waves, "run one test with tracing and print the path of its VCD")
    p.add_argument("--test", default="", help="test name (an op name, or 'mixed')")
    p.add_argument("--seed", type=int, default=1)
    config_arg(p)

    p = add("bench", cmd_bench, "benchmarks; writes bench/results/*.json")
    p.add_argument("--only", default="all", help="all (default) or a comma list of arith, pcu, pmu, ag, array, mapper, dlrm")
    p.add_argument("--harness", choices=["cocotb", "direct", "specialised"], default="cocotb",
                   help="array bench: run the kernels on cocotb (default), in the direct harness, or on models "
                        "specialised to each phase (large arrays); the long GEMM runs on direct and specialised")
    config_arg(p)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--fp-random", type=int, default=50_000, help="random vectors per fp op in the throughput run")

    p = add("coverage", cmd_coverage, "the functional-coverage regression (arith, pcu, pmu, ag, switch, bitstream, "
                                      "array groups); writes build/coverage/summary.json and report.md")
    config_arg(p)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--only", default="", help="a comma list of groups (default: all)")
    p.add_argument("--code", action="store_true",
                   help="also code coverage: toggle-instrumented builds, covered lines per rtl/ source file")
    p.add_argument("--fp-random", type=int, default=None, help="random vectors per fp op (default 200000)")

    p = add("formal", cmd_formal, "prove the properties of verif/formal.py by k-induction (Yosys), reach their "
                                  "covers and refute their broken variants; one PASS/FAIL line per check")
    p.add_argument("--property", action="append", default=[], help="only this property (repeatable)")
    p.add_argument("--no-broken", action="store_true", help="skip the broken variants")

    p = add("graph", cmd_graph, "check a dataflow graph (rdagen-graph JSON), or evaluate its float64 NumPy "
                                "reference with the fp32 error bound of every output element")
    p.add_argument("action", choices=["check", "reference"],
                   help="check: validate and print every node's shapes; reference: write DIR/reference.npz")
    p.add_argument("graph", help="the graph's JSON file (format: README, 'Graphs')")
    p.add_argument("--inputs", default=None, help=".npz of input arrays, keyed by the graph's input names")
    p.add_argument("--seed", type=int, default=None,
                   help="draw the inputs the .npz does not give from this seed (default: 1 without --inputs; "
                        "with --inputs, every input must be in the .npz unless --seed is given)")
    p.add_argument("--out", default="build/graph", help="output directory of `reference` (default build/graph)")

    def mlp_weights_arg(p):
        from rdagen.mapper.program import MLP_WEIGHTS

        p.add_argument("--mlp-weights", choices=MLP_WEIGHTS, default="auto",
                       help="chains of Linear layers: resident (one MLP phase, weights in PMUs, samples pipelined "
                            "through the layers), streamed (a matmul phase per layer, weights from DRAM) or auto "
                            "(default: the cheaper by the cost model)")

    def map_args(p):
        p.add_argument("graph", help="the graph's JSON file (format: README, 'Graphs')")
        config_arg(p)
        p.add_argument("--seed", type=int, default=None, help="placement seed (default 1); `run`: also the seed "
                       "of the inputs the .npz does not give")
        p.add_argument("--pin", action="append", default=[], metavar="NODE=ROW,COL",
                       help="place a node's first PCU (or a unit named in the report) at a tile; repeatable")
        mlp_weights_arg(p)

    p = add("map", cmd_map, "map a graph onto the array: bitstream(s) per phase, a report (units per kind and "
                            "phase, tracks per network, cost-model cycles, placement grid) and placement.png")
    map_args(p)
    p.add_argument("--out", default=None, help="output directory (default build/map/<graph>-<config>)")

    p = add("run", cmd_run, "map a graph and run it on the RTL, checked bit for bit against the golden array "
                            "model and within the fp32 bound against NumPy; writes DIR/outputs.npz")
    map_args(p)
    p.add_argument("--inputs", default=None, help=".npz of input arrays, keyed by the graph's input names")
    p.add_argument("--out", default=None, help="output directory (default build/run/<graph>-<config>)")
    p.add_argument("--harness", choices=["direct", "specialised", "cocotb", "golden"], default="direct",
                   help="direct (default: the C++ Verilator harness), specialised (the direct harness on a model "
                        "specialised to each phase's bitstream: ~25x the cycles/s, one build per phase, cycle-exact "
                        "with direct), cocotb, or golden (the golden array model alone: no RTL, no cycles)")
    p.add_argument("--vcd", default="", help="write the RTL waves of every phase here (PATH, or PATH-phaseN.vcd)")
    p.add_argument("--vcd-scope", default="", metavar="UNIT",
                   help="trace one unit (pcu_R_C, pmu_R_C, ag_R or a network's switches, e.g. vector_network) and the "
                        "array's ports only: a smaller VCD, and with --harness specialised a quick build on any array")

    p = add("dlrm", cmd_dlrm, "DLRM inference (the public reference's flags, weights and semantics) mapped and run "
                              "on the array batch by batch, checked against the golden array model and an "
                              "independent NumPy DLRM; prints cycles, latency, samples/s and errors per batch")
    p.add_argument("--arch-sparse-feature-size", type=int, default=None, metavar="D", help="embedding width D (default 2)")
    p.add_argument("--arch-embedding-size", default=None, metavar="N1-N2-...", help="rows of each table (default 4-3-2)")
    p.add_argument("--arch-mlp-bot", default=None, metavar="I-...-D",
                   help="bottom MLP widths, dense input first, D last (default 4-3-2)")
    p.add_argument("--arch-mlp-top", default=None, metavar="...-1",
                   help="top MLP widths after its input (prepended as the reference does; default 4-2-1)")
    p.add_argument("--arch-interaction-op", default=None, help="dot (default) or cat")
    p.add_argument("--num-indices-per-lookup", type=int, default=None, metavar="N",
                   help="random batches: each bag holds 0 to N indices (default 10)")
    p.add_argument("--num-indices-per-lookup-fixed", action="store_true", help="random batches: exactly N indices per bag")
    p.add_argument("--mini-batch-size", type=int, default=None, metavar="B", help="samples per batch (default 1)")
    p.add_argument("--num-batches", type=int, default=1, help="random batches to run (default 1)")
    p.add_argument("--numpy-rand-seed", type=int, default=123, metavar="S",
                   help="seed of the weights (drawn as the reference draws them) and of random batch n (S + n); default 123")
    config_arg(p)
    p.add_argument("--weights", default=None, help="state-dict .npz (emb_l.K.weight, bot_l.J.weight/bias, top_l...)")
    p.add_argument("--inputs", default=None, help=".npz with dense_x [B, 13], lS_o [T, B], lS_i_K (cut into mini-batches)")
    p.add_argument("--criteo-tsv", default=None, help="Criteo-format TSV lines (cut into mini-batches)")
    p.add_argument("--out", default=None, help="write DIR/probabilities.npy (every sample, in order)")
    p.add_argument("--harness", choices=["direct", "specialised", "cocotb", "golden"], default="direct",
                   help="RTL harness (default direct), or golden (the golden array model alone)")
    p.add_argument("--clock-ghz", type=float, default=1.0, help="clock for latency and samples/s (default 1)")
    p.add_argument("--model-only", action="store_true",
                   help="no simulation: the cost model's projection at batch 1 and 64 (and B) beside the lower bound "
                        "and published GPU figures; without --arch-* flags, of the Criteo Kaggle model")
    p.add_argument("--seed", type=int, default=1, help="placement seed (default 1)")
    mlp_weights_arg(p)

    add("ops", cmd_ops, "print the op table (name, code, class, latency, semantics)")
    return parser


def main(argv: list[str] | None = None) -> int:
    from rdagen.synth.yosys import SynthFailed

    from .runner import SimulationFailed

    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"rdagen {args.command}: {exc}", file=sys.stderr)
        return 2
    except (SimulationFailed, SynthFailed) as exc:
        print(f"rdagen {args.command}: FAILED: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
