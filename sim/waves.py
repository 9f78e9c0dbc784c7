"""Waveforms: run one named test on Verilator with tracing and keep its VCD under build/waves/.

The tests are short streams through one FunctionalUnit (the ``arith_lane`` top): ``<op>`` for any op of
the op table (random operands with corner values mixed in), or ``mixed`` (random ops interleaved).
Each run is also checked against the golden model.
The VCD opens in GTKWave or Surfer; the signals are under ``rdagen_arith_lane`` (ports) and ``fu0``.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from rdagen.mapper.report import unit_sites
from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.ops import OP_BY_NAME

from .arith_regression import Regression, make_plan, run_plan
from .paths import BUILD

__all__ = ["WAVE_TESTS", "run_waves", "move_vcd", "write_gtkw", "keep_phase_vcd"]

WAVE_TESTS = {**{name: f"op {name}: random operands with corner values mixed in" for name in OP_BY_NAME},
              "mixed": "every op, random operands, interleaved"}
WAVE_VECTORS = 400  # per test: a few microseconds of simulated time, a VCD of a few MB at most


def run_waves(test: str, cfg: ArrayConfig, seed: int = 1) -> tuple[Path, Regression]:
    """Run wave test *test*; return the VCD path and the (checked) regression result."""
    if test not in WAVE_TESTS:
        raise ValueError(f"unknown wave test {test!r}; valid tests: {', '.join(WAVE_TESTS)}")
    if test == "mixed":
        plan = make_plan(seed, fp_random=0, int_random=0, corners=False, mixed_cycles=WAVE_VECTORS, lanes=1)
    else:
        plan = make_plan(seed, ops=[test], fp_random=WAVE_VECTORS, int_random=WAVE_VECTORS, corners=False,
                         mixed_cycles=0, lanes=1)
    reg = run_plan(plan, cfg, tag=f"waves-{test}", waves=True)
    produced = reg.test_dir / "dump.vcd"
    if not produced.exists():
        raise RuntimeError(f"the simulator wrote no VCD ({produced} is missing)")
    out = BUILD / "waves" / f"{test}-{cfg.name}.vcd"
    out.parent.mkdir(parents=True, exist_ok=True)
    move_vcd(produced, out)
    return out, reg


def move_vcd(src: Path, dst: Path) -> None:
    """Moves a Verilator VCD to *dst* (one copy kept, not two) with identifiers every reader accepts:
    Verilator's ``$rootio`` scope and Yosys's internal wires (``$1``, ``$auto$...``, when traced) start
    with ``$``, which strict VCD readers such as pyvcd reject. Only the header is rewritten; the value
    changes are copied as they are."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        for line in fin:
            words = line.split()
            ref = {b"$var": 4, b"$scope": 2}.get(words[0] if words else b"")
            if ref is not None and len(words) > ref + 1:
                words[ref] = _identifier(words[ref])
                line = b" ".join(words) + b"\n"
            fout.write(line)
            if line.startswith(b"$enddefinitions"):
                break
        shutil.copyfileobj(fin, fout, 1 << 20)
    src.unlink()


def _identifier(name: bytes) -> bytes:
    name = re.sub(rb"[^A-Za-z0-9_]", b"_", name)
    return b"_" + name if name[:1].isdigit() else name


_HANDSHAKE = re.compile(rb"__(valid|ready|payload)$")


def write_gtkw(vcd: Path, units: dict[str, str], top: str = "TOP.rdagen_array") -> Path:
    """A GTKWave save file beside *vcd* (same name, ``.gtkw``) that opens it with the stream ports of
    *units* ({site name (the VCD scope): what it does, e.g. its role}), a group per unit: every
    ``<site>__<port>__valid/ready/payload`` wire of the array's top. Returns its path."""
    wires: dict[bytes, bytes] = {}  # name -> range ("" for one bit)
    depth, scope = 0, []
    with open(vcd, "rb") as handle:
        for line in handle:
            words = line.split()
            if not words:
                continue
            if words[0] == b"$scope":
                scope.append(words[2])
            elif words[0] == b"$upscope":
                scope.pop()
            elif words[0] == b"$var" and b".".join(scope) == top.encode() and _HANDSHAKE.search(words[4]):
                wires[words[4]] = words[5] if words[5].startswith(b"[") else b""
            elif words[0] == b"$enddefinitions":
                break
    lines = [f'[dumpfile] "{vcd.resolve()}"', "[timestart] 0"]
    for site, what in sorted(units.items()):
        names = sorted(n for n in wires if n.startswith(f"{site}__".encode()))
        if not names:
            continue
        lines += ["@800200", f"-{site} {what}"]
        for name in names:
            lines += ["@28" if not wires[name] else "@22", f"{top}.{name.decode()}{wires[name].decode()}"]
        lines += ["@1000200", f"-{site} {what}"]
    path = vcd.with_suffix(".gtkw")
    path.write_text("\n".join(lines) + "\n")
    return path


def keep_phase_vcd(src: Path, target: Path, placed) -> Path:
    """Moves the VCD of one phase's run to *target* and writes its GTKWave save file with the ports of
    the units the phase (a placed phase of the mapper) uses, each named by its role; returns that file."""
    move_vcd(src, target)
    return write_gtkw(target, {site: unit for unit, site in unit_sites(placed).items()})
