# amaranth: UnusedElaboratable=no
"""PMU: the configuration encoder, directed cases of every access mode, random configurations with
random traffic, read-during-write, and throughput with and without bank conflicts, on the RTL
(Verilator through cocotb) against the golden PMU model, on two configurations.

Seeds are printed; rerun with ``pytest --seed N``.
"""

import numpy as np
import pytest

from rdagen.rtl.spec.config import preset
from rdagen.rtl.spec.pcu_layout import LANE, Counter, ctr, sin, vin
from rdagen.rtl.spec.pmu_layout import AddressStage, PmuConfigError, PmuProgram, Port, decode, program_of
from rdagen.rtl.pmu.bank_serialiser import BankSerialiser
from rdagen.rtl.spec.timing import pmu_output_depth, pmu_request_queue_depth
from rdagen.sim.pmu_regression import (PmuCase, credit_pmu_cases, directed_pmu_cases, random_pmu_case, run_pmu_cases,
                                       run_pmu_raw)

from .conftest import seeded_rng, test_seed

CONFIGS = ["small", "medium"]
RANDOM_CASES = 150
SMALL = preset("small")
CONTIGUOUS = [AddressStage("add", ctr(0), LANE)]


def _report(results):
    for r in results:
        print(f"  {r.name:24} cycles {r.cycles:6d} {r.status} {'ok' if r.ok else r.problems}")
    bad = [r for r in results if not r.ok]
    assert not bad, f"{len(bad)} of {len(results)} cases failed; first: {bad[0].name}: {bad[0].problems}"


