"""Code coverage of the RTL, per Amaranth source file and line.

While ``collecting()`` is active, every top is generated with Amaranth's ``src`` attributes (a separate
cache entry), every Verilator model is built with ``--coverage-toggle``, and every cocotb run leaves a
``coverage.dat`` whose path is recorded. ``report()`` merges them: each toggle point (one bit of one
signal, both directions) sits on the signal's declaration in the Verilog, whose ``src`` attribute
names the Amaranth line that made the signal (a ``Signal(...)``, or the expression of a statement).

A line of rtl/ is *covered* when a signal it makes toggled (some bit, either way) in some run, in some
instance of its module: the hardware that line describes changed value under the regression. The
lines counted are the rtl/ lines that make at least one signal of the simulated tops. The report also
counts *signals* (a line's signals by name, each counted toggled when any instance of it toggled: a
switch at the array's edge has inputs tied off, its twin inside does not): a line that makes many
(a helper, a loop) is covered by one, so this stricter figure shows what the line figure hides.
(Verilator's line coverage is not used: its points sit in the processes Yosys writes, which carry no
``src``; the declarations do.)
"""

from __future__ import annotations

import contextlib
import re
from collections import defaultdict
from pathlib import Path

__all__ = ["collecting", "active", "BUILD_ARGS", "record", "report", "missed_lines"]

BUILD_ARGS = ["--coverage-toggle", "--coverage-max-width", "4096"]
RTL = Path(__file__).resolve().parent.parent / "rtl"

_runs: list[Path] | None = None
_verilog: set[Path] = set()


@contextlib.contextmanager
def collecting():
    """Within: src attributes in the generated Verilog, toggle coverage in the builds, and every run's
    coverage.dat recorded. Yields the list of recorded runs."""
    global _runs
    saved, _runs = _runs, []
    _verilog.clear()
    try:
        yield _runs
    finally:
        _runs = saved


def active() -> bool:
    return _runs is not None


def record(test_dir: Path, verilog: Path) -> None:
    """Notes the coverage.dat of the run in *test_dir* (of a model built from *verilog*)."""
    if _runs is not None:
        data = test_dir / "coverage.dat"
        if not data.exists():
            raise FileNotFoundError(f"the coverage run in {test_dir} wrote no coverage.dat")
        _runs.append(data)
        _verilog.add(verilog)


_POINT = re.compile(r"^C '(.*)' (\d+)$")
_SRC = re.compile(r'\(\* src = "([^"]*)" \*\)')


def _points(data: Path):
    """(Verilog file, Verilog line, count) of every point of a coverage.dat."""
    for line in data.read_text(errors="replace").splitlines():
        match = _POINT.match(line)
        if not match:
            continue
        fields = dict(kv.split("\x02", 1) for kv in match.group(1).split("\x01") if "\x02" in kv)
        if "f" in fields and "l" in fields:
            yield fields["f"], int(fields["l"]), int(match.group(2))


_DECLARATION = re.compile(r"^\s*(?:wire|reg|input|output|inout)\b[^;=]*?(\\\S+|[A-Za-z_][\w$]*)\s*(?:=[^;]*)?;")
_ASSIGN = re.compile(r"^\s*assign\s+(\\\S+|[A-Za-z_][\w$]*)")
_NONBLOCKING = re.compile(r"^\s*(\\\S+|[A-Za-z_][\w$]*)\s*(?:\[[^\]]*\]\s*)?<=")


def _rtl_locations(text: str) -> list[tuple[str, int]]:
    found = []
    for value in _SRC.findall(text):
        for location in value.split("|"):
            path, _, line = location.rpartition(":")
            if path and line.isdigit() and Path(path).resolve().is_relative_to(RTL):
                found.append((f"rtl/{Path(path).resolve().relative_to(RTL)}", int(line)))
    return found


def _sources(verilog: Path) -> dict[int, tuple[str, set[tuple[str, int]]]]:
    """{Verilog line of a declaration: (the signal's name, the rtl/ (file, line)s that make it)}: the
    ``src`` of the declaration itself, of the ``assign`` that drives it (Yosys puts an expression's
    ``src`` inside the statement) and of the ``always`` block that registers it."""
    lines = verilog.read_text().splitlines()
    declared: dict[str, int] = {}  # signal name (in the current module) -> declaration line
    out: dict[int, tuple[str, set]] = {}
    for number, text in enumerate(lines, 1):
        if text.startswith("module "):
            declared = {}
        k, attributes = number - 2, []
        while k >= 0 and lines[k].lstrip().startswith("(*"):
            attributes += _rtl_locations(lines[k])
            k -= 1
        match = _DECLARATION.match(text)
        if match:
            declared[match.group(1)] = number
            out[number] = (match.group(1), set(attributes))
            continue
        match = _ASSIGN.match(text)
        if match and match.group(1) in declared:
            out[declared[match.group(1)]][1].update(_rtl_locations(text))
            continue
        if text.lstrip().startswith("always") and attributes and number < len(lines):
            match = _NONBLOCKING.match(lines[number])  # the register the block assigns, on the next line
            if match and match.group(1) in declared:
                out[declared[match.group(1)]][1].update(attributes)
    return {line: (name, found) for line, (name, found) in out.items() if found}


def report(runs: list[Path] | None = None, verilog: set[Path] | None = None) -> dict:
    """{rtl file: {"lines": N, "hit": n, "missed": [line, ...], "signals": S, "toggled": s}} over the
    recorded runs (or those given, with the Verilog files their models were built from)."""
    runs = list(_runs or []) if runs is None else runs
    verilog = set(_verilog) if verilog is None else verilog
    maps = {str(v.resolve()): _sources(v) for v in verilog}
    toggled: dict[tuple[str, int], bool] = defaultdict(bool)  # per declaration (Verilog file, line)
    for data in runs:
        for vfile, vline, count in _points(data):
            resolved = str(Path(vfile).resolve())
            if vline in maps.get(resolved, {}):
                toggled[resolved, vline] |= count > 0
    # A signal a line makes, in any instance of its module, toggled: {(rtl line, signal name): toggled}.
    signals: dict[tuple[tuple[str, int], str], bool] = defaultdict(bool)
    for (vfile, vline), moved in toggled.items():
        name, sources = maps[vfile][vline]
        for source in sources:
            signals[source, name] |= moved
    covered: dict[tuple[str, int], bool] = defaultdict(bool)  # per rtl/ line: a signal it makes toggled
    files: dict[str, dict] = {}
    for (source, _), moved in signals.items():
        covered[source] |= moved
        entry = files.setdefault(source[0], {"lines": 0, "hit": 0, "missed": [], "signals": 0, "toggled": 0})
        entry["signals"] += 1
        entry["toggled"] += moved
    for (path, line), hit in sorted(covered.items()):
        entry = files[path]
        entry["lines"] += 1
        if hit:
            entry["hit"] += 1
        else:
            entry["missed"].append(line)
    return files


def missed_lines(files: dict) -> list[str]:
    """``file:line  source text`` of every line not covered."""
    root = RTL.parent
    out = []
    for path, entry in sorted(files.items()):
        text = (root / path).read_text().splitlines()
        out += [f"{path}:{line}  {text[line - 1].strip()}" for line in entry["missed"]]
    return out
