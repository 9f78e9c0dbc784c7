"""The arithmetic regression: every op of the op table through the ArithHarness on an HDL simulator,
bit-exact against the golden model.

A *plan* is a stream of cycles. Each op gets a block of cycles in which all lanes run that op (as a
PCU stage does): the full cross product of corner values, then random operands. A final block mixes
random ops across lanes and cycles. Idle cycles (valid low, carrying random garbage, including
f2bf_sr codes that must not step the generators) are sprinkled through the stream.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.ops import OPS, OP_BY_NAME
from rdagen.verif.coverage import sample_arith
from rdagen.verif.golden.arith import evaluate
from rdagen.verif.stimulus import operands

from .paths import new_run_dir
from .runner import SimulationFailed, build, run_cocotb
from .tops import HARNESS_WIDTH
from .verilog import generate

__all__ = ["Plan", "OpRow", "Regression", "make_plan", "explicit_plan", "run_plan", "format_table",
           "FP_RANDOM", "INT_RANDOM"]

FP_RANDOM = 200_000  # random operand pairs per fp op (issue 2: at least 200,000)
INT_RANDOM = 20_000  # random operand pairs per int op
MIXED_CYCLES = 2_000
GAP_RATE = 0.05
MIXED = "mixed"
FP_CLASSES = ("fadd", "fmul", "fcmp", "cvt", "ffma")  # op classes that get the fp-sized random sweep


@dataclasses.dataclass
class Plan:
    seed: int
    codes: np.ndarray  # (cycles, lanes) op codes
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    valid: np.ndarray  # (cycles,)
    block: np.ndarray  # (cycles,) index into `blocks` (-1 for idle cycles)
    counted: np.ndarray  # (cycles, lanes): a planned vector, not padding of a block's last cycle
    blocks: list[str]
    expected: np.ndarray  # golden results of the valid cycles, (valid cycles, lanes)

    @property
    def lanes(self) -> int:
        return self.codes.shape[1]

    def save(self, path: Path) -> None:
        np.savez(path, codes=self.codes.astype(np.uint8), a=self.a, b=self.b, c=self.c,
                 valid=self.valid, seed=self.seed, expected=self.expected)


@dataclasses.dataclass
class OpRow:
    op: str
    vectors: int
    mismatches: int
    cycles: int


@dataclasses.dataclass
class Regression:
    simulator: str
    rows: list[OpRow]
    results: np.ndarray  # the raw result words of the valid cycles
    cycles: int
    build_seconds: float
    sim_seconds: float
    test_dir: Path
    first_mismatches: list[str]

    @property
    def vectors(self) -> int:
        return sum(r.vectors for r in self.rows)

    @property
    def coverage_scope(self) -> str:
        """The run's own functional-coverage items (verif/coverage.py ``arith_coverage(ops, scope)``)."""
        return self.test_dir.name

    @property
    def mismatches(self) -> int:
        return sum(r.mismatches for r in self.rows)