@pytest.mark.parametrize("program,message", [
    (PmuProgram(), "no port is enabled"),
    (PmuProgram(read=Port(vin_required=[0]), mode="stack"), "unknown mode 'stack'"),
    (PmuProgram(read=Port(vin_required=[0]), mode="buffer"), "enable both"),
    (PmuProgram(write=Port(counters=[Counter()], vin_required=[0], data=vin(0)), read=Port(), mode="double"),
     "read port, field 'counters'"),
    (PmuProgram(write=Port(stages=[AddressStage("fadd", vin(0))], vin_required=[0], data=vin(0))),
     "write port stage 0, field 'op': 'fadd' is not an address op"),
    (PmuProgram(write=Port(stages=[AddressStage("add", vin(1), LANE)], vin_required=[0], data=vin(0))),
     "write port stage 0, field 'a': reads vector input 1, which the firing rule does not require"),
    (PmuProgram(write=Port(stages=[AddressStage("pass", LANE, dst=2)], vin_required=[0], data=vin(0))),
     "field 'dst': register 2 does not exist"),
    (PmuProgram(write=Port(stages=[AddressStage()] * 5, vin_required=[0], data=vin(0))),
     "5 stages given, the address pipeline has 4"),
    (PmuProgram(write=Port(vin_required=[0], data=ctr(0))), "field 'data'"),
    (PmuProgram(write=Port(vin_required=[0], data=vin(0)), read=Port(vin_required=[0]), mode="fifo"),
     "required by both ports"),
    (PmuProgram(write=Port(vin_required=[0], data=vin(0), scalar=True), read=Port(), mode="fifo"),
     "a FIFO moves whole vectors"),
    (PmuProgram(read=Port(counters=[Counter(0, 4, 1)])), "would fire without end"),
    (PmuProgram(read=Port(vin_required=[0], vout=False)), "neither the vector nor the scalar output"),
    (PmuProgram(read=Port(vin_required=[7])), "input 7 does not exist"),
    (PmuProgram(read=Port(vin_required=[0], window=True)), "read port, field 'window': only a write port"),
    (PmuProgram(write=Port(vin_required=[0], data=vin(0)), read=Port(counters=[Counter(0, 4, 1)]), mode="buffer",
                fifo_fill=3), "configuration, field 'fifo_fill': 3 vectors to start with: only a FIFO"),
    (PmuProgram(write=Port(vin_required=[0], data=vin(0)), read=Port(), mode="fifo", fifo_fill=SMALL.pmu_depth + 1),
     f"field 'fifo_fill': {SMALL.pmu_depth + 1} is not in"),
])
def test_encoder_rejects_with_named_field(program, message):
    with pytest.raises(PmuConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        program.encode(SMALL)


def test_encoding_round_trips_through_the_layout():
    program = PmuProgram(write=Port(stages=CONTIGUOUS, counters=[Counter(0, 64, 4)], vin_required=[0], data=vin(0)),
                         read=Port(stages=CONTIGUOUS, counters=[Counter(0, 64, 4)], sout=True), mode="double")
    view = decode(SMALL, program.encode(SMALL))
    assert view.mode.name == "DOUBLE" and view.write.enable and view.read.enable
    assert view.write.stages[0].op.name == "ADD" and view.write.stages[0].a.src.name == "CTR"
    assert view.write.data.src.name == "VIN" and view.read.sout == 1 and view.read.counters[0].stop == 64
    with pytest.raises(PmuConfigError, match="-bit word"):
        decode(SMALL, -1)
    ring = PmuProgram(write=Port(vin_required=[0], data=vin(0)), read=Port(), mode="fifo", fifo_fill=SMALL.pmu_depth)
    assert decode(SMALL, ring.encode(SMALL)).fifo_fill == SMALL.pmu_depth
    assert program_of(SMALL, ring.encode(SMALL)).fifo_fill == SMALL.pmu_depth


@pytest.mark.cocotb
@pytest.mark.parametrize("config", CONFIGS)
def test_directed_modes(config, request):
    """Contiguous, strided, gather, scatter, scalar, FIFO, single and double buffering, out of range, a
    write window:
    RTL = golden (streams, tokens, conflict and error counts, contents after each case)."""
    cfg = preset(config)
    cases = directed_pmu_cases(cfg, seeded_rng(request))
    results = run_pmu_cases(cfg, cases, tag="pmu-directed")
    _report(results)
    by_name = {r.name: r for r in results}
    # the directed traffic does what it is meant to: conflicts where lanes share banks, none where not
    assert by_name["strided2"].golden.read_conflicts > 0 and by_name["strided3"].golden.read_conflicts == 0
    assert by_name["gather"].golden.read_conflicts >= cfg.lanes - 1 and by_name["scatter"].golden.write_conflicts > 0
    assert by_name["out-of-range"].golden.errors > 0 and by_name["double"].golden.done_tokens == 5
    # a write window drops the part below it without an error, and writes the rest
    stream = next(c for c in cases if c.name == "window").vin[0].ravel()
    part = len(stream) // 3
    assert by_name["window"].golden.errors == 0 and np.array_equal(by_name["window"].golden.memory[:2 * part], stream[part:])


@pytest.mark.cocotb
@pytest.mark.parametrize("config", CONFIGS)
def test_credits_stop_a_port_when_its_queues_are_full(config, request):
    """Gathers whose outputs are held until the read output FIFOs are full (vout, vout and sout, every lane
    on one bank): while held, the address input gives exactly the credit rule's reads plus a full input
    FIFO; then everything drains and matches the golden model. Writes and reads with every lane on one
    bank keep the serialiser far behind, so each request queue stays full while its port wants to fire:
    nothing is lost (the contents and the reads match)."""
    cfg = preset(config)
    results = run_pmu_cases(cfg, credit_pmu_cases(cfg, seeded_rng(request)), tag="pmu-credits")
    _report(results)
    by_name = {r.name: r for r in results}
    for name in ("credits-vout", "credits-both", "credits-conflicts"):
        assert by_name[name].golden.read_firings > pmu_output_depth(cfg)  # the credits bound the hold
    queue = pmu_request_queue_depth(cfg)
    assert by_name["queue-write"].golden.write_conflicts > queue + cfg.pmu_stages + 3  # far behind the queue
    assert by_name["queue-read"].golden.read_conflicts > queue + cfg.pmu_stages + 3


@pytest.mark.cocotb
@pytest.mark.parametrize("config", CONFIGS)
def test_random_traffic(config, request):
    """150 random valid configurations in every mode, random traffic, random gaps and back-pressure."""
    cfg = preset(config)
    rng = seeded_rng(request)
    cases = [random_pmu_case(cfg, rng, f"random{i}") for i in range(RANDOM_CASES)]
    results = run_pmu_cases(cfg, cases, tag="pmu-random")
    modes = {c.program.mode for c in cases}
    assert modes == {"none", "buffer", "double", "fifo"}, modes
    work = [r for r in results if not r.name.endswith("/dump")]
    print(f"{len(work)} cases; reads {sum(len(r.golden.vout) + len(r.golden.sout) for r in work)}, "
          f"conflicts {sum(r.golden.read_conflicts + r.golden.write_conflicts for r in work)}, "
          f"errors {sum(r.golden.errors for r in work)}")
    _report([r for r in results if not r.ok] or results[:6])
    assert sum(r.golden.write_firings + r.golden.read_firings for r in work) > 10 * RANDOM_CASES


@pytest.mark.cocotb
@pytest.mark.parametrize("config", CONFIGS)
def test_read_during_write_returns_the_old_word(config, request):
    """Both ports access the same vector every cycle, in lockstep (same pipeline, inputs always valid):
    read k meets write k at the banks, so it returns write k-1's data (read-first)."""
    cfg = preset(config)
    rng = seeded_rng(request)
    n, base = 24, 8 * cfg.lanes
    data = rng.integers(0, 2**32, (n, cfg.lanes), dtype=np.uint64).astype(np.uint32)
    addr = [AddressStage("add", sin(0), LANE)]
    program = PmuProgram(write=Port(stages=[AddressStage("add", sin(1), LANE)], vin_required=[0], sin_required=[1],
                                    data=vin(0)),
                         read=Port(stages=addr, sin_required=[0]), mode="none")
    record = run_pmu_raw(cfg, PmuCase("rdw", program, [data], [[base] * n, [base] * n], seed=test_seed(request)), n)
    got = record["vout"]
    assert len(got) == n
    assert np.array_equal(got[1:], data[:-1]), "read k did not return write k-1's data"


@pytest.mark.cocotb
@pytest.mark.parametrize("config", CONFIGS)
def test_throughput(config, request):
    """Contiguous reads: one vector per cycle. Gathers with every lane on one bank: one vector per
    lanes cycles (the serialiser's bound), and the conflict counter says so."""
    cfg = preset(config)
    L, n = cfg.lanes, 64
    seed = test_seed(request)
    contiguous = PmuCase("contiguous", PmuProgram(
        read=Port(stages=CONTIGUOUS, counters=[Counter(0, n * L, L)], wait_start=True), mode="none"),
        start_tokens=1, seed=seed)
    same_bank = np.tile((np.arange(L) * L).astype(np.uint32), (n, 1))
    gather = PmuCase("same-bank", PmuProgram(read=Port(stages=[AddressStage("pass", vin(0))], vin_required=[0]),
                                             mode="none"), vin=[same_bank], seed=seed)
    results = run_pmu_cases(cfg, [contiguous, gather], tag="pmu-throughput", dump=False)
    _report(results)
    fast, slow = results
    print(f"contiguous: {n} vectors in {fast.last_out - fast.first_out + 1} cycles; same bank: "
          f"{slow.last_out - slow.first_out + 1} cycles")
    assert fast.last_out - fast.first_out + 1 == n
    assert slow.last_out - slow.first_out + 1 == (n - 1) * L + 1
    assert slow.status["read_conflicts"] == n * (L - 1)


def test_serialiser_parameters_are_validated():
    with pytest.raises(ValueError, match="BankSerialiser lanes = 0 is invalid"):
        BankSerialiser(0, 0, 1, 0)
