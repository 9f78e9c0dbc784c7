"""Functional coverage of the AG regressions (sim/ag_regression.py), sampled per burst the RTL put on
the AXI channels in every case that matched the golden model:

* ``request_cut``: request (contiguous read, gather, write) x why the burst ends: at 256 beats, at a
  4 KB boundary (its request goes on), at the end of its request.
* ``request_depth``: request x bursts of its channel in flight as it is issued (itself included): one,
  several, all (MAX_OUTSTANDING).
* ``request_pause``: request x whether the DRAM paused that request's channels (AR/R; AW/W/B).
* ``request_response``: request x the DRAM's answer to the burst: okay, or an error (SLVERR/DECERR) on
  a beat of it.
"""

from __future__ import annotations

from rdagen.rtl.spec.ag_layout import MAX_OUTSTANDING, beat_bytes, max_burst_beats
from rdagen.rtl.spec.config import ArrayConfig

from .group import Group

__all__ = ["ag_group", "sample_ag", "cut_reason"]

REQUESTS = ("read", "gather", "write")
CUTS = ("256_beats", "4kb", "end_of_request")
DEPTHS = ("one", "several", "all")

_GROUP = Group("ag", {"request": REQUESTS, "cut": CUTS, "depth": DEPTHS, "pause": ("none", "paused"),
                     "response": ("okay", "error")},
               {"request_cut": ("request", "cut"), "request_depth": ("request", "depth"),
                "request_pause": ("request", "pause"), "request_response": ("request", "response")})


def ag_group() -> Group:
    return _GROUP


def cut_reason(cfg: ArrayConfig, address: int, beats: int, requests: list[tuple[int, int]]) -> str:
    """Why the burst of *beats* at byte *address* ends: at the burst limit, at a 4 KB boundary that a
    request (word address, words) of *requests* crosses, or where its requests end."""
    if beats == max_burst_beats(cfg):
        return "256_beats"
    end = address + beats * beat_bytes(cfg)  # the byte after the burst
    word = end // 4
    if end % 4096 == 0 and any(a < word < a + n for a, n in requests):  # the words either side: one request
        return "4kb"
    return "end_of_request"


def _depth(n: int) -> str:
    return "one" if n <= 1 else "all" if n >= MAX_OUTSTANDING else "several"


def sample_ag(cfg: ArrayConfig, case, result, scope: str) -> None:
    """Samples every burst of one checked case (sim/ag_regression.py ``AgCase`` and ``AgCaseResult``)."""
    read = [(a, n) for a, n, ok in result.golden.requests if ok and n]
    write = [(int(a), int(n)) for a, n in case.write_commands if n]
    channels = (("gather" if case.program.mode == "gather" else "read", result.bursts, result.read_depth, read,
                 case.ar_pause or case.r_pause),
                ("write", result.write_bursts, result.write_depth, write, case.aw_pause or case.w_pause or case.b_pause))
    for request, bursts, depths, requests, paused in channels:
        seen = set()
        for (address, beats), depth in zip(bursts, depths):
            first = address // beat_bytes(cfg)
            failed = any(b in case.failed_beats for b in range(first, first + beats))
            event = (cut_reason(cfg, address, beats, requests), _depth(depth), "error" if failed else "okay")
            if event not in seen:
                seen.add(event)
                _GROUP.sample(scope, request=request, cut=event[0], depth=event[1], response=event[2],
                              pause="paused" if paused else "none")
