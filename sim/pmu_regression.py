"""PMU regressions: cases (a configuration and input streams) run on the RTL through cocotb and compared
with the golden PMU model: the read streams, the done tokens, the conflict and error counters, and the
scratchpad contents, read back after every case by a dump configuration (reset keeps the banks).

Also holds the random-case generator and the directed cases (contiguous, strided, gather, scatter,
scalar, FIFO, single and double buffering, out-of-range addresses, a write window), computed from the
ArrayConfig.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.pcu_layout import CONST, LANE, Counter, ctr, reg, sin, vin
from rdagen.rtl.spec.pmu_layout import ADDRESS_OPS, MODES, AddressStage, PmuConfigError, PmuProgram, Port
from rdagen.rtl.spec.timing import pmu_output_depth, pmu_request_queue_depth
from rdagen.verif.coverage.pmu import conflicts, pattern, sample_pmu
from rdagen.verif.golden.credits import pmu_read_credit_limit
from rdagen.verif.golden.pmu import PmuResult, run_pmu

from .streams import compare, cycle_budget, held_input_problems, run_stream_cases, unit_sources, unpack
from .verilog import generate

__all__ = ["PmuCase", "PmuCaseResult", "run_pmu_cases", "run_pmu_raw", "dump_program", "random_pmu_case",
           "directed_pmu_cases", "access_matrix_cases", "credit_pmu_cases"]

U32 = np.uint32
STATUS = ("write_conflicts", "read_conflicts", "errors")


@dataclasses.dataclass
class PmuCase:
    name: str
    program: PmuProgram
    vin: list = dataclasses.field(default_factory=list)  # per vector input: (n, lanes) words
    sin: list = dataclasses.field(default_factory=list)  # per scalar input: (n,) words
    start_tokens: int = 0
    gap: float = 0.0
    stall: float = 0.0
    seed: int = 0
    # Cycles from reset during which no output is read: the words the read port's inputs gave by then
    # are checked against the golden credit rule (verif/golden/credits.py).
    hold: int = 0


@dataclasses.dataclass
class PmuCaseResult:
    name: str
    ok: bool
    problems: list[str]
    cycles: int
    first_out: int | None
    last_out: int | None
    golden: PmuResult
    status: dict


def dump_program(cfg: ArrayConfig) -> PmuProgram:
    """Reads the whole scratchpad once, a vector of consecutive words per firing, after one start token."""
    return PmuProgram(read=Port(stages=[AddressStage("add", ctr(0), LANE)], counters=[Counter(0, cfg.pmu_words, cfg.lanes)],
                                wait_start=True), mode="none")


def _drain(cfg: ArrayConfig) -> int:
    """Cycles for a PMU to finish its accesses in flight (a full queue of worst-case conflicts)."""
    return (cfg.pmu_stages * 2 + 8 + cfg.fifo_depth) * cfg.lanes + 16


def _streams(cfg, case):
    vins = [np.asarray(case.vin[k], U32).reshape(-1, cfg.lanes) if k < len(case.vin) else np.zeros((0, cfg.lanes), U32)
            for k in range(cfg.vector_inputs)]
    sins = [np.asarray(case.sin[k], U32).ravel() if k < len(case.sin) else np.zeros(0, U32)
            for k in range(cfg.scalar_inputs)]
    return vins, sins


def _job(cfg, name, bits, vins, sins, tokens, golden: PmuResult, gap, stall, seed, hold=0):
    sources = unit_sources(vins, sins, tokens)
    transfers = golden.write_firings + golden.read_firings + len(golden.vout) + sum(map(len, vins)) + sum(map(len, sins))
    # The bench starts draining once the last output arrived and the last input was accepted; inputs still
    # queued in the unit's FIFOs may hold writes without outputs (one input can feed many firings), so the
    # drain covers every firing and conflict cycle of the case, not only the pipeline.
    drain = _drain(cfg) + golden.write_firings + golden.read_firings + golden.write_conflicts + golden.read_conflicts
    return {
        "name": name, "seed": seed, "config": str(bits), "gap": gap, "stall": stall, "hold": hold, "sources": sources,
        "sinks": ["vout", "sout", "ctrl_out"], "expect": [len(golden.vout), len(golden.sout), golden.done_tokens],
        "consume": golden.consumed, "status": list(STATUS), "drain": drain,
        "budget": hold + cycle_budget(transfers * cfg.lanes, gap, stall, drain),
    }


def run_pmu_cases(cfg: ArrayConfig, cases: list[PmuCase], *, simulator: str = "verilator", tag: str = "pmu",
                  dump: bool = True, max_firings: int = 20000, coverage: str | None = None) -> list[PmuCaseResult]:
    """Run *cases* in order on the PMU RTL of *cfg* (each starting from the contents the previous one
    left, as the golden model does), each followed by a dump of the scratchpad when *dump*. With
    *coverage* (a scope), the accesses of every case that matched are sampled into the PMU's functional
    coverage (verif/coverage/pmu.py)."""
    gen = generate("pmu", cfg)
    memory = np.zeros(cfg.pmu_words, U32)  # banks power up as zeros
    dump_bits = dump_program(cfg).encode(cfg)
    empty_v, empty_s = _streams(cfg, PmuCase("", dump_program(cfg)))
    jobs, goldens, modes = [], [], []
    for case in cases:
        bits = case.program.encode(cfg)
        vins, sins = _streams(cfg, case)
        golden = run_pmu(cfg, bits, vins, sins, case.start_tokens, memory, max_firings=max_firings)
        if golden.write_firings + golden.read_firings >= max_firings:
            raise ValueError(f"case {case.name}: more than {max_firings} firings; give it finite input streams")
        jobs.append(_job(cfg, case.name, bits, vins, sins, case.start_tokens, golden, case.gap, case.stall, case.seed,
                         case.hold))
        goldens.append(golden)
        modes.append(case)
        memory = golden.memory
        if dump:
            dumped = run_pmu(cfg, dump_bits, empty_v, empty_s, 1, memory)
            jobs.append(_job(cfg, f"{case.name}/dump", dump_bits, empty_v, empty_s, 1, dumped, 0.0, 0.0, case.seed))
            goldens.append(dumped)
            modes.append(PmuCase(f"{case.name}/dump", dump_program(cfg)))
    records = run_stream_cases(gen, jobs, tag=tag, simulator=simulator)
    results = []
    for job, golden, case, got in zip(jobs, goldens, modes, records):
        problems = []
        if got["timed_out"]:
            problems.append(f"did not finish in {got['cycles']} cycles")
        if case.hold:
            problems += _credit_problems(cfg, case, golden, got["consumed_at_release"])
        out = got["outputs"]
        problems += compare("vout" if not job["name"].endswith("/dump") else "contents", unpack(out["vout"], cfg.lanes),
                            golden.vout)
        problems += compare("sout", np.array(out["sout"], U32), golden.sout)
        if len(out["ctrl_out"]) != golden.done_tokens:
            problems.append(f"ctrl_out: {len(out['ctrl_out'])} done tokens, golden {golden.done_tokens}")
        for name in STATUS:
            if got["status"][name] != getattr(golden, name):
                problems.append(f"{name}: {got['status'][name]}, golden {getattr(golden, name)}")
        results.append(PmuCaseResult(job["name"], not problems, problems, got["cycles"], got["first_out"],
                                     got["last_out"], golden, got["status"]))
        if coverage is not None and not problems:
            sample_pmu(cfg, case, golden, coverage)
    return results


def _credit_problems(cfg: ArrayConfig, case: PmuCase, golden: PmuResult, consumed: list[int]) -> list[str]:
    """The words the inputs of the read port alone, popped once per firing, gave while the outputs were
    held, against the golden credit rule: the port fires until its credits run out, then stops."""
    read, write = case.program.read, case.program.write or Port()
    per_firing = {"vin": [k for k in read.vin_required if read.vin_pop_level.get(k, 0) == 0 and k not in write.vin_required],
                  "sin": [k for k in read.sin_required if read.sin_pop_level.get(k, 0) == 0 and k not in write.sin_required]}
    return held_input_problems(cfg, *_streams(cfg, case), per_firing, consumed, golden.read_firings,
                               pmu_read_credit_limit(cfg, case.program.encode(cfg)), "reads")


def credit_hold(cfg: ArrayConfig, accesses: int) -> int:
    """Cycles to hold the outputs so that a read port whose credits allow *accesses* reads makes all of
    them, each conflicting on one bank at worst, and then wants to fire for a while longer."""
    return 2 * (accesses + cfg.fifo_depth) * cfg.lanes + 2 * (cfg.pmu_stages + 8) + 40


def credit_pmu_cases(cfg: ArrayConfig, rng: np.random.Generator) -> list[PmuCase]:
    """Cases that fill the PMU's queues: gathers whose outputs are held until the read output FIFOs are
    full (vout alone, vout and sout, and with every lane on one bank so the read request queue fills
    too), then drained under back-pressure; and writes and reads whose lanes all share a bank, so that
    the serialiser falls behind and the request queues fill while the port wants to fire."""
    L, W = cfg.lanes, cfg.pmu_words
    limit = pmu_output_depth(cfg)
    n = limit + cfg.fifo_depth + 8  # more reads than the credits allow
    gather = [AddressStage("pass", vin(0))]
    one_bank = lambda rows: ((np.arange(L) * L)[None, :] + L * L * rows[:, None]) % W  # noqa: E731
    cases = []
    for name, vout, sout, idx in (("vout", True, False, rng.integers(0, W, (n, L))),
                                  ("both", True, True, rng.integers(0, W, (n, L))),
                                  ("conflicts", True, False, one_bank(np.arange(n)))):
        program = PmuProgram(read=Port(stages=gather, vin_required=[0], vout=vout, sout=sout), mode="none")
        cases.append(PmuCase(f"credits-{name}", program, vin=[idx.astype(U32)], stall=0.3,
                             seed=int(rng.integers(0, 2**31)), hold=credit_hold(cfg, limit)))
    m = 3 * pmu_request_queue_depth(cfg) + 8
    rows = np.arange(m)  # on a small scratchpad the rows wrap: later writes of a word win, as in the golden model
    cases.append(PmuCase("queue-write", PmuProgram(
        write=Port(stages=[AddressStage("pass", vin(1))], vin_required=[0, 1], data=vin(0)), mode="none"),
        vin=[_words(rng, m, L), one_bank(rows).astype(U32)]))
    cases.append(PmuCase("queue-read", PmuProgram(read=Port(stages=gather, vin_required=[0]), mode="none"),
                         vin=[one_bank(rows).astype(U32)]))
    return cases


# -- directed cases ------------------------------------------------------------------------------------------
def _words(rng, *shape):
    return rng.integers(0, 2**32, shape, dtype=np.uint64).astype(U32)


def _run(n: int, step: int) -> list[Counter]:
    return [Counter(0, n * step, step)]


def directed_pmu_cases(cfg: ArrayConfig, rng: np.random.Generator) -> list[PmuCase]:
    """Every access mode once, on the scratchpad of *cfg*."""
    L, W = cfg.lanes, cfg.pmu_words
    n = min(32, cfg.pmu_depth)  # vectors per run
    contiguous = [AddressStage("add", ctr(0), LANE)]
    cases = []

    # contiguous write then contiguous read, one buffer handed over per run (two runs)
    data = _words(rng, 2 * n, L)
    cases.append(PmuCase("contiguous", PmuProgram(
        write=Port(stages=contiguous, counters=_run(n, L), vin_required=[0], data=vin(0)),
        read=Port(stages=contiguous, counters=_run(n, L)), mode="buffer"), vin=[data]))

    # strided read: lane i reads base + i * 3 (and + i * 2, which piles two lanes on each even bank)
    for stride in (2, 3):
        stages = [AddressStage("add", LANE, LANE, dst=1)] + (
            [AddressStage("add", reg(1), LANE, dst=1)] if stride == 3 else []) + [AddressStage("add", reg(1), ctr(0))]
        cases.append(PmuCase(f"strided{stride}", PmuProgram(
            read=Port(stages=stages, counters=_run(n, 1), vin_required=[0], vin_pop_level={0: 1}),
            mode="none"), vin=[np.zeros((1, L), U32)]))

    # gather: per-lane addresses from vector input 0, repeats included (bank conflicts)
    idx = rng.integers(0, W, (n, L)).astype(U32)
    idx[0] = idx[0, 0]  # every lane the same word
    idx[1] = (np.arange(L) * L) % W  # every lane on bank 0
    cases.append(PmuCase("gather", PmuProgram(
        read=Port(stages=[AddressStage("pass", vin(0))], vin_required=[0]), mode="none"), vin=[idx]))

    # scatter: per-lane write addresses from vector input 1, data from vector input 0 (repeats: highest lane wins)
    idx = rng.integers(0, W, (n, L)).astype(U32)
    idx[0] = idx[0, 0]
    cases.append(PmuCase("scatter", PmuProgram(
        write=Port(stages=[AddressStage("pass", vin(1))], vin_required=[0, 1], data=vin(0)), mode="none"),
        vin=[_words(rng, n, L), idx]))

    # scalar writes (lane 0, address and data from scalar inputs), then scalar reads back
    addrs = rng.permutation(W)[:n].astype(U32)
    cases.append(PmuCase("scalar-write", PmuProgram(
        write=Port(stages=[AddressStage("pass", sin(0))], sin_required=[0, 1], scalar=True, data=sin(1)),
        mode="none"), sin=[addrs, _words(rng, n)]))
    cases.append(PmuCase("scalar-read", PmuProgram(
        read=Port(stages=[AddressStage("pass", sin(0))], sin_required=[0], scalar=True, vout=False, sout=True),
        mode="none"), sin=[rng.permutation(addrs)]))

    # FIFO: more vectors than the FIFO holds, so it wraps
    m = min(cfg.pmu_depth + 7, 300)
    cases.append(PmuCase("fifo", PmuProgram(
        write=Port(vin_required=[0], data=vin(0)), read=Port(counters=_run(4, 1)), mode="fifo"),
        vin=[_words(rng, m, L)], stall=0.3))
    # a FIFO that starts filled (a partial-sum ring's): its first reads give rows 0 .. fill-1 as they are
    # (zeros after power-up), then the vectors written from row fill on
    cases.append(PmuCase("fifo-fill", PmuProgram(
        write=Port(vin_required=[0], data=vin(0)), read=Port(counters=_run(4, 1)), mode="fifo",
        fifo_fill=min(5, cfg.pmu_depth - 1)), vin=[_words(rng, 40, L)], stall=0.3))

    # double buffering: write runs fill one half while read runs drain the other (5 runs, under back-pressure)
    half = W // 2
    runs, per = 5, min(8, cfg.pmu_depth // 2)
    cases.append(PmuCase("double", PmuProgram(
        write=Port(stages=contiguous, counters=_run(per, L), vin_required=[0], data=vin(0)),
        read=Port(stages=[AddressStage("sub", CONST, ctr(0), const=half - L, dst=1), AddressStage("add", reg(1), LANE)],
                  counters=_run(per, L)), mode="double", done_port="read"),
        vin=[_words(rng, runs * per, L)], stall=0.3, gap=0.2))

    # one input vector written to many places (popped once per counter run): the writes go on long after
    # the bench has delivered the last input, with no output to wait for
    per = min(64, cfg.pmu_depth // (cfg.fifo_depth + 2))
    cases.append(PmuCase("broadcast-write", PmuProgram(
        write=Port(stages=contiguous, counters=_run(per, L), vin_required=[0], vin_pop_level={0: 1}, data=vin(0)),
        mode="none"), vin=[_words(rng, cfg.fifo_depth + 2, L)]))

    # out-of-range addresses: lanes beyond the scratchpad are dropped and counted
    cases.append(PmuCase("out-of-range", PmuProgram(
        write=Port(stages=[AddressStage("add", vin(1), CONST, const=W - 2 * L)], vin_required=[0, 1], data=vin(0)),
        mode="none"), vin=[_words(rng, n, L), rng.integers(0, 4 * L, (n, L)).astype(U32)]))

    # a write window: a stream of three parts, the PMU's address position - part, so the first part
    # falls below 0 (out of range: dropped without an error), the second and third are written
    part = min(n, cfg.pmu_depth // 2) * L
    cases.append(PmuCase("window", PmuProgram(
        write=Port(stages=contiguous + [AddressStage("sub", reg(0), CONST, const=part)], counters=_run(3 * part // L, L),
                   vin_required=[0], data=vin(0), window=True),
        mode="none"), vin=[_words(rng, 3 * part // L, L)]))
    return cases


# -- random cases --------------------------------------------------------------------------------------------
def _random_port(cfg, rng, role: str, mode: str, inputs: dict) -> Port:
    """A random port that uses the inputs in *inputs* (``{"vin": [...], "sin": [...]}``) it is given."""
    L = cfg.lanes
    vreq, sreq = inputs["vin"], inputs["sin"]
    n_counters = int(rng.integers(1 if mode in ("buffer", "double") else 0, cfg.counters + 1))
    counters = [Counter(int(rng.integers(0, 4)), 0, 1) for _ in range(n_counters)]
    counters = [Counter(c.start, c.start + int(rng.integers(1, 5)) * int(s), int(s))
                for c, s in zip(counters, rng.choice([1, L, 2 * L], n_counters))]
    sources = [LANE, CONST, reg(0), reg(1)] + [vin(k) for k in vreq] + [sin(k) for k in sreq] + \
        [ctr(k) for k in range(n_counters)]
    stages = []
    for _ in range(int(rng.integers(0, cfg.pmu_stages + 1))):
        pick = lambda: sources[rng.integers(len(sources))]  # noqa: E731
        stages.append(AddressStage(str(rng.choice(ADDRESS_OPS)), pick(), pick(), pick(), dst=int(rng.integers(2)),
                                   const=int(rng.integers(0, 2 * cfg.pmu_words))))
    scalar = mode != "fifo" and rng.random() < 0.2
    levels = lambda ks: {k: int(rng.integers(0, n_counters + 1)) for k in ks if rng.random() < 0.3}  # noqa: E731
    common = dict(stages=stages, counters=counters, vin_required=vreq, sin_required=sreq, vin_pop_level=levels(vreq),
                  sin_pop_level=levels(sreq), scalar=scalar)
    if role == "write":
        data = vin(vreq[0]) if vreq and (not sreq or rng.random() < 0.6) else sin(sreq[0])
        return Port(**common, data=data, window=rng.random() < 0.25)
    vout = rng.random() < 0.8
    return Port(**common, vout=vout, sout=not vout or rng.random() < 0.5)


def _class_vectors(cfg: ArrayConfig, rng: np.random.Generator, limit: int, draws: int = 20000) -> np.ndarray:
    """Address vectors, one for every (pattern, bank conflicts, out-of-range lanes) class the lanes allow
    (verif/coverage/pmu.py), found by drawing contiguous, strided and irregular vectors near 0 and
    near *limit* (the first word out of range)."""
    L, found = cfg.lanes, {}
    lane = np.arange(L, dtype=np.int64)
    for _ in range(draws):
        base = int(rng.choice([rng.integers(0, limit), limit - rng.integers(1, 4 * L), limit + rng.integers(0, L)]))
        family = rng.integers(3)
        step = [1, int(rng.integers(0, 2 * L + 1)), 0][family]
        v = base + step * lane + (rng.integers(-2 * L, 2 * L + 1, L) if family == 2 else 0)
        if v.min() < 0:
            continue
        inside = v < limit
        key = (pattern(v), conflicts(v[inside] % L), "none" if inside.all() else "all" if not inside.any() else "some")
        found.setdefault(key, v)
    return np.array(list(found.values()), U32)


def access_matrix_cases(cfg: ArrayConfig, rng: np.random.Generator) -> list[PmuCase]:
    """In modes none, buffer and double, accesses of every pattern x bank-conflict x out-of-range class
    the lanes allow (per-lane addresses from a vector input; written words are their addresses), and
    scalar reads in and out of range."""
    if cfg.vector_inputs < 2:
        raise ValueError(f"the access matrix needs 2 vector inputs; {cfg.name} has {cfg.vector_inputs}")
    gather = [AddressStage("pass", vin(0))]
    cases = []
    for mode in ("none", "buffer", "double"):
        limit = cfg.pmu_words // 2 if mode == "double" else cfg.pmu_words
        addresses = _class_vectors(cfg, rng, limit)
        n = len(addresses)
        scalars = np.array([int(rng.integers(0, limit)) for _ in range(n // 2)] + [limit + k for k in range(n - n // 2)],
                           U32)
        run = [Counter(0, n, 1)] if mode != "none" else []
        write = Port(stages=gather, counters=run, vin_required=[0], data=vin(0))
        read = Port(stages=[AddressStage("pass", vin(1))], counters=run, vin_required=[1])
        scalar_read = Port(stages=[AddressStage("pass", sin(0))], counters=run, sin_required=[0], scalar=True,
                           vout=False, sout=True)
        if mode == "none":  # one port a case: in mode none the ports are not ordered
            cases += [PmuCase(f"matrix-{mode}-write", PmuProgram(write=write, mode=mode), vin=[addresses]),
                      PmuCase(f"matrix-{mode}-read", PmuProgram(read=read, mode=mode),
                              vin=[np.zeros((0, cfg.lanes), U32), addresses]),
                      PmuCase(f"matrix-{mode}-scalar", PmuProgram(read=scalar_read, mode=mode), sin=[scalars])]
        else:
            cases += [PmuCase(f"matrix-{mode}", PmuProgram(write=write, read=read, mode=mode),
                              vin=[addresses, addresses]),
                      PmuCase(f"matrix-{mode}-scalar", PmuProgram(write=write, read=scalar_read, mode=mode),
                              vin=[addresses], sin=[scalars])]
    return cases


def random_pmu_case(cfg: ArrayConfig, rng: np.random.Generator, name: str) -> PmuCase:
    """A random valid configuration with random traffic (invalid draws are redrawn)."""
    L = cfg.lanes
    while True:
        mode = str(rng.choice(MODES))
        roles = ["write", "read"] if mode != "none" else [str(rng.choice(["write", "read"]))]
        vins = list(range(cfg.vector_inputs))
        sins = list(range(cfg.scalar_inputs))
        rng.shuffle(vins)
        rng.shuffle(sins)
        inputs = {}
        for i, role in enumerate(roles):  # the inputs are split between the ports
            inputs[role] = {"vin": sorted(v for j, v in enumerate(vins) if j % len(roles) == i and rng.random() < 0.7),
                            "sin": sorted(s for j, s in enumerate(sins) if j % len(roles) == i and rng.random() < 0.5)}
        if "write" in inputs and not inputs["write"]["vin"] and not inputs["write"]["sin"]:
            continue
        ports = {role: _random_port(cfg, rng, role, mode, inputs[role]) for role in roles}
        program = PmuProgram(write=ports.get("write"), read=ports.get("read"), mode=mode,
                             done_port=str(rng.choice(["write", "read"])) if len(roles) == 2 else roles[0],
                             fifo_fill=int(rng.integers(0, cfg.pmu_depth + 1)) if mode == "fifo" and rng.random() < 0.5
                             else 0)
        try:
            program.validate(cfg)
        except PmuConfigError:
            continue
        break
    n = int(rng.integers(4, 40))
    kind = rng.integers(0, 3, (n, L))
    addresses = np.choose(kind, [rng.integers(0, cfg.pmu_words, (n, L)), rng.integers(0, 4 * L, (n, L)),
                                 rng.integers(0, 2**32, (n, L), dtype=np.uint64)]).astype(U32)
    vdata = [np.where(rng.random((n, L)) < 0.5, addresses, _words(rng, n, L)).astype(U32) for _ in range(cfg.vector_inputs)]
    sdata = [np.where(rng.random(n) < 0.5, addresses[:, 0], _words(rng, n)).astype(U32) for _ in range(cfg.scalar_inputs)]
    return PmuCase(name, program, vdata, sdata, gap=float(rng.choice([0, 0.2, 0.5])),
                   stall=float(rng.choice([0, 0.2, 0.5])), seed=int(rng.integers(0, 2**31)))


def run_pmu_raw(cfg: ArrayConfig, case: PmuCase, reads: int, *, tag: str = "pmu-raw") -> dict:
    """Run one case with no golden model (for behaviour the untimed model does not define, such as a
    same-cycle read and write); waits for *reads* vectors and returns the bench's record."""
    bits = case.program.encode(cfg)
    vins, sins = _streams(cfg, case)
    sources = unit_sources(vins, sins, 0)
    job = {"name": case.name, "seed": case.seed, "config": str(bits), "gap": case.gap, "stall": case.stall,
           "sources": sources, "sinks": ["vout", "sout", "ctrl_out"], "expect": [reads, 0, 0], "status": list(STATUS),
           "drain": _drain(cfg), "budget": cycle_budget(4 * reads * cfg.lanes, case.gap, case.stall, _drain(cfg))}
    (record,) = run_stream_cases(generate("pmu", cfg), [job], tag=tag)
    record["vout"] = unpack(record["outputs"]["vout"], cfg.lanes)
    return record
