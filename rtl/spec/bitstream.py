"""The bitstream: a versioned binary container of unit and switch configurations, encoded and decoded
here from the units' layouts. This is a *spec* module: the mapper writes it, the loaders and the golden
array model read it.

Format (all integers little-endian)::

    header   magic b"RDAG" | version u16 | reserved u16 (0) | ArrayConfig hash, 8 bytes | records u32
    record   kind u8 | network u8 | row u8 | col u8 | payload bytes u32 | payload
    trailer  CRC-32 (zlib) of everything before it, u32

A record's payload is its unit's configuration word (``layout.size`` bits) in ceil(size / 8) bytes;
the bits above ``size`` must be zero. A unit appears at most once; absent units are unconfigured
(all zeros). The CRC makes every single-bit error and every truncation detectable, so a damaged
bitstream is refused rather than loaded.
"""

from __future__ import annotations

import dataclasses
import enum
import struct
import zlib

from .config import ArrayConfig

__all__ = ["MAGIC", "VERSION", "HISTORY", "Kind", "Address", "BitstreamError", "REFUSALS", "Plan", "encode", "decode", "NETWORKS"]

MAGIC = b"RDAG"
VERSION = 2
HISTORY = {1: "PCU layout without the systolic mode",
           2: "PCU stages with a broadcast lane, the weights block and the bvin/wgt operands (systolic mode)"}
"""What each format version holds: a bitstream of another version is refused naming what changed."""
_HEADER = struct.Struct("<4sHH8sI")
_RECORD = struct.Struct("<BBBBI")
_CRC = struct.Struct("<I")


class Kind(enum.IntEnum):
    PCU = 1
    PMU = 2
    AG = 3
    SWITCH = 4


NETWORKS = ("vector", "scalar", "control")


@dataclasses.dataclass(frozen=True, order=True)
class Address:
    kind: Kind
    row: int
    col: int
    network: str = ""  # switches only

    def __str__(self):
        net = f" ({self.network})" if self.network else ""
        return f"{self.kind.name.lower()}{net} at ({self.row}, {self.col})"


REFUSALS = {
    "not_bytes": "the bitstream is not bytes",
    "truncated": "shorter than its header, or a record runs past the end",
    "magic": "not an rdagen bitstream",
    "version": "a format version this loader does not read",
    "config_hash": "made for another ArrayConfig",
    "crc": "damaged: the CRC does not match",
    "reserved": "a reserved header field is set",
    "unit_kind": "a record's unit kind or network is unknown",
    "network_on_unit": "a network given for a unit that is not a switch",
    "unknown_address": "a unit address outside the array",
    "payload_length": "a record's payload is not its unit's size",
    "high_bits": "bits set above a unit's configuration bits",
    "duplicate": "a unit configured twice",
    "trailing_bytes": "bytes after the last record",
    "word_range": "a configuration word that does not fit its unit (encoding)",
    "unit_field": "a unit word its encoder would not write (rtl/spec/array_layout.py check_units)",
    "select_range": "a switch select that names no input or a tied-off local input",
    "beyond_edge": "a switch select of an input beyond the array's edge",
    "undriven_input": "a switch select of an input that no route drives",
    "unconsumed_output": "a selected switch output that no switch takes",
    "tied_off_output": "a selected switch output whose local port is tied off",
    "select_loop": "a loop of switch selects that no unit feeds",
}
"""Every reason a bitstream is refused (``BitstreamError.reason``), with what it means."""


class BitstreamError(ValueError):
    """A bitstream that cannot be loaded; the message says what is wrong and where, ``reason`` (a key
    of REFUSALS) which rule it breaks."""

    def __init__(self, message: str, reason: str):
        if reason not in REFUSALS:
            raise ValueError(f"unknown refusal reason {reason!r}")
        super().__init__(message)
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class Plan:
    """The configurable units of one array: each address with its configuration size in bits
    (rtl/spec/array_layout.py ``plan`` builds the array's)."""
    cfg: ArrayConfig
    units: dict  # Address -> bits

    def bits(self, address: Address) -> int:
        try:
            return self.units[address]
        except KeyError:
            raise BitstreamError(f"unknown unit address: no {address} in the {self.cfg.rows}x{self.cfg.cols} "
                                 f"array of {self.cfg.name}", "unknown_address") from None


