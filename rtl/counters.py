"""Counter chains for nested loops, shared by the PCU and the PMU's address ports.

The semantics (also in rtl/spec/pcu_layout.py): counter 0 is the innermost. A disabled counter is held at
its start and always wraps. When the chain advances, counter 0 steps; a counter whose next value
reaches ``stop`` or beyond (signed) wraps to ``start`` and lets the next one step. ``carry[k]`` says that
counters 0 .. k-1 all wrap in this advance; ``carry[-1]`` is the end of a run of the whole chain.
"""

from amaranth import Const, Mux, Signal

__all__ = ["counter_chain"]


def counter_chain(m, counters, advance, load, steps=None, name: str = "ctr"):
    """Counter registers configured by the *counters* views (``enable``, ``start``, ``stop``, ``stride``).

    *advance* steps the chain (in the sync domain); *load* (re)loads every counter with its start.
    *steps* overrides a counter's step (the PCU's spread counter steps by ``lanes * stride``).
    Returns ``(values, carry)``: the counter registers and the combinational carries of this cycle.
    Latency: a value changes the cycle after the advance.
    """
    values = [Signal(32, name=f"{name}{k}") for k in range(len(counters))]
    carry = [Const(1)]
    for k, (value, counter) in enumerate(zip(values, counters)):
        step = counter.stride if steps is None else steps[k]
        following = value.as_signed() + step.as_signed()
        wraps = ~counter.enable | (following >= counter.stop.as_signed())
        with m.If(load):
            m.d.sync += value.eq(counter.start)
        with m.Elif(advance & carry[k]):
            m.d.sync += value.eq(Mux(wraps, counter.start, following[0:32]))
        carry.append(carry[k] & wraps)
    return values, carry
