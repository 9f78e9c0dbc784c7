# amaranth: UnusedElaboratable=no
"""Formal harnesses: each wraps one RTL component with free inputs (the harness's ports), assumptions on
them (legal streams, a configuration that holds still) and the properties to prove as ``Assert``s,
checked by unbounded k-induction in Yosys (sim/formal.py runs them: ``make formal``).

A harness is built in one of two forms: the proof (every ``Assert``), or the check of one *cover*: the
property "this interesting state is never reached" asserted alone, which a bounded search must refute
with a trace (so the proof is not vacuous: its assumptions let the interesting case happen). With
*broken*, the component is a deliberately wrong variant whose proof must fail.

Properties (shared/ARCHITECTURE.md: "nothing is ever lost, duplicated or reordered"):

* ``switch.multicast``: for every output of a switch (rtl/switch.py) and the input its configuration
  selects, the k-th word out is the k-th word in, for any k (a free index, the "tracked word"): no word
  lost, duplicated, reordered or changed; a multicast word enters every consumer at the same cycle, so
  it moves only when every consumer takes it. Induction is helped by invariants on the outputs' hop
  buffers (rtl/hop_buffer.py), proven with it: the level is the words in minus the words out, and
  the tracked word, while inside, sits at its place. Broken variant: an input moves when *any*
  consumer has room.
* ``switch.stream_rules``: every output of a switch holds valid until ready and keeps its payload
  stable meanwhile (amaranth.lib.stream's rules). Broken variant: an output that drops a word it
  offered when the consumer did not take it.
* ``pmu.serialiser``: the PMU's bank-conflict serialiser (rtl/pmu/bank_serialiser.py; 4 lanes, so 4 banks)
  serves every active lane of an access exactly once, on the lane's own bank, and no inactive lane; a
  bank serves one lane per cycle; the access ends (``finishing``) in the cycle its last lanes are
  served, and the next one is taken then. Free accesses (any lanes, banks and rows), legal stream.
  Broken variant: a serialiser that, after a conflict cycle, clears only its lowest pending lane (the
  lanes other banks served are served again).
* ``ag.bursts``: the AG's burst former (rtl/ag/burst_former.py, on ``tiny``: 8-byte beats, so the 256-beat
  and the 4 KB cuts differ) never offers a burst of more than 256 beats or one that crosses a 4 KB
  boundary; the beats it issues are the beats of the entries it took (none lost or added: the issued
  beats plus the segment still open equal the beats taken); it keeps at most MAX_OUTSTANDING bursts
  in flight; its address channel holds valid until ready with address and length stable. Free entries
  (1 or more beats, inside the 2^32-word space), free channel ready, free ``flush`` (it sends the
  segment unjoined), completions only of bursts in flight. Broken variant: a former that cuts at 256
  beats but not at 4 KB.
* ``fifo.order``: the FIFO behind every unit input and output (rtl/buffered_fifo.py; depth 4, so its
  memory's 3 slots wrap at a count that is not a power of two): the k-th word read is the k-th word
  written, for any k (tracked word), level = words in - words out, and its read side holds ``r_rdy``
  until ``r_en`` with ``r_data`` stable. Every PCU, PMU and AG data output is such a read side wired
  straight to the port (``valid = r_rdy``, ``payload = r_data``, ``r_en = ready``), so this is the
  stream-rules proof of those outputs. Invariants: the pointers against the level, and the tracked
  word at its slot (memory or output register). Broken variant: a FIFO that takes a write when full.
* ``unit.credits``: the output credits of the PCU and PMU (rtl/credited_fifo.py, depth 5) in front of
  any producer that reserves a slot only with ``room`` and writes only what it reserved, at any later
  time (the PCU's pipeline writes ``latency`` cycles after the firing, the PMU's reads after their bank
  conflicts): a write always finds the FIFO ready (no result lost, the pipeline never stalls), words
  leave in the order written, unchanged. Invariant: pending = promised writes + words in the FIFO.
  Broken variant: ``room`` one slot too generous.
* ``config.swap``: the configuration port's shadow context (rtl/config_port.py: units of 2, 1 and 1
  words on two lanes, one lane with two units) against the protocol of rtl/spec/config_port.py, modelled
  in the harness from the port's writes (a seal's check is compared with the port's running
  checksum register: its CRC-32 arithmetic is tested against zlib's in tests/test_config_port.py, where
  loads sealed with zlib's CRC are accepted and damaged ones refused; a second XOR network to prove
  equal to it would make the induction step slow): the active registers
  change only in the cycle after an accepted swap, every unit at once, to the words written to its
  shadow; a swap is accepted only when every unit received none or all of its words since the last
  swap (all of them after a refused swap) and every lane's last entry is a seal whose count and
  checksum match what arrived; and a load that keeps the protocol is always accepted. Free writes
  (any lane, local index and word: cut-off, lost, repeated, damaged and misaddressed loads), free
  swaps and resets. Invariants: the port's counts, shadows, checksums and seals equal the model's.
  Broken variant: a port that lets a unit swap in half written.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from amaranth import Cat, Const, Module, Mux, ResetSignal, Signal
from amaranth.hdl import Assert, Assume
from amaranth.lib import wiring

from rdagen.rtl.spec.ag_layout import MAX_OUTSTANDING
from rdagen.rtl.pmu.bank_serialiser import BankSerialiser
from rdagen.rtl.buffered_fifo import BufferedFifo
from rdagen.rtl.ag.burst_former import BurstFormer
from rdagen.rtl.spec.config import preset
from rdagen.rtl.credited_fifo import CreditedFifo
from rdagen.rtl.switch import Switch
from rdagen.rtl.config_port import ConfigurationPort, unit_active
from rdagen.rtl.spec.config_port import SWAP_REFUSALS

__all__ = ["Property", "PROPERTIES"]


@dataclasses.dataclass(frozen=True)
class Property:
    name: str
    build: Callable[[str | None, bool], wiring.Component]  # (cover or None, broken) -> harness
    covers: tuple[str, ...]
    what: str  # the claim, in a line (printed before its checks)
    # Cycles a cover may take to be reached: the bounded search's depth. Its cost grows steeply with the
    # depth (config.swap's covers: 24 cycles took 381 s, 12 take seconds), so each property states its own.
    cover_steps: int = 24


class _Harness(wiring.Component):
    """The component *dut* with the same ports, all of them the harness's (so its inputs are free), and
    ``past``: low in the first cycle only (for properties over two cycles)."""

    def __init__(self, dut: wiring.Component, free: dict | None = None):
        """*free*: further free inputs of the harness, {name: ``In(shape)``}."""
        self.dut = dut
        super().__init__({**dut.signature.members, **(free or {})})

    def setup(self, m: Module, platform) -> tuple[Signal, Module]:
        """Instantiates the DUT (its module is returned, for its submodules) and connects the ports."""
        module = m.submodules.dut = self.dut.elaborate(platform)
        ours, theirs = self.signature.flatten(self), self.dut.signature.flatten(self.dut)
        for (_, member, outer), (_, _, inner) in zip(ours, theirs):  # the DUT's members come first
            m.d.comb += inner.eq(outer) if member.flow == wiring.In else outer.eq(inner)
        past = Signal()
        m.d.sync += past.eq(1)
        return past, module


def _previous(m: Module, value, name: str) -> Signal:
    """*value* one cycle earlier (a register; its value in the first cycle is meaningless: use ``past``).
    Call it outside any ``m.If``: inside, the register would only follow *value* under the condition."""
    held = Signal.like(value, name=name, reset_less=True)
    m.d.sync += held.eq(value)
    return held


def _stream_rules(m: Module, past, valid, ready, payload, name: str):
    """(rules, waited): *rules* holds when the stream (*valid*, *ready*, *payload*) keeps lib.stream's
    rules this cycle (if it offered a word last cycle, out of reset, that was not taken, it still offers
    it, unchanged); *waited* is whether it offered one that was not taken last cycle."""
    waited = past & _previous(m, valid & ~ready & ~ResetSignal(), f"{name}_waiting")
    return ~waited | (valid & (payload == _previous(m, payload, f"{name}_payload"))), waited


def _legal_source(m: Module, past, port, name: str) -> None:
    """Assume the free input stream *port* follows the stream rules."""
    rules, _ = _stream_rules(m, past, port.valid, port.ready, port.payload, name)
    m.d.comb += Assume(rules)


class _BrokenRoomSwitch(Switch):
    """A switch that moves a multicast word when any consumer has room (the others lose it)."""

    @staticmethod
    def room(consumers, buffers):
        room = Const(0)
        for consumer, f in zip(consumers, buffers):
            room |= consumer & f.w_rdy
        return room


class _DroppingSwitch(Switch):
    """A switch whose outputs withdraw an offered word after a cycle of back-pressure."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        for d in range(4):
            for t in range(self.tracks):
                port = self.out[d][t]
                waited = Signal(name=f"waited_{d}_{t}")
                m.d.sync += waited.eq(port.valid & ~port.ready)
                with m.If(waited):
                    m.d.comb += port.valid.eq(0)
        return m


