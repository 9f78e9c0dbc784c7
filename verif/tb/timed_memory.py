"""The DRAM timing of rtl/spec/memory.py in the cocotb bench: the AGs' cocotbext-axi ``AxiRam``s held
back by their channels' pause controls, one ``step`` per clock cycle (at the falling edge).

* Read latency: an AG's read bursts are served in order; the R channel of an AG stays paused until
  its oldest outstanding burst's first beat is due, ``read_latency`` cycles after the cycle its AR
  was accepted (a burst's beats follow one another, never before the previous burst's last).
* Bandwidth: a budget shared by every AG gains ``bytes_per_cycle`` each cycle and holds at most one
  cycle's worth plus a few beats (``_SLACK_BEATS``; the direct harness: one); an R channel with a beat due to an AG that takes it (``rready``), or a
  W channel the AG offers a beat on, is let go for a cycle only while the budget, less what the
  channels already let go this cycle may take, holds a beat, and each beat that crosses takes its
  bytes from the budget (the channels in turn from a start that rotates every cycle, so that neither
  reads nor writes starve).

Outstanding reads: cocotbext-axi's ``AxiRamRead`` queues at most 2 ARs and 2 R beats, so with a
latency of L cycles an AG could keep only about 5 bursts in flight and wait L cycles per 5 (an
embedding gather of 15 rows took 348 cycles where the direct harness, which accepts every AR, took
160). A DDR controller queues dozens of reads; the AG holds at most ``MAX_OUTSTANDING``; so the
memory lifts both limits and accepts every AR the cycle it is offered, as the direct harness does.

What the bench measured is reported as the direct harness reports it (``stats``): per AG the fewest
and most cycles from an AR's acceptance to its first R beat, the bytes moved, and the cycles of the
first and last beat. The AxiRam answers no sooner than about two cycles after a request, so the
ideal memory (a beat the cycle after the request) is not this model's: the bench serves it with the
AxiRams unpaused.
"""

from __future__ import annotations

import collections

from rdagen.rtl.spec.memory import Memory

__all__ = ["TimedMemory"]

# The AxiRSource drives a beat at the rising edge after the one that sees its pause released, so the
# release comes this many cycles before the beat is due.
_R_LEAD = 1
# A channel let go (or held) at a falling edge acts a cycle late (the W sink's ready follows the pause
# it sampled an edge before), so the budget may hold this many beats beyond one cycle's worth: with
# one, a channel that turns out not to move loses the budget it was promised (measured: 5.6 of 6 B/cycle).
_SLACK_BEATS = 3


class TimedMemory:
    def __init__(self, dut, rams: dict, memory: Memory, beat_bytes: int):
        self.memory, self.beat = memory, beat_bytes
        self.rams = rams
        self.signal = lambda row, name: int(getattr(dut, f"m_axi__{row}__{name}").value)  # noqa: E731
        self.bursts = {row: collections.deque() for row in rams}  # accept cycles of outstanding reads
        self.started = {row: False for row in rams}  # the head burst's first beat has crossed
        cap = None if memory.bytes_per_cycle is None else memory.bytes_per_cycle + _SLACK_BEATS * beat_bytes
        self.cap, self.budget, self.rotate = cap, cap or 0.0, 0
        self.stats = {row: {"read_latency_min": -1, "read_latency_max": -1, "bytes": 0, "first_beat": -1,
                            "last_beat": -1} for row in rams}
        for ram in rams.values():
            ram.read_if.ar_channel.queue_occupancy_limit = -1  # no limit (see the module docstring)
            ram.read_if.r_channel.queue_occupancy_limit = -1
        self._apply({row: True for row in rams}, {row: True for row in rams})

    def summary(self) -> dict:
        """The stats of every AG together, as the direct harness reports them."""
        seen = [s for s in self.stats.values() if s["bytes"]]
        lat = [s for s in seen if s["read_latency_min"] >= 0]
        return {"read_latency_min": min((s["read_latency_min"] for s in lat), default=-1),
                "read_latency_max": max((s["read_latency_max"] for s in lat), default=-1),
                "bytes": sum(s["bytes"] for s in seen),
                "first_beat": min((s["first_beat"] for s in seen), default=-1),
                "last_beat": max((s["last_beat"] for s in seen), default=-1)}

    def _apply(self, hold_r: dict, hold_w: dict):
        for row, ram in self.rams.items():
            ram.read_if.r_channel.pause = hold_r[row]
            ram.write_if.w_channel.pause = hold_w[row]

    def step(self, cycle: int) -> None:
        """At the falling edge of *cycle*: count the handshakes of the rising edge just gone, then set
        each channel's pause for the next one."""
        for row in self.rams:
            stats = self.stats[row]
            if self.signal(row, "arvalid") and self.signal(row, "arready"):
                self.bursts[row].append(cycle)
            moved = 0
            if self.signal(row, "rvalid") and self.signal(row, "rready"):
                moved += 1
                if not self.started[row]:
                    seen = cycle - self.bursts[row][0]
                    stats["read_latency_min"] = seen if stats["read_latency_min"] < 0 else min(stats["read_latency_min"], seen)
                    stats["read_latency_max"] = max(stats["read_latency_max"], seen)
                    self.started[row] = True
                if self.signal(row, "rlast"):
                    self.bursts[row].popleft()
                    self.started[row] = False
            if self.signal(row, "wvalid") and self.signal(row, "wready"):
                moved += 1
            if moved:
                stats["bytes"] += moved * self.beat
                stats["first_beat"] = cycle if stats["first_beat"] < 0 else stats["first_beat"]
                stats["last_beat"] = cycle
                self.budget -= moved * self.beat if self.cap is not None else 0
        due = {row: bool(q) and (self.started[row] or cycle + _R_LEAD >= q[0] + self.memory.read_latency)
               for row, q in self.bursts.items()}
        if self.cap is None:
            self._apply({row: not d for row, d in due.items()}, {row: False for row in self.rams})
            return
        self.budget = min(self.cap, self.budget + self.memory.bytes_per_cycle)
        wants = {**{(row, "r"): due[row] and self.signal(row, "rready") and not ram.read_if.r_channel.empty()
                    for row, ram in self.rams.items()},
                 **{(row, "w"): bool(self.signal(row, "wvalid")) for row in self.rams}}
        channels = list(wants)
        order = channels[self.rotate:] + channels[:self.rotate]
        self.rotate = (self.rotate + 1) % len(channels)
        go, promised = set(), 0
        for channel in order:
            if wants[channel] and self.budget - promised >= self.beat:
                go.add(channel)
                promised += self.beat
        self._apply({row: (row, "r") not in go for row in self.rams}, {row: (row, "w") not in go for row in self.rams})
