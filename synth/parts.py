"""A unit's hierarchical Verilog reduced to its parts: modules that are the same part (one functional
unit of a stage lane, one reduction-tree node, one lane's glue, one FIFO, ...) share one definition,
so a hierarchical synthesis synthesizes each part once and counts it once per instance.

Amaranth writes every instance as a module of its own, and a hierarchical synthesis (``synth``
without ``-flatten``) synthesizes each, so its time grows with the instance count: the plasticine PCU
has 1,039 modules (2,915 s). Most are copies: the lanes' functional units are the same text but for
their names; lanes differ only by the seed constant of their stochastic rounding (a few cells of
~900). Modules are taken as the same part when they have

- the same name once every digit run is replaced (``stage3_lane7`` and ``stage4_lane2`` are both
  ``stage#_lane#``): the same place in the design,
- the same port list and port declarations (names and widths), so an instance of one can
  instantiate the other unchanged, and
- the same parts as submodules, instance by instance;

the first in the file stands for all. Since a hierarchical synthesis optimizes no path across a
module boundary, the result differs from the full synthesis only by what the members of a part differ
in (their constants); ``explore/area.py`` measures that error on the ``small`` and ``medium`` units
(docs/sweep.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Parts", "reduce_to_parts"]

_MODULE = re.compile(r"^module (\S+) ?\((.*?)^endmodule\n", re.S | re.M)
_INSTANCE = re.compile(r"^  (\S+)( +(\S+) +\()$", re.M)  # type, then " name (" as written
_PORT = re.compile(r"^  (?:input|output|inout)\b.*$", re.M)


@dataclass(frozen=True)
class Parts:
    """The reduced Verilog, the module count before and after, and each kept module's stand-ins."""

    verilog: str
    modules: int
    parts: int
    members: dict[str, int]  # kept module -> how many modules of the original it stands for


def reduce_to_parts(verilog: str, top: str) -> Parts:
    """*verilog* (Yosys's ``write_verilog`` of an Amaranth design) with each part defined once."""
    bodies = {name: body for name, body in _MODULE.findall(verilog)}
    if top not in bodies:
        raise ValueError(f"no module {top} in the Verilog")
    keys: dict[str, tuple] = {}

    def key(name: str) -> tuple:
        if name not in keys:
            body = bodies[name]
            header = body.split(";", 1)[0]
            children = tuple(sorted((re.sub(r"\d+", "#", inst), key(kind))
                                    for kind, _, inst in _INSTANCE.findall(body) if kind in bodies))
            keys[name] = (re.sub(r"\d+", "#", name), header, tuple(_PORT.findall(body)), children)
        return keys[name]

    key(top)
    stand_in: dict[str, str] = {}
    first: dict[tuple, str] = {}
    for name in bodies:
        if name in keys:  # modules the top does not reach are dropped
            stand_in[name] = first.setdefault(keys[name], name)
    kept = [name for name in bodies if stand_in.get(name) == name]

    def rewrite(match: re.Match) -> str:  # the spaces after the type end an escaped name too
        return f"  {stand_in.get(match[1], match[1])}{match[2]}"

    modules = "".join(f"module {name} ({_INSTANCE.sub(rewrite, bodies[name])}endmodule\n" for name in kept)
    members = {name: sum(1 for s in stand_in.values() if s == name) for name in kept}
    return Parts(verilog=modules, modules=len(stand_in), parts=len(kept), members=members)