_SWITCH = dict(width=3, tracks=1, local_in=1, local_out=1)


def _switch_ports(harness):
    """The harness's switch inputs and outputs, in the switch's order (its configuration's indices)."""
    tracks = harness.dut.tracks
    inputs = [harness.inp[d][t] for d in range(4) for t in range(tracks)] + list(harness.local_in)
    outputs = [harness.out[d][t] for d in range(4) for t in range(tracks)] + list(harness.local_out)
    return inputs, outputs


class SwitchMulticast(_Harness):
    COUNT = 3  # bits of the word counters: they wrap, and a buffer holds at most 2 words

    def __init__(self, cover: str | None, broken: bool):
        self.cover, self.broken = cover, broken
        super().__init__((_BrokenRoomSwitch if broken else Switch)(**_SWITCH), {"pick": wiring.In(self.COUNT)})

    def elaborate(self, platform):
        m = Module()
        past, module = self.setup(m, platform)
        inputs, outputs = _switch_ports(self)
        sel, pick = self.configuration, self.pick  # pick: the tracked word's index, free but constant
        _held(m, past, sel.as_value(), pick)
        for i, port in enumerate(inputs):
            _legal_source(m, past, port, f"in{i}")
        fires = [p.valid & p.ready for p in inputs]
        asserts, levels, delivered = [], [], []
        for o, port in enumerate(outputs):
            buffer = module.submodules[f"out{o}"]
            push, word = Signal(name=f"push{o}"), Signal(self.dut.width, name=f"word{o}")
            for i in range(len(inputs)):
                with m.If(sel[o] == i + 1):
                    m.d.comb += [push.eq(fires[i]), word.eq(inputs[i].payload)]
            pop = port.valid & port.ready
            pushed, popped = Signal(self.COUNT, name=f"pushed{o}"), Signal(self.COUNT, name=f"popped{o}")
            recorded, inside = Signal(self.dut.width, name=f"recorded{o}"), Signal(name=f"inside{o}")
            m.d.sync += [pushed.eq(pushed + push), popped.eq(popped + pop)]
            with m.If(push & (pushed == pick)):
                m.d.sync += [recorded.eq(word), inside.eq(1)]
            with m.Elif(pop & (popped == pick)):
                m.d.sync += inside.eq(0)
            place = Signal(self.COUNT, name=f"place{o}")
            m.d.comb += place.eq(pick - popped)
            difference = Signal(self.COUNT, name=f"difference{o}")
            m.d.comb += difference.eq(pushed - popped)
            asserts += [
                ~(pop & (popped == pick)) | (inside & (port.payload == recorded)),  # the k-th out is the k-th in
                buffer.level != 3,
                buffer.level == difference,  # no word lost or made: a multicast word entered this buffer too
                inside == (place < buffer.level),
                ~(inside & (place == 0)) | (buffer.head == recorded),
                ~(inside & (place == 1)) | (buffer.tail == recorded),
            ]
            levels.append(buffer.level)
            delivered.append(pop & (popped == pick))
        # Non-vacuity: a word multicast to two outputs while one of them is full (its input waits), and
        # a tracked word delivered to two consumers.
        stalled = Const(0)
        for o in range(1, len(outputs)):
            stalled |= (sel[0] == sel[o]) & (sel[0] != 0) & (levels[o] == 2) & (levels[0] == 1)
        both = (sel[0] == sel[1]) & (sel[0] != 0) & (pick == 2) & delivered[0] & delivered[1]
        _emit(m, asserts, {"multicast_under_backpressure": stalled, "both_delivered": both}, self.cover)
        return m


