"""What the commands share: the one-line refusal (exit status 2), the --config argument and the
configuration it names, an output directory that must be a directory, the request-stream arguments."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rdagen.rtl.spec.config import ArrayConfig, load


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="small", help="preset name or JSON file (default: %(default)s)")


def config(spec: str) -> ArrayConfig:
    """The ArrayConfig of a preset name or JSON file; its notes on stderr; a UsageError if invalid."""
    notes: list[str] = []
    try:
        cfg = load(spec, notes)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    for note in notes:
        print(f"rdagen: note: {note}", file=sys.stderr)
    return cfg


def out_dir(spec: str) -> Path:
    out = Path(spec)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a directory")
    return out


def progress(prefix: str = ""):
    """A progress callback: one line per step on stderr."""
    return lambda step: print(f"  {prefix}{step}", file=sys.stderr, flush=True)


def add_request_arguments(parser: argparse.ArgumentParser, requests_help: str) -> None:
    """--requests N and --rate R (`rdagen run`, `rdagen dlrm`: sim/requests.py)."""
    parser.add_argument("--requests", type=int, default=None, metavar="N", help=requests_help)
    parser.add_argument("--rate", type=float, default=None, metavar="R",
                        help="with --requests: R requests per second at --clock-ghz (default: back to back, each "
                             "when the one before is done)")


def check_request_arguments(args) -> None:
    """--requests >= 1; --rate > 0, and only with --requests."""
    if args.requests is not None and args.requests < 1:
        raise UsageError(f"--requests {args.requests}: must be >= 1")
    if args.rate is not None and not args.requests:
        raise UsageError(f"--rate {args.rate:g}: give --requests N (the requests it paces)")
    if args.rate is not None and not args.rate > 0:
        raise UsageError(f"--rate {args.rate:g}: must be > 0 requests per second")
