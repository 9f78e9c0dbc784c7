"""Golden model of a PMU: interprets a configuration word (rtl/spec/pmu_layout.py) on input streams and gives
the output streams, the final scratchpad contents and the conflict and error counts (values and order,
not timing). Written from the semantics in the layout module's docstring, not from the RTL.

The two ports are interleaved firing by firing under the mode's ordering rules (the run counts of
rtl/spec/pmu_layout.py). In ``buffer``, ``double`` and ``fifo`` the results do not depend on the
interleaving; in ``none`` the model runs the write port first, which matches the hardware only for
traffic whose ports do not race on a word.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.layout_fields import plain_view
from rdagen.rtl.spec.pmu_layout import ADDRESS_REGISTERS, DonePort, PmuMode, decode

from .counters import CounterChain
from .operands import fetch_operand, run_stages

__all__ = ["PmuResult", "Access", "run_pmu", "access_cycles"]

U32 = np.uint32


@dataclasses.dataclass(frozen=True)
class Access:
    """What one access did: its port, the word addresses of the lanes it addresses (lane 0 alone for a
    scalar port), how many of them were out of range, and the banks of the lanes performed."""
    port: str  # "write" or "read"
    addresses: np.ndarray
    out_of_range: int
    banks: np.ndarray


@dataclasses.dataclass
class PmuResult:
    vout: np.ndarray  # (n, lanes) words read
    sout: np.ndarray  # (n,) lane 0 of each read
    done_tokens: int
    memory: np.ndarray  # (lanes * pmu_depth,) final contents, by word address
    write_conflicts: int
    read_conflicts: int
    errors: int
    write_firings: int
    read_firings: int
    consumed: list[int]  # words taken from each vector input, each scalar input, then start tokens
    accesses: list[Access]  # in the order the model performed them


def access_cycles(banks: np.ndarray) -> int:
    """Cycles an access whose performed lanes hit *banks* occupies its port (at least 1)."""
    return max(1, int(np.bincount(banks).max())) if len(banks) else 1


class _Port:
    def __init__(self, cfg: ArrayConfig, view, inputs, is_write: bool):
        self.cfg, self.c, self.is_write = cfg, view, is_write
        self.enabled = bool(view.enable)
        self.chain = CounterChain(view.counters)
        self.vin, self.sin, self.vpos, self.spos = inputs
        self.vreq = [k for k in range(cfg.vector_inputs) if int(view.vin_required) >> k & 1]
        self.sreq = [k for k in range(cfg.scalar_inputs) if int(view.sin_required) >> k & 1]
        self.run_active = False  # a counter run took its start token
        self.in_unit = False  # the current unit (counter run; one access in fifo mode) has begun
        self.firings = 0
        self.units_started = 0
        self.units_done = 0

    def ready(self, tokens: int) -> bool:
        if not self.enabled:
            return False
        if any(self.vpos[k] >= len(self.vin[k]) for k in self.vreq):
            return False
        if any(self.spos[k] >= len(self.sin[k]) for k in self.sreq):
            return False
        return not self.needs_token() or tokens > 0

    def needs_token(self) -> bool:
        return bool(self.c.wait_start) and self.chain.any_enabled and not self.run_active

    def unit(self) -> int:
        """Index of the unit (counter run, or access in fifo mode) the next firing belongs to."""
        return self.units_started - 1 if self.in_unit else self.units_started

    def fire(self, unit_per_firing: bool):
        """One firing: (lane addresses, lane words of the write data or None, whether a unit ended)."""
        lanes = self.cfg.lanes
        heads_v = {k: self.vin[k][self.vpos[k]] for k in self.vreq}
        heads_s = {k: int(self.sin[k][self.spos[k]]) for k in self.sreq}
        counters = [np.full(lanes, v & 0xFFFFFFFF, U32) for v in self.chain.values]
        regs = run_stages(self.c.stages, ADDRESS_REGISTERS, lanes, heads_v, heads_s, counters)
        words = fetch_operand(self.c.data, 0, regs=regs, vins=heads_v, sins=heads_s, ctrs=counters,
                              lanes=lanes).copy() if self.is_write else None
        if self.needs_token():
            self.run_active = True
        if not self.in_unit:
            self.units_started += 1
            self.in_unit = True
        carry = self.chain.advance()
        if self.chain.run_ends(carry):
            self.run_active = False
        unit_end = unit_per_firing or self.chain.run_ends(carry)
        if unit_end:
            self.units_done += 1
            self.in_unit = False
        for k in self.vreq:
            if carry[min(int(self.c.vin_pop_level[k]), self.cfg.counters)]:
                self.vpos[k] += 1
        for k in self.sreq:
            if carry[min(int(self.c.sin_pop_level[k]), self.cfg.counters)]:
                self.spos[k] += 1
        self.firings += 1
        return regs[0], words, unit_end


def run_pmu(cfg: ArrayConfig, bits: int, vin: list, sin: list, start_tokens: int = 0,
            memory: np.ndarray | None = None, max_firings: int = 1_000_000) -> PmuResult:
    """Run the PMU configured by *bits* from scratchpad contents *memory* (zeros if None) until no port
    can fire or *max_firings* firings have happened."""
    c = plain_view(decode(cfg, bits))
    L, depth = cfg.lanes, cfg.pmu_depth
    words = L * depth
    mem = np.zeros(words, U32) if memory is None else np.array(memory, U32).copy()
    if mem.shape != (words,):
        raise ValueError(f"the scratchpad of {cfg.name} holds {words} words, got {mem.shape}")
    vin = [np.asarray(v, U32).reshape(-1, L) for v in vin]
    sin = [np.asarray(s, U32).ravel() for s in sin]
    if len(vin) != cfg.vector_inputs or len(sin) != cfg.scalar_inputs:
        raise ValueError(f"give {cfg.vector_inputs} vector and {cfg.scalar_inputs} scalar input streams")
    inputs = (vin, sin, [0] * cfg.vector_inputs, [0] * cfg.scalar_inputs)
    write, read = _Port(cfg, c.write, inputs, True), _Port(cfg, c.read, inputs, False)
    write.units_started = write.units_done = int(c.fifo_fill)  # a FIFO that starts filled
    mode = PmuMode(c.mode)
    fifo = mode == PmuMode.FIFO
    buffers = {PmuMode.BUFFER: 1, PmuMode.DOUBLE: 2, PmuMode.FIFO: depth}.get(mode)
    limit = words // 2 if mode == PmuMode.DOUBLE else words
    tokens = start_tokens
    vout, sout = [], []
    conflicts = {"write": 0, "read": 0}
    errors = 0
    accesses = []
    lane = np.arange(L)

    def access(port, name):
        nonlocal errors, tokens
        if port.needs_token():
            tokens -= 1
        unit = port.unit()
        addresses, data, _ = port.fire(fifo)
        if fifo:
            addresses = ((unit % depth) * L + lane).astype(U32)
        performed = np.ones(L, bool) if not port.c.scalar else lane == 0
        out_of_range = performed & (addresses >= limit)
        if not (name == "write" and port.c.window):  # a write window drops them silently
            errors += int(out_of_range.sum())
        performed &= ~out_of_range
        physical = addresses.astype(np.int64) + (unit % 2) * limit if mode == PmuMode.DOUBLE else addresses
        conflicts[name] += access_cycles(physical[performed] % L) - 1
        addressed = lane == 0 if port.c.scalar else np.ones(L, bool)
        accesses.append(Access(name, addresses[addressed].copy(), int(out_of_range.sum()), physical[performed] % L))
        if data is not None:
            for i in np.flatnonzero(performed):  # lane order: the highest lane writes last
                mem[physical[i]] = data[i]
        else:
            got = np.where(performed, mem[np.where(performed, physical, 0)], 0).astype(U32)
            if c.read.vout:
                vout.append(got)
            if c.read.sout:
                sout.append(int(got[0]))

    while write.firings + read.firings < max_firings:
        # A port begins a unit only when the mode's order allows it (rtl/spec/pmu_layout.py, "Modes").
        write_turn = write.ready(tokens) and (
            buffers is None or write.in_unit or write.units_started - read.units_done < buffers)
        read_turn = read.ready(tokens) and (
            buffers is None or read.in_unit or write.units_done > read.units_started)
        if write_turn:
            access(write, "write")
        elif read_turn:
            access(read, "read")
        else:
            break

    done_port = write if c.done_port == DonePort.WRITE else read
    return PmuResult(
        vout=np.array(vout, U32).reshape(-1, L), sout=np.array(sout, U32), done_tokens=done_port.units_done - (int(c.fifo_fill) if done_port is write else 0),
        memory=mem, write_conflicts=conflicts["write"], read_conflicts=conflicts["read"], errors=errors,
        write_firings=write.firings, read_firings=read.firings,
        consumed=[*inputs[2], *inputs[3], start_tokens - tokens], accesses=accesses)