class SwitchStreamRules(_Harness):
    def __init__(self, cover: str | None, broken: bool):
        self.cover, self.broken = cover, broken
        super().__init__((_DroppingSwitch if broken else Switch)(**_SWITCH))

    def elaborate(self, platform):
        m = Module()
        past, module = self.setup(m, platform)
        inputs, outputs = _switch_ports(self)
        for i, port in enumerate(inputs):
            _legal_source(m, past, port, f"in{i}")
        asserts, stalls = [], []
        for o, port in enumerate(outputs):
            rules, waited = _stream_rules(m, past, port.valid, port.ready, port.payload, f"out{o}")
            asserts += [rules, module.submodules[f"out{o}"].level != 3]  # the invariant induction needs
            stalls.append(waited & port.valid)
        stalled = Const(0)
        for s in stalls:
            stalled |= s
        _emit(m, asserts, {"held_under_backpressure": stalled}, self.cover)
        return m


class _ForgetfulSerialiser(BankSerialiser):
    """A serialiser that, after a cycle with a conflict, clears only the lowest pending lane: lanes that
    other banks served in that cycle are served again."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        with m.If(self.valid & ~self.finishing):
            m.d.sync += self.pending.eq(self.pending & (self.pending - 1))  # drops the lowest bit only
        return m


class SerialiserOnce(_Harness):
    LANES, BANK_BITS, ROW_BITS = 4, 2, 1

    def __init__(self, cover: str | None, broken: bool):
        self.cover, self.broken = cover, broken
        super().__init__((_ForgetfulSerialiser if broken else BankSerialiser)(self.LANES, self.BANK_BITS,
                                                                                self.ROW_BITS, 1))

    def elaborate(self, platform):
        m = Module()
        past, _ = self.setup(m, platform)
        dut, L = self.dut, self.LANES
        _legal_source(m, past, self.access, "access")
        served = Signal(L)  # lanes of the current access served so far (the harness's count)
        grants = []  # per lane: the banks serving it this cycle
        for i in range(L):
            grants.append([self.hit[b] & (self.lane[b] == i) for b in range(L)])
        now = Cat(*[Cat(*g).any() for g in grants])
        active = Cat(*[self.entry[dut.field * i] for i in range(L)])
        asserts = []
        for i in range(L):
            twice = Const(0)
            for b in range(L):
                for c in range(b + 1, L):
                    twice |= grants[i][b] & grants[i][c]
            asserts.append(~twice)  # one bank per lane per cycle
            for b in range(L):
                asserts.append(~grants[i][b] | (dut.bank_of(self.entry, i) == b))  # its own bank
            asserts.append(~now[i] | (self.valid & active[i] & ~served[i]))  # active, not served before
        asserts += [
            ~self.finishing | ((served | now) == active),  # every active lane served when the access ends
            self.finishing == (self.valid & ((served | now) == active)),
            ~self.valid | (dut.pending == (active & ~served)),  # (the invariant induction needs)
            ~self.valid | ((served & ~active) == 0),
        ]
        with m.If(self.access.valid & self.access.ready):
            m.d.sync += served.eq(0)
        with m.Elif(self.valid):
            m.d.sync += served.eq(served | now)
        conflicts = Signal(2)
        with m.If(self.access.valid & self.access.ready):
            m.d.sync += conflicts.eq(0)
        with m.Elif(self.valid & ~self.finishing & (conflicts != 3)):
            m.d.sync += conflicts.eq(conflicts + 1)
        covers = {
            "all_lanes_one_bank": self.finishing & (conflicts == 3),
            "all_banks_at_once": self.finishing & (conflicts == 0) & (active == (1 << L) - 1),
            "partly_inactive": self.finishing & (active != 0) & (active != (1 << L) - 1),
        }
        _emit(m, asserts, covers, self.cover)
        return m


class _PageBlindBurstFormer(BurstFormer):
    """A burst former that forgets the 4 KB boundary."""

    def cap(self, beat):
        return self.max_beats


class BurstFormerBursts(_Harness):
    CONFIG = "tiny"
    TOTAL = 40  # bits of the beat totals (they wrap alike)

    def __init__(self, cover: str | None, broken: bool):
        self.cover, self.broken = cover, broken
        super().__init__((_PageBlindBurstFormer if broken else BurstFormer)(preset(self.CONFIG)))

    def elaborate(self, platform):
        m = Module()
        past, _ = self.setup(m, platform)
        dut, fetch = self.dut, self.fetch
        lb = dut.lane_bits
        _legal_source(m, past, fetch, "fetch")
        head = fetch.payload
        m.d.comb += Assume(~fetch.valid | ((head.beats != 0) & (head.beat + head.beats <= 2 ** (32 - lb))))
        in_flight = Signal(range(MAX_OUTSTANDING + 2))
        m.d.sync += in_flight.eq(in_flight + dut.issue - self.completed)
        m.d.comb += Assume(~self.completed | (in_flight != 0))
        taken, issued = Signal(self.TOTAL), Signal(self.TOTAL)
        m.d.sync += [taken.eq(taken + Mux(fetch.valid & fetch.ready, head.beats, 0)),
                     issued.eq(issued + Mux(dut.issue, dut.beats, 0))]
        channel_rules, _ = _stream_rules(m, past, self.valid, self.ready, Cat(self.addr, self.len), "ar")
        beat = self.addr >> (lb + 2)
        page = dut.beats_per_4k
        asserts = [
            ~self.valid | (self.len < dut.max_beats),  # at most 256 beats
            ~self.valid | ((beat & (page - 1)) + self.len < page),  # inside one 4 KB page
            taken == (issued + Mux(dut.seg_valid, dut.seg_left, 0))[:self.TOTAL],  # every beat taken, issued once
            dut.seg_valid == (dut.seg_left != 0),
            ~dut.seg_valid | (dut.seg_beat + dut.seg_left <= 2 ** (32 - lb)),
            dut.outstanding == in_flight,
            in_flight <= MAX_OUTSTANDING,
            channel_rules,  # the address channel keeps the stream rules
        ]
        long_entry = fetch.valid & fetch.ready & (head.beats > dut.max_beats)
        covers = {
            "cut_at_256_beats": self.valid & (self.len == dut.max_beats - 1) & ((beat & (page - 1)) == 0),
            "cut_at_4kb": dut.issue & (dut.beats < dut.max_beats) & (dut.seg_left > dut.beats),
            "coalesced": fetch.valid & fetch.ready & dut.seg_valid & _previous(m, dut.seg_valid, "was_open"),
            "long_entry": long_entry,
            "all_in_flight": dut.outstanding == MAX_OUTSTANDING,
            # flushed: the segment sent while an entry joins what is left of it (the write side's
            # beats waiting)
            "flushed": dut.issue & self.flush & (dut.beats < dut.max_beats) & fetch.valid & fetch.ready & dut.seg_valid,
        }
        _emit(m, asserts, covers, self.cover)
        return m


def _held(m: Module, past, *values) -> None:
    """Assume each free input of *values* keeps its first value."""
    for k, value in enumerate(values):
        before = _previous(m, value, f"held{k}")
        with m.If(past):
            m.d.comb += Assume(value == before)


def _tracked_fifo(m: Module, past, f: BufferedFifo, pick) -> tuple[list, Signal, Signal]:
    """(assertions, delivered, waited) of the FIFO *f* and the word with index *pick* among those written:
    it is read as the *pick*-th word, unchanged; the level is the words in minus the words out; the
    read side keeps the stream rules (*waited*: it offered a word last cycle that was not taken). With
    the invariants that make these inductive: the pointers against the level, and the tracked word at
    its place while inside."""
    count = len(pick)
    inner = f.depth - 1
    push, pop = f.w_en & f.w_rdy, f.r_en & f.r_rdy
    pushed, popped = Signal(count, name="pushed"), Signal(count, name="popped")
    recorded, inside = Signal(f.width, name="recorded"), Signal(name="inside")
    m.d.sync += [pushed.eq(pushed + push), popped.eq(popped + pop)]
    with m.If(push & (pushed == pick)):
        m.d.sync += [recorded.eq(f.w_data), inside.eq(1)]
    with m.Elif(pop & (popped == pick)):
        m.d.sync += inside.eq(0)
    place, difference = Signal(count, name="place"), Signal(count, name="difference")
    m.d.comb += [place.eq(pick - popped), difference.eq(pushed - popped)]
    # The memory slot of the tracked word while it is not in the output register: place - r_rdy words
    # after ``consume``, modulo the memory's depth.
    peek = f.storage.read_port(domain="comb")
    ahead = Signal(range(2 * inner + 1), name="ahead")
    m.d.comb += [ahead.eq(f.consume + place - f.r_rdy),
                 peek.addr.eq(Mux(ahead >= inner, ahead - inner, ahead))]
    wrapped = Signal(range(2 * inner + 1), name="wrapped")
    m.d.comb += wrapped.eq(f.consume + f.inner_level)
    delivered = pop & (popped == pick)
    rules, waited = _stream_rules(m, past, f.r_rdy, f.r_en, f.r_data, "read")
    asserts = [
        ~delivered | (inside & (f.r_data == recorded)),  # the k-th out is the k-th in, unchanged
        f.level == difference,  # no word lost or made
        rules,  # the read side keeps the stream rules
        f.inner_level <= inner,
        f.produce == Mux(wrapped >= inner, wrapped - inner, wrapped),
        inside == (place < f.level),
        ~(inside & (place == 0) & f.r_rdy) | (f.r_data == recorded),
        ~(inside & ~((place == 0) & f.r_rdy)) | (peek.data == recorded),
    ]
    if inner & (inner - 1) or inner == 1:  # pointers that do not use all their codes
        asserts += [f.produce < inner, f.consume < inner]
    return asserts, delivered, waited


class _OverwritingFifo(BufferedFifo):
    """A FIFO that takes a write when full (the oldest word in its memory is overwritten)."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.comb += self.w_rdy.eq(1)
        return m


