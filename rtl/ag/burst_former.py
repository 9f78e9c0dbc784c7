"""The burst former of one AXI direction of an AG (rtl/ag/__init__.py): turns fetch entries (a first beat and a
count of beats) into AXI4 INCR bursts on an address channel.

* Waiting contiguous entries are coalesced: an entry that starts on a beat boundary right where the
  current segment ends, when the segment ends on a beat boundary, joins it.
* Bursts are cut at ``max_beats`` (256, or fewer when 256 beats would span more than 4 KB) and at every
  4 KB boundary, so no burst crosses one.
* At most ``MAX_OUTSTANDING`` bursts are in flight (``completed`` pulses when one finishes).
* ``flush`` sends the segment as it stands rather than waiting for entries to join it: the write
  direction raises it while W beats wait for a burst, which joining would hold back (a stream of
  one-beat writes, one a cycle, stalled a few cycles every burst).

Invariants (verif/formal.py proves them): every burst has 1 to ``max_beats`` beats and stays inside
one 4 KB page; the beats of the bursts are the beats of the entries (none lost or added); the address
channel holds valid until ready with its payload stable. Throughput: one entry per cycle, one burst
per cycle when the channel takes it. Latency: a burst is offered the cycle after its entry is taken.
"""

from amaranth import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..spec.ag_layout import MAX_OUTSTANDING, beat_bytes, max_burst_beats
from ..spec.config import ArrayConfig

__all__ = ["BurstFormer", "FETCH", "ADDRESS_BITS"]

ADDRESS_BITS = 34  # 2^32 words of 4 bytes
FETCH = data.StructLayout({"beat": 32, "beats": 33, "aligned_start": 1, "aligned_end": 1})
"""A request as the burst former sees it: first beat address and beats, and whether it starts and ends on
a beat boundary (only such requests coalesce)."""


class BurstFormer(wiring.Component):
    """Turns fetch entries into AXI4 INCR bursts on one address channel.

    Ports: ``fetch`` (entries), ``valid``/``ready``/``addr``/``len`` (the AXI address channel: byte
    address, beats - 1), ``completed`` (a burst finished), ``flush`` (send the segment without waiting
    for joins), ``issue``/``beats`` (a burst of so many beats
    leaves this cycle, for the write data path). Latency: a burst is offered the cycle after its entry
    is taken; one entry per cycle. Invariants (verif/formal.py): every burst has 1 to ``max_beats``
    beats inside one 4 KB page, the bursts' beats are the entries' beats, at most
    ``MAX_OUTSTANDING`` bursts in flight, and the channel holds valid and payload until ready.
    """

    def __init__(self, cfg: ArrayConfig):
        self.lane_bits = (cfg.lanes - 1).bit_length()
        self.max_beats = max_burst_beats(cfg)
        self.beats_per_4k = 4096 // beat_bytes(cfg)
        super().__init__({
            "fetch": In(stream.Signature(FETCH)),
            "valid": Out(1), "ready": In(1), "addr": Out(ADDRESS_BITS), "len": Out(8),
            "completed": In(1), "flush": In(1),
            "issue": Out(1), "beats": Out(9),
        })
        self.seg_valid = Signal()
        self.seg_beat = Signal(32)
        self.seg_left = Signal(33)
        self.outstanding = Signal(range(MAX_OUTSTANDING + 1))

    def elaborate(self, platform):
        m = Module()
        head = self.fetch.payload
        seg_valid, seg_beat, seg_left, outstanding = self.seg_valid, self.seg_beat, self.seg_left, self.outstanding
        seg_end_aligned = Signal()
        absorbable = (seg_valid & self.fetch.valid & head.aligned_start & seg_end_aligned
                      & (head.beat == (seg_beat + seg_left)[0:33]))
        cap = self.cap(seg_beat)
        burst = Mux(seg_left < cap, seg_left, cap)
        busy = Signal()
        issue = (seg_valid & (~busy | self.ready) & (outstanding < MAX_OUTSTANDING)
                 & ((burst == cap) | ~absorbable | self.flush))
        left_after = seg_left - Mux(issue, burst, 0) + Mux(absorbable, head.beats, 0)
        load = self.fetch.valid & ~absorbable & (~seg_valid | (left_after == 0))
        m.d.comb += [self.fetch.ready.eq(absorbable | load), self.issue.eq(issue), self.beats.eq(burst)]
        with m.If(load):
            m.d.sync += [seg_valid.eq(1), seg_beat.eq(head.beat), seg_left.eq(head.beats),
                         seg_end_aligned.eq(head.aligned_end)]
        with m.Else():
            m.d.sync += [seg_valid.eq(left_after != 0), seg_beat.eq(seg_beat + Mux(issue, burst, 0)),
                         seg_left.eq(left_after)]
            with m.If(absorbable):
                m.d.sync += seg_end_aligned.eq(head.aligned_end)
        with m.If(issue):
            m.d.sync += [busy.eq(1), self.addr.eq(seg_beat << (self.lane_bits + 2)), self.len.eq(burst - 1)]
        with m.Elif(self.ready):
            m.d.sync += busy.eq(0)
        m.d.comb += self.valid.eq(busy)
        m.d.sync += outstanding.eq(outstanding + issue - self.completed)
        return m

    def cap(self, beat):
        """The most beats a burst from *beat* may have: up to the next 4 KB boundary, at most max_beats."""
        to_boundary = self.beats_per_4k - (beat & (self.beats_per_4k - 1))
        return Mux(to_boundary < self.max_beats, to_boundary, self.max_beats)
