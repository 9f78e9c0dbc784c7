"""AG regressions: cases (a configuration, DRAM contents, commands or row indices, AXI pauses) run on the
RTL with cocotbext-axi's AxiRamRead as the DRAM, compared with the golden AG model (vectors in order,
refused requests), and checked against the AXI rules (no burst over 256 beats or across 4 KB, no beat
outside the performed requests).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from rdagen.rtl.spec.ag_layout import AgProgram, beat_bytes, max_burst_beats
from rdagen.rtl.spec.config import ArrayConfig
from rdagen.verif.coverage.ag import sample_ag
from rdagen.verif.golden.ag import AgResult, run_ag, run_ag_writes

from .streams import compare, cycle_budget, pack, run_stream_cases, unpack
from .verilog import generate

__all__ = ["AgCase", "AgCaseResult", "run_ag_cases", "contiguous_case", "gather_case", "write_case", "failed_beats"]

U32 = np.uint32


@dataclasses.dataclass
class AgCase:
    name: str
    program: AgProgram
    memory: dict  # word address -> words
    commands: list = dataclasses.field(default_factory=list)  # (word address, words)
    indices: list = dataclasses.field(default_factory=list)
    gap: float = 0.0
    stall: float = 0.0
    write_commands: list = dataclasses.field(default_factory=list)  # (word address, words)
    write_vectors: np.ndarray | None = None  # (n, lanes) words for the write commands, in order
    ar_pause: float = 0.0  # probability that the DRAM pauses a channel in a cycle
    r_pause: float = 0.0
    aw_pause: float = 0.0
    w_pause: float = 0.0
    b_pause: float = 0.0
    seed: int = 0
    failed_beats: frozenset = frozenset()  # beat addresses the DRAM answers with SLVERR/DECERR (reads and writes)


@dataclasses.dataclass
class AgCaseResult:
    name: str
    ok: bool
    problems: list[str]
    cycles: int
    first_out: int | None
    last_out: int | None
    golden: AgResult
    errors: int  # refused reads and writes (golden) plus the DRAM's error responses to the recorded bursts
    bursts: list
    write_bursts: list
    most_in_flight: int
    read_depth: list  # per read burst: read bursts in flight as it was issued (itself included)
    write_depth: list  # the same for the write bursts


def _burst_problems(cfg: ArrayConfig, bursts, allowed_requests, what: str) -> list[str]:
    bb, problems = beat_bytes(cfg), []
    allowed = set()
    for address, length in allowed_requests:
        allowed.update(range(address // cfg.lanes, -(-(address + length) // cfg.lanes)))
    for byte_address, beats in bursts:
        if beats > max_burst_beats(cfg):
            problems.append(f"{what} burst at {byte_address:#x} of {beats} beats: longer than {max_burst_beats(cfg)}")
        if byte_address // 4096 != (byte_address + beats * bb - 1) // 4096:
            problems.append(f"{what} burst at {byte_address:#x} of {beats} beats crosses a 4 KB boundary")
        outside = set(range(byte_address // bb, byte_address // bb + beats)) - allowed
        if outside:
            problems.append(f"{what} burst at {byte_address:#x} touches beat {min(outside)} outside every performed "
                            f"request")
    return problems[:5]


def run_ag_cases(cfg: ArrayConfig, cases: list[AgCase], *, simulator: str = "verilator",
                 tag: str = "ag", coverage: str | None = None) -> list[AgCaseResult]:
    """Run *cases* in order on one AG and one DRAM (which keeps what earlier cases wrote). A case's
    reads and writes should not touch the same words: the AG does not order them. With *coverage* (a
    scope), the bursts of every case that matched are sampled into the AG's functional coverage
    (verif/coverage/ag.py)."""
    L = cfg.lanes
    gen = generate("ag", cfg)
    dram: dict[int, int] = {}  # word address -> word: what the DRAM model holds (zeros elsewhere)
    jobs, goldens, checks = [], [], []
    for case in cases:
        bits = case.program.encode(cfg)
        for base, words in case.memory.items():
            dram.update(zip(range(base, base + len(words)), (int(w) for w in words)))
        golden = run_ag(cfg, bits, dram, case.commands, case.indices, case.failed_beats)
        vectors = np.zeros((0, L), U32) if case.write_vectors is None else np.asarray(case.write_vectors, U32)
        refused = run_ag_writes(cfg, dram, case.write_commands, vectors, case.failed_beats)
        performed = [(int(b), int(n)) for b, n in case.write_commands if int(b) + int(n) <= 2**32 and n]
        readback = [(max(0, b - L), n + 2 * L) for b, n in performed]  # one vector either side: no overrun
        expect = [np.array([dram.get(w, 0) for w in range(b, b + n)], U32) for b, n in readback]
        goldens.append(golden)
        checks.append((golden.errors + refused, expect, performed))
        slow = 1 / max(0.05, 1 - max(case.ar_pause, case.r_pause, case.aw_pause, case.w_pause, case.b_pause))
        transfers = 2 * len(golden.vectors) + 4 * len(golden.requests) + 3 * len(vectors) + 4 * len(performed)
        jobs.append({
            "name": case.name, "seed": case.seed, "config": str(bits),
            "memory": [(int(base), np.asarray(words, "<u4").tobytes().hex()) for base, words in case.memory.items()],
            "commands": [(int(b), int(n)) for b, n in case.commands], "indices": [int(i) for i in case.indices],
            "write_commands": [(int(b), int(n)) for b, n in case.write_commands], "write_vectors": pack(vectors),
            "readback": readback, "gap": case.gap, "stall": case.stall, "failed_beats": sorted(case.failed_beats),
            **{f"{ch}_pause": getattr(case, f"{ch}_pause") for ch in ("ar", "r", "aw", "w", "b")},
            "expect": len(golden.vectors),
            "budget": int(slow * cycle_budget(transfers, case.gap, case.stall, 64)),
        })
    records = run_stream_cases(gen, jobs, tag=tag, simulator=simulator, bench="rdagen.verif.tb.ag_tb")
    results = []
    for case, golden, (errors, expect, performed), got in zip(cases, goldens, checks, records):
        problems = [f"did not finish in {got['cycles']} cycles"] if got["timed_out"] else []
        problems += compare("rdata", unpack(got["vectors"], L), golden.vectors)
        # The DRAM answers one error per failed beat read (R) and one per write burst touching a failed
        # beat (B); how many depends on the bursts the RTL formed, which are recorded.
        def failed(address, beats):
            first = address // beat_bytes(cfg)
            return [beat in case.failed_beats for beat in range(first, first + beats)]
        errors += sum(sum(failed(*burst)) for burst in got["bursts"])
        errors += sum(any(failed(*burst)) for burst in got["write_bursts"])
        if got["errors"] != errors:
            problems.append(f"errors: {got['errors']}, expected {errors}")
        for (base, count), want, blob in zip((r for r in jobs[len(results)]["readback"]), expect, got["readback"]):
            have = np.frombuffer(bytes.fromhex(blob), "<u4")
            bad = np.flatnonzero(have != want)
            if len(bad):
                problems.append(f"DRAM words {base}..{base + count - 1}: {len(bad)} differ from the golden writes; "
                                f"first at word {base + bad[0]}: {have[bad[0]]:#x} vs {want[bad[0]]:#x}")
        problems += _burst_problems(cfg, got["bursts"], [(a, n) for a, n, ok in golden.requests if ok and n], "read")
        problems += _burst_problems(cfg, got["write_bursts"], performed, "write")
        results.append(AgCaseResult(case.name, not problems, problems, got["cycles"], got["first_out"],
                                    got["last_out"], golden, errors, got["bursts"], got["write_bursts"],
                                    got["most_in_flight"], got["read_depth"], got["write_depth"]))
        if coverage is not None and not problems:
            sample_ag(cfg, case, results[-1], coverage)
    return results


def _words(rng, n):
    return rng.integers(0, 2**32, n, dtype=np.uint64).astype(U32)


def contiguous_case(cfg: ArrayConfig, rng, name: str, lengths, *, base: int | None = None, **kw) -> AgCase:
    """Read commands of the given lengths from random (unaligned) addresses in one DRAM region."""
    total = int(sum(lengths)) + 64
    start = int(rng.integers(0, 2**20)) if base is None else base
    region = _words(rng, total)
    commands, at = [], start
    for n in lengths:
        at += int(rng.integers(0, 3))  # small gaps keep some commands contiguous, some not
        if at + n > start + total:
            at = start
        commands.append((at, int(n)))
        at += int(n)
    return AgCase(name, AgProgram("read"), {start: region}, commands=commands, seed=int(rng.integers(2**31)), **kw)


def gather_case(cfg: ArrayConfig, rng, name: str, d: int, rows: int, n: int, *, bad: int = 0, **kw) -> AgCase:
    """Embedding-row gather: a random table of *rows* x *d* words, *n* indices with repeats, runs of
    consecutive rows, the first and last row, and *bad* indices beyond the table."""
    base = int(rng.integers(0, 2**16)) * 4 + int(rng.integers(0, 4))  # rows may start off a beat boundary
    table = _words(rng, rows * d)
    indices = list(rng.integers(0, rows, n))
    start = int(rng.integers(0, rows - 4)) if rows > 4 else 0
    indices[: min(4, n)] = range(start, start + min(4, n, rows))  # consecutive rows (coalescing)
    indices += [0, rows - 1, indices[-1], rows - 1] + [rows + int(k) for k in rng.integers(0, 1000, bad)]
    rng.shuffle(indices[4:])
    return AgCase(name, AgProgram("gather", table_base=base, row_words=d, rows=rows), {base: table},
                  indices=[int(i) for i in indices], seed=int(rng.integers(2**31)), **kw)


def write_case(cfg: ArrayConfig, rng, name: str, lengths, **kw) -> AgCase:
    """Write commands of the given lengths to random (unaligned) addresses above the read regions of
    the other cases, with random vectors."""
    start = 2**24 + int(rng.integers(0, 2**16))
    commands, at = [], start
    for n in lengths:
        at += int(rng.integers(0, 3))
        commands.append((at, int(n)))
        at += int(n)
    vectors = sum(-(-int(n) // cfg.lanes) for n in lengths)
    return AgCase(name, AgProgram("read"), {}, write_commands=commands,
                  write_vectors=rng.integers(0, 2**32, (vectors, cfg.lanes), dtype=np.uint64).astype(U32),
                  seed=int(rng.integers(2**31)), **kw)


def failed_beats(rng, requests, lanes: int, count: int) -> frozenset:
    """*count* beats (for ``AgCase.failed_beats``) drawn from those the performed read or write
    *requests* ((word address, words)) cover."""
    beats = sorted({b for a, n in requests if n for b in range(a // lanes, (a + n - 1) // lanes + 1)})
    return frozenset(int(b) for b in rng.choice(beats, min(count, len(beats)), replace=False))
