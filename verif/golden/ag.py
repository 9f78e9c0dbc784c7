"""Golden model of the AG: which words come back, in which order, and which requests are refused
(semantics: rtl/spec/ag_layout.py). DRAM is a sparse map of word address -> word (absent words are 0)."""

from __future__ import annotations

import dataclasses

import numpy as np

from rdagen.rtl.spec.layout_fields import plain_view
from rdagen.rtl.spec.ag_layout import AgMode, decode
from rdagen.rtl.spec.config import ArrayConfig

__all__ = ["AgResult", "requests", "run_ag", "run_ag_writes"]

U32 = np.uint32


@dataclasses.dataclass
class AgResult:
    vectors: np.ndarray  # (n, lanes) words, in request order
    errors: int
    requests: list[tuple[int, int, bool]]  # (word address, length, performed)


def requests(cfg: ArrayConfig, bits: int, commands, indices) -> list[tuple[int, int, bool]]:
    """The requests of a run: (word address, length in words, whether it is performed)."""
    c = plain_view(decode(cfg, bits))
    if AgMode(c.mode) == AgMode.GATHER:
        base, d, rows = int(c.table_base), int(c.row_words), int(c.rows)
        return [(base + int(i) * d, d, int(i) < rows) for i in indices]
    return [(int(b), int(n), int(b) + int(n) <= 2**32) for b, n in commands]


def run_ag(cfg: ArrayConfig, bits: int, memory: dict[int, int], commands=(), indices=(),
           failed_beats=frozenset()) -> AgResult:
    """The vectors that the reads of a run return from DRAM *memory* ({word address: word}). The DRAM
    answers reads of the beats in *failed_beats* (beat b holds words [lanes*b, lanes*b + lanes)) with an
    error: their words come back as zeros. ``errors`` counts the refused requests only, since the DRAM
    errors are counted per AXI response, which depends on how the RTL formed its bursts."""
    L = cfg.lanes
    reqs = requests(cfg, bits, commands, indices)
    out = []
    for address, length, ok in reqs:
        words = np.zeros(-(-length // L) * L, U32)
        if ok:
            words[:length] = [0 if w // L in failed_beats else memory.get(w, 0)
                              for w in range(address, address + length)]
        out.append(words.reshape(-1, L))
    vectors = np.concatenate(out) if out else np.zeros((0, L), U32)
    return AgResult(vectors, sum(not ok for *_, ok in reqs), reqs)


def run_ag_writes(cfg: ArrayConfig, memory: dict[int, int], commands, vectors, failed_beats=frozenset()) -> int:
    """Applies write *commands* ((base, length) in words) with their *vectors* ((n, lanes) words, taken
    in order) to *memory* ({word address: word}, updated in place); returns the refused commands. The
    DRAM refuses writes to the beats in *failed_beats*: their words keep their old values."""
    L = cfg.lanes
    vectors = np.asarray(vectors, U32).reshape(-1, L)
    at = refused = 0
    for base, length in commands:
        count = -(-int(length) // L)
        words = vectors[at: at + count].ravel()[: int(length)]
        at += count
        if int(base) + int(length) > 2**32:
            refused += 1
            continue
        for i, w in enumerate(words):
            if (int(base) + i) // L not in failed_beats:
                memory[int(base) + i] = int(w)
    if at != len(vectors):
        raise ValueError(f"the write commands take {at} vectors, {len(vectors)} were given")
    return refused