class FifoOrder(_Harness):
    DEPTH = 4

    def __init__(self, cover: str | None, broken: bool):
        self.cover, self.broken = cover, broken
        count = self.DEPTH.bit_length()  # the word counters wrap; a level up to DEPTH stays unambiguous
        super().__init__((_OverwritingFifo if broken else BufferedFifo)(3, self.DEPTH), {"pick": wiring.In(count)})

    def elaborate(self, platform):
        m = Module()
        past, _ = self.setup(m, platform)
        _held(m, past, self.pick)
        asserts, delivered, waited = _tracked_fifo(m, past, self.dut, self.pick)
        covers = {
            "delivered_from_full": delivered & (self.level == self.DEPTH) & (self.pick == self.DEPTH + 1),
            "held_under_backpressure": waited & self.r_rdy,
        }
        _emit(m, asserts, covers, self.cover)
        return m


class _GenerousCredits(CreditedFifo):
    """Credits that promise one slot more than the FIFO has."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.comb += self.room.eq(self.pending <= self.depth)
        return m


class UnitCredits(_Harness):
    DEPTH = 5

    def __init__(self, cover: str | None, broken: bool):
        self.cover, self.broken = cover, broken
        super().__init__((_GenerousCredits if broken else CreditedFifo)(3, self.DEPTH),
                         {"pick": wiring.In(self.DEPTH.bit_length())})

    def elaborate(self, platform):
        m = Module()
        past, _ = self.setup(m, platform)
        dut = self.dut
        _held(m, past, self.pick)
        promised = Signal(range(self.DEPTH + 2))  # reserved, not yet written (the producer's pipeline)
        m.d.sync += promised.eq(promised + self.reserve - self.w_en)
        m.d.comb += [Assume(~self.reserve | self.room), Assume(~self.w_en | (promised != 0))]
        asserts, delivered, _ = _tracked_fifo(m, past, dut.fifo, self.pick)
        asserts += [
            ~self.w_en | self.w_rdy,  # a promised write always finds a slot: nothing lost, no stall
            dut.pending == promised + dut.fifo.level,
            dut.pending <= self.DEPTH,
        ]
        covers = {
            "write_into_the_last_slot": self.w_en & (dut.fifo.level == self.DEPTH - 1) & ~self.r_en,
            "all_promised": ~self.room & (promised == self.DEPTH),
            "delivered_after_full": delivered & (self.pick == self.DEPTH + 1),
        }
        _emit(m, asserts, covers, self.cover)
        return m


class _HalfSwappingPort(ConfigurationPort):
    """A port that accepts a swap with a unit partly written."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        partial = 1 << [name for name, _ in SWAP_REFUSALS].index("partial")
        m.d.comb += self.loaded.eq((self.registers["reasons"] & ~partial) == 0)
        return m


