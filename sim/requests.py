"""A stream of requests served by the array: each request's latency from its first input word in to
its last output, its wait before the array took it, and the stream's throughput.

The phases schedule holds one request's program on the array at a time: a request starts when it has
arrived and the one before has finished, and takes its service cycles (its run's cycles: the RTL's,
or the cost model's on a projection, the first configuration load included). Requests come back to
back (each the moment the array takes it: no wait) or at a fixed rate (request i at i x clock / rate
cycles), where a rate above what the array serves shows as waits that grow."""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

__all__ = ["RequestStats", "serve", "format_requests"]


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
    if not service:
        raise ValueError("no requests to serve")
    if rate is not None and rate <= 0:
        raise ValueError(f"request rate {rate}: must be > 0 per second")
    interval = 0.0 if rate is None else clock_ghz * 1e9 / rate
    arrivals, starts, finishes = [], [], []
    free = 0.0
    for i, cycles in enumerate(service):
        arrival = free if rate is None else i * interval
        start = max(arrival, free)
        free = start + cycles
        arrivals.append(arrival)
        starts.append(start)
        finishes.append(free)
    return RequestStats(tuple(arrivals), tuple(starts), tuple(finishes), rate)


def format_requests(stats: RequestStats, clock_ghz: float, source: str, *, what: str = "batch-1 requests",
                    output: str = "probability", per_s: str = "samples/s") -> str:
    """What a person reads: how the requests came, the latency percentiles and the throughput (*what*
    the requests are, the *output* that ends one, the unit of the throughput: one per request)."""
    us = 1 / (clock_ghz * 1e3)
    came = "back to back" if stats.rate is None else \
        f"at {stats.rate:,.0f} per second (longest wait for the array {max(stats.waits):,} cycles)"
    return (f"requests: {stats.count} {what} {came}, served one at a time (phases schedule; {source} "
            f"cycles): latency from first input in to {output} out p50 {stats.percentile(50):,} cycles "
            f"({stats.percentile(50) * us:.2f} us), p99 {stats.percentile(99):,} ({stats.percentile(99) * us:.2f} us), "
            f"max {max(stats.latencies):,} ({max(stats.latencies) * us:.2f} us); throughput "
            f"{stats.samples_per_s(clock_ghz):,.0f} {per_s}")
