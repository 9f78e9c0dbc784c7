"""``rdagen ops``: the op table."""

from __future__ import annotations

NAME = "ops"
HELP = "print the op table (name, code, class, latency, semantics)"


def add_arguments(p) -> None:
    """No arguments."""


def run(args) -> int:
    from rdagen.rtl.spec.ops import table_markdown

    print(table_markdown())
    return 0
