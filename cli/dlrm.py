"""``rdagen dlrm``: DLRM inference (the public reference's flags, weights and semantics) mapped and run on
the array batch by batch, checked against the golden array model and an independent NumPy DLRM."""

from __future__ import annotations

import numpy as np

from .common import (UsageError, add_config_argument, add_request_arguments, check_request_arguments, config,
                     out_dir, progress)
from .map import (add_dram_argument, add_mlp_weights_argument, add_pipeline_argument, add_schedule_argument,
                  check_pipeline, dram)

NAME = "dlrm"
HELP = ("DLRM inference (the public reference's flags, weights and semantics) mapped and run "
        "on the array batch by batch, checked against the golden array model and an "
        "independent NumPy DLRM; prints cycles, latency, samples/s and errors per batch")


def add_arguments(p) -> None:
    p.add_argument("--model", choices=["kaggle", "terabyte"], default=None,
                   help="a published model by name, with its reference flags (D, the 26 tables' sizes, the MLPs): "
                        "kaggle (Criteo Kaggle) or terabyte (MLPerf Criteo Terabyte, --max-ind-range 40M); for "
                        "--model-only projections; not with the --arch-* flags")
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
    p.add_argument("--num-batches", type=int, default=None,
                   help="random batches to run (default 1), one after the other in one program: the MLP weights it "
                        "keeps resident in PMUs are loaded once; with --model-only, the projection of N batches "
                        "through one program, per batch")
    add_request_arguments(p, "send N random batch-1 requests (sample n drawn as batch n is) through one program "
                             "(the first loads the weights it keeps resident) and print each request's latency from "
                             "its first input in to its probability out (p50, p99, max) and the throughput; with "
                             "--model-only, of the cost model's program of two requests (those after the first are "
                             "alike; four with --pipeline, its steady configurations repeated)")
    add_pipeline_argument(p, " or --num-batches N")
    p.add_argument("--numpy-rand-seed", type=int, default=123, metavar="S",
                   help="seed of the weights (drawn as the reference draws them) and of random batch n (S + n); "
                        "default %(default)s")
    add_config_argument(p)
    p.add_argument("--weights", default=None, help="state-dict .npz (emb_l.K.weight, bot_l.J.weight/bias, top_l...)")
    p.add_argument("--inputs", default=None, help=".npz with dense_x [B, 13], lS_o [T, B], lS_i_K (cut into mini-batches)")
    p.add_argument("--criteo-tsv", default=None, help="Criteo-format TSV lines (cut into mini-batches)")
    p.add_argument("--out", default=None, help="write DIR/probabilities.npy (every sample, in order: [B] when the top "
                   "MLP ends in one output, [B, n] when it ends in n) and DIR/summary.json (per batch: cycles, "
                   "configuration cycles, latency, samples/s, multiply-adds against lanes x stages x PCUs, the lower "
                   "bound and its terms); with --model-only summary.json of the projection")
    p.add_argument("--harness", choices=["direct", "specialised", "cocotb", "golden"], default="direct",
                   help="RTL harness (default %(default)s), or golden (the golden array model alone)")
    p.add_argument("--clock-ghz", type=float, default=1.0, help="clock for latency and samples/s (default %(default)s)")
    p.add_argument("--model-only", action="store_true",
                   help="no simulation: the cost model's projection at batch 1 and 64 (and B) beside the lower bound "
                        "and published GPU figures; without --arch-* flags, of the Criteo Kaggle model")
    p.add_argument("--seed", type=int, default=1, help="placement seed (default %(default)s)")
    add_schedule_argument(p)
    add_mlp_weights_argument(p)
    add_dram_argument(p)


ARCH_FLAGS = ("arch_sparse_feature_size", "arch_embedding_size", "arch_mlp_bot", "arch_mlp_top", "arch_interaction_op",
              "num_indices_per_lookup")
"""The flags that describe a model (``--model`` stands for all of them)."""


