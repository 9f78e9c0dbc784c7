"""Golden counter chain (semantics: rtl/counters.py), shared by the PCU and PMU golden models."""

from __future__ import annotations

__all__ = ["CounterChain", "signed"]


def signed(word: int) -> int:
    return word - (1 << 32) if word & 0x80000000 else word


class CounterChain:
    """The counters of a configuration view (``enable``, ``start``, ``stop``, ``stride`` each)."""

    def __init__(self, counters, steps: list[int] | None = None):
        self.counters = [(bool(x.enable), signed(int(x.start)), signed(int(x.stop)), signed(int(x.stride)))
                         for x in counters]
        self.steps = steps or [stride for *_, stride in self.counters]
        self.values = [start for _, start, _, _ in self.counters]
        self.any_enabled = any(enabled for enabled, *_ in self.counters)

    def carries(self) -> list[bool]:
        """The carries the next advance will give (carry[k]: counters 0 .. k-1 all wrap), without stepping."""
        carry = [True]
        for k, (enabled, _, stop, _) in enumerate(self.counters):
            carry.append(carry[k] and ((not enabled) or self.values[k] + self.steps[k] >= stop))
        return carry

    def advance(self) -> list[bool]:
        """Step the chain once; returns the carries (carry[k]: counters 0 .. k-1 all wrapped)."""
        carry = [True]
        for k, (enabled, start, stop, _) in enumerate(self.counters):
            wraps = (not enabled) or self.values[k] + self.steps[k] >= stop
            if carry[k]:
                self.values[k] = start if wraps else self.values[k] + self.steps[k]
            carry.append(carry[k] and wraps)
        return carry

    def run_ends(self, carry: list[bool]) -> bool:
        """Whether the advance that gave *carry* ended a counter run."""
        return self.any_enabled and carry[-1]
