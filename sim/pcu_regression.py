"""PCU regressions: cases (a configuration and input streams) run on the RTL through cocotb and
compared with the golden PCU model, value for value and in order, on every output port.

Also holds the random-configuration generator and the directed kernels (a*x+y, ReLU, dot products,
GEMV tiles, embedding-bag sum pooling), each computed from the ArrayConfig rather than for one preset.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.ops import OPS
from rdagen.rtl.spec.pcu_layout import (REDUCE_OPS, Accumulate, Counter, Operand, PcuConfigError, PcuProgram, Reduce, Stage,
                                       Weights, reg, sin, vin)
from rdagen.rtl.spec.systolic import relu_depth, systolic_depth, systolic_program, weight_tiles
from rdagen.rtl.spec.timing import pcu_latency
from rdagen.verif.coverage.pcu import sample_pcu
from rdagen.verif.golden.credits import pcu_credit_limit
from rdagen.verif.golden.pcu import PcuStreams, run_pcu
from rdagen.verif.stimulus import FP_CORNERS

from .streams import compare, cycle_budget, held_input_problems, run_stream_cases, unit_sources, unpack
from .verilog import generate

__all__ = ["Case", "CaseResult", "run_cases", "kernel_rows", "format_kernel_table", "random_case", "kernels",
           "credit_cases", "systolic_case", "f32", "PcuKernelError"]

U32 = np.uint32


class PcuKernelError(ValueError):
    """A kernel that does not fit the configuration (too few stages, inputs, ...)."""


def f32(x) -> np.ndarray:
    return np.asarray(x, np.float32).view(U32)


@dataclasses.dataclass
class Case:
    name: str
    program: PcuProgram
    vin: list  # per vector input: (n, lanes) words
    sin: list  # per scalar input: (n,) words
    start_tokens: int = 0
    gap: float = 0.0  # probability that a source holds valid low in a cycle
    stall: float = 0.0  # probability that a sink holds ready low in a cycle
    seed: int = 0
    # NumPy results checked as well: {"vout0": (values, scale)}. fp32 results must satisfy
    # |rtl - numpy| <= tolerance * scale, where scale is the sum of the magnitudes of the terms (the
    # classical bound of a sum of n terms in any order is about n * 2^-24 * sum |terms|); int32 exactly.
    reference: dict | None = None
    tolerance: float = 0.0
    # Cycles from reset during which no output is read (verif/tb/stream_tb.py): with a hold, the words
    # the inputs gave by its end are checked against the golden credit rule (verif/golden/credits.py).
    hold: int = 0


@dataclasses.dataclass
class CaseResult:
    name: str
    ok: bool
    problems: list[str]
    firings: int
    cycles: int
    first_out: int | None
    last_out: int | None
    golden: PcuStreams


def _full_streams(cfg, case):
    vins = [np.asarray(case.vin[k], U32).reshape(-1, cfg.lanes) if k < len(case.vin) else np.zeros((0, cfg.lanes), U32)
            for k in range(cfg.vector_inputs)]
    sins = [np.asarray(case.sin[k], U32).ravel() if k < len(case.sin) else np.zeros(0, U32)
            for k in range(cfg.scalar_inputs)]
    return vins, sins


def run_cases(cfg: ArrayConfig, cases: list[Case], *, simulator: str = "verilator", tag: str = "pcu",
              max_firings: int = 5000, coverage: str | None = None) -> list[CaseResult]:
    """Run *cases* on the PCU RTL of *cfg*; compare every case with the golden model. With *coverage*
    (a scope), every case that matched is sampled into the PCU's functional coverage
    (verif/coverage/pcu.py)."""
    gen = generate("pcu", cfg)
    latency = pcu_latency(cfg)
    jobs, goldens = [], []
    for case in cases:
        bits = case.program.encode(cfg)
        vins, sins = _full_streams(cfg, case)
        golden = run_pcu(cfg, bits, vins, sins, case.start_tokens, max_firings=max_firings)
        if golden.firings >= max_firings:
            raise ValueError(f"case {case.name}: more than {max_firings} firings; give it finite input streams")
        goldens.append(golden)
        produced = golden.firings + golden.groups + 1
        sources = unit_sources(vins, sins, case.start_tokens)
        sinks = [f"vout__{k}" for k in range(cfg.vector_outputs)] + [f"sout__{k}" for k in range(cfg.scalar_outputs)]
        jobs.append({
            "name": case.name, "seed": case.seed, "config": str(bits), "gap": case.gap, "stall": case.stall,
            "hold": case.hold, "sources": sources, "sinks": [*sinks, "ctrl_out"],
            "expect": [len(v) for v in golden.vout] + [len(s) for s in golden.sout] + [golden.done_tokens],
            "drain": latency + 8,
            "budget": case.hold + cycle_budget(produced + sum(len(v) for v in vins) + sum(len(s) for s in sins),
                                                case.gap, case.stall, latency),
        })
    rtl = run_stream_cases(gen, jobs, tag=tag, simulator=simulator)
    out = []
    for case, golden, got in zip(cases, goldens, rtl):
        problems = []
        if got["timed_out"]:
            problems.append(f"did not finish in {got['cycles']} cycles")
        if case.hold:
            problems += _credit_problems(cfg, case, golden, got["consumed_at_release"])
        outputs = got["outputs"]
        for k, want in enumerate(golden.vout):
            problems += compare(f"vout{k}", unpack(outputs[f"vout__{k}"], cfg.lanes), want)
        for k, want in enumerate(golden.sout):
            problems += compare(f"sout{k}", np.array(outputs[f"sout__{k}"], U32), want)
        if len(outputs["ctrl_out"]) != golden.done_tokens:
            problems.append(f"ctrl_out: {len(outputs['ctrl_out'])} done tokens, golden {golden.done_tokens}")
        if case.reference:
            problems += _check_reference(case, golden)
        out.append(CaseResult(case.name, not problems, problems, golden.firings, got["cycles"], got["first_out"],
                              got["last_out"], golden))
        if coverage is not None and not problems:
            sample_pcu(cfg, case, golden, coverage)
    return out


def _credit_problems(cfg: ArrayConfig, case: Case, golden: PcuStreams, consumed: list[int]) -> list[str]:
    """The words the inputs popped once per firing gave while the outputs were held, against the golden
    credit rule: the unit fires until its credits run out, then stops."""
    p = case.program
    per_firing = {"vin": [k for k in p.vin_required if p.vin_pop_level.get(k, 0) == 0],
                  "sin": [k for k in p.sin_required if p.sin_pop_level.get(k, 0) == 0]}
    return held_input_problems(cfg, *_full_streams(cfg, case), per_firing, consumed, golden.firings,
                               pcu_credit_limit(cfg, p.encode(cfg)))


def kernel_rows(results: list[CaseResult]) -> list[dict]:
    """Cycles of each directed-kernel run against its ideal: one firing per cycle after the fill time
    (reset to the first result of a single firing, the smallest first-output time among the runs)."""
    fill = min(r.first_out for r in results if r.first_out is not None)
    return [{"kernel": r.name, "firings": r.firings, "cycles": r.last_out or r.cycles,
             "ideal_cycles": r.firings + fill - 1,
             "utilization": round((r.firings + fill - 1) / (r.last_out or r.cycles), 3), "ok": r.ok}
            for r in results]


def format_kernel_table(rows: list[dict]) -> str:
    lines = [f"{'kernel':16} {'firings':>8} {'cycles':>8} {'ideal':>8} {'util':>6}  result", "-" * 58]
    lines += [f"{r['kernel']:16} {r['firings']:8d} {r['cycles']:8d} {r['ideal_cycles']:8d} "
              f"{100 * r['utilization']:5.0f}%  {'pass' if r['ok'] else 'FAIL'}" for r in rows]
    return "\n".join(lines)


def _check_reference(case: Case, golden: PcuStreams) -> list[str]:
    problems = []
    for port, (want, scale) in case.reference.items():
        kind, k = port[:4], int(port[4:])
        have = (golden.vout if kind == "vout" else golden.sout)[k].ravel()
        want = np.asarray(want).ravel()
        if have.shape != want.shape:
            problems.append(f"{port}: golden gives {have.shape} values, NumPy {want.shape}")
        elif case.tolerance:
            err = np.abs(have.view(np.float32).astype(np.float64) - want)
            bound = case.tolerance * np.asarray(scale, np.float64).ravel()
            if np.any(err > bound):
                i = int(np.argmax(err - bound))
                problems.append(f"{port}: error {err[i]:.3e} above the bound {bound[i]:.3e} against NumPy")
        elif not np.array_equal(have, want.astype(np.int64).astype(np.int32).view(U32)):
            problems.append(f"{port}: golden differs from NumPy")
    return problems


# -- random configurations ----------------------------------------------------------------------------------
def _random_words(rng, n):
    kind = rng.integers(0, 4, n)
    words = rng.integers(0, 2**32, n, dtype=np.uint64).astype(U32)
    small = rng.integers(-20, 20, n).astype(np.int64).astype(U32)
    floats = f32(rng.standard_normal(n) * 10.0 ** rng.integers(-3, 4, n))
    corners = rng.choice(FP_CORNERS, n)
    return np.choose(kind, [words, small, floats, corners]).astype(U32)


def random_program(cfg: ArrayConfig, rng: np.random.Generator) -> PcuProgram:
    """A random valid PCU program (the encoder's validation decides; invalid draws are redrawn)."""
    while True:
        counters = [Counter(int(start), int(start + stride * rng.integers(1, 5)), int(stride))
                    if rng.random() < 0.5 else None
                    for start, stride in zip(rng.integers(-5, 6, cfg.counters), rng.integers(1, 4, cfg.counters))]
        enabled = [k for k, c in enumerate(counters) if c is not None]
        vreq = [k for k in range(cfg.vector_inputs) if rng.random() < 0.6]
        sreq = [k for k in range(cfg.scalar_inputs) if rng.random() < 0.4]
        fold_scalar = None
        acc = None
        if rng.random() < 0.5:
            free = [k for k in range(cfg.scalar_inputs) if k not in sreq]
            if free and rng.random() < 0.5:
                fold_scalar = int(rng.choice(free))
            acc = Accumulate(str(rng.choice(REDUCE_OPS)), init=int(_random_words(rng, 1)[0]),
                             src=int(rng.integers(cfg.registers)), fold=int(rng.integers(1, 5)),
                             fold_scalar=fold_scalar)
        free = [k for k in range(cfg.vector_inputs) if k not in vreq]
        period = int(rng.choice([1, 1, 2, 3]))
        weights = Weights(int(rng.choice(free)), int(rng.integers(0, cfg.counters + 1)), period,
                          int(rng.integers(period))) if free and rng.random() < 0.3 else None
        sources = [("reg", cfg.registers), ("lane", 1), ("const", 1)] + [("vin", k) for k in vreq] \
            + [("bvin", k) for k in vreq] + [("sin", k) for k in sreq] + [("ctr", k) for k in enabled] \
            + [("wgt", 1)] * (3 * (weights is not None))

        def operand():
            kind, n = sources[rng.integers(len(sources))]
            if kind == "reg":
                return reg(int(rng.integers(n)))
            if kind in ("vin", "bvin", "sin", "ctr"):
                return Operand(kind, n)
            return Operand(kind)

        stages = [Stage(OPS[rng.integers(len(OPS))].name, operand(), operand(), operand(),
                        dst=int(rng.integers(cfg.registers)), const=int(_random_words(rng, 1)[0]),
                        lane=int(rng.integers(cfg.lanes)))
                  for _ in range(rng.integers(1, cfg.stages + 1))]
        reduce = Reduce(str(rng.choice(REDUCE_OPS)), int(rng.integers(cfg.registers))) if rng.random() < 0.5 else None
        vout_kinds = ["reg"] + (["acc"] if acc else [])
        sout_kinds = ["reg"] + (["acc"] if acc else []) + (["red"] if reduce else [])
        vout = [(str(rng.choice(vout_kinds)), int(rng.integers(cfg.registers))) if rng.random() < 0.7 else None
                for _ in range(cfg.vector_outputs)]
        sout = [(str(rng.choice(sout_kinds)), int(rng.integers(cfg.registers))) if rng.random() < 0.7 else None
                for _ in range(cfg.scalar_outputs)]
        vin_pop_level = {k: int(rng.integers(0, cfg.counters + 1)) if rng.random() < 0.3 else 0 for k in vreq}
        program = PcuProgram(
            stages=stages, counters=counters,
            spread=int(rng.choice(enabled)) if enabled and rng.random() < 0.5 else None,
            vin_required=vreq, sin_required=sreq, vin_pop_level=vin_pop_level,
            vin_lazy=(lazy := [k for k, level in vin_pop_level.items() if level and rng.random() < 0.5]),
            vin_zero_first=[k for k in vreq if k not in lazy and enabled and rng.random() < 0.2],
            zero_counter=int(rng.choice(enabled)) if enabled else 0,
            sin_pop_level={k: int(rng.integers(0, cfg.counters + 1)) if rng.random() < 0.3 else 0 for k in sreq},
            wait_start=bool(enabled) and rng.random() < 0.3, weights=weights,
            reduce=reduce, accumulate=acc, vout=vout, sout=sout, seed=int(rng.integers(0, 2**32)))
        try:
            program.validate(cfg)
        except PcuConfigError:
            continue
        return program


def random_case(cfg: ArrayConfig, rng: np.random.Generator, name: str) -> Case:
    program = random_program(cfg, rng)
    n = int(rng.integers(4, 24))
    vins = [_random_words(rng, n * cfg.lanes).reshape(n, cfg.lanes) for _ in range(cfg.vector_inputs)]
    sins = [_random_words(rng, n) for _ in range(cfg.scalar_inputs)]
    a = program.accumulate
    if a is not None and a.fold_scalar is not None:
        sins[a.fold_scalar] = rng.integers(0, 4, n).astype(U32)  # group lengths, zeros included
    if program.weights is not None:  # whole tiles, sometimes a partial one after them
        vectors = (int(rng.integers(0, 6)) * program.weights.period * cfg.stages
                   + int(rng.integers(0, cfg.stages)) * (rng.random() < 0.3))
        vins[program.weights.src] = _random_words(rng, vectors * cfg.lanes).reshape(vectors, cfg.lanes)
    tokens = int(rng.integers(1, 4)) if program.wait_start else 0
    return Case(name, program, vins, sins, tokens, gap=float(rng.choice([0, 0.2, 0.5])),
                stall=float(rng.choice([0, 0.2, 0.5])), seed=int(rng.integers(0, 2**31)))


# -- credits: outputs held long enough to fill their FIFOs --------------------------------------------------
def credit_hold(cfg: ArrayConfig, limit: int, gap: float = 0.0) -> int:
    """Cycles to hold the outputs so that a unit whose credits allow *limit* firings makes all of them and
    then wants to fire for a while longer (its inputs arriving with probability 1 - *gap* per cycle)."""
    return int(2 * (limit + cfg.fifo_depth) / max(0.1, 1 - gap)) + 2 * pcu_latency(cfg) + 40


def _held(cfg, rng, name, program, vins, sins, gap=0.0, stall=0.3) -> Case:
    limit = pcu_credit_limit(cfg, program.encode(cfg))
    return Case(name, program, vins, sins, gap=gap, stall=stall, seed=int(rng.integers(0, 2**31)),
                hold=credit_hold(cfg, limit, gap))


def credit_cases(cfg: ArrayConfig, rng: np.random.Generator, randoms: int = 4) -> list[Case]:
    """Cases whose outputs are held until every output FIFO the unit writes is full, with inputs enough
    for more firings than the credits allow: outputs written per firing, per group, both, and the
    reduction; then *randoms* random programs (fixed folds) with random gaps. After the hold the
    outputs drain with random back-pressure and everything is compared with the golden model."""
    L = cfg.lanes
    programs = {
        "per-firing": PcuProgram(stages=[Stage("add", vin(0), vin(1), dst=1)], vin_required=[0, 1], vout=[("reg", 1)]),
        "per-group": PcuProgram(stages=[Stage("add", vin(0), sin(0), dst=1)], vin_required=[0], sin_required=[0],
                                accumulate=Accumulate("add", src=1, fold=3), vout=[("acc", 0)]),
        "both": PcuProgram(stages=[Stage("xor", vin(0), vin(1), dst=1)], vin_required=[0, 1],
                           reduce=Reduce("add", 1), accumulate=Accumulate("max", fold=2), vout=[("reg", 1)],
                           sout=[("acc", 0)]),
        "reduction": PcuProgram(stages=[Stage("sub", vin(0), vin(1), dst=1)], vin_required=[0, 1],
                                reduce=Reduce("min", 1), sout=[("red", 0)]),
    }
    cases = []
    for name, program in programs.items():
        limit = pcu_credit_limit(cfg, program.encode(cfg))
        n = limit + cfg.fifo_depth + 8  # more input than the credits let the unit take
        vins = [_random_words(rng, n * L).reshape(n, L) for _ in range(cfg.vector_inputs)]
        sins = [_random_words(rng, n) for _ in range(cfg.scalar_inputs)]
        cases.append(_held(cfg, rng, f"credits-{name}", program, vins, sins))
    while len(cases) < len(programs) + randoms:
        program = random_program(cfg, rng)
        a = program.accumulate
        if (a is not None and a.fold_scalar is not None) or program.wait_start:
            continue
        limit = pcu_credit_limit(cfg, program.encode(cfg))
        n = limit + cfg.fifo_depth + int(rng.integers(1, 12))
        vins = [_random_words(rng, n * L).reshape(n, L) for _ in range(cfg.vector_inputs)]
        sins = [_random_words(rng, n) for _ in range(cfg.scalar_inputs)]
        gap = float(rng.choice([0, 0.3]))
        cases.append(_held(cfg, rng, f"credits-random{len(cases) - len(programs)}", program, vins, sins, gap=gap,
                           stall=float(rng.choice([0, 0.3, 0.6]))))
    return cases


# -- directed kernels ------------------------------------------------------------------------------------
def _need(cfg: ArrayConfig, kernel: str, **minimum):
    for field, value in minimum.items():
        if getattr(cfg, field) < value:
            raise PcuKernelError(f"kernel {kernel} needs {field} >= {value}; config {cfg.name} has "
                                 f"{getattr(cfg, field)}")


def kernels(cfg: ArrayConfig, rng: np.random.Generator, kind: str = "fp32") -> list[Case]:
    """The directed kernels for *cfg*, int32 or fp32, each with its NumPy reference."""
    L = cfg.lanes
    fp = kind == "fp32"
    add, mul, maxop = ("fadd", "fmul", "fmax") if fp else ("add", "mul", "max")
    _need(cfg, "the directed kernels", stages=2, vector_inputs=2, scalar_inputs=1)
    u = 2.0**-24

    def data(*shape):
        if fp:
            return f32(rng.standard_normal(shape).astype(np.float32))
        return rng.integers(-1000, 1000, shape).astype(np.int32).view(U32)

    def value(words):
        return words.view(np.float32).astype(np.float64) if fp else words.view(np.int32).astype(np.int64)

    def case(name, program, vins, sins, ref, scale, terms):
        return Case(f"{name}-{kind}", program, vins, sins, reference={ref[0]: (ref[1], scale)},
                    tolerance=(terms + 1) * u if fp else 0.0)

    cases = []
    # a*x + y: a from a scalar input, held for the whole run (popped when the counter chain ends)
    n = 50
    x, y, a = data(n, L), data(n, L), data(1)
    cases.append(case("axpy", PcuProgram(
        stages=[Stage(mul, vin(0), sin(0), dst=1), Stage(add, reg(1), vin(1), dst=2)],
        counters=[Counter(0, n, 1)], vin_required=[0, 1], sin_required=[0], sin_pop_level={0: 1},
        vout=[("reg", 2)]), [x, y], [a], ("vout0", value(a)[0] * value(x) + value(y)),
        np.abs(value(a)[0] * value(x)) + np.abs(value(y)), 2))

    # ReLU
    x = data(n, L)
    cases.append(case("relu", PcuProgram(
        stages=[Stage(maxop, vin(0), Operand("const"), dst=0, const=0)], vin_required=[0],
        vout=[("reg", 0)]), [x], [], ("vout0", np.maximum(value(x), 0)), np.abs(value(x)), 0))

    # dot products of lengths 1, L-1, L, L+1 and 1000, padded with zeros to whole vectors
    for length in sorted({1, L - 1, L, L + 1, 1000} - {0}):
        vectors = -(-length // L)
        w, v = np.zeros(vectors * L, U32), np.zeros(vectors * L, U32)
        w[:length], v[:length] = data(length), data(length)
        cases.append(case(f"dot{length}", PcuProgram(
            stages=[Stage(mul, vin(0), vin(1), dst=1)], vin_required=[0, 1], reduce=Reduce(add, 1),
            accumulate=Accumulate(add, init=0, fold=vectors), sout=[("acc", 0)]),
            [w.reshape(-1, L), v.reshape(-1, L)], [], ("sout0", [np.dot(value(w), value(v))]),
            [np.abs(value(w)) @ np.abs(value(v))], length))

    # GEMV tile: 6 weight rows of 2L words times one vector (re-sent for each row)
    rows, chunks = 6, 2
    W, xv = data(rows, chunks * L), data(chunks * L)
    cases.append(case("gemv", PcuProgram(
        stages=[Stage(mul, vin(0), vin(1), dst=1)], vin_required=[0, 1], reduce=Reduce(add, 1),
        accumulate=Accumulate(add, init=0, fold=chunks), sout=[("acc", 0)]),
        [W.reshape(-1, L), np.tile(xv.reshape(chunks, L), (rows, 1))], [], ("sout0", value(W) @ value(xv)),
        np.abs(value(W)) @ np.abs(value(xv)), chunks * L))

    # embedding-bag sum pooling: bags of varying length, empty ones giving zeros; lengths on a scalar input
    lengths = np.array([3, 0, 1, 5, 0, 2], U32)
    rows_ = data(int(lengths.sum()), L)
    bounds = np.concatenate([[0], np.cumsum(lengths)]).astype(int)
    sums = np.array([value(rows_[b:e]).sum(axis=0) for b, e in zip(bounds[:-1], bounds[1:])])
    scale = np.array([np.abs(value(rows_[b:e])).sum(axis=0) for b, e in zip(bounds[:-1], bounds[1:])])
    cases.append(case("pool", PcuProgram(
        stages=[Stage("pass", vin(0), dst=1)], vin_required=[0],
        accumulate=Accumulate(add, init=0, src=1, fold_scalar=0), vout=[("acc", 0)]),
        [rows_], [lengths], ("vout0", sums), scale, int(lengths.max())))
    # a chain link (mapper/phases/matmul.py): 5 outputs of 7 products each, its predecessor's partial
    # sums (one vector per output) on a lazy input, joined at each output's last firing only
    outputs, k = 5, 7
    W, xs, partial = data(outputs * k, L), data(outputs * k), data(outputs, L)
    products = (value(W) * value(xs)[:, None]).reshape(outputs, k, L)
    if cfg.stages >= 4:
        cases.append(case("link", PcuProgram(
            stages=[Stage(mul, vin(0), sin(0), dst=0), Stage("eq", Operand("ctr", 0), Operand("const"), dst=2, const=k - 1),
                    Stage(add, reg(0), vin(1), dst=3), Stage("select", reg(3), reg(0), reg(2), dst=0)],
            counters=[Counter(0, k, 1), Counter(0, outputs, 1)], vin_required=[0, 1], sin_required=[0],
            vin_pop_level={1: 1}, vin_lazy=[1], accumulate=Accumulate(add, init=0, src=0, fold=k), vout=[("acc", 0)]),
            [W, partial], [xs], ("vout0", products.sum(axis=1) + value(partial)),
            np.abs(products).sum(axis=1) + np.abs(value(partial)), k + 1))
    # the head of a partial-sum ring: 3 rounds of 4 outputs, the sums of the round before on an input
    # that reads zero in the first round (counter 1 at its start) but is popped in every round
    rounds, per_round = 3, 4
    x, sums = data(rounds * per_round, L), data(rounds * per_round, L)
    kept = value(sums).copy()
    kept[:per_round] = 0
    cases.append(case("ring_head", PcuProgram(
        stages=[Stage(add, vin(0), vin(1), dst=0)], counters=[Counter(0, per_round, 1), Counter(0, rounds, 1)],
        vin_required=[0, 1], vin_zero_first=[1], zero_counter=1, vout=[("reg", 0)]),
        [x, sums], [], ("vout0", value(x) + kept), np.abs(value(x)) + np.abs(kept), 1))
    if fp and cfg.vector_inputs >= 3:
        cases.append(systolic_case(cfg, rng))
        if cfg.vector_outputs >= 2 and cfg.registers >= 2:
            cases.append(systolic_case(cfg, rng, rows=8, tiles=2, name="systolic-relu", relu_out=True))
    return cases


def systolic_case(cfg: ArrayConfig, rng: np.random.Generator, rows: int = 24, tiles: int = 3, name: str = "systolic",
                  relu_out: bool = False, **traffic) -> Case:
    """The systolic mode (rtl/spec/systolic.py): *tiles* weight tiles, *rows* rows of A each, partial sums
    in from vector input 2; NumPy reference P + A B with the bound of ``depth + 1`` roundings; with
    *relu_out*, its ReLU on vector output 1 too (``relu_depth`` rows of B)."""
    L, depth = cfg.lanes, relu_depth(cfg) if relu_out else systolic_depth(cfg)
    A = rng.standard_normal((tiles * rows, L)).astype(np.float32)
    B = rng.standard_normal((tiles, depth, L)).astype(np.float32)
    P = rng.standard_normal((tiles * rows, L)).astype(np.float32)
    a64, b64 = A[:, :depth].astype(np.float64).reshape(tiles, rows, depth), B.astype(np.float64)
    want = P + np.einsum("trk,tkl->trl", a64, b64).reshape(-1, L)
    scale = np.abs(P) + np.einsum("trk,tkl->trl", np.abs(a64), np.abs(b64)).reshape(-1, L)
    reference = {"vout0": (want, scale)} | ({"vout1": (np.maximum(want, 0), scale)} if relu_out else {})
    return Case(f"{name}-fp32", systolic_program(cfg, rows=rows, a=0, weights=1, psum=2, relu_out=1 if relu_out else None),
                [f32(A), weight_tiles(cfg, B), f32(P)], [], reference=reference,
                tolerance=(depth + 1) * 2.0**-24, **traffic)
