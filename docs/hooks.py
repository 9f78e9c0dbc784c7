"""mkdocs hook: the command reference (docs/commands.md) written from the argparse definitions of
``rdagen`` at build time, one section per command with its usage and every argument."""

from __future__ import annotations

import argparse

MARKER = "<!-- rdagen-commands -->"


def command_reference() -> str:
    from rdagen.cli import COMMANDS, parser

    top = parser()
    sub = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    parts = []
    for command in COMMANDS:
        p = sub.choices[command.NAME]
        p.formatter_class = lambda prog: argparse.HelpFormatter(prog, width=100)
        parts.append(f"## rdagen {command.NAME}\n\n{command.HELP}\n\n```text\n{p.format_help().rstrip()}\n```\n")
    return "\n".join(parts)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if MARKER in markdown:
        return markdown.replace(MARKER, command_reference())
    return markdown
