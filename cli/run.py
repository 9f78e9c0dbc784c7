"""``rdagen run``: a graph mapped and run on the RTL, checked bit for bit against the golden array model and
within the fp32 bound against NumPy; DIR/outputs.npz."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .common import UsageError, config, out_dir, progress
from .graph import add_inputs_argument, graph_and_inputs
from .map import add_mapping_arguments, mapped
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


def run(args) -> int:
    from rdagen.sim.graph_run import format_table, partial_sums_for, run_program
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
    harness = None if args.harness == "golden" else args.harness
    if partial_sums_for(harness) == "dram":  # each phase a run of its own: nothing stays in the PMUs
        if args.partial_sums == "pmu":
            raise UsageError(f"--partial-sums pmu needs one continuous run (--harness direct or golden); the "
                             f"{args.harness} harness runs each phase on its own")
        if args.partial_sums == "auto":
            print(f"note: systolic matmuls keep their partial sums in DRAM in the {args.harness} harness (it runs "
                  f"each phase on its own)")
        args.partial_sums = "dram"
    program = mapped(args, graph)
    dram = program.memory
    print(text_report(program))
    print(f"\nrunning {len(program.phases)} phase(s) on {'the golden array model' if harness is None else f'the RTL ({harness} harness), each checked against the golden array model'} "
          f"(the first RTL build of a configuration takes minutes; cached by hash) ...", flush=True)
    result = run_program(program, arrays, harness=harness, waves=bool(args.vcd), scope=args.vcd_scope,
                         anonymous=args.vcd_anonymous, memory=dram, progress=progress())
    print()
    print(format_table(program, result))
    if result.dram:
        seen = [d for d in result.dram if d["bytes"]]
        latencies = [d["read_latency_min"] for d in seen if d["read_latency_min"] >= 0]
        print(f"DRAM {dram.describe()}; {sum(d['bytes'] for d in seen):,} bytes moved"
              + (f", read latency {min(latencies)} to {max(d['read_latency_max'] for d in seen)} cycles" if latencies else ""))
    for problem in result.mismatches:
        print(f"  MISMATCH: {problem}")
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / ".outputs.tmp.npz"
    np.savez(tmp, **result.outputs)
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
