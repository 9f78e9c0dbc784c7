"""Functional coverage (verif/coverage/): the operand and result classes on words whose class is known
from the fp32 format and the ops' semantics; a run that misses bins reports them, a bin listed
unreachable but hit is reported; and closure of each unit group's regression on small (the arithmetic
groups close per op in tests/test_arith_regression.py). The suite ends with the coverage table."""

from pathlib import Path

import numpy as np
import pytest

from rdagen.rtl.spec.config import preset
from rdagen.rtl.spec.ops import OP_BY_NAME
from rdagen.sim.coverage_regression import format_summary, run_coverage
from rdagen.verif.coverage import (FP_CLASSES, INT_CLASSES, RESULT_CLASSES, Group, arith_coverage, fp_class,
                                   int_class, result_class, sample_arith)
from rdagen.verif.golden.arith import evaluate

from .conftest import coverage_result, seeded_rng


def _f(*values):
    return np.array(values, np.float32).view(np.uint32)


def _run(op, a, b):
    a, b = np.asarray(a, np.uint32), np.asarray(b, np.uint32)
    codes = np.full((len(a), 1), OP_BY_NAME[op].code)
    return evaluate(codes, a[:, None], b[:, None], np.zeros((len(a), 1), np.uint32)).ravel()


def test_operand_classes():
    words = np.array([0, 0x80000000, 1, 0x807FFFFF, 0x00800000, 0x80800000, 0x3F800000, 0x7F7FFFFF, 0xFF7FFFFF,
                      0x7F800000, 0xFF800000, 0x7FC00000, 0x7F800001], np.uint32)
    want = ["+0", "-0", "subnormal", "subnormal", "min_normal", "min_normal", "normal", "max_normal", "max_normal",
            "inf", "inf", "nan", "nan"]
    assert [FP_CLASSES[i] for i in fp_class(words)] == want


def test_int_operand_classes():
    words = np.array([0, 1, 0xFFFFFFFF, 2, 0x7FFFFFFF, 0xFFFFFFFE, 0x80000000, 0x80000001], np.uint32)
    want = ["0", "1", "-1", "positive", "max", "negative", "min", "negative"]
    assert [INT_CLASSES[i] for i in int_class(words)] == want


@pytest.mark.parametrize("op,a,b,want", [
    ("fadd", 1.0, 1.0, "exact"),
    ("fadd", 1.0, 2.0**-24, "tie"),  # halfway between 1 and 1 + 2^-23
    ("fadd", 1.0, 3 * 2.0**-25, "rounded"),
    ("fadd", 3.0e38, 3.0e38, "overflow"),
    ("fsub", 1.5 * 2.0**-126, 2.0**-126, "flushed"),  # 2^-127: below the normal range, returned as 0
    ("fsub", 1.0, 1.0, "exact"),
    ("fmul", 2.0**-70, 2.0**-70, "flushed"),
    ("fmul", 1.0 + 2.0**-23, 1.0 + 2.0**-23, "rounded"),
    ("fmul", 1.5, 2.0, "exact"),
])
def test_result_classes_of_fp_ops(op, a, b, want):
    a, b = _f(a), _f(b)
    assert RESULT_CLASSES[result_class(op, a, b, _run(op, a, b))[0]] == want


@pytest.mark.parametrize("value,want", [(3, "exact"), (2**24 + 1, "tie"), (2**24 + 3, "tie"), (2**25 + 3, "rounded"),
                                        (-(2**31), "exact")])
def test_result_classes_of_i2f(value, want):
    a = np.array([value], np.int64).astype(np.uint32)
    assert RESULT_CLASSES[result_class("i2f", a, a, _run("i2f", a, a))[0]] == want


def test_no_result_class_without_rounding():
    a, b = _f(np.inf, np.nan), _f(1.0, 1.0)
    assert list(result_class("fadd", a, b, _run("fadd", a, b))) == [-1, -1]


def test_missed_bins_are_reported():
    a, b = _f(1.0), _f(1.0)
    sample_arith(np.array(["fadd"]), a, b, _run("fadd", a, b), scope="test-missed")
    coverage = arith_coverage(["fadd"], "test-missed")
    assert coverage["bins"] == 64 + 5 and coverage["hit"] == 2 and not coverage["contradicted"]  # (normal, normal), exact
    assert "arith.fadd.result:tie" in coverage["missing"] and "arith.fadd.operands:nanxnan" in coverage["missing"]


