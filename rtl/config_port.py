"""The configuration port with its shadow context (protocol: rtl/spec/config_port.py)."""

from functools import reduce
from operator import xor

from amaranth import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .spec.config_port import SWAP_REFUSALS, crc32_step, port_layout

__all__ = ["ConfigurationPort", "UnitRegisters", "unit_active"]

_REASON = {name: k for k, (name, _) in enumerate(SWAP_REFUSALS)}


def unit_active(active, unit: int):
    """Unit *unit*'s active register in a port's ``active`` interface."""
    return getattr(active, f"unit{unit}")


def _checksum_update(crc, data, unit):
    """The checksum register after a write (``crc32_step``), as one XOR of inputs per bit: the update
    is linear, so it is worked out once over bit masks of its 80 inputs (32 state, 32 data, 16 index)."""
    inputs = [crc[i] for i in range(32)] + [data[i] for i in range(32)] + \
             [unit[i] if i < len(unit) else 0 for i in range(16)]
    masks = crc32_step([1 << i for i in range(32)], [1 << (32 + i) for i in range(32)],
                       [1 << (64 + i) for i in range(16)], lambda a, b: a ^ b)
    return Cat(*(reduce(xor, [inputs[i] for i in range(80) if mask >> i & 1], 0) for mask in masks))


class UnitRegisters(wiring.Component):
    """One unit's registers in the configuration port: its shadow (words shift in at the top, the first
    written ends least significant), its active copy, and the count of words written since the last
    swap (held at words + 1: overfull).

    Ports: ``write`` (a word for this unit this cycle, on ``data``), ``clear`` (a swap: the count
    restarts), ``take`` (an accepted swap: ``active`` takes the shadow), ``active``, ``count``, and the
    count's verdicts ``partial`` (some words but not all), ``overfull`` and ``whole``.

    Latency: a write is in the shadow the next cycle, a taken shadow in ``active`` the next cycle.

    Invariants: ``count`` never exceeds words + 1; ``active`` changes only in the cycle after ``take``.

    A component of its own so that the units of one kind are one part of the port's hierarchy
    (synth/parts.py): a plasticine port is synthesized as a few such parts, not 128 units' logic.
    """

    def __init__(self, words: int):
        self.words = words
        super().__init__({"write": In(1), "data": In(32), "clear": In(1), "take": In(1),
                          "active": Out(32 * words), "count": Out(range(words + 2)),
                          "partial": Out(1), "overfull": Out(1), "whole": Out(1)})
        self.shadow = Signal(32 * words)

    def elaborate(self, platform):
        m = Module()
        w = 32 * self.words
        with m.If(self.write):
            m.d.sync += self.shadow.eq(Cat(self.data, self.shadow[:w - 32]) if w > 32 else self.data)
            with m.If(self.count <= self.words):
                m.d.sync += self.count.eq(self.count + 1)
        with m.If(self.clear):  # never with a write: the port is not ready in a swap's cycle
            m.d.sync += self.count.eq(0)
        with m.If(self.take):
            m.d.sync += self.active.eq(self.shadow)
        m.d.comb += [self.partial.eq((self.count != 0) & (self.count < self.words)),
                     self.overfull.eq(self.count > self.words), self.whole.eq(self.count == self.words)]
        return m


