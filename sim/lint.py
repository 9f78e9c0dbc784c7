"""Verilator lint of generated tops: ``verilator --lint-only -Wall`` minus a short, justified waiver list.

Large arrays are linted module by module (``lint_by_module``): each unit module with everything under it,
then the top with those modules replaced by stubs (their ports only). Verilator elaborates every instance
of the whole hierarchy in one lint (the medium array takes 8 GB; plasticine's would not fit 24 GB), and
each unit module is the same for all its instances, so the parts cover the design with one copy each."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import subprocess
from pathlib import Path

from .paths import BUILD
from .runner import verilator_bin
from .verilog import GeneratedVerilog

__all__ = ["WAIVERS", "LintResult", "lint", "lint_by_module", "stubbed"]

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


def _lint(name: str, path: Path, module: str) -> LintResult:
    cmd = [verilator_bin(), "--lint-only", "-Wall", *(f"-Wno-{code}" for code in WAIVERS),
           "--top-module", module, str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = (proc.stdout + proc.stderr).splitlines()
    warnings = [line for line in lines if line.startswith(("%Warning", "%Error"))]
    return LintResult(name, str(path), warnings, proc.returncode)


def lint(gen: GeneratedVerilog) -> LintResult:
    return _lint(gen.top, gen.path, gen.module)


_MODULE = re.compile(r"^module (\S+?) ?\(.*?^endmodule\n", re.S | re.M)
_PORT = re.compile(r"^\s*(?:input|output|inout)\b[^;]*;", re.M)


def stubbed(text: str, modules: tuple[str, ...]) -> str:
    """*text* with each of *modules* reduced to its header and port declarations (outputs undriven,
    which the stub alone waives) and the modules under them (Yosys names them ``\\<module>.<path>``)
    dropped."""
    def stub(match: re.Match) -> str:
        name = match.group(1)
        if name.startswith("\\") and name[1:].split(".")[0] in modules:
            return ""
        if name not in modules:
            return match.group(0)
        body = match.group(0)
        header = body[: body.index(");") + 2]
        ports = "\n".join(p.strip() for p in _PORT.findall(body))
        return (f"/* verilator lint_off UNDRIVEN */\n{header}\n{ports}\nendmodule\n"
                f"/* verilator lint_on UNDRIVEN */\n")

    out = _MODULE.sub(stub, text)
    missing = [m for m in modules if f"module {m}(" not in text and f"module {m} (" not in text]
    if missing:
        raise ValueError(f"no module {missing[0]!r} in the Verilog to stub")
    return out


def lint_by_module(gen: GeneratedVerilog, units: tuple[str, ...]) -> list[LintResult]:
    """The lint of each of the *units* modules (with everything under it), then of the top with the
    units as stubs (module docstring)."""
    results = [_lint(f"{gen.top}/{unit}", gen.path, unit) for unit in units]
    text = stubbed(gen.path.read_text(), units)
    path = BUILD / "lint" / f"{gen.path.stem}-stubs-{hashlib.sha256(text.encode()).hexdigest()[:12]}.v"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return results + [_lint(f"{gen.top} (units as stubs)", path, gen.module)]
