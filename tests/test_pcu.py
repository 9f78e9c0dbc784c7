"""PCU: the configuration encoder, directed kernels, random configurations with random traffic, and
throughput, on the RTL (Verilator through cocotb) against the golden PCU model, on two configurations.

Seeds are printed; rerun with ``pytest --seed N``.
"""

import dataclasses

import numpy as np
import pytest

from rdagen.rtl.spec.config import preset
from rdagen.rtl.spec.ops import FU_LATENCY
from rdagen.rtl.spec.pcu_layout import (CONST, WGT, Accumulate, Counter, Operand, PcuConfigError, PcuProgram, Reduce,
                                       Stage, Weights, bvin, decode, pcu_layout, program_of, reg, sin, vin)
from rdagen.rtl.spec.timing import pcu_output_depth
from rdagen.sim.pcu_regression import Case, credit_cases, kernels, random_case, run_cases, systolic_case
from rdagen.verif.golden.credits import pcu_credit_limit

from .conftest import seeded_rng, test_seed

CONFIGS = ["small", "medium"]
RANDOM_CONFIGS = 500


def _report(results):
    for r in results:
        print(f"  {r.name:18} firings {r.firings:5d} cycles {r.cycles:6d} {'ok' if r.ok else r.problems}")
    bad = [r for r in results if not r.ok]
    assert not bad, f"{len(bad)} of {len(results)} cases failed; first: {bad[0].name}: {bad[0].problems}"


# -- encoder --------------------------------------------------------------------------------------------
SMALL = preset("small")
AXPY = PcuProgram(stages=[Stage("fmul", vin(0), sin(0), dst=1), Stage("fadd", reg(1), vin(1), dst=2)],
                  vin_required=[0, 1], sin_required=[0], vout=[("reg", 2)])