class ConfigSwap(_Harness):
    WORDS = (2, 1, 1)
    GROUPS = ((0, 1), (2,))

    def __init__(self, cover: str | None, broken: bool):
        self.cover, self.broken = cover, broken
        super().__init__((_HalfSwappingPort if broken else ConfigurationPort)(self.WORDS, self.GROUPS))

    def elaborate(self, platform):
        m = Module()
        past, _ = self.setup(m, platform)
        port, words = self.dut, self.WORDS
        regs = port.registers
        # The protocol's model, from the writes on the port's lanes.
        shadow = [Signal(32 * w, name=f"model_shadow_{u}") for u, w in enumerate(words)]
        active = Signal(32 * sum(words), name="model_active")
        written = [Signal(range(w + 2), name=f"model_written_{u}") for u, w in enumerate(words)]
        needs_full = Signal(name="model_needs_full")
        lanes = []
        for k, group in enumerate(self.GROUPS):
            write = self.config.payload[k]
            fire = self.config.valid & self.config.ready & write.valid
            crc = regs["crc"][k]  # the port's running checksum (see the docstring)
            seen = Signal(32, name=f"model_seen_{k}")
            count_ok, sealed, bad = (Signal(name=f"model_{n}_{k}") for n in ("count_ok", "sealed", "bad"))
            lanes.append((crc, seen, count_ok, sealed, bad))
            with m.If(fire):
                for j, u in enumerate(group):
                    with m.If(write.unit == j):
                        w = 32 * words[u]
                        m.d.sync += shadow[u].eq(Cat(write.data, shadow[u][:w - 32]) if w > 32 else write.data)
                        m.d.sync += [written[u].eq(Mux(written[u] > words[u], written[u], written[u] + 1)),
                                     seen.eq(seen + 1), sealed.eq(0)]
                with m.If(write.unit == len(group)):
                    m.d.sync += [count_ok.eq(write.data == seen), sealed.eq(0)]
                with m.If(write.unit == len(group) + 1):
                    m.d.sync += [sealed.eq(1), seen.eq(0), count_ok.eq(0)]
                    with m.If(~count_ok | (write.data != ~crc)):
                        m.d.sync += bad.eq(1)
                with m.If(write.unit > len(group) + 1):
                    m.d.sync += [bad.eq(1), sealed.eq(0)]
        lanes_good = Cat(*(sealed & ~bad for _, _, _, sealed, bad in lanes)).all()
        units_good = Cat(*((n == 0) & ~needs_full | (n == w) for n, w in zip(written, words))).all()
        with m.If(self.swap):
            m.d.sync += [n.eq(0) for n in written]
            m.d.sync += [r.eq(r.init) for lane in lanes for r in lane[1:]]
            m.d.sync += needs_full.eq(~self.accepted)
            with m.If(self.accepted):
                m.d.sync += active.eq(Cat(*shadow))

        after_swap = past & _previous(m, self.accepted & ~ResetSignal(), "after_swap")
        after_run = past & _previous(m, ~self.accepted & ~ResetSignal(), "after_run")
        port_active = Cat(*(unit_active(self.active, u) for u in range(len(words))))
        before = _previous(m, port_active, "active_before")
        asserts = [
            ~after_run | (port_active == before),  # the active words change only with an accepted swap,
            ~after_swap | (port_active == active),  # all units at once, to the words their shadows took
            ~self.accepted | units_good,  # no unit swapped in partly written (all of them after a refusal)
            ~self.accepted | lanes_good,  # no cut-off or damaged load swapped in
            ~(units_good & lanes_good) | self.loaded,  # a load that keeps the protocol is accepted
            # invariants: the port's registers are the model's
            port_active == active, regs["needs_full"] == needs_full,
            *(a == b for a, b in zip(regs["count"], written)),
            *(a == b for a, b in zip(regs["shadow"], shadow)),
            *(regs["seen"][k] == seen for k, (_, seen, *_) in enumerate(lanes)),
            *(regs["count_ok"][k] == ok for k, (_, _, ok, *_) in enumerate(lanes)),
            *(regs["sealed"][k] == sealed for k, (*_, sealed, _) in enumerate(lanes)),
            *(Cat(*regs["bad"][k].values()).any() == bad for k, (*_, bad) in enumerate(lanes)),
        ]
        covers = {
            "delta_swapped": self.accepted & (written[0] == words[0]) & (written[1] == 0) & (written[2] == 0),
            "damaged_refused": self.swap & ~self.loaded & units_good & Cat(*(s for *_, s, _ in lanes)).all(),
            "whole_after_refusal": self.accepted & needs_full,
        }
        _emit(m, asserts, covers, self.cover)
        return m