def _hash_bytes(cfg: ArrayConfig) -> bytes:
    return bytes.fromhex(cfg.hash)


def encode(plan: Plan, words: dict) -> bytes:
    """The bitstream of *words* ({Address: configuration word}) for *plan*."""
    body = bytearray(_HEADER.pack(MAGIC, VERSION, 0, _hash_bytes(plan.cfg), len(words)))
    for address in sorted(words):
        size = plan.bits(address)
        word = words[address]
        if not isinstance(word, int) or not 0 <= word < 2**size:
            raise BitstreamError(f"{address}: configuration {word!r} is not a {size}-bit word", "word_range")
        payload = word.to_bytes((size + 7) // 8, "little")
        network = NETWORKS.index(address.network) if address.kind == Kind.SWITCH else 0
        body += _RECORD.pack(address.kind, network, address.row, address.col, len(payload)) + payload
    return bytes(body + _CRC.pack(zlib.crc32(body)))


def decode(plan: Plan, data: bytes) -> dict:
    """The configuration words of a bitstream, checked against *plan*: {Address: word}."""
    if not isinstance(data, (bytes, bytearray)):
        raise BitstreamError(f"a bitstream is bytes, got {type(data).__name__}", "not_bytes")
    if len(data) < _HEADER.size + _CRC.size:
        raise BitstreamError(f"truncated bitstream: {len(data)} bytes, a header and CRC alone take "
                             f"{_HEADER.size + _CRC.size}", "truncated")
    magic, version, reserved, config_hash, count = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise BitstreamError(f"bad magic {magic!r}: not an rdagen bitstream (expected {MAGIC!r})", "magic")
    if version != VERSION:
        made = f" ({HISTORY[version]})" if version in HISTORY else ""
        raise BitstreamError(f"bitstream version {version}{made} is not supported: this loader reads version "
                             f"{VERSION} ({HISTORY[VERSION]}); map the graph again to rebuild it", "version")
    if config_hash != _hash_bytes(plan.cfg):
        raise BitstreamError(f"bitstream made for ArrayConfig hash {config_hash.hex()}, this array is "
                             f"{plan.cfg.name} with hash {plan.cfg.hash}", "config_hash")
    (crc,) = _CRC.unpack_from(data, len(data) - _CRC.size)
    if zlib.crc32(data[:-_CRC.size]) != crc:
        raise BitstreamError(f"CRC mismatch: the bitstream is damaged or truncated ({len(data)} bytes)", "crc")
    if reserved:
        raise BitstreamError(f"reserved header field is {reserved}, must be 0", "reserved")
    words, at, end = {}, _HEADER.size, len(data) - _CRC.size
    for n in range(count):
        if at + _RECORD.size > end:
            raise BitstreamError(f"truncated bitstream: record {n} of {count} starts past the end", "truncated")
        kind, network, row, col, length = _RECORD.unpack_from(data, at)
        at += _RECORD.size
        try:
            address = Address(Kind(kind), row, col, NETWORKS[network] if kind == Kind.SWITCH else "")
        except (ValueError, IndexError):
            raise BitstreamError(f"record {n}: unknown unit kind {kind} or network {network}", "unit_kind") from None
        if kind != Kind.SWITCH and network:
            raise BitstreamError(f"record {n} ({address}): network {network} given for a unit that is not a switch", "network_on_unit")
        size = plan.bits(address)
        if length != (size + 7) // 8:
            raise BitstreamError(f"record {n} ({address}): payload of {length} bytes, the unit takes {(size + 7) // 8}", "payload_length")
        if at + length > end:
            raise BitstreamError(f"truncated bitstream: record {n} ({address}) runs past the end", "truncated")
        word = int.from_bytes(data[at: at + length], "little")
        at += length
        if word >> size:
            raise BitstreamError(f"record {n} ({address}): bits above the unit's {size} configuration bits are set", "high_bits")
        if address in words:
            raise BitstreamError(f"record {n}: {address} is configured twice", "duplicate")
        words[address] = word
    if at != end:
        raise BitstreamError(f"{end - at} bytes after the last of {count} records", "trailing_bytes")
    return words
