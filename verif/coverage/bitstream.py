"""Functional coverage of the bitstream loader: every refusal reason (rtl/spec/bitstream.py ``REFUSALS``),
sampled when a damaged bitstream of the refusal regression (verif/bitstream_damage.py) is refused.
A reason a configuration cannot produce (no unit with spare payload bits, no tied-off switch port) is
listed unreachable for it."""

from __future__ import annotations

from rdagen.rtl.spec.bitstream import REFUSALS
from rdagen.rtl.spec.config import ArrayConfig
from rdagen.verif.bitstream_damage import unproducible

from .group import Group

__all__ = ["bitstream_group", "sample_refusal"]

_GROUPS: dict[str, Group] = {}


def bitstream_group(cfg: ArrayConfig) -> Group:
    """The group for *cfg* (whose array decides which refusals a bitstream can earn)."""
    if cfg.name not in _GROUPS:
        _GROUPS[cfg.name] = Group("bitstream", {"refusal": tuple(REFUSALS)}, {},
                                  {("refusal", reason): why for reason, why in unproducible(cfg).items()})
    return _GROUPS[cfg.name]


def sample_refusal(cfg: ArrayConfig, reason: str, scope: str) -> None:
    bitstream_group(cfg).sample(scope, refusal=reason)
