"""``rdagen synth``: Yosys synthesis of one unit; a JSON and a Markdown report in build/synth/."""

from __future__ import annotations

from .common import UsageError, add_config_argument, config

NAME = "synth"
HELP = "Yosys synthesis of one unit; writes build/synth/<unit>-<config>.json and .md"


def add_arguments(p) -> None:
    p.add_argument("--unit", default="", help="unit (top) name; see `rdagen lint` for the list")
    p.add_argument("--memories", default="flops", choices=("flops", "macros"),
                   help="map memories to flip-flops (default) or keep them as macro cells (large scratchpads)")
    p.add_argument("--noshare", action="store_true",
                   help="skip Yosys's SAT-based resource sharing (too slow on the plasticine PCU)")
    p.add_argument("--hierarchical", action="store_true",
                   help="synthesize module by module, no flattening (the plasticine PCU does not fit flat)")
    p.add_argument("--parts", action="store_true",
                   help="hierarchical, each distinct part (same module once digits are ignored, same ports, same "
                        "sub-parts) synthesized once and counted per instance: the plasticine PCU's 1,039 modules "
                        "are 102 parts (implies --hierarchical)")
    p.add_argument("--timeout", type=float, default=3600, help="seconds before Yosys is stopped (default %(default)s)")
    add_config_argument(p)


def run(args) -> int:
    from rdagen.synth.yosys import synthesize

    from rdagen.sim.paths import BUILD
    from rdagen.sim.tops import TOPS, top
    from rdagen.sim.verilog import generate

    if not args.unit:
        raise UsageError(f"give a unit: make synth UNIT=<unit>; valid units: {', '.join(TOPS)}")
    try:
        top(args.unit)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    cfg = config(args.config)
    gen = generate(args.unit, cfg)
    print(f"rdagen synth: {args.unit} for {cfg.name} ({gen.path}) ...", flush=True)
    report = synthesize(gen.path, gen.module, BUILD / "synth", unit=args.unit, config=cfg.name,
                        config_hash=cfg.hash, memories=args.memories, share=not args.noshare,
                        timeout=args.timeout, flatten=not (args.hierarchical or args.parts),
                        parts=args.parts)
    if report.get("parts"):
        print(f"  {report['parts']['modules']} modules synthesized as {report['parts']['parts']} parts")
    print(f"  cells {report['cells']}, flip-flops {report['flipflops']}, longest path {report['longest_path']}, "
          f"memories as {report['memories']} ({report['memory_bits']} bits as macros), {report['seconds']} s")
    print(f"  report: {BUILD / 'synth' / f'{args.unit}-{cfg.name}.json'} (and .md)")
    return 0
