"""Reading a configuration word back into its fields, and checking that a word is one the unit's
validating encoder writes. This is a *spec* module (no implementation).

A decoded word is checked by the encoder's own rules: the unit's ``program_of`` turns the word into
the named-field program, the program's ``validate`` applies every rule, and re-encoding must give the
same word (so a field that the encoder always writes in one way, such as an unused counter's bounds,
cannot hide other bits).
"""

from __future__ import annotations

import enum
import types

from amaranth import Shape
from amaranth.lib import data

__all__ = ["fields_of", "plain_view", "signed32", "check_round_trip"]


def fields_of(layout, bits: int):
    """The fields of *bits* under *layout*, as nested dicts (struct), lists (array) and ints."""
    if isinstance(layout, data.ArrayLayout):
        return [fields_of(field.shape, bits >> field.offset) for _, field in layout]
    if isinstance(layout, data.Layout):
        return {name: fields_of(field.shape, bits >> field.offset) for name, field in layout}
    return bits & ((1 << Shape.cast(layout).width) - 1)


def _plain(layout, bits: int):
    if isinstance(layout, data.ArrayLayout):
        return [_plain(field.shape, bits >> field.offset) for _, field in layout]
    if isinstance(layout, data.Layout):
        return types.SimpleNamespace(**{name: _plain(field.shape, bits >> field.offset) for name, field in layout})
    value = bits & ((1 << Shape.cast(layout).width) - 1)
    if isinstance(layout, type) and issubclass(layout, enum.Enum):
        try:
            return layout(value)
        except ValueError:  # a code no member has: left as the number, as the view would
            return value
    return value


def plain_view(const: data.Const):
    """A decoded configuration (a ``data.Const`` view) as plain Python objects with the same field
    access (``.stages[0].op``, enum members for enum fields, ints elsewhere), read once: the golden
    models read their fields every firing, and an Amaranth view recomputes its layout on each access."""
    return _plain(const.shape(), const.as_bits())


def signed32(word: int) -> int:
    """A 32-bit word read as two's complement."""
    return word - (1 << 32) if word >> 31 else word


def _first_difference(path: str, have, want):
    if isinstance(want, dict):
        for key in want:
            found = _first_difference(f"{path}.{key}" if path else key, have[key], want[key])
            if found:
                return found
    elif isinstance(want, list):
        for i, (h, w) in enumerate(zip(have, want)):
            found = _first_difference(f"{path}[{i}]", h, w)
            if found:
                return found
    elif have != want:
        return path, have, want
    return None


def check_round_trip(layout, bits: int, encoded: int, fail) -> None:
    """Calls ``fail(field, message)`` when *bits* differs from *encoded*, the encoder's word for the
    same program, naming the first field that differs."""
    if bits != encoded:
        path, have, want = _first_difference("", fields_of(layout, bits), fields_of(layout, encoded))
        fail(path, f"holds {have}, where the encoder writes {want} for this configuration (a field that is "
                   f"unused or fixed by the others)")
