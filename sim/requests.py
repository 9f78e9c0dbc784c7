"""A stream of requests served by the array: each request's latency from its first input word in to
its last output, its wait before the array took it, and the stream's throughput.

A program that runs one request's phases at a time (the phases schedule, or a spatial one not
pipelined) serves one request after the other: a request starts when it has arrived and the one
before has finished, and takes its service cycles (its run's cycles: the RTL's,
or the cost model's on a projection, the first configuration load included). Requests come back to
back (each the moment the array takes it: no wait) or at a fixed rate (request i at i x clock / rate
cycles), where a rate above what the array serves shows as waits that grow.

A pipelined program (the spatial schedule, ``map_graph(..., pipelined=True)``) runs a request's phases beside the request
before's where they fit: its configurations compute for several requests, and ``timeline`` follows
them; ``serve`` is the case of one configuration run per request."""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

__all__ = ["RequestStats", "serve", "timeline", "repeat_steady", "format_requests"]


@dataclasses.dataclass(frozen=True)
class RequestStats:
    """Per request (in arrival order) its arrival, start (its first input word in) and finish (its last
    output) cycle; latencies run from start to finish; the percentiles are nearest rank (p99 of 10
    requests is the largest)."""
    arrivals: tuple[float, ...]
    starts: tuple[float, ...]
    finishes: tuple[float, ...]
    rate: float | None  # requests per second, None: back to back

    @property
    def count(self) -> int:
        return len(self.finishes)

    @property
    def latencies(self) -> tuple[int, ...]:
        return tuple(round(f - s) for s, f in zip(self.starts, self.finishes))

    @property
    def waits(self) -> tuple[int, ...]:
        """Cycles from each arrival to the array taking the request."""
        return tuple(math.ceil(s - a - 1e-9) for a, s in zip(self.arrivals, self.starts))

    def percentile(self, q: float) -> int:
        ordered = sorted(self.latencies)
        return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]

    @property
    def span_cycles(self) -> float:
        """From the first arrival to the last output."""
        return self.finishes[-1] - self.arrivals[0]

    def samples_per_s(self, clock_ghz: float, samples_per_request: int = 1) -> float:
        return self.count * samples_per_request / self.span_cycles * clock_ghz * 1e9

    def summary(self, clock_ghz: float) -> dict:
        """The ``requests`` block of ``rdagen dlrm --out``'s summary.json."""
        return {"count": self.count, "rate_per_s": self.rate, "p50_cycles": self.percentile(50),
                "p99_cycles": self.percentile(99), "max_cycles": max(self.latencies), "max_wait_cycles": max(self.waits),
                "samples_per_s": round(self.samples_per_s(clock_ghz), 1)}


def serve(service: Sequence[int], *, rate: float | None = None, clock_ghz: float = 1.0) -> RequestStats:
    """Requests of *service* cycles each, served one at a time in arrival order, coming back to back
    (*rate* None: each when the one before is done) or *rate* per second at *clock_ghz*."""
    return timeline(service, [(n,) for n in range(len(service))], rate=rate, clock_ghz=clock_ghz)


def timeline(cycles: Sequence[int], copies: Sequence[tuple[int, ...]], *, rate: float | None = None,
             clock_ghz: float = 1.0) -> RequestStats:
    """Requests through a program's configurations in order: configuration n takes *cycles*[n] and
    computes for the requests *copies*[n] (several where a pipelined program runs requests side by
    side). A configuration starts when the one before has finished and every request it starts has
    arrived (back to back with *rate* None: each request when the array takes it); a request's latency
    runs from the start of its first configuration to the end of its last."""
    if not cycles:
        raise ValueError("no requests to serve")
    if rate is not None and rate <= 0:
        raise ValueError(f"request rate {rate}: must be > 0 per second")
    count = 1 + max(c for group in copies for c in group)
    interval = 0.0 if rate is None else clock_ghz * 1e9 / rate
    starts, finishes = [None] * count, [0.0] * count
    free = 0.0
    for c, group in zip(cycles, copies):
        new = [k for k in group if starts[k] is None]
        start = max([free] + ([k * interval for k in new] if rate is not None else []))
        for k in new:
            starts[k] = start
        free = start + c
        for k in group:
            finishes[k] = free
    if any(s is None for s in starts):
        raise ValueError(f"request {starts.index(None)} is in no configuration")
    arrivals = tuple(starts) if rate is None else tuple(k * interval for k in range(count))
    return RequestStats(arrivals, tuple(starts), tuple(finishes), rate)


def repeat_steady(cycles: Sequence[int], copies: Sequence[tuple[int, ...]], count: int) -> tuple[list, list]:
    """A program of *count* requests from one of fewer (3 or more) whose configurations repeat from its
    second-to-last request on: the configurations from that request's first to the last request's
    first, repeated with the requests renumbered, before the last request's. (A projection: the
    cost model's program of a few requests, extended.)"""
    mapped = 1 + max(c for group in copies for c in group)
    if count <= mapped:
        return list(cycles), list(copies)
    if mapped < 3:
        raise ValueError(f"{mapped} requests in the program: the steady state needs 3 or more")
    first = [min(n for n, group in enumerate(copies) if k in group) for k in range(mapped)]
    head, block, tail = range(first[-2]), range(first[-2], first[-1]), range(first[-1], len(cycles))
    out_cycles, out_copies = [cycles[n] for n in head], [copies[n] for n in head]
    for shift in range(count - mapped + 1):
        out_cycles += [cycles[n] for n in block]
        out_copies += [tuple(c + shift for c in copies[n]) for n in block]
    out_cycles += [cycles[n] for n in tail]
    out_copies += [tuple(c + count - mapped for c in copies[n]) for n in tail]
    return out_cycles, out_copies


def format_requests(stats: RequestStats, clock_ghz: float, source: str, *, schedule: str = "spatial",
                    what: str = "batch-1 requests", output: str = "probability", per_s: str = "samples/s") -> str:
    """What a person reads: how the requests came, the latency percentiles and the throughput (*what*
    the requests are, the *output* that ends one, the unit of the throughput: one per request; the
    program's *schedule*, mapper/program.py SCHEDULES)."""
    us = 1 / (clock_ghz * 1e3)
    came = "back to back" if stats.rate is None else \
        f"at {stats.rate:,.0f} per second (longest wait for the array {max(stats.waits):,} cycles)"
    overlap = any(b < a for a, b in zip(stats.finishes, stats.starts[1:]))
    served = "pipelined, a request's phases beside the one before's" if overlap else "served one at a time"
    return (f"requests: {stats.count} {what} {came}, {served} ({schedule} schedule; {source} "
            f"cycles): latency from first input in to {output} out p50 {stats.percentile(50):,} cycles "
            f"({stats.percentile(50) * us:.2f} us), p99 {stats.percentile(99):,} ({stats.percentile(99) * us:.2f} us), "
            f"max {max(stats.latencies):,} ({max(stats.latencies) * us:.2f} us); throughput "
            f"{stats.samples_per_s(clock_ghz):,.0f} {per_s}")