def _dlrm_arch(args):
    """The architecture of --model or the --arch-* flags: the reference's defaults, or with --model-only
    and no --arch-* flag, the Criteo Kaggle model."""
    from rdagen.mapper.apps.dlrm import KAGGLE, MODELS, Arch, parse_sizes

    flags = ARCH_FLAGS
    if args.model:
        given = [f"--{f.replace('_', '-')}" for f in flags if getattr(args, f) is not None]
        if given:
            raise UsageError(f"--model {args.model} sets the model's flags; it does not take {', '.join(given)}")
        if not args.model_only:
            raise UsageError(f"--model {args.model}: its tables (up to {max(MODELS[args.model].embedding_sizes):,} rows) "
                             f"are for --model-only projections; runs take the --arch-* flags of a model that fits")
        return MODELS[args.model]
    if args.model_only and all(getattr(args, f) is None for f in flags):
        return KAGGLE
    given = {f: getattr(args, f) for f in flags}
    defaults = {"arch_sparse_feature_size": 2, "arch_embedding_size": "4-3-2", "arch_mlp_bot": "4-3-2",
                "arch_mlp_top": "4-2-1", "arch_interaction_op": "dot", "num_indices_per_lookup": 10}
    v = {f: defaults[f] if given[f] is None else given[f] for f in flags}
    return Arch(v["arch_sparse_feature_size"], parse_sizes("--arch-embedding-size", v["arch_embedding_size"]),
                parse_sizes("--arch-mlp-bot", v["arch_mlp_bot"]), parse_sizes("--arch-mlp-top", v["arch_mlp_top"]),
                v["arch_interaction_op"], v["num_indices_per_lookup"])


def _lookups(args, arch) -> str:
    """What the indices per lookup are, where they come from."""
    if args.criteo_tsv:
        return "1 index per lookup (the Criteo TSV's one per table)"
    if args.inputs:
        return f"indices per lookup as {args.inputs} gives them"
    n = arch.indices_per_lookup
    return f"{n} indices per lookup" if args.model_only or args.num_indices_per_lookup_fixed else \
        f"0 to {n} indices per lookup"


def _lookups_per_table(arch, batch: dict) -> int:
    """Indices per table and sample of *batch*, rounded down (a lower bound takes no more than it has)."""
    samples = batch["dense_x"].shape[0]
    return sum(len(batch[f"lS_i_{k}"]) for k in range(arch.tables)) // (arch.tables * samples)


def _summary_row(cfg, batch: int, source: str, cycles: int, configuration: int, configurations: int, pcus_used: int,
                 bound, clock_ghz: float, schedule: str, pipelined: bool) -> dict:
    """One row of summary.json: a batch's cycles and what they mean, beside its lower bound's terms
    (*schedule*: mapper/program.py SCHEDULES; *pipelined*: batches or requests side by side).
    Multiply-adds are counted against the physical peak: lanes x stages x PCUs a cycle."""
    from rdagen.mapper.backend.place import sites

    pcus = len(sites(cfg, "pcu"))
    seconds = cycles / (clock_ghz * 1e9)
    return {"batch": batch, "schedule": schedule, "pipelined": pipelined, "source": source, "cycles": cycles,
            "configuration_cycles": configuration, "latency_us": round(seconds * 1e6, 4),
            "samples_per_s": round(batch / seconds, 1),
            "mac_utilization": round(bound.utilization(cycles), 6),
            "bound_cycles": bound.cycles,
            "bound_terms": {"dram": bound.dram_cycles, "pmu_weights": bound.weight_cycles,
                            "critical_path": bound.critical_path_cycles,
                            "multiply_adds": bound.compute_cycles},
            "configurations": configurations, "pcus_used": pcus_used, "pcus": pcus}


def _check_requests(args) -> None:
    """--requests sends random batch-1 requests (--rate paces them): no batch or input flags with it."""
    check_request_arguments(args)
    check_pipeline(args, args.requests or args.num_batches or 1)
    if not args.requests:
        return
    for flag, given in (("--mini-batch-size", args.mini_batch_size not in (None, 1)), ("--num-batches", args.num_batches),
                        ("--inputs", args.inputs), ("--criteo-tsv", args.criteo_tsv)):
        if given:
            raise UsageError(f"--requests {args.requests} sends random batch-1 requests: not with {flag}")