class ConfigurationPort(wiring.Component):
    """Shadow and active configuration registers of units of *unit_words* 32-bit words each, written
    by lanes that each serve the units of one of *groups* (unit indices, in local-index order).

    Ports: ``config`` (a write per lane: ``lane_layout``; not ready while ``swap`` is high), ``swap``
    (request: accepted or refused in the same cycle), ``active`` (every unit's active register, an
    output per unit: ``unit_active(port.active, u)``; one wire of them all would be 165,376 bits on a
    plasticine array, over what Amaranth and Verilog tools take), ``accepted`` (the swap
    of this cycle is taken: ``active`` holds the shadows from the next cycle), ``loaded`` (a swap now
    would be accepted), ``refused`` (bit k: ``SWAP_REFUSALS[k]``, of the last refused swap; cleared by
    an accepted one) and ``refused_lanes`` (the lanes concerned).

    Latency: a write is in the shadow the next cycle; a swap takes one cycle.

    Invariants (verif/formal.py ``config.swap``): ``active`` changes only in the cycle after an accepted
    swap, every unit at once, to the shadows; a swap is accepted only when every unit has received none
    or all of its words since the last swap (all after a refused one) and every lane's last seal matched
    what arrived with no word after it.

    ``registers`` (set by ``elaborate``): the internal registers by name, for the proof's invariants.
    """

    def __init__(self, unit_words, groups):
        self.unit_words, self.groups = tuple(unit_words), tuple(tuple(g) for g in groups)
        super().__init__({
            "config": In(stream.Signature(port_layout(self.groups))),
            "swap": In(1),
            "active": Out(wiring.Signature({f"unit{u}": Out(32 * w) for u, w in enumerate(self.unit_words)})),
            "accepted": Out(1),
            "loaded": Out(1),
            "refused": Out(len(SWAP_REFUSALS)),
            "refused_lanes": Out(len(self.groups)),
        })

    def elaborate(self, platform):
        m = Module()
        words, groups = self.unit_words, self.groups
        m.d.comb += self.config.ready.eq(~self.swap)
        units = [UnitRegisters(w) for w in words]
        for u, unit in enumerate(units):
            m.submodules[f"unit{u}"] = unit
            m.d.comb += [unit_active(self.active, u).eq(unit.active), unit.clear.eq(self.swap),
                         unit.take.eq(self.accepted)]
        needs_full = Signal()  # after a refused swap, every unit must be loaded whole

        lane_problems, unit_lane = [], {}
        reset_lanes = []
        lanes = {r: [] for r in ("crc", "seen", "count_ok", "sealed", "bad")}
        for k, group in enumerate(groups):
            write = self.config.payload[k]
            fire = self.config.valid & self.config.ready & write.valid
            crc = Signal(32, init=0xFFFFFFFF, name=f"crc_{k}")
            seen = Signal(32, name=f"seen_{k}")  # words since the lane's last seal
            count_ok = Signal(name=f"count_ok_{k}")
            sealed = Signal(name=f"sealed_{k}")
            bad = {r: Signal(name=f"{r}_{k}") for r in ("count", "checksum", "unit")}
            step = Signal(32, name=f"crc_next_{k}")  # a signal: its logic once, whichever unit is written
            m.d.comb += step.eq(_checksum_update(crc, write.data, write.unit))
            m.d.comb += [units[u].data.eq(write.data) for u in group]
            # An If/Elif chain, not a Switch: a Switch leaves signals not assigned in every case with
            # an incomplete Verilog case (Verilator's CASEINCOMPLETE).
            targets = [(write.unit == j, u) for j, u in enumerate(group)]
            with m.If(fire):
                for j, (hit, u) in enumerate(targets):
                    unit_lane[u] = k
                    with (m.If if j == 0 else m.Elif)(hit):
                        m.d.comb += units[u].write.eq(1)
                        m.d.sync += [crc.eq(step), seen.eq(seen + 1), sealed.eq(0)]
                with m.Elif(write.unit == len(group)):
                    m.d.sync += [count_ok.eq(write.data == seen), sealed.eq(0)]
                with m.Elif(write.unit == len(group) + 1):
                    matched = write.data == ~crc
                    m.d.sync += [sealed.eq(1), crc.eq(crc.init), seen.eq(0), count_ok.eq(0)]
                    with m.If(~count_ok):
                        m.d.sync += bad["count"].eq(1)
                    with m.If(~matched):
                        m.d.sync += bad["checksum"].eq(1)
                with m.Else():
                    m.d.sync += [bad["unit"].eq(1), sealed.eq(0)]
            lane_problems.append({"unsealed": ~sealed, **bad})
            for name, register in (("crc", crc), ("seen", seen), ("count_ok", count_ok), ("sealed", sealed),
                                   ("bad", bad)):
                lanes[name].append(register)
            reset_lanes += [crc.eq(crc.init), seen.eq(0), count_ok.eq(0), sealed.eq(0), *(b.eq(0) for b in bad.values())]

        reasons = {name: [] for name in _REASON}
        per_lane = [[] for _ in groups]
        for name in ("unsealed", "count", "checksum", "unit"):
            for k, problems in enumerate(lane_problems):
                reasons[name].append(problems[name])
                per_lane[k].append(problems[name])
        for u, unit in enumerate(units):
            problems = {"partial": unit.partial, "overfull": unit.overfull, "not_whole": needs_full & ~unit.whole}
            for name, value in problems.items():
                reasons[name].append(value)
                per_lane[unit_lane[u]].append(value)
        # .any() of a Cat is one balanced OR; reduce(or_) nests one operator per unit, deeper than Python's
        # recursion limit on a plasticine array (128 units).
        reason_bits = Cat(*(Cat(*reasons[name]).any() for name, _ in SWAP_REFUSALS))
        reasons_now = Signal(len(SWAP_REFUSALS))
        m.d.comb += [reasons_now.eq(reason_bits), self.loaded.eq(reasons_now == 0),
                     self.accepted.eq(self.swap & self.loaded)]
        self.registers = {"shadow": [u.shadow for u in units], "active": [u.active for u in units],
                          "count": [u.count for u in units], "needs_full": needs_full,
                          "reasons": reasons_now, **lanes}

        with m.If(self.swap):
            m.d.sync += reset_lanes
            with m.If(self.loaded):
                m.d.sync += [needs_full.eq(0), self.refused.eq(0), self.refused_lanes.eq(0)]
            with m.Else():
                m.d.sync += [needs_full.eq(1), self.refused.eq(reason_bits),
                             self.refused_lanes.eq(Cat(*(Cat(*p).any() for p in per_lane)))]
        return m