def test_select_samples_its_condition_and_int_ops_their_operand_cross():
    a, b, c = np.array([1, 5], np.uint32), np.array([0, 0x80000000], np.uint32), np.array([0, 7], np.uint32)
    sample_arith(np.array(["select", "select"]), a, b, a, scope="test-select", c=c)
    coverage = arith_coverage(["select"], "test-select")
    assert coverage["bins"] == 49 + 2 and coverage["hit"] == 2 + 2  # (1, 0), (positive, min); zero, nonzero
    assert "arith.select.operands:maxxmin" in coverage["missing"]


def test_a_bin_listed_unreachable_but_hit_is_reported():
    group = Group("test.contradicted", {"x": ("a", "b"), "y": ("c", "d")}, {"xy": ("x", "y")},
                  {("xy", ("a", None)): "said to be impossible"})
    group.sample("s", x="a", y="d")
    report = group.report("s")
    assert report["contradicted"] == ["test.contradicted.xy:axd"] and report["bins"] == 3 and report["hit"] == 1
    assert [u["bin"] for u in report["unreachable"]] == ["test.contradicted.xy:axc"]


def test_a_cross_of_an_unknown_point_is_refused():
    with pytest.raises(ValueError, match=r"cross xz names unknown points \['z'\]"):
        Group("test.unknown", {"x": ("a",)}, {"xz": ("x", "z")})


@pytest.mark.cocotb
@pytest.mark.parametrize("group", ["pcu", "pmu", "ag", "switch", "bitstream"])
def test_functional_coverage_closes_on_small(group, request):
    """The group's regression on small (RTL checked against the golden model) hits every bin that is
    not listed unreachable, and none that is."""
    seed = int(seeded_rng(request).integers(2**31))
    parts = run_coverage(preset("small"), seed, [group])
    print(format_summary(parts))
    coverage_result(group, parts[0].report)
    assert not parts[0].failures, parts[0].failures
    assert not parts[0].report["missing"] and not parts[0].report["contradicted"], parts[0].report


def test_rdagen_coverage_refuses_an_unknown_group_with_status_2(capsys):
    from rdagen.cli import main

    assert main(["coverage", "--only", "pcu,fpu"]) == 2
    err = capsys.readouterr().err
    assert "unknown group 'fpu'" in err and "groups: arith, pcu, pmu, ag, switch, bitstream, array" in err


def test_code_coverage_maps_toggles_to_the_amaranth_lines_that_made_the_signals(tmp_path):
    from rdagen.sim import code_coverage

    rtl = Path(code_coverage.RTL)
    push = next(n for n, text in enumerate((rtl / "hop_buffer.py").read_text().splitlines(), 1) if "push = " in text)
    src = lambda line: f'(* src = "{rtl / "hop_buffer.py"}:{line}" *)'  # noqa: E731
    verilog = tmp_path / "top.v"
    verilog.write_text("\n".join([
        "module top(clk, a, b);",                      # 1
        f"  {src(25)}",                                 # 2
        "  input a;",                                   # 3: a port made at line 25
        "  wire \\$1 ;",                                # 4: an expression wire, src on its assign
        "  reg level;",                                 # 5: a register, src on its always block
        "  wire idle;",                                 # 6: no src anywhere: not counted
        f"  assign \\$1  = a & {src(push)} b;",         # 7
        f"  {src(30)}",                                 # 8
        "  always @(posedge clk)",                      # 9
        "    level <= \\$1 ;",                          # 10
        "endmodule",
    ]) + "\n")
    point = lambda line, name, count: (  # noqa: E731
        f"C '\x01f\x02{verilog}\x01l\x02{line}\x01t\x02toggle\x01page\x02v_toggle/top\x01o\x02{name}\x01h\x02top' {count}")
    data = tmp_path / "coverage.dat"
    data.write_text("\n".join(["# SystemC::Coverage-3", point(3, "a:0->1", 4), point(4, "__0241:0->1", 0),
                               point(5, "level:0->1", 2), point(6, "idle:0->1", 9)]) + "\n")
    report = code_coverage.report([data], {verilog})
    assert report == {"rtl/hop_buffer.py": {"lines": 3, "hit": 2, "missed": [push], "signals": 3, "toggled": 2}}
    assert code_coverage.missed_lines(report) == [f"rtl/hop_buffer.py:{push}  push = self.w_en & self.w_rdy"]
