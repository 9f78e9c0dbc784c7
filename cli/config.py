"""``rdagen config``: show, check or list ArrayConfigs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rdagen.rtl.spec.config import PRESETS, ArrayConfig, load

from .common import UsageError, config

NAME = "config"
HELP = "show, check or list ArrayConfigs"


def add_arguments(p) -> None:
    p.add_argument("action", choices=["show", "check", "list", "fields"],
                   help="show PRESET|FILE as JSON; check FILE; list the presets; fields and their ranges")
    p.add_argument("target", nargs="?", help="preset name or JSON file")


def run(args) -> int:
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
        cfg = config(args.target)
        print(json.dumps({**cfg.to_dict(), "hash": cfg.hash}, indent=2))
        return 0
    return _check(Path(args.target))


def _check(path: Path) -> int:
    if not path.exists():
        raise UsageError(f"no such file: {path}")
    notes: list[str] = []
    try:
        cfg = load(path, notes)
    except ValueError as exc:
        raise UsageError(f"invalid: {exc}") from None  # exit 2, as every other refusal
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"valid: {path} ({cfg.name}, hash {cfg.hash})")
    return 0
