"""The ``rdagen`` command: every flow of the project (the Makefile targets are thin wrappers over it).

One module per command, each with ``NAME``, ``HELP``, ``add_arguments(parser)`` beside the
``run(args)`` that reads them (as Glasgow's applets are written); ``COMMANDS`` lists them in the order
``rdagen --help`` shows them."""

from __future__ import annotations

import argparse
import sys

from . import bench, config, coverage, dlrm, formal, graph, lint, map, ops, run, sim, sweep, synth, waves
from .common import UsageError

__all__ = ["COMMANDS", "main", "parser"]

COMMANDS = (config, sim, synth, lint, waves, bench, coverage, formal, graph, map, run, dlrm, sweep, ops)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="rdagen", description="rdagen: reconfigurable dataflow accelerator "
                                  "generator (RTL, golden models, simulation, synthesis)")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        p = sub.add_parser(command.NAME, help=command.HELP, description=command.HELP)
        command.add_arguments(p)
        p.set_defaults(func=command.run)
    return top


def main(argv: list[str] | None = None) -> int:
    from rdagen.sim.runner import SimulationFailed
    from rdagen.synth.yosys import SynthFailed

    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"rdagen {args.command}: {exc}", file=sys.stderr)
        return 2
    except (SimulationFailed, SynthFailed) as exc:
        print(f"rdagen {args.command}: FAILED: {exc}", file=sys.stderr)
        return 1
