"""The testbenches' stream drivers and monitors (verif/tb/stream_tb.py), on stand-in signals: the
source is a legal bursty producer (valid and payload held until the transfer, whatever the gaps and
back-pressure), and the monitor catches an output that drops valid or changes its payload early. Every
bench runs a monitor on every output stream, and sim/streams.py refuses a run with violations."""

import json
import random

import pytest

from rdagen.sim import streams
from rdagen.sim.streams import ProtocolViolation
from rdagen.sim.verilog import GeneratedVerilog
from rdagen.verif.tb.stream_tb import Monitor, _Source

from .conftest import seeded_rng


class _Signal:
    def __init__(self, value=0):
        self.value = value


def test_source_holds_valid_and_payload_until_taken(request):
    rng = seeded_rng(request)
    valid, ready, payload = _Signal(), _Signal(), _Signal()
    words = [int(w) for w in rng.integers(0, 2**32, 300)]
    source = _Source(valid, ready, payload, words, 0.4, random.Random(int(rng.integers(2**31))))
    monitor = Monitor("source", valid, ready, [payload])
    taken, offered_and_waiting = [], 0
    for _ in range(5000):
        ready.value = int(rng.random() < 0.5)  # the DUT's ready for the coming edge
        source.step()
        monitor.step()
        if valid.value and ready.value:
            taken.append(payload.value)
        offered_and_waiting += bool(valid.value and not ready.value)
    assert taken == words  # in order, none lost or repeated
    assert offered_and_waiting > 100 and not monitor.violations


@pytest.mark.parametrize("fault,message", [("drop", "valid dropped"), ("change", "payload changed")])
def test_monitor_catches_an_illegal_producer(fault, message):
    valid, ready, payload = _Signal(), _Signal(), _Signal(7)
    monitor = Monitor("vout__0", valid, ready, [payload])
    valid.value = 1
    monitor.step(ready=False)  # offered, not taken
    if fault == "drop":
        valid.value = 0
    else:
        payload.value = 8
    monitor.step(ready=True)
    assert len(monitor.violations) == 1 and message in monitor.violations[0] and "vout__0" in monitor.violations[0]


def test_monitor_accepts_a_legal_producer():
    valid, ready, payload = _Signal(1), _Signal(0), _Signal(7)
    monitor = Monitor("rdata", valid, ready, [payload])
    for ready_now, valid_now, value in [(0, 1, 7), (0, 1, 7), (1, 1, 7), (1, 1, 9), (1, 0, 3), (0, 1, 4), (1, 1, 4)]:
        valid.value, payload.value = valid_now, value
        monitor.step(ready=bool(ready_now))
    assert not monitor.violations


def test_a_recorded_violation_fails_the_run(monkeypatch):
    def bench(gen, module, *, test_dir, env, **_):
        with open(env["RDAGEN_RESULTS"], "w") as f:
            json.dump([{"name": "case0", "protocol": ["rdata: valid dropped at cycle 12 before the transfer"]}], f)

    monkeypatch.setattr(streams, "run_cocotb", bench)
    gen = GeneratedVerilog("pcu", "rdagen_pcu", None, "0" * 64, 0.0)
    with pytest.raises(ProtocolViolation, match="case0: rdata: valid dropped at cycle 12"):
        streams.run_stream_cases(gen, [], tag="probe")
