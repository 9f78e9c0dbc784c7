"""Verilator lint of generated tops: ``verilator --lint-only -Wall`` minus a short, justified waiver list."""

from __future__ import annotations

import dataclasses
import subprocess

from .runner import verilator_bin
from .verilog import GeneratedVerilog

__all__ = ["WAIVERS", "LintResult", "lint"]

WAIVERS = {
    "DECLFILENAME": "generated files are named <top>-<config>-<hash>.v so builds can be cached by content",
    "PROCASSINIT": "Amaranth gives every register its init value both in an initial block and in the "
                   "reset/always logic; that is its code pattern, not a design choice of ours",
    "UNUSEDSIGNAL": "the class units share one operand signature and not every unit reads every field "
                    "(IntMul ignores op and c); Yosys's writer keeps the unused bits of named intermediates",
    "WIDTHEXPAND": "widths are defined by Amaranth's arithmetic rules; Yosys's Verilog writer leaves the "
                   "extensions implicit",
    "WIDTHTRUNC": "as WIDTHEXPAND, for the truncations that Amaranth's .eq() and slices define",
}
"""Warning codes not reported, each with why. Every other -Wall warning (latches, combinational loops,
multiple drivers, incomplete cases, undriven signals, ...) fails the lint."""


@dataclasses.dataclass
class LintResult:
    top: str
    path: str
    warnings: list[str]
    returncode: int

    @property
    def clean(self) -> bool:
        return self.returncode == 0 and not self.warnings


def lint(gen: GeneratedVerilog) -> LintResult:
    cmd = [verilator_bin(), "--lint-only", "-Wall", *(f"-Wno-{code}" for code in WAIVERS),
           "--top-module", gen.module, str(gen.path)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = (proc.stdout + proc.stderr).splitlines()
    warnings = [line for line in lines if line.startswith(("%Warning", "%Error"))]
    return LintResult(gen.top, str(gen.path), warnings, proc.returncode)
