"""The configuration port's protocol: its lanes, which units each lane writes, the beats of a load, the
seal that closes a load and the swap that makes it active. This is a *spec* module: the RTL
(rtl/config_port.py, rtl/array.py), the loaders (sim/) and the mapper's cost model read it.

Lanes. The port has a lane per row; each lane writes one (local unit index, 32-bit word) per cycle
into a unit of its own group (``config_groups``), so the lanes load their units in parallel.

Shadow and active. Every unit and switch has two configuration registers: the *shadow*, which the
port's words shift into from below (a unit of n bits takes ceil(n / 32) words, the most significant
first), and the *active*, which the unit runs. A *swap* copies every shadow to its active register
in one cycle, all units together, and holds the units in reset for that cycle (PMU contents stay);
the shadow keeps its words, so the next load writes only the units that change
(``config_port_writes``) while the active configuration runs.

Seal. A load ends with two entries on every lane, after its words: at local index ``len(group)`` the
*count* (the words written on the lane since its last seal) and at ``len(group) + 1`` the *check*
(``lane_checksum`` of those writes: CRC-32 over each word's data and local index). The port accepts a
swap only when every lane is sealed (its count and check matched, no word after them) and every unit
holds none or all of its words since the last swap (after a refused swap: all of them, for every
unit). Otherwise it refuses the swap (``SWAP_REFUSALS``: the reasons, and the lanes concerned), keeps
the active configuration, and forgets the load: the next load must write every unit whole. So a swap
never leaves a unit with words of two loads, and a load cut off (no seal, a unit half written) or
damaged (a word lost, repeated, changed or sent to another unit) is refused before the swap. (CRC-32
detects every error of up to 32 consecutive bits, so any single changed word's data, and every odd
number of changed bits; a lost or repeated word changes the count.)
"""

from __future__ import annotations

import functools
import zlib

from amaranth.lib import data

from .array_layout import configuration_units, unit_words
from .config import ArrayConfig

__all__ = ["config_lanes", "config_groups", "lane_layout", "port_layout", "config_port_layout", "config_port_writes", "config_beats", "port_beats",
           "lane_checksum", "SEAL_BEATS", "SWAP_CYCLES", "SWAP_REFUSALS", "describe_refusal", "crc32_step"]

SEAL_BEATS = 2  # the count and the check, on every lane at once
SWAP_CYCLES = 1  # a swap's cycle: the units held in reset while the active registers take the shadows

# The reasons a swap is refused: bit k of the port's ``refused`` register is SWAP_REFUSALS[k].
SWAP_REFUSALS = (
    ("partial", "a unit holds some but not all of its words (a load cut off inside it)"),
    ("overfull", "a unit was sent more words than it holds (a word repeated or sent to the wrong unit)"),
    ("not_whole", "after a refused swap, a unit was not loaded whole"),
    ("unsealed", "a lane's load has no seal after its last word (cut off)"),
    ("count", "a lane's seal counts a different number of words than arrived (a word lost or repeated)"),
    ("checksum", "a lane's checksum does not match the words that arrived (a word damaged)"),
    ("unit", "a write names a local unit index the lane does not have"),
)


def config_lanes(cfg: ArrayConfig) -> int:
    """Lanes of the configuration port: one per row (as the AGs and the host streams), each writing one
    32-bit word per cycle into a unit of its own group."""
    return cfg.rows


@functools.cache
def config_groups(cfg: ArrayConfig) -> tuple[tuple[int, ...], ...]:
    """The units (indices in ``configuration_units``) each configuration lane writes, in the order of
    their local index on the lane. The units are dealt so that a whole configuration takes about the
    same words on every lane: largest first, each to the lane with the fewest words so far (the
    lowest-numbered on a tie), then each lane's units in port order."""
    units = configuration_units(cfg)
    words = [unit_words(cfg, a) for a in units]
    load, groups = [0] * config_lanes(cfg), [[] for _ in range(config_lanes(cfg))]
    for i in sorted(range(len(units)), key=lambda i: (-words[i], i)):
        lane = min(range(len(load)), key=lambda k: (load[k], k))
        load[lane] += words[i]
        groups[lane].append(i)
    return tuple(tuple(sorted(g)) for g in groups)


def lane_layout(groups) -> data.StructLayout:
    """One lane's write: ``valid``, the local index (a unit of the lane, or its two seal entries) and
    32 bits of data."""
    width = max(len(g) for g in groups)
    return data.StructLayout({"valid": 1, "unit": range(width + SEAL_BEATS), "data": 32})