def _emit(m: Module, asserts: list, covers: dict, cover: str | None) -> None:
    """The proof's assertions, or the negation of the one cover checked."""
    if cover is None:
        for condition in asserts:
            m.d.comb += Assert(condition)
    else:
        m.d.comb += Assert(~covers[cover])


PROPERTIES = [
    Property("switch.multicast", SwitchMulticast, ("multicast_under_backpressure", "both_delivered"),
             "the k-th word out of a switch output is the k-th word into its input; a multicast word moves "
             "only when every consumer takes it"),
    Property("fifo.order", FifoOrder, ("delivered_from_full", "held_under_backpressure"),
             "unit FIFOs: the k-th word read is the k-th written; the read side (every PCU, PMU and AG data "
             "output) holds valid until ready, payload stable"),
    Property("unit.credits", UnitCredits, ("write_into_the_last_slot", "all_promised", "delivered_after_full"),
             "PCU/PMU output credits: a reserved write always finds a slot (nothing lost, no stall), in order"),
    Property("switch.stream_rules", SwitchStreamRules, ("held_under_backpressure",),
             "switch outputs hold valid until ready, payload stable"),
    Property("pmu.serialiser", SerialiserOnce, ("all_lanes_one_bank", "all_banks_at_once", "partly_inactive"),
             "the PMU's bank-conflict serialiser serves every active lane of an access exactly once, on its bank"),
    Property("ag.bursts", BurstFormerBursts,
             ("cut_at_256_beats", "cut_at_4kb", "coalesced", "long_entry", "all_in_flight"),
             "AG bursts: <= 256 beats, never across 4 KB, exactly the beats taken, <= MAX_OUTSTANDING in flight",
             cover_steps=24),  # 16 bursts in flight take 17 cycles
    Property("config.swap", ConfigSwap, ("delta_swapped", "damaged_refused", "whole_after_refusal"),
             "configuration swaps: all units at once, none partly written, cut-off and damaged loads refused, "
             "good loads accepted", cover_steps=12),  # a refused swap, then a whole load on both lanes
]