def _serve(args, cycles: list[int], copies: list[tuple[int, ...]], source: str):
    """The request stream through the program's configurations (each one's *cycles*, the requests it
    computes for: sim/requests.py ``timeline``); printed."""
    from rdagen.sim.requests import format_requests, timeline

    stats = timeline(cycles, copies, rate=args.rate, clock_ghz=args.clock_ghz)
    print(format_requests(stats, args.clock_ghz, source, schedule=args.schedule))
    return stats


def _write_summary(out, args, arch, cfg, rows: list[dict], requests=None) -> None:
    """DIR/summary.json (written whole, then moved into place); with --requests its ``requests`` block."""
    import json

    from rdagen.mapper.apps.dlrm import MODELS

    out.mkdir(parents=True, exist_ok=True)
    summary = {"model": next((name for name, known in MODELS.items() if known is arch), "flags"), "arch": {"sparse_feature_size": arch.sparse_feature_size,
                                        "embedding_sizes": list(arch.embedding_sizes), "mlp_bot": list(arch.mlp_bot),
                                        "mlp_top": list(arch.top_layers), "interaction": arch.interaction},
               "config": cfg.name, "clock_ghz": args.clock_ghz, "memory": args.dram, "rows": rows,
               **({"requests": requests.summary(args.clock_ghz)} if requests else {})}
    tmp = out / ".summary.tmp.json"
    tmp.write_text(json.dumps(summary, indent=1) + "\n")
    tmp.replace(out / "summary.json")
    print(f"wrote {out / 'summary.json'}")


