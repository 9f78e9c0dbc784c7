"""Bitstreams that must be refused: one made to break each rule of the loader (rtl/spec/bitstream.py
``REFUSALS``: the container, the unit words, the switch selects), and random damage (bit flips,
truncations, header fields rewritten behind a valid CRC) of a valid bitstream. The refusal regression
(tests/test_bitstream.py, ``rdagen coverage``) loads each one with ``rtl/array_layout.load`` and
samples the reason it was refused (verif/coverage/bitstream.py).
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
from amaranth import Shape

from rdagen.rtl.spec.array_layout import load, local_counts, plan, switch_ports, unit_layout
from rdagen.rtl.spec.bitstream import Address, BitstreamError, Kind, encode
from rdagen.rtl.spec.config import ArrayConfig, preset
from rdagen.rtl.spec.switch_layout import networks, port_index, switch_layout

__all__ = ["directed_damage", "random_damage", "with_crc", "unproducible", "run_refusals"]

_HEADER = 20  # magic, version, reserved, hash, record count
_RECORD = 8  # kind, network, row, col, payload bytes


def with_crc(data) -> bytes:
    """*data* with its CRC trailer recomputed (to reach the checks behind the CRC)."""
    return bytes(data[:-4]) + zlib.crc32(bytes(data[:-4])).to_bytes(4, "little")


def _switch(cfg: ArrayConfig, network: str, at: tuple[int, int], selects: dict) -> tuple[Address, int]:
    """The address and word of switch *at* of *network* with *selects* {output: input + 1}."""
    layout = switch_layout(networks(cfg)[network].tracks, *local_counts(cfg, network))
    width = Shape.cast(layout.elem_shape).width
    return Address(Kind.SWITCH, *at, network), sum(v << (o * width) for o, v in selects.items())


def _tied_off_output(cfg: ArrayConfig):
    """(network, row, col, output index) of a local switch output that is tied off, or None."""
    for network in networks(cfg):
        tracks, (_, n_out) = networks(cfg)[network].tracks, local_counts(cfg, network)
        for r in range(cfg.rows):
            for c in range(cfg.cols):
                used = len(switch_ports(cfg, network, r, c)[1])
                if used < n_out:
                    return network, r, c, 4 * tracks + used
    return None


def _bad_select(cfg: ArrayConfig):
    """(network, row, col, select, what) of a select of local output 0 that names no input (a value
    beyond the inputs) or a tied-off local input, or None."""
    for network in networks(cfg):
        tracks, (n_in, n_out) = networks(cfg)[network].tracks, local_counts(cfg, network)
        if not n_out:
            continue
        width = Shape.cast(switch_layout(tracks, n_in, n_out).elem_shape).width
        if (1 << width) - 1 > 4 * tracks + n_in:
            return network, 0, 0, (1 << width) - 1, f"input {(1 << width) - 1}, beyond its {4 * tracks + n_in}"
        for r in range(cfg.rows):
            for c in range(cfg.cols):
                inputs, outputs = switch_ports(cfg, network, r, c)
                if len(inputs) < n_in and outputs:
                    return network, r, c, 4 * tracks + len(inputs) + 1, "a tied-off local input"
    return None


def _sizes(cfg: ArrayConfig) -> dict:
    return {a: unit_layout(cfg, a).size for a in (Address(Kind.PCU, 0, 0), Address(Kind.PMU, 0, 1),
                                                   Address(Kind.AG, 0, 0))}


def unproducible(cfg: ArrayConfig) -> dict[str, str]:
    """{reason: why} of the refusals no bitstream for *cfg* can earn."""
    out = {}
    if not any(size % 8 for size in _sizes(cfg).values()):
        out["high_bits"] = f"every unit of {cfg.name} fills its payload's bytes: no bits above its configuration"
    if _bad_select(cfg) is None:
        out["select_range"] = f"every select value of {cfg.name}'s switches names an input that exists"
    if _tied_off_output(cfg) is None:
        out["tied_off_output"] = f"every switch position of {cfg.name} uses all its local outputs"
    return out


def run_refusals(cfg: ArrayConfig, valid: bytes, rng: np.random.Generator, random: int,
                 sample=None) -> tuple[int, list[str]]:
    """Loads every directed damage for *cfg* and *random* random damages of *valid* (a bitstream that
    loads); each must be refused, a directed one for its reason. Calls *sample(reason)* for every
    refusal. Returns (refusals, problems)."""
    load(cfg, valid)  # the starting point must load, or the damage proves nothing
    problems, refused = [], 0
    damages = [(reason, what, data) for reason, what, data in directed_damage(cfg)]
    damages += [(None, what, data) for what, data in random_damage(valid, rng, random)]
    for reason, what, data in damages:
        try:
            load(cfg, data() if callable(data) else data)
        except BitstreamError as error:
            refused += 1
            if reason is not None and error.reason != reason:
                problems.append(f"{what}: refused for {error.reason} ({error}), not {reason}")
            elif sample is not None:
                sample(error.reason)
        else:
            problems.append(f"{what}: loaded; it must be refused" + (f" ({reason})" if reason else ""))
    return refused, problems


def directed_damage(cfg: ArrayConfig) -> list[tuple[str, str, object]]:
    """(reason it must be refused for, what was done, the bitstream, or a callable that encodes one)."""
    p = plan(cfg)
    pmu = Address(Kind.PMU, 0, 1)
    base = encode(p, {pmu: 0})  # an unconfigured PMU: loads
    t = networks(cfg)["vector"].tracks
    local0 = port_index(t, None, 0)
    north, east, south, west = (port_index(t, d, 0) + 1 for d in ("north", "east", "south", "west"))

    def header(offset: int, fmt: str, value) -> bytes:
        data = bytearray(base)
        struct.pack_into(fmt, data, offset, value)
        return with_crc(data)

    def record_field(offset: int, value: int) -> bytes:
        data = bytearray(base)
        data[_HEADER + offset] = value
        return with_crc(data)

    def words(*units) -> bytes:
        return encode(p, dict(units))

    sizes = _sizes(cfg)
    spare = next((a for a, size in sizes.items() if size % 8), None)
    other = next(c for c in ("tiny", "small", "medium") if preset(c).hash != cfg.hash)
    record = base[_HEADER:-4]
    cases = [
        ("not_bytes", "a str", "RDAG"),
        ("truncated", "the first 10 bytes", base[:10]),
        ("truncated", "one record more than given", header(16, "<I", 2)),
        ("truncated", "the last payload byte cut", with_crc(base[:-5] + base[-4:])),
        ("magic", "magic XDAG", b"XDAG" + base[4:]),
        ("version", "version 9", header(4, "<H", 9)),
        ("config_hash", f"made for {other}", base[:8] + encode(plan(preset(other)), {})[8:16] + base[16:]),
        ("crc", "one payload bit flipped", base[:-5] + bytes([base[-5] ^ 1]) + base[-4:]),
        ("reserved", "reserved field 1", header(6, "<H", 1)),
        ("unit_kind", "record kind 9", record_field(0, 9)),
        ("network_on_unit", "a PMU record with network 1", record_field(1, 1)),
        ("unknown_address", "a PMU at row 200", record_field(2, 200)),
        ("payload_length", "payload length one byte short", record_field(4, base[_HEADER + 4] - 1)),
        ("duplicate", "the record twice", with_crc(base[:16] + (2).to_bytes(4, "little") + record + record + base[-4:])),
        ("trailing_bytes", "three bytes after the records", with_crc(base[:-4] + b"\0\0\0" + base[-4:])),
        ("word_range", "a PMU word one bit too wide", lambda: words((pmu, 1 << sizes[pmu]))),
        ("unit_field", "a PCU word of all ones", lambda: words((Address(Kind.PCU, 0, 0),
                                                                 (1 << sizes[Address(Kind.PCU, 0, 0)]) - 1))),
        ("beyond_edge", "switch (0, 0) feeding a unit from its north input", lambda: words(
            _switch(cfg, "vector", (0, 0), {local0: north}))),
        ("undriven_input", "switch (1, 0) feeding a unit from a north input nothing drives", lambda: words(
            _switch(cfg, "vector", (1, 0), {local0: north}))),
        ("unconsumed_output", "switch (0, 0) sending east to a switch that does not take it", lambda: words(
            _switch(cfg, "vector", (0, 0), {east - 1: local0 + 1}))),
        ("select_loop", "four switches passing words around a ring", lambda: words(
            _switch(cfg, "vector", (0, 0), {east - 1: south}), _switch(cfg, "vector", (0, 1), {south - 1: west}),
            _switch(cfg, "vector", (1, 1), {west - 1: north}), _switch(cfg, "vector", (1, 0), {north - 1: east}))),
    ]
    if spare is not None:
        data = bytearray(encode(p, {spare: 0}))
        data[-5] |= 0x80  # the top bit of the last payload byte: above the unit's configuration bits
        cases.append(("high_bits", f"a bit above the {sizes[spare]} bits of {spare}", with_crc(data)))
    wrong = _bad_select(cfg)
    if wrong is not None:
        network, r, c, value, what = wrong
        cases.append(("select_range", f"switch ({r}, {c}) of the {network} network feeding a unit from {what}",
                      lambda: words(_switch(cfg, network, (r, c), {port_index(networks(cfg)[network].tracks, None, 0):
                                                                   value}))))
    tied = _tied_off_output(cfg)
    if tied is not None:
        network, r, c, output = tied
        tracks = networks(cfg)[network].tracks
        cases.append(("tied_off_output", f"switch ({r}, {c}) of the {network} network selecting its tied-off "
                      f"output {output}", lambda: words(_switch(cfg, network, (r, c), {output: tracks * 4 + 1}))))
    return cases


def random_damage(valid: bytes, rng: np.random.Generator, n: int) -> list[tuple[str, bytes]]:
    """*n* random damages of the bitstream *valid*: a bit flipped, a truncation, or a header byte or the
    first record's kind or payload length rewritten with the CRC recomputed. (Its network, row and col
    are left out: rewritten, they may name another unit that the same payload configures legally, a
    valid bitstream; the directed damages cover those fields.)"""
    rewritable = [i for i in range(min(len(valid) - 4, _HEADER + _RECORD)) if not _HEADER < i < _HEADER + 4]
    out = []
    for _ in range(n):
        data = bytearray(valid)
        kind = int(rng.integers(3))
        if kind == 0:
            i, b = int(rng.integers(len(data))), int(rng.integers(8))
            data[i] ^= 1 << b
            out.append((f"bit {b} of byte {i} flipped", bytes(data)))
        elif kind == 1:
            n_keep = int(rng.integers(len(data)))
            out.append((f"truncated to {n_keep} bytes", bytes(data[:n_keep])))
        else:
            i = rewritable[int(rng.integers(len(rewritable)))]
            value = int(rng.integers(256))
            if data[i] == value:
                value ^= 1
            data[i] = value
            out.append((f"byte {i} set to {value} behind a valid CRC", with_crc(data)))
    return out