def make_plan(seed: int, *, ops: list[str] | None = None, fp_random: int = FP_RANDOM,
              int_random: int = INT_RANDOM, mixed_cycles: int = MIXED_CYCLES, lanes: int = HARNESS_WIDTH,
              gap_rate: float = GAP_RATE, corners: bool = True) -> Plan:
    """The stimulus and golden results of one regression run (deterministic in *seed*)."""
    names = [op.name for op in OPS] if ops is None else ops
    for name in names:
        if name not in OP_BY_NAME:
            raise ValueError(f"unknown op {name!r}; valid ops: {', '.join(OP_BY_NAME)}")
    rng = np.random.default_rng(seed)
    rows_codes, rows_a, rows_b, rows_c, rows_block, rows_counted = [], [], [], [], [], []

    def add_block(index, codes, a, b, c):
        n = len(a)
        cycles = -(-n // lanes)
        pad = cycles * lanes
        counted = np.arange(pad) < n
        for dst, src in ((rows_codes, codes), (rows_a, a), (rows_b, b), (rows_c, c)):
            dst.append(np.resize(src, pad).reshape(cycles, lanes))
        rows_counted.append(counted.reshape(cycles, lanes))
        rows_block.append(np.full(cycles, index))

    blocks = []
    for name in names:
        n_random = fp_random if OP_BY_NAME[name].op_class.name in FP_CLASSES else int_random
        a, b, c = operands(name, rng, n_random, corners=corners)
        if len(a):
            blocks.append(name)
            add_block(len(blocks) - 1, np.full(len(a), OP_BY_NAME[name].code), a, b, c)
    if mixed_cycles:
        blocks.append(MIXED)
        n = mixed_cycles * lanes
        codes = rng.choice([OP_BY_NAME[name].code for name in names], n)
        a, b, c = (np.zeros(n, np.uint32) for _ in range(3))
        for name in names:
            mask = codes == OP_BY_NAME[name].code
            a[mask], b[mask], c[mask] = operands(name, rng, int(mask.sum()), corners=False)
        add_block(len(blocks) - 1, codes, a, b, c)

    codes = np.concatenate(rows_codes)
    a, b, c = np.concatenate(rows_a), np.concatenate(rows_b), np.concatenate(rows_c)
    block = np.concatenate(rows_block)
    counted = np.concatenate(rows_counted)
    # Sprinkle idle cycles with garbage operands and op codes.
    idle = rng.random(len(codes)) < gap_rate
    slots = np.flatnonzero(idle) + np.arange(idle.sum())  # positions of idle rows in the final stream
    total = len(codes) + len(slots)
    is_idle = np.zeros(total, bool)
    is_idle[slots] = True

    def spread(active, garbage):
        out = np.empty((total, *active.shape[1:]), active.dtype)
        out[~is_idle] = active
        out[is_idle] = garbage
        return out

    n_idle = len(slots)
    garbage = lambda: rng.integers(0, 2**32, (n_idle, lanes), dtype=np.uint64).astype(np.uint32)  # noqa: E731
    codes = spread(codes, rng.integers(0, len(OPS), (n_idle, lanes)))
    a, b, c = spread(a, garbage()), spread(b, garbage()), spread(c, garbage())
    block = spread(block, np.full(n_idle, -1))
    counted = spread(counted, np.zeros((n_idle, lanes), bool))
    valid = ~is_idle
    sr_seed = int(rng.integers(0, 2**32))
    expected = evaluate(codes[valid], a[valid], b[valid], c[valid], seed=sr_seed, lane0=0)
    return Plan(sr_seed, codes, a, b, c, valid, block, counted, blocks, expected)


def explicit_plan(seed: int, name: str, a: np.ndarray, *, lanes: int = HARNESS_WIDTH) -> Plan:
    """A plan of op *name* on the given *a* operands (b and c zero), no idle cycles, generator *seed*."""
    code = OP_BY_NAME[name].code if name in OP_BY_NAME else None
    if code is None:
        raise ValueError(f"unknown op {name!r}; valid ops: {', '.join(OP_BY_NAME)}")
    if len(a) % lanes:
        raise ValueError(f"{len(a)} operands do not fill whole cycles of {lanes} lanes")
    a = np.asarray(a, np.uint32).reshape(-1, lanes)
    codes = np.full(a.shape, code)
    zeros = np.zeros_like(a)
    valid = np.ones(len(a), bool)
    expected = evaluate(codes, a, zeros, zeros, seed=seed, lane0=0)
    return Plan(seed, codes, a, zeros, zeros, valid, np.zeros(len(a), int), np.ones(a.shape, bool), [name],
                expected)


def run_plan(plan: Plan, cfg: ArrayConfig, *, simulator: str = "verilator", tag: str = "regression",
             waves: bool = False) -> Regression:
    """Run *plan* on the ArithHarness in *simulator*; compare with the golden model per op.

    A plan of one lane runs on the one-lane top (``arith_lane``), any other on ``arith_harness``.
    """
    if plan.lanes not in (1, HARNESS_WIDTH):
        raise ValueError(f"a plan has 1 or {HARNESS_WIDTH} lanes (the generated harness tops), not {plan.lanes}")
    gen = generate("arith_lane" if plan.lanes == 1 else "arith_harness", cfg)
    _, build_seconds = build(gen, simulator, waves=waves)
    test_dir = new_run_dir(f"arith-{tag}-{simulator}")
    stimulus = test_dir / "stimulus.npz"
    results_path = test_dir / "results.npz"
    plan.save(stimulus)
    started = time.perf_counter()
    # The bench only records; mismatches are counted below, so a failed simulation is always raised.
    run_cocotb(gen, "rdagen.verif.tb.arith_tb", simulator=simulator, test_dir=test_dir, waves=waves,
               env={"RDAGEN_STIMULUS": str(stimulus), "RDAGEN_RESULTS": str(results_path)})
    if not results_path.exists():
        raise SimulationFailed(f"the arithmetic bench finished without writing {results_path}")
    sim_seconds = time.perf_counter() - started
    saved = np.load(results_path)
    got = saved["results"]
    if got.shape != plan.expected.shape:
        raise AssertionError(f"{simulator}: {len(got)} result rows for {len(plan.expected)} issued operations")
    valid_block = plan.block[plan.valid]
    valid_counted = plan.counted[plan.valid]
    valid_codes = plan.codes[plan.valid]
    wrong = (got != plan.expected) & valid_counted
    names = np.array([op.name for op in OPS])[valid_codes]
    sample_arith(names[valid_counted], plan.a[plan.valid][valid_counted], plan.b[plan.valid][valid_counted],
                 got[valid_counted], scope=test_dir.name, c=plan.c[plan.valid][valid_counted])  # verif/coverage
    rows = []
    for index, name in enumerate(plan.blocks):
        in_block = valid_block == index
        rows.append(OpRow(name, int(valid_counted[in_block].sum()), int(wrong[in_block].sum()),
                          int((plan.block == index).sum())))
    first = []
    valid_a, valid_b, valid_c = plan.a[plan.valid], plan.b[plan.valid], plan.c[plan.valid]
    for r, lane in zip(*np.nonzero(wrong)):
        if len(first) == 10:
            break
        first.append(f"{OPS[valid_codes[r, lane]].name}(0x{valid_a[r, lane]:08x}, 0x{valid_b[r, lane]:08x}, "
                     f"0x{valid_c[r, lane]:08x}) lane {lane} = 0x{got[r, lane]:08x}, "
                     f"golden 0x{plan.expected[r, lane]:08x}")
    return Regression(simulator, rows, got, int(saved["cycles"]), build_seconds, sim_seconds, test_dir, first)


def format_table(reg: Regression) -> str:
    lines = [f"{'op':10} {'vectors':>10} {'mismatches':>10} {'cycles':>8}", "-" * 41]
    for r in reg.rows:
        lines.append(f"{r.op:10} {r.vectors:10d} {r.mismatches:10d} {r.cycles:8d}")
    lines.append("-" * 41)
    lines.append(f"{'total':10} {reg.vectors:10d} {reg.mismatches:10d} {reg.cycles:8d}")
    return "\n".join(lines)
