"""AG/CU configuration and stream formats: the layout that the RTL (rtl/ag/) decodes, the golden model
(verif/golden/ag.py) interprets and the mapper encodes, with a validating encoder.

This is a *spec* module (no implementation).

Semantics (the contract of rtl/ag/ and verif/golden/ag.py)
-------------------------------------------------------------
DRAM is addressed in 32-bit words; word w is at byte address 4w on the AXI4 bus, whose data bus is one
vector (``lanes`` words) wide, so a beat carries the words [L*b, L*b + L) of beat address b.

The AG turns *requests* into vectors, in request order. A request is a word address and a length:
* ``read`` mode: each command ``(base, length)`` on ``cmd`` is a request;
* ``gather`` mode: each index i on ``idx`` is a request for row i of the table:
  ``(table_base + i * row_words, row_words)``.
A request of n words gives ceil(n / lanes) vectors: its words in order, ``lanes`` per vector, the last
vector padded with zeros. A request of 0 words gives nothing.

Bad requests: an index not below ``rows``, or a command whose words run past the 2^32-word address
space, is never read: it gives the vectors of its length as zeros and adds one to ``errors``.

Writes (independent of the mode): each command ``(base, length)`` on ``wcmd`` takes ceil(length /
lanes) vectors from ``wdata`` and writes their first ``length`` words to words base .. base + length - 1
(padding words are not written: byte strobes cover exactly the command's words). A command that runs
past the address space takes its vectors, writes nothing and adds one to ``errors``. Reads and writes
are not ordered against each other.

DRAM errors: a read beat that the DRAM answers with SLVERR or DECERR gives zeros for every word it
carries (its data is never passed on as good data) and adds one to ``errors``; every write response
of SLVERR or DECERR adds one to ``errors``. Both are counted per AXI response (per beat on R, per
burst on B), so with coalescing the count depends on how the bursts were formed.

Bursts (the coalescing unit): the beats of a request are read with AXI4 INCR bursts of at most 256
beats that never cross a 4 KB boundary, with up to ``MAX_OUTSTANDING`` bursts in flight in each direction. A request
that begins on a beat boundary right after one that ended on a beat boundary and is waiting when the
burst is formed joins the same burst (consecutive embedding rows, back-to-back commands). Words a
burst brings beyond a request (unaligned starts and ends) are dropped.
"""

from __future__ import annotations

import dataclasses

from amaranth import unsigned
from amaranth.lib import data, enum

from .config import ArrayConfig
from .layout_fields import check_round_trip, fields_of

__all__ = ["AgMode", "ag_layout", "COMMAND", "AgProgram", "AgConfigError", "decode", "MAX_OUTSTANDING",
           "ROW_WORDS_BITS", "axi_size", "beat_bytes", "max_burst_beats", "program_of", "check"]

MAX_OUTSTANDING = 16
"""AXI read bursts in flight at most."""

ROW_WORDS_BITS = 16

COMMAND = data.StructLayout({"base": 32, "length": 32})
"""A read command (``read`` mode) or a write command: word address and length in words."""


class AgMode(enum.Enum, shape=unsigned(1)):
    READ = 0
    GATHER = 1


def ag_layout(cfg: ArrayConfig) -> data.StructLayout:
    return data.StructLayout({"mode": AgMode, "table_base": 32, "row_words": ROW_WORDS_BITS, "rows": 32})


def beat_bytes(cfg: ArrayConfig) -> int:
    return 4 * cfg.lanes


def axi_size(cfg: ArrayConfig) -> int:
    """AxSIZE of every burst: log2 of the beat's bytes (one vector per beat). ArrayConfig caps ``lanes``
    at 32, so the data bus is at most AXI4's 1024 bits and AxSIZE at most 7 (the 3-bit field's 0b111)."""
    size = (beat_bytes(cfg) - 1).bit_length()
    assert 2**size == beat_bytes(cfg) <= 128, cfg
    return size


def max_burst_beats(cfg: ArrayConfig) -> int:
    """The longest burst: 256 beats (AXI4 INCR), or fewer when 256 beats would span more than 4 KB."""
    return min(256, 4096 // beat_bytes(cfg))


class AgConfigError(ValueError):
    """An invalid AG configuration; the message names the field."""


@dataclasses.dataclass(frozen=True)
class AgProgram:
    """An AG configuration by named fields: ``mode`` "read" or "gather"; for gathers the table's word
    address, row length in words and number of rows."""
    mode: str = "read"
    table_base: int = 0
    row_words: int = 1
    rows: int = 1

    def validate(self, cfg: ArrayConfig) -> None:
        def fail(field, message):
            raise AgConfigError(f"AG field '{field}': {message}")
        if self.mode not in ("read", "gather"):
            fail("mode", f"unknown mode {self.mode!r}; valid: read, gather")
        for field, lo, hi in (("table_base", 0, 2**32 - 1), ("row_words", 1, 2**ROW_WORDS_BITS - 1),
                              ("rows", 1, 2**32 - 1)):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
                fail(field, f"{value!r} is not an integer in [{lo}, {hi}]")
        if self.table_base + self.rows * self.row_words > 2**32:
            fail("rows", f"{self.rows} rows of {self.row_words} words from word {self.table_base} run past the "
                         f"2^32-word address space")

    def encode(self, cfg: ArrayConfig) -> int:
        self.validate(cfg)
        return ag_layout(cfg).const({"mode": AgMode[self.mode.upper()], "table_base": self.table_base,
                                     "row_words": self.row_words, "rows": self.rows}).as_bits()


def decode(cfg: ArrayConfig, bits: int) -> data.Const:
    layout = ag_layout(cfg)
    if not isinstance(bits, int) or not 0 <= bits < 2**layout.size:
        raise AgConfigError(f"an AG configuration of {cfg.name} is a {layout.size}-bit word, got {bits!r}")
    return layout.from_bits(bits)


def program_of(cfg: ArrayConfig, bits: int) -> AgProgram:
    """The named-field program of configuration word *bits* (not validated: see ``check``)."""
    f = fields_of(ag_layout(cfg), decode(cfg, bits).as_bits())
    return AgProgram(AgMode(f["mode"]).name.lower(), f["table_base"], f["row_words"], f["rows"])


def check(cfg: ArrayConfig, bits: int) -> None:
    """Refuses (AgConfigError naming the field) a configuration word that the encoder would not write."""
    program = program_of(cfg, bits)
    program.validate(cfg)

    def fail(field, message):
        raise AgConfigError(f"AG field '{field}': {message}")
    check_round_trip(ag_layout(cfg), bits, program.encode(cfg), fail)
