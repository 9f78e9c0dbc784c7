"""The AG's response and write-data sides: words moved between request order and beat order."""

from amaranth import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..pipeline import select
from ..spec.config import ArrayConfig
from .requests import INFO

__all__ = ["ReadRealigner", "WriteAligner"]


def _word(vector, i):
    return vector[32 * i: 32 * i + 32]


class ReadRealigner(wiring.Component):
    """Turns the R beats of the read bursts into each request's vectors: a request's ``length`` words
    from word ``offset`` of its first beat, ``lanes`` words per vector, the last one padded with zeros.
    A refused request (``ok`` low) gives its vectors as zeros and takes no beat; a request of length 0
    gives none.

    Ports: the head of the request info FIFO (``info_rdy``, ``info_data``, popped by ``info_pop`` when
    the request's last vector leaves), of the beat FIFO (``beat_rdy``, ``beat_data``, ``beat_pop``),
    and the output FIFO's write side (``out_rdy`` its room, ``out_en``, ``out_data``).
    Latency: combinational from the heads to ``out_en``. Throughput: one vector per cycle; a request
    that starts off a beat boundary takes one extra cycle to prime with its first beat.
    Invariants: a performed request takes exactly its ``beats`` beats, so the next starts on its own.
    """

    def __init__(self, cfg: ArrayConfig):
        self.lanes, self.lane_bits = cfg.lanes, (cfg.lanes - 1).bit_length()
        vector = 32 * cfg.lanes
        super().__init__({
            "info_rdy": In(1), "info_data": In(INFO), "info_pop": Out(1),
            "beat_rdy": In(1), "beat_data": In(vector), "beat_pop": Out(1),
            "out_rdy": In(1), "out_en": Out(1), "out_data": Out(vector),
        })

    def elaborate(self, platform):
        m = Module()
        L, lb = self.lanes, self.lane_bits
        req = self.info_data
        offset = req.offset if lb else Const(0, 1)
        prev = Signal(32 * L)
        have_prev = Signal()
        taken = Signal(33)  # beats of this request consumed
        left = Signal(33)  # words of this request not yet sent
        started = Signal()
        words_left = Mux(started, left, req.length)
        beats_taken = Mux(started, taken, 0)
        beat = self.beat_data
        unaligned = offset != 0
        nothing = req.length == 0
        priming = req.ok & unaligned & ~have_prev & ~nothing
        need_next = req.ok & (beats_taken < req.beats) & ~priming
        next_word = Mux(need_next, beat, 0)
        lanes = []
        for w in range(L):
            options = [_word(prev, w + o) if w + o < L else _word(next_word, w + o - L) for o in range(L)]
            shifted = select(m, options, offset, name=f"realign_w{w}")
            value = Mux(unaligned, shifted, _word(beat, w))
            lanes.append(Mux(req.ok & (w < words_left), value, 0))
        empty = self.info_rdy & nothing
        emit = self.info_rdy & ~empty & ~priming & self.out_rdy & (~need_next | self.beat_rdy)
        prime = self.info_rdy & priming & self.beat_rdy
        last = words_left <= L
        m.d.comb += [
            self.out_en.eq(emit), self.out_data.eq(Cat(*lanes)),
            self.beat_pop.eq(prime | (emit & need_next)),
            self.info_pop.eq(empty | (emit & last)),
        ]
        with m.If(prime | (emit & need_next)):
            m.d.sync += [prev.eq(beat), taken.eq(beats_taken + 1), started.eq(1), left.eq(words_left)]
        with m.If(prime):
            m.d.sync += have_prev.eq(1)
        with m.If(emit):
            m.d.sync += [left.eq(words_left - L), started.eq(1)]
            with m.If(last):
                m.d.sync += [started.eq(0), have_prev.eq(0)]
        return m


class WriteAligner(wiring.Component):
    """Turns each write request's vectors (``length`` words, ``lanes`` per vector, in request order)
    into W beats aligned to the bursts: word j of the request goes to word ``(offset + j) mod lanes``
    of beat ``(offset + j) / lanes``, with a 4-bit strobe per word that is set only on the request's
    words. A refused request (``ok`` low) has its vectors taken and dropped; one of length 0 takes none.

    Ports: the head of the write info FIFO (``info_rdy``, ``info_data``, ``info_pop``), of the vector
    FIFO (``vec_rdy``, ``vec_data``, ``vec_pop``), and the beat FIFO's write side (``beat_room``,
    ``beat_en``, ``beat_data``: the words, then the strobes).
    Latency: combinational from the heads to ``beat_en``; one beat per cycle.
    Invariants: a request takes exactly its vectors; a strobe is set only on one of its words.
    """

    def __init__(self, cfg: ArrayConfig):
        self.lanes, self.lane_bits = cfg.lanes, (cfg.lanes - 1).bit_length()
        vector = 32 * cfg.lanes
        super().__init__({
            "info_rdy": In(1), "info_data": In(INFO), "info_pop": Out(1),
            "vec_rdy": In(1), "vec_data": In(vector), "vec_pop": Out(1),
            "beat_room": In(1), "beat_en": Out(1), "beat_data": Out(36 * cfg.lanes),
        })

    def elaborate(self, platform):
        m = Module()
        L, lb = self.lanes, self.lane_bits
        req = self.info_data
        offset = req.offset if lb else Const(0, 1)
        vectors = (req.length + L - 1) >> lb
        k = Signal(33)  # beats (or, for a refused request, vectors) done in this request
        pos = Signal(signed(35))  # request word index of the beat's word 0: k * L - offset
        position = Mux(k == 0, -offset, pos)  # unary minus widens: offsets up to lanes - 1 stay positive
        need_vector = k < vectors
        cur = Mux(need_vector, self.vec_data, 0)
        prev = Signal(32 * L)
        beat_words, strobes = [], []
        for w in range(L):
            options = [_word(cur, w - o) if w >= o else _word(prev, L - o + w) for o in range(L)]
            beat_words.append(select(m, options, offset, name=f"wrealign_w{w}"))
            j = position + w
            strobes.append(Mux((j >= 0) & (j < req.length), 0xF, 0))
        nothing = req.length == 0
        refused = ~req.ok & ~nothing
        step = self.info_rdy & ~nothing & (~need_vector | self.vec_rdy) & (refused | self.beat_room)
        done = Mux(req.ok, k + 1 == req.beats, k + 1 == vectors)
        m.d.comb += [
            self.beat_en.eq(step & req.ok), self.beat_data.eq(Cat(*beat_words, *strobes)),
            self.vec_pop.eq(step & need_vector),
            self.info_pop.eq((self.info_rdy & nothing) | (step & done)),
        ]
        with m.If(step):
            m.d.sync += [prev.eq(cur), k.eq(Mux(done, 0, k + 1)), pos.eq(position + L)]
        return m
