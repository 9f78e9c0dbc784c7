"""What the commands share: the one-line refusal (exit status 2), the --config argument and the
configuration it names, an output directory that must be a directory."""

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
