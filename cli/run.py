"""``rdagen run``: a graph mapped and run on the RTL, checked bit for bit against the golden array model and
within the fp32 bound against NumPy; DIR/outputs.npz."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .common import UsageError, add_request_arguments, check_request_arguments, config, out_dir, progress
from .graph import add_inputs_argument, graph_and_inputs
from .map import add_mapping_arguments, add_pipeline_argument, check_pipeline, mapped
from .sim import add_trace_arguments, check_trace_arguments

NAME = "run"
HELP = ("map a graph and run it on the RTL, checked bit for bit against the golden array "
        "model and within the fp32 bound against NumPy; writes DIR/outputs.npz (and DIR/inputs.npz "
        "when inputs were drawn from the seed)")


def add_arguments(p) -> None:
    add_mapping_arguments(p)
    add_inputs_argument(p)
    p.add_argument("--out", default=None, help="output directory (default build/run/<graph>-<config>)")
    p.add_argument("--harness", choices=["direct", "specialised", "cocotb", "golden"], default="direct",
                   help="direct (default: the C++ Verilator harness), specialised (the direct harness on a model "
                        "specialised to each phase's bitstream: ~25x the cycles/s, one build per phase, cycle-exact "
                        "with direct), cocotb, or golden (the golden array model alone: no RTL, no cycles)")
    p.add_argument("--vcd", default="", help="write the RTL waves of every phase here (PATH, or PATH-phaseN.vcd)")
    add_trace_arguments(p)
    add_request_arguments(p, "run the mapped program N times, request n with the inputs drawn from seed + n "
                             "(those --inputs gives stay), each checked; print each request's latency (p50, p99, "
                             "max) and the throughput; outputs.npz (and inputs.npz) hold every request along a "
                             "first axis")
    add_pipeline_argument(p, " in one continuous run (--harness direct or golden)")
    p.add_argument("--clock-ghz", type=float, default=1.0, help="clock of --requests' latencies and throughput "
                   "(default %(default)s)")


def run(args) -> int:
    from rdagen.sim.graph_run import format_table, run_program, runs_alone
    from rdagen.mapper.report import text_report
    from rdagen.sim.waves import keep_phase_vcd

    graph, arrays, drawn = graph_and_inputs(args)
    out = out_dir(args.out or f"build/run/{Path(args.graph).stem}-{args.config}")
    if args.vcd and args.harness == "golden":
        raise UsageError("--vcd needs an RTL harness (direct, specialised or cocotb), not golden")
    if (args.vcd_scope or args.vcd_anonymous) and (not args.vcd or args.harness not in ("direct", "specialised")):
        raise UsageError("--vcd-scope and --vcd-anonymous shape the VCD of --vcd in the direct or specialised harness; "
                         "give --vcd PATH and --harness direct or specialised")
    check_trace_arguments(args, config(args.config))
    _check_requests(args)
    harness = None if args.harness == "golden" else args.harness
    alone = runs_alone(harness)  # each phase a run of its own: nothing stays in the PMUs
    if args.pipeline and alone:
        raise UsageError(f"--pipeline runs requests side by side in one continuous run: --harness direct or golden, "
                         f"not {args.harness} (it runs each phase on its own)")
    if alone and args.partial_sums == "pmu":
        raise UsageError(f"--partial-sums pmu needs one continuous run (--harness direct or golden); the "
                         f"{args.harness} harness runs each phase on its own")
    if alone and args.partial_sums == "auto":
        print(f"note: systolic matmuls keep their partial sums in DRAM or a ring in the {args.harness} harness, not "
              f"in PMU pairs (it runs each phase on its own), and weights are not kept resident")
    kept = not alone
    requests = _request_inputs(args, graph, arrays, drawn)
    # One program serves every request where the phases run as one continuous run (its weights kept
    # resident load once); the other harnesses run each phase on their own: the program once per request.
    copies = len(requests) if kept else 1
    program = mapped(args, _repeated(graph, copies), pmus_kept=kept, pipelined=args.pipeline)
    dram = program.memory
    print(text_report(program))
    print(f"\nrunning {len(program.phases)} phase(s) on {'the golden array model' if harness is None else f'the RTL ({harness} harness), each checked against the golden array model'} "
          f"(the first RTL build of a configuration takes minutes; cached by hash) ...", flush=True)
    result = run_program(program, _copies_inputs(requests[:copies]), harness=harness, waves=bool(args.vcd),
                         scope=args.vcd_scope, anonymous=args.vcd_anonymous, memory=dram, progress=progress())
    print()
    print(format_table(program, result))
    if args.requests:
        result, arrays = _requests(args, graph, program, harness, result, requests, copies)
    if result.dram:
        seen = [d for d in result.dram if d["bytes"]]
        latencies = [d["read_latency_min"] for d in seen if d["read_latency_min"] >= 0]
        print(f"DRAM {dram.describe()}; {sum(d['bytes'] for d in seen):,} bytes moved"
              + (f", read latency {min(latencies)} to {max(d['read_latency_max'] for d in seen)} cycles" if latencies else ""))
    for problem in result.mismatches:
        print(f"  MISMATCH: {problem}")
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / ".outputs.tmp.npz"
    np.savez(tmp, **result.outputs)  # with --requests, every request's along a first axis
    tmp.replace(out / "outputs.npz")
    print(f"wrote {out / 'outputs.npz'} (keys: {', '.join(result.outputs)})")
    if drawn:  # the run can be repeated, and checked outside rdagen, from the inputs it used
        tmp = out / ".inputs.tmp.npz"
        np.savez(tmp, **arrays)
        tmp.replace(out / "inputs.npz")
        print(f"wrote {out / 'inputs.npz'} (every input of the run; drawn from the seed: {', '.join(drawn)})")
    for n, vcd in enumerate(result.vcds):
        target = Path(args.vcd)
        target = target if len(result.vcds) == 1 else target.with_name(f"{target.stem}-phase{n}{target.suffix or '.vcd'}")
        gtkw = keep_phase_vcd(Path(vcd), target, program.phases[n])
        print(f"VCD of phase {n}: {target} (gtkwave {gtkw} opens it with the ports of the units it uses)")
    print(f"{'PASS' if result.ok else 'FAIL'} ({result.seconds:.1f} s)")
    return 0 if result.ok else 1


def _check_requests(args) -> None:
    check_request_arguments(args)
    check_pipeline(args, args.requests or 1)
    if not args.clock_ghz > 0:
        raise UsageError(f"--clock-ghz {args.clock_ghz:g}: must be > 0")
    if args.requests and args.vcd:
        raise UsageError("--vcd writes the waves of one run: not with --requests")


def _request_inputs(args, graph, arrays, drawn) -> list[dict]:
    """The inputs of every request (one without --requests): request 0's are *arrays*, request n's
    drawn from seed + n but for those --inputs gives (*drawn*: the names drawn from the seed)."""
    from rdagen.mapper.frontend.inputs import check_inputs, random_inputs

    seed = args.seed if args.seed is not None else 1
    kept = {name: value for name, value in arrays.items() if name not in drawn}
    return [arrays] + [check_inputs(graph, random_inputs(graph, seed + n, kept), source=f"request {n}")
                       for n in range(1, args.requests or 1)]


def _repeated(graph, copies: int):
    from rdagen.mapper.frontend.graph import GraphError

    try:
        return graph.repeated(copies)
    except GraphError as exc:  # a tensor named as another's copy
        raise UsageError(f"--requests {copies}: {exc}") from None


def _copies_inputs(requests: list[dict]) -> dict:
    """The inputs of a graph repeated once per request (``Graph.repeated``'s names)."""
    from rdagen.mapper.frontend.graph import copy_name

    return {copy_name(name, n): value for n, arrays in enumerate(requests) for name, value in arrays.items()}


def _requests(args, graph, program, harness, first, requests, copies):
    """The request stream: requests 0..N-1 from *first*, the run of a program of *copies* copies of
    *graph* (every request's, side by side where pipelined, or request 0's alone: then requests
    1..N-1 run the program again, each on its own). Prints each request's cycles and the stream;
    returns the run with every request's outputs stacked along a first axis (``ok``: every request
    checked), and the inputs stacked alike."""
    import dataclasses

    from rdagen.mapper.frontend.graph import copy_name
    from rdagen.sim.graph_run import run_program
    from rdagen.sim.requests import format_requests, serve, timeline

    def phase_cycles(run) -> list[int]:
        if harness is None:  # the cost model of this request's traffic (the golden model's run)
            return [p.estimate + r for p, r in zip(run.phases, program.reconfigurations)]
        return [p.cycles + p.reconfiguration for p in run.phases]

    served = [(run, n) for run in [first] for n in range(copies)]  # (the run holding request n, its copy)
    service = program.per_copy(phase_cycles(first))  # each request's span in the program
    for n in range(copies, len(requests)):
        run = run_program(program, requests[n], harness=harness, memory=program.memory,
                          progress=progress(f"request {n}: "))
        served.append((run, 0))
        service += program.per_copy(phase_cycles(run))
        for problem in run.mismatches:
            print(f"  MISMATCH (request {n}): {problem}")
    for n, ((run, copy), c) in enumerate(zip(served, service)):
        ok = all(run.within[copy_name(o, copy)] for o in graph.outputs) and not run.mismatches
        print(f"request {n}: {'model ' if harness is None else ''}{c:,} cycles, {'ok' if ok else 'FAIL'}")
    if copies == len(requests):  # every request in the one program: its configurations in order
        stats = timeline(phase_cycles(first), program.phase_copies(), rate=args.rate, clock_ghz=args.clock_ghz)
    else:
        stats = serve(service, rate=args.rate, clock_ghz=args.clock_ghz)
    print(format_requests(stats, args.clock_ghz, "RTL" if harness else "cost model", schedule=program.schedule,
                          what="runs of the graph", output="last output", per_s="requests/s"))

    def each(field: str, combine):
        return {o: combine([getattr(run, field)[copy_name(o, copy)] for run, copy in served]) for o in graph.outputs}

    runs = list({id(run): run for run, _ in served}.values())
    return (dataclasses.replace(first, outputs=each("outputs", np.stack), max_error=each("max_error", max),
                                bound=each("bound", max), within=each("within", all),
                                mismatches=[m for r in runs for m in r.mismatches],
                                seconds=sum(r.seconds for r in runs)),
            {name: np.stack([r[name] for r in requests]) for name in requests[0]})
