"""``rdagen map``: a graph mapped onto the array: a bitstream per phase, a report and placement.png."""

from __future__ import annotations

from pathlib import Path

from .common import UsageError, add_config_argument, config, out_dir, progress
from .graph import add_graph_argument

NAME = "map"
HELP = ("map a graph onto the array: bitstream(s) per phase, a report (units per kind and "
        "phase, tracks per network, cost-model cycles, placement grid) and placement.png")


def add_arguments(p) -> None:
    add_mapping_arguments(p)
    p.add_argument("--out", default=None, help="output directory (default build/map/<graph>-<config>)")


def add_mapping_arguments(p) -> None:
    """The graph and how it is mapped: shared by `map` and `run`."""
    add_graph_argument(p)
    add_config_argument(p)
    p.add_argument("--seed", type=int, default=None, help="placement seed (default 1); `run`: also the seed "
                   "of the inputs drawn (every input without --inputs, the missing ones with --draw-missing)")
    p.add_argument("--pin", action="append", default=[], metavar="NODE=ROW,COL",
                   help="place a node's first PCU (or a unit named in the report) at a tile; repeatable")
    add_schedule_argument(p)
    add_mlp_weights_argument(p)
    add_matmul_mode_argument(p)
    add_dram_argument(p)


def add_schedule_argument(p) -> None:
    from rdagen.mapper.program import SCHEDULES

    p.add_argument("--schedule", choices=SCHEDULES, default="spatial",
                   help="spatial (default: independent phases share a configuration where they fit and that is "
                        "cheaper; MLP weights stay resident in PMUs, loaded once per program) or phases (kernel by "
                        "kernel: a configuration per phase, weights loaded on every run); the report names it")


def add_pipeline_argument(p, what: str) -> None:
    p.add_argument("--pipeline", action="store_true",
                   help=f"with --requests N (N > 1){what}, the spatial schedule: a request's phases may run beside "
                        "the ones of the request before where they fit the array (in a DLRM its gathers and bottom "
                        "MLP beside the top MLP of the one before): more requests per second for a longer latency; "
                        "the timeline gives each one's")


def check_pipeline(args, copies: int) -> None:
    """--pipeline overlaps *copies* copies of the graph (requests, batches) in the spatial schedule."""
    if not args.pipeline:
        return
    if args.schedule != "spatial":
        raise UsageError(f"--pipeline runs requests side by side: the spatial schedule, not --schedule {args.schedule}")
    if copies < 2:
        batches = hasattr(args, "num_batches")  # `rdagen dlrm`: batches through one program too
        raise UsageError(f"--pipeline overlaps {'requests or batches' if batches else 'requests'}: give --requests N"
                         f"{' or --num-batches N' if batches else ''} (N > 1)")


def add_dram_argument(p) -> None:
    p.add_argument("--dram", default="ddr4", metavar="MEMORY",
                   help="the DRAM behind the AGs, for the cost model and the RTL runs: ddr4 (default: 100 cycles of "
                        "read latency, 102.4 B/cycle for all AGs: DDR4-3200, four channels, at 1 GHz), ideal (a read "
                        "beat the cycle after its request, no bandwidth limit) or LATENCY,BYTES_PER_CYCLE")


def dram(args):
    from rdagen.rtl.spec.memory import memory

    try:
        return memory(args.dram)
    except ValueError as exc:
        raise UsageError(f"--dram: {exc}") from None


def add_matmul_mode_argument(p) -> None:
    from rdagen.mapper.program import MATMUL_MODES, PARTIAL_SUMS

    p.add_argument("--matmul-mode", choices=MATMUL_MODES, default="auto",
                   help="matmul phases: simd (a product per lane per cycle), systolic (lanes x stages multiply-adds "
                        "per cycle, K in sections) or auto (default: the faster by the cost model, matmul by matmul; "
                        "the report names the mode each phase took)")
    p.add_argument("--partial-sums", choices=PARTIAL_SUMS, default="auto",
                   help="where a systolic matmul keeps its partial sums between K sections: dram (each section "
                        "runs on its own), pmu (two PMUs per chain; the sections one continuous run, the result "
                        "to the host) or auto (default: the faster by the cost model on --dram)")


def add_mlp_weights_argument(p) -> None:
    from rdagen.mapper.program import MLP_WEIGHTS

    p.add_argument("--mlp-weights", choices=MLP_WEIGHTS, default="auto",
                   help="chains of Linear layers: resident (one MLP phase, weights in PMUs, samples pipelined "
                        "through the layers), streamed (a matmul phase per layer, weights from DRAM) or auto "
                        "(default: the cheaper by the cost model, chain by chain, then the whole program against every chain "
                        "streamed)")


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


def mapped(args, graph, pmus_kept: bool = True, pipelined: bool = False):
    """*graph* mapped as the flags say; *pmus_kept*: its phases will run as one continuous run;
    *pipelined*: its copies side by side (``map_graph``)."""
    from rdagen.mapper.frontend.graph import GraphError
    from rdagen.mapper.program import map_graph

    cfg = config(args.config)
    pins = _pins(args.pin)
    try:
        return map_graph(graph, cfg, seed=args.seed if args.seed is not None else 1, pins=pins,
                         progress=progress(), mlp_weights=args.mlp_weights, matmul_mode=args.matmul_mode,
                         memory=dram(args), partial_sums=args.partial_sums,
                         pmus_kept=pmus_kept, pipelined=pipelined, schedule=args.schedule)
    except GraphError as exc:  # MapError too: the node or resource that does not fit
        raise UsageError(str(exc)) from None


def run(args) -> int:
    from rdagen.mapper.frontend.graph import GraphError, load_graph
    from rdagen.mapper.report import text_report, write_outputs

    try:
        graph = load_graph(args.graph)
    except GraphError as exc:
        raise UsageError(str(exc)) from None
    out = out_dir(args.out or f"build/map/{Path(args.graph).stem}-{args.config}")
    program = mapped(args, graph)
    print(text_report(program))
    written = write_outputs(program, out)
    print(f"wrote {', '.join(str(p) for p in written)}")
    return 0
