"""``rdagen formal``: the properties of verif/formal.py proven by k-induction in Yosys."""

from __future__ import annotations

from .common import UsageError

NAME = "formal"
HELP = ("prove the properties of verif/formal.py by k-induction (Yosys), reach their "
        "covers and refute their broken variants; one PASS/FAIL line per check")


def add_arguments(p) -> None:
    p.add_argument("--property", action="append", default=[], help="only this property (repeatable)")
    p.add_argument("--no-broken", action="store_true", help="skip the broken variants")


def run(args) -> int:
    from rdagen.sim.formal import run_checks, summary_json
    from rdagen.sim.runner import BUILD

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