@pytest.mark.parametrize("program,message", [
    (PcuProgram(stages=[Stage("fmul", vin(0), sin(0), dst=8)], vin_required=[0], sin_required=[0],
                vout=[("reg", 1)]), "stage 0, field 'dst': register 8 does not exist"),
    (PcuProgram(stages=[Stage("fadd", reg(9), reg(0))], vin_required=[0], vout=[("reg", 0)]),
     "stage 0, field 'a': reg 9 does not exist"),
    (PcuProgram(stages=[Stage("pass"), Stage("fadd", vin(1), reg(0))], vin_required=[0], vout=[("reg", 0)]),
     "stage 1, field 'a': reads vector input 1, which the firing rule does not require"),
    (PcuProgram(stages=[Stage("fma", reg(0), reg(0))], vin_required=[0], vout=[("reg", 0)]),
     "stage 0, field 'op': unknown op 'fma'"),
    (PcuProgram(stages=[Stage()] * 5, vin_required=[0], vout=[("reg", 0)]), "5 stages given, the PCU has 4"),
    (PcuProgram(vin_required=[0], reduce=Reduce("mul"), vout=[("reg", 0)]), "reduction, field 'op'"),
    (PcuProgram(vin_required=[0], sout=[("acc", 0)]), "selects the accumulator, which is not enabled"),
    (PcuProgram(vin_required=[0], counters=[Counter(5, 5, 1)], vout=[("reg", 0)]), "counter 0, field 'stop'"),
    (PcuProgram(vin_required=[0], counters=[Counter(0, 5, 0)], vout=[("reg", 0)]), "counter 0, field 'stride'"),
    (PcuProgram(vout=[("reg", 0)]), "would fire without end"),
    (PcuProgram(vin_required=[0]), "no output is enabled"),
    (PcuProgram(vin_required=[0], sin_required=[0], accumulate=Accumulate("fadd", fold_scalar=0),
                vout=[("acc", 0)]), "cannot also be a data input"),
    (PcuProgram(vin_required=[0], accumulate=Accumulate("fadd", fold=0), vout=[("acc", 0)]),
     "accumulator, field 'fold'"),
    (PcuProgram(stages=[Stage("add", Operand("ctr", 1), reg(0))], vin_required=[0], counters=[Counter()],
                vout=[("reg", 0)]), "reads counter 1, which is not enabled"),
    (PcuProgram(stages=[Stage("ffma", bvin(0), WGT, reg(0))], vin_required=[0], vout=[("reg", 0)]),
     "stage 0, field 'b': reads the weights, which are not enabled"),
    (PcuProgram(stages=[Stage("ffma", bvin(1), WGT, reg(0))], vin_required=[0], weights=Weights(2),
                vout=[("reg", 0)]), "stage 0, field 'a': reads vector input 1, which the firing rule does not require"),
    (PcuProgram(stages=[Stage("ffma", bvin(0), WGT, reg(0), lane=4)], vin_required=[0], weights=Weights(1),
                vout=[("reg", 0)]), "stage 0, field 'lane': lane 4 does not exist"),
    (PcuProgram(vin_required=[0], weights=Weights(0), vout=[("reg", 0)]),
     "weights, field 'src': vector input 0 carries weight tiles and cannot also be a data input"),
    (PcuProgram(vin_required=[0], weights=Weights(3), vout=[("reg", 0)]), "weights, field 'src': vector input 3"),
    (PcuProgram(vin_required=[0], weights=Weights(1, level=4), vout=[("reg", 0)]), "weights, field 'level'"),
    (PcuProgram(vin_required=[0], weights=Weights(1, period=0), vout=[("reg", 0)]), "weights, field 'period'"),
    (PcuProgram(vin_required=[0], weights=Weights(1, period=3, phase=3), vout=[("reg", 0)]),
     "weights, field 'phase': 3 is not in"),
    (PcuProgram(vin_required=[0], vin_lazy=[0], vout=[("reg", 0)]),
     "firing rule, field 'vin_lazy': input 0 is lazy but not required with a pop level > 0"),
    (PcuProgram(vin_required=[0], counters=[Counter(0, 4, 1)], vin_lazy=[1], vout=[("reg", 0)]),
     "field 'vin_lazy': input 1 is lazy but not required"),
    (PcuProgram(vin_required=[0], counters=[Counter(0, 4, 1)], vin_zero_first=[1], vout=[("reg", 0)]),
     "firing rule, field 'vin_zero_first': input 1 reads zero in the first round but is not required"),
    (PcuProgram(vin_required=[0], counters=[Counter(0, 4, 1)], vin_pop_level={0: 1}, vin_lazy=[0],
                vin_zero_first=[0], vout=[("reg", 0)]), "field 'vin_zero_first': input 0 is lazy too"),
    (PcuProgram(vin_required=[0], counters=[Counter(0, 4, 1)], vin_zero_first=[0], zero_counter=1, vout=[("reg", 0)]),
     "firing rule, field 'zero_counter': counter 1 is not enabled"),
])
def test_encoder_rejects_with_named_field(program, message):
    with pytest.raises(PcuConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        program.encode(SMALL)


def test_encoding_round_trips_through_the_layout():
    view = decode(SMALL, AXPY.encode(SMALL))
    assert view.stages[0].op.name == "FMUL" and view.stages[0].a.src.name == "VIN"
    assert view.stages[1].b.index == 1 and view.stages[1].dst == 2
    assert view.fire.vin_required == 0b11 and view.fire.sin_required == 0b1
    assert view.vout[0].sel.name == "REG" and view.vout[0].reg == 2
    with pytest.raises(PcuConfigError, match=f"{pcu_layout(SMALL).size}-bit word"):
        decode(SMALL, 1 << 700)
    systolic = PcuProgram(stages=[Stage("ffma", bvin(0), WGT, CONST, lane=3)], vin_required=[0],
                          counters=[Counter(0, 8, 1)], weights=Weights(2, level=1), vout=[("reg", 0)])
    view = decode(SMALL, systolic.encode(SMALL))
    assert view.stages[0].a.src.name == "BVIN" and view.stages[0].b.src.name == "WGT" and view.stages[0].lane == 3
    assert view.weights.enable == 1 and view.weights.src == 2 and view.weights.level == 1
    assert program_of(SMALL, systolic.encode(SMALL)) == dataclasses.replace(
        systolic, stages=[systolic.stages[0]] + [Stage()] * 3, counters=[Counter(0, 8, 1), None, None],
        vin_required=[0], sin_required=[], vin_lazy=[], vin_zero_first=[], vout=[("reg", 0)], sout=[None])
    lazy = dataclasses.replace(AXPY, counters=[Counter(0, 4, 1)], vin_pop_level={1: 1}, vin_lazy=[1])
    assert decode(SMALL, lazy.encode(SMALL)).fire.vin_lazy == 0b10
    assert program_of(SMALL, lazy.encode(SMALL)).vin_lazy == [1]
    ring = dataclasses.replace(AXPY, counters=[Counter(0, 4, 1), Counter(0, 3, 1)], vin_zero_first=[1], zero_counter=1)
    assert decode(SMALL, ring.encode(SMALL)).fire.vin_zero_first == 0b10
    assert (program_of(SMALL, ring.encode(SMALL)).vin_zero_first, program_of(SMALL, ring.encode(SMALL)).zero_counter) == ([1], 1)


# -- on the RTL ---------------------------------------------------------------------------------------
@pytest.mark.cocotb
@pytest.mark.parametrize("kind", ["int32", "fp32"])
@pytest.mark.parametrize("config", CONFIGS)
def test_directed_kernels(config, kind, request):
    """a*x+y, ReLU, dot products of lengths 1, L-1, L, L+1, 1000, a GEMV tile, embedding-bag
    pooling (with empty bags) and a chain link whose partial sums are a lazy input: RTL = golden bit for bit, golden = NumPy (int32 exactly, fp32 within
    (n+1) * 2^-24 * sum|terms|)."""
    cfg = preset(config)
    _report(run_cases(cfg, kernels(cfg, seeded_rng(request), kind), tag=f"kernels-{kind}"))


@pytest.mark.cocotb
@pytest.mark.parametrize("config", CONFIGS)
def test_random_configurations(config, request):
    """500 random valid configurations, random inputs, random input gaps and output back-pressure."""
    cfg = preset(config)
    rng = seeded_rng(request)
    cases = [random_case(cfg, rng, f"random{i}") for i in range(RANDOM_CONFIGS)]
    results = run_cases(cfg, cases, tag="random")
    print(f"{len(results)} configurations, {sum(r.firings for r in results)} firings, "
          f"{sum(r.cycles for r in results)} cycles")
    _report([r for r in results if not r.ok] or results[:5])
    assert sum(r.firings for r in results) > 5 * RANDOM_CONFIGS  # the cases do work


@pytest.mark.cocotb
@pytest.mark.parametrize("config", CONFIGS)
def test_credits_stop_the_unit_when_its_output_fifos_are_full(config, request):
    """Outputs held until every output FIFO the unit writes is full, with more input than the credits
    allow (per-firing, per-group, both, reduction, random programs): while held, each input popped per
    firing gives exactly the credit rule's firings plus a full input FIFO (verif/golden/credits.py, from
    the spec); then, drained under back-pressure, every stream equals the golden model's."""
    cfg = preset(config)
    cases = credit_cases(cfg, seeded_rng(request))
    results = run_cases(cfg, cases, tag="credits")
    _report(results)
    depth = pcu_output_depth(cfg)
    limits = {c.name: pcu_credit_limit(cfg, c.program.encode(cfg)) for c in cases}
    assert limits["credits-per-firing"] == depth and limits["credits-per-group"] == (depth + 1) * 3 - 1
    # the credits bound the directed cases: the golden model fires more than the hold lets the unit
    assert all(r.golden.firings > limits[r.name] for r in results if "random" not in r.name)


@pytest.mark.cocotb
@pytest.mark.parametrize("config", CONFIGS)
def test_one_vector_per_cycle(config, request):
    """With inputs always valid and outputs always ready, a*x+y produces one vector per cycle after the
    pipeline fills: n results in n consecutive cycles, the first in bench cycle latency + 6, where the
    latency is the spec's 1 + FU_LATENCY * (stages + log2 lanes) (firing to output FIFO write, rtl/pcu.py)
    and the 6 are the path around it: the source offers in cycle 1 and the word enters the input FIFO
    at that cycle's edge; Amaranth's SyncFIFOBuffered shows it two cycles later, when the PCU fires; the
    output FIFO shows the result one cycle after its write; the sink takes it in the cycle it sees it
    and records it in the next."""
    cfg = preset(config)
    rng = seeded_rng(request)
    n = 400
    words = lambda: rng.integers(0, 2**32, (n, cfg.lanes), dtype=np.uint64).astype(np.uint32)  # noqa: E731
    program = PcuProgram(stages=[Stage("mul", vin(0), vin(1), dst=1), Stage("add", reg(1), Operand("const"),
                                                                            dst=1, const=7)],
                         vin_required=[0, 1], vout=[("reg", 1)])
    (result,) = run_cases(cfg, [Case("throughput", program, [words(), words()], [], seed=test_seed(request))],
                          tag="throughput")
    assert result.ok, result.problems
    span = result.last_out - result.first_out + 1
    latency = 1 + FU_LATENCY * (cfg.stages + int(np.log2(cfg.lanes)))  # the spec, not the implementation
    print(f"{n} results in {span} cycles; first after {result.first_out} cycles (latency {latency})")
    assert span == n
    assert result.first_out == latency + 6


@pytest.mark.cocotb
@pytest.mark.parametrize("config", CONFIGS)
def test_systolic_mode_makes_lanes_times_stages_multiply_adds_per_cycle(config, request):
    """The systolic mode (rtl/spec/systolic.py) with inputs always valid and outputs always ready: 256 rows
    of A through 4 weight tiles (each loaded while the one before computes) give 256 result vectors in
    256 consecutive cycles, each row ``lanes x stages`` multiply-adds (every stage an ffma in every
    lane), so lanes x stages multiply-adds per cycle exactly; the results equal the golden model's and
    A B + P within the bound of stages + 1 roundings. With random gaps and back-pressure the results are
    the same."""
    cfg = preset(config)
    rng = seeded_rng(request)
    steady = systolic_case(cfg, rng, rows=64, tiles=4, name="steady", seed=test_seed(request))
    busy = systolic_case(cfg, rng, rows=5, tiles=6, name="traffic", gap=0.3, stall=0.3, seed=test_seed(request))
    results = run_cases(cfg, [steady, busy], tag="systolic")
    _report(results)
    program = steady.program
    assert [s.op for s in program.stages] == ["ffma"] * cfg.stages  # every functional unit multiplies and adds
    r = results[0]
    span = r.last_out - r.first_out + 1
    macs = r.firings * cfg.stages * cfg.lanes
    print(f"{r.firings} rows, {macs} multiply-adds in {span} cycles: {macs / span:.2f} per cycle "
          f"(peak {cfg.lanes * cfg.stages}); {r.golden.tiles} tiles")
    assert r.firings == 256 and r.golden.tiles == 4 and span == 256
    assert macs / span == cfg.lanes * cfg.stages
