"""Switch configuration: the networks of an ArrayConfig and the layout of one switch's routing.

This is a *spec* module (no implementation): the RTL (rtl/switch.py), the golden models and the mapper
read it.

Semantics (the contract of rtl/switch.py)
-----------------------------------------
A switch of a network has ``tracks`` links per direction (north, east, south, west) in and out, plus
``local_in`` links from the units beside it and ``local_out`` links to them. Every output (directions
first, in that order, each by track; then the local outputs) selects one input by configuration: 0 is
off, 1 + k is input k (directions first, in the same order, then the local inputs). An input that feeds
several outputs (multicast) moves a word when every one of them has room, so each gets every word once.
An input that feeds no output is never taken. Each output is registered (a two-entry FIFO): one cycle
per hop and one word per cycle per output; nothing is lost, duplicated or reordered under back-pressure.
"""

from __future__ import annotations

import dataclasses

from amaranth import Shape
from amaranth.lib import data

from .config import WORD_BITS, ArrayConfig

__all__ = ["DIRECTIONS", "OPPOSITE", "STEP", "Network", "networks", "switch_layout", "SwitchConfigError", "port_index", "selects"]

DIRECTIONS = ("north", "east", "south", "west")
OPPOSITE = {"north": "south", "south": "north", "east": "west", "west": "east"}
STEP = {"north": (-1, 0), "east": (0, 1), "south": (1, 0), "west": (0, -1)}
"""(row, col) offset of the neighbour in each direction."""


@dataclasses.dataclass(frozen=True)
class Network:
    name: str
    width: int  # bits of a link
    tracks: int  # links per direction


def networks(cfg: ArrayConfig) -> dict[str, Network]:
    """The three statically configured networks of *cfg*: vector, scalar and control."""
    return {n.name: n for n in (Network("vector", WORD_BITS * cfg.lanes, cfg.vector_tracks),
                                Network("scalar", WORD_BITS, cfg.scalar_tracks),
                                Network("control", 1, cfg.control_tracks))}


class SwitchConfigError(ValueError):
    """An invalid switch configuration or route; the message names the switch, port or route."""


def switch_layout(tracks: int, local_in: int, local_out: int) -> data.ArrayLayout:
    """One select per output: ``4 * tracks`` direction outputs, then ``local_out`` local outputs."""
    inputs = 4 * tracks + local_in
    return data.ArrayLayout(range(inputs + 1), 4 * tracks + local_out)


def selects(word: int, tracks: int, local_in: int, local_out: int) -> dict[int, int]:
    """The outputs a switch configuration *word* (``switch_layout``) drives: {output: the input it
    selects}, by port index (``port_index``); an output that selects nothing (0) is left out."""
    layout = switch_layout(tracks, local_in, local_out)
    width = Shape.cast(layout.elem_shape).width
    chosen = {out: (word >> (out * width)) & ((1 << width) - 1) for out in range(layout.length)}
    return {out: value - 1 for out, value in chosen.items() if value}


def port_index(tracks: int, direction: str | None, index: int) -> int:
    """Index of a port among a switch's inputs (or outputs): direction ports by track, then local ports
    (*direction* None)."""
    if direction is None:
        return 4 * tracks + index
    if direction not in DIRECTIONS:
        raise SwitchConfigError(f"unknown direction {direction!r}; valid: {', '.join(DIRECTIONS)}")
    if not 0 <= index < tracks:
        raise SwitchConfigError(f"track {index} does not exist (the network has {tracks} per direction)")
    return DIRECTIONS.index(direction) * tracks + index