def run(args) -> int:
    from rdagen.mapper.apps.dlrm import (check_batch, load_inputs, load_weights, lower_bound, random_batch,
                                    read_criteo_tsv, reference_weights)
    from rdagen.mapper.frontend.graph import GraphError

    from rdagen.sim.dlrm_run import (PROJECTION_TABLE_ROWS, format_projection, format_results, project, run_batches,
                                     split_batches)

    if args.clock_ghz <= 0:
        raise UsageError(f"--clock-ghz {args.clock_ghz}: must be > 0")
    for flag, value in (("--mini-batch-size", args.mini_batch_size), ("--num-batches", args.num_batches)):
        if value is not None and value < 1:
            raise UsageError(f"{flag} {value}: must be >= 1")
    _check_requests(args)
    if args.inputs and args.criteo_tsv:
        raise UsageError("give --inputs or --criteo-tsv, not both")
    if args.model_only and (args.inputs or args.criteo_tsv or args.weights):
        raise UsageError("--model-only projects from the cost model: no --inputs, --criteo-tsv or --weights")
    cfg = config(args.config)
    memory = dram(args)
    out = out_dir(args.out) if args.out else None
    size = args.mini_batch_size or 1
    try:
        arch = _dlrm_arch(args)
        describe = (f"DLRM: D {arch.sparse_feature_size}, {arch.tables} tables "
                    f"({'-'.join(map(str, arch.embedding_sizes)) if arch.tables <= 8 else 'rows up to %d' % max(arch.embedding_sizes)}), "
                    f"bottom {'-'.join(map(str, arch.mlp_bot))}, top {'-'.join(map(str, arch.top_layers))}, "
                    f"{arch.interaction} interaction, {_lookups(args, arch)}")
        if args.model_only:
            sizes = (1,) if args.requests else \
                tuple(dict.fromkeys((1, 64) + ((args.mini_batch_size,) if args.mini_batch_size else ())))
            # requests after the first are alike (bags of exactly N indices): two in one program give them all,
            # four when pipelined (the second-to-last's configurations repeat: sim/requests.py repeat_steady)
            programmed = min(args.requests, 4 if args.pipeline else 2) if args.requests else args.num_batches or 1
            print(f"{describe}; projected on {cfg.name} with DRAM {memory.describe()} by the cost model at batch "
                  f"{', '.join(map(str, sizes))}"
                  f"{f' ({programmed} batches through one program)' if programmed > 1 else ''} "
                  f"(bags of exactly {arch.indices_per_lookup} indices; tables capped at {PROJECTION_TABLE_ROWS:,} rows "
                  f"for the mapping: the cycles do not depend on them) ...", flush=True)
            rows = project(arch, cfg, sizes, seed=args.seed, weight_seed=args.numpy_rand_seed, mlp_weights=args.mlp_weights,
                           progress=progress(), memory=memory, num_batches=programmed, pipelined=args.pipeline,
                           schedule=args.schedule)
            print(format_projection(rows, args.clock_ghz))
            requests = None
            if args.requests:
                from rdagen.sim.requests import repeat_steady

                cycles, copies = rows[0]["timeline"]
                if programmed < args.requests and not args.pipeline:  # the second request's run for every later one
                    first = [c for c, k in zip(cycles, copies) if k == (0,)]
                    cycles = first + [rows[0]["batch_cycles"][1]] * (args.requests - 1)
                    copies = [(0,)] * len(first) + [(n,) for n in range(1, args.requests)]
                elif programmed < args.requests:
                    cycles, copies = repeat_steady(cycles, copies, args.requests)
                requests = _serve(args, cycles, copies, "cost model")
            if out:
                _write_summary(out, args, arch, cfg, [
                    _summary_row(cfg, r["batch"], "model", r["cycles"], r["reconfiguration_cycles"], r["phases"],
                                 r["pcus_used"], lower_bound(arch, cfg, r["batch"], arch.indices_per_lookup, memory),
                                 args.clock_ghz, args.schedule, args.pipeline) | {"batches_in_program": r["batches"]}
                    for r in rows], requests)
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
                       for n in range(args.requests or args.num_batches or 1)]
    except GraphError as exc:  # DlrmError, MapError: a flag, a file, or a model that does not fit
        raise UsageError(str(exc)) from None
    print(f"{describe}; weights {'from ' + args.weights if args.weights else f'drawn as the reference does (seed {args.numpy_rand_seed})'}; "
          f"{len(batches)} batch(es) on {cfg.name}, harness {args.harness}, DRAM {memory.describe()}", flush=True)
    harness = None if args.harness == "golden" else args.harness
    try:  # the batches (requests) through one program: the weights it keeps resident cross the edge once
        results = run_batches(arch, weights, batches, cfg, harness=harness, seed=args.seed,
                              mlp_weights=args.mlp_weights, memory=memory, progress=progress(), pipelined=args.pipeline,
                              schedule=args.schedule)
    except GraphError as exc:  # DlrmError, MapError: a batch or the model does not fit
        raise UsageError(str(exc)) from None
    for r in results:
        for problem in r.mismatches:
            print(f"  MISMATCH (batch {r.index}): {problem}")
    print()
    print(results[0].phase_table)  # the program's, shared by its batches
    print()
    print(format_results(results, args.clock_ghz))
    requests = None
    if args.requests:
        rtl = all(r.cycles is not None for r in results)
        requests = _serve(args, list(results[0].program_cycles), list(results[0].program_copies),
                          "RTL" if rtl else "cost model")
    ok = all(r.ok for r in results)
    if out:
        out.mkdir(parents=True, exist_ok=True)
        tmp = out / ".probabilities.tmp.npy"
        probabilities = np.concatenate([r.probabilities for r in results]).astype(np.float32)
        np.save(tmp, probabilities[:, 0] if probabilities.shape[1] == 1 else probabilities)
        tmp.replace(out / "probabilities.npy")
        print(f"wrote {out / 'probabilities.npy'} ({' x '.join(map(str, probabilities.shape))}: samples x outputs)")
        _write_summary(out, args, arch, cfg, [
            _summary_row(cfg, r.samples, "rtl" if r.cycles is not None else "model",
                         r.cycles if r.cycles is not None else r.estimate, r.reconfiguration, r.phases, r.pcus_used,
                         lower_bound(arch, cfg, r.samples, lookups, memory), args.clock_ghz,
                         args.schedule, args.pipeline)
            for r, lookups in zip(results, [_lookups_per_table(arch, b) for b in batches])], requests)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1