def port_layout(groups) -> data.ArrayLayout:
    """A beat of a port whose lanes serve *groups*: a write per lane (``lane_layout``)."""
    return data.ArrayLayout(lane_layout(groups), len(groups))


def config_port_layout(cfg: ArrayConfig) -> data.ArrayLayout:
    """A configuration-port beat of the array of *cfg*."""
    return port_layout(config_groups(cfg))


def lane_checksum(entries) -> int:
    """The check of a lane's writes ((local index, word) in order): CRC-32 (zlib's) of each write as 4
    bytes of data and 2 of local index, little-endian."""
    return zlib.crc32(b"".join(word.to_bytes(4, "little") + local.to_bytes(2, "little") for local, word in entries))


def crc32_step(state: list, data_bits: list, index_bits: list, xor) -> list:
    """One write's update of the checksum register (zlib's CRC-32 before its final inversion), bit by
    bit, over any values with *xor*: the RTL passes signals to build the update as logic, a test passes
    ints. *state* 32 bits, *data_bits* 32, *index_bits* 16, least significant first."""
    crc = list(state)
    for byte in [data_bits[8 * i:8 * i + 8] for i in range(4)] + [index_bits[:8], index_bits[8:16]]:
        for bit in byte:
            low = xor(crc[0], bit)
            crc = [xor(crc[i + 1], low) if (0xEDB88320 >> i) & 1 else crc[i + 1] for i in range(31)] + [low]
    return crc


def config_port_writes(cfg: ArrayConfig, words: dict, previous: dict | None = None,
                       whole: bool = False) -> list[tuple[int, int]]:
    """The configuration-port writes, (unit index in ``configuration_units``, 32-bit word), that take the
    shadow registers from *previous* ({Address: word}; None: the zeros they hold after reset) to
    *words*: every unit whose word differs (with *whole*: every unit, as the load after a refused swap
    must be), written whole as ceil(bits / 32) words, the most significant first (each word shifts in
    from below; rtl/config_port.py)."""
    previous = previous or {}
    writes = []
    for unit, address in enumerate(configuration_units(cfg)):
        word = words.get(address, 0)
        if whole or word != previous.get(address, 0):
            chunks = unit_words(cfg, address)
            writes += [(unit, (word >> (32 * j)) & 0xFFFFFFFF) for j in reversed(range(chunks))]
    return writes


def config_beats(cfg: ArrayConfig, writes: list[tuple[int, int]]) -> list[int]:
    """The configuration-port beats (payload bits) of a load of *writes* ((unit, word) in port order,
    ``config_port_writes``) into the array of *cfg* (``port_beats``)."""
    return port_beats(config_groups(cfg), writes)


def port_beats(groups, writes: list[tuple[int, int]]) -> list[int]:
    """The beats of a load of *writes* on a port whose lanes serve *groups*: each lane writes its
    units' words in their order, the lanes in parallel, then the seal (every lane's count, then its
    check) in the last ``SEAL_BEATS`` beats. A load takes as many beats as its busiest lane has words,
    plus ``SEAL_BEATS``."""
    lane_of = {u: (k, j) for k, group in enumerate(groups) for j, u in enumerate(group)}
    queues = [[] for _ in groups]
    for unit, word in writes:
        lane, local = lane_of[unit]
        queues[lane].append((local, word))
    layout = port_layout(groups)
    lane_bits = layout.elem_shape.size
    unit_at, data_at = layout.elem_shape["unit"].offset, layout.elem_shape["data"].offset

    def beat(entries):
        return sum((1 | local << unit_at | word << data_at) << (k * lane_bits)
                   for k, (local, word) in entries.items())

    busiest = max(len(q) for q in queues)
    beats = [beat({k: q[t] for k, q in enumerate(queues) if t < len(q)}) for t in range(busiest)]
    beats.append(beat({k: (len(groups[k]), len(q)) for k, q in enumerate(queues)}))
    beats.append(beat({k: (len(groups[k]) + 1, lane_checksum(q)) for k, q in enumerate(queues)}))
    return beats


def describe_refusal(refused: int, lanes: int) -> str:
    """The port's ``refused`` and ``refused_lanes`` registers in words."""
    reasons = [text for k, (_, text) in enumerate(SWAP_REFUSALS) if refused >> k & 1]
    where = [k for k in range(lanes.bit_length()) if lanes >> k & 1]
    return "; ".join(reasons) + (f" (lanes {', '.join(map(str, where))})" if where else "")
