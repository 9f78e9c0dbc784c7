"""The configuration port with its shadow context (rtl/config_port.py) in Amaranth's simulator, against
the protocol of rtl/spec/config_port.py: loads swapped in whole, cut-off and damaged loads refused with
their reasons, the active configuration kept."""

import zlib

import numpy as np
import pytest
from amaranth.sim import Simulator

from rdagen.rtl.config_port import ConfigurationPort, unit_active
from rdagen.rtl.spec.config_port import (SWAP_REFUSALS, crc32_step, describe_refusal, lane_checksum, port_beats,
                                         port_layout)

from .conftest import seeded_rng

WORDS = (2, 1, 3, 1, 2)  # words per unit
GROUPS = ((0, 3), (1, 2, 4))  # the units of each lane
REASON = {name: 1 << k for k, (name, _) in enumerate(SWAP_REFUSALS)}


def _writes(words: dict) -> list[tuple[int, int]]:
    """The port writes of {unit: value}, each unit whole, most significant word first."""
    return [(u, (value >> (32 * j)) & 0xFFFFFFFF) for u, value in sorted(words.items())
            for j in reversed(range(WORDS[u]))]


def _run(steps):
    """Drives the port through *steps*: ("beat", bits) or ("swap",); returns, per swap, (accepted,
    refused, refused_lanes, active words after it per unit)."""
    port = ConfigurationPort(WORDS, GROUPS)
    seen = []

    async def bench(ctx):
        for step in steps:
            if step[0] == "beat":
                ctx.set(port.config.valid, 1)
                ctx.set(port.config.payload.as_value(), step[1])
                assert ctx.get(port.config.ready)
                await ctx.tick()
                ctx.set(port.config.valid, 0)
            else:
                ctx.set(port.swap, 1)
                assert not ctx.get(port.config.ready)  # no write in a swap's cycle
                accepted = ctx.get(port.accepted)
                await ctx.tick()
                ctx.set(port.swap, 0)
                units = [ctx.get(unit_active(port.active, u)) for u in range(len(WORDS))]
                seen.append((bool(accepted), ctx.get(port.refused), ctx.get(port.refused_lanes), units))

    sim = Simulator(port)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return seen


def _load(writes):
    return [("beat", b) for b in port_beats(GROUPS, writes)] + [("swap",)]


def _draw(rng, keep=None):
    words = {u: int.from_bytes(rng.bytes(4 * w), "little") for u, w in enumerate(WORDS)}
    if keep:
        words.update({u: v for u, v in keep.items() if rng.random() < 0.5})
    return words


def test_checksum_update_bit_by_bit_is_zlibs_crc32():
    """``crc32_step`` (the RTL's update, built from it) over ints is zlib's CRC-32 before its inversion."""
    rng = np.random.default_rng(5)
    entries = [(int(rng.integers(0, 40)), int(rng.integers(0, 2**32))) for _ in range(6)]
    state = [1] * 32
    for local, word in entries:
        state = crc32_step(state, [word >> i & 1 for i in range(32)], [local >> i & 1 for i in range(16)],
                           lambda a, b: a ^ b)
    assert sum(b << i for i, b in enumerate(state)) ^ 0xFFFFFFFF == lane_checksum(entries)
    assert lane_checksum([]) == zlib.crc32(b"") == 0


def test_loads_swap_in_whole_and_deltas_keep_the_rest(request):
    """Random configurations, each loaded as the delta from the one before (the units that change),
    swapped in: every swap is accepted and leaves every unit's active word at the new configuration;
    an empty load (the seal alone) swaps the same configuration in again."""
    rng = seeded_rng(request)
    configs = [_draw(rng)]
    for _ in range(4):
        configs.append(_draw(rng, configs[-1]))
    steps = _load(_writes(configs[0]))
    for before, after in zip(configs, configs[1:]):
        steps += _load(_writes({u: v for u, v in after.items() if before[u] != v}))
    steps += _load([])
    seen = _run(steps)
    assert [s[0] for s in seen] == [True] * len(seen)
    assert [s[3] for s in seen] == [[c[u] for u in range(len(WORDS))] for c in configs + configs[-1:]]


def _damaged(rng, kind):
    """A first configuration (accepted), then a second load damaged as *kind*; the reasons expected."""
    first, second = _draw(rng), _draw(rng)
    beats = port_beats(GROUPS, _writes(second))
    layout = port_layout(GROUPS)
    lane_bits, data_at = layout.elem_shape.size, layout.elem_shape["data"].offset
    if kind == "cut_seal":  # the last beat (the checks) never arrives
        beats, reasons = beats[:-1], REASON["unsealed"]
    elif kind == "cut_inside":  # stops in the middle of unit 2's three words (lane 1): no seal either
        beats, reasons = beats[:2], REASON["unsealed"] | REASON["partial"]
    elif kind == "flip":  # one data bit of lane 0's first word
        beats[0] ^= 1 << (data_at + int(rng.integers(0, 32)))
        reasons = REASON["checksum"]
    elif kind == "lost":  # lane 1's second word is lost (its unit half written)
        beats[1] &= ~(((1 << lane_bits) - 1) << lane_bits)
        reasons = REASON["count"] | REASON["checksum"] | REASON["partial"]
    elif kind == "repeated":  # the first beat twice
        beats = beats[:1] + beats
        reasons = REASON["count"] | REASON["checksum"] | REASON["overfull"]
    elif kind == "bad_unit":  # lane 0 (2 units, its seal entries at 2 and 3) writes local index 4
        unit = layout.elem_shape["unit"]
        beats[0] = beats[0] & ~(((1 << unit.width) - 1) << unit.offset) | 4 << unit.offset
        reasons = REASON["unit"] | REASON["count"] | REASON["checksum"] | REASON["partial"]
    return first, beats, reasons


@pytest.mark.parametrize("kind", ["cut_seal", "cut_inside", "flip", "lost", "repeated", "bad_unit"])
def test_cut_off_and_damaged_loads_are_refused_and_the_active_configuration_kept(kind, request):
    """A damaged second load: its swap is refused with the reasons the damage causes, the active
    configuration stays the first; then a delta load is refused (the load was forgotten: every unit
    must come whole) and a whole load is accepted."""
    rng = seeded_rng(request)
    first, beats, reasons = _damaged(rng, kind)
    third = _draw(rng, first)
    third[0], third[len(WORDS) - 1] = first[0] ^ 1, first[len(WORDS) - 1]  # a delta: not empty, not whole
    steps = _load(_writes(first)) + [("beat", b) for b in beats] + [("swap",)]
    steps += _load(_writes({u: v for u, v in third.items() if first[u] != v}))
    steps += _load(_writes(third))
    seen = _run(steps)
    want = [first[u] for u in range(len(WORDS))]
    assert seen[0] == (True, 0, 0, want)
    accepted, refused, lanes, active = seen[1]
    print(kind, describe_refusal(refused, lanes))
    assert (accepted, refused, active) == (False, reasons, want)
    assert lanes != 0
    assert not seen[2][0] and seen[2][1] == REASON["not_whole"] and seen[2][3] == want
    assert seen[3] == (True, 0, 0, [third[u] for u in range(len(WORDS))])
