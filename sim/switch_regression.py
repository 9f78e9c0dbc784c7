"""Switch-grid regressions: random routes through a grid of switches (each route from a local input of
one switch to local outputs of others, along free tracks; mapper/backend/route.py), random traffic with random
gaps and back-pressure, and a scoreboard: every destination receives exactly its source's words, in
order.
"""

from __future__ import annotations

import numpy as np

from rdagen.mapper.backend.route import GridRouter, Route
from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.switch_layout import SwitchConfigError, networks
from rdagen.verif.coverage.switch import sample_selects

from .streams import compare, cycle_budget, pack, run_stream_cases, unpack
from .tops import SWITCH_LOCAL, grid_top
from .verilog import generate

__all__ = ["run_grid_traffic", "random_routes"]


def random_routes(cfg: ArrayConfig, rng: np.random.Generator, count: int, multicast: float = 0.2,
                  network: str = "vector"):
    """Up to *count* random routes on *network* that fit together (sources and sinks distinct local
    ports); a *multicast* share of them go to 2 to 4 sinks."""
    tracks = networks(cfg)[network].tracks
    router = GridRouter(cfg.rows, cfg.cols, tracks, SWITCH_LOCAL, SWITCH_LOCAL)
    ports = [(r, c, k) for r in range(cfg.rows) for c in range(cfg.cols) for k in range(SWITCH_LOCAL)]
    sources = [ports[i] for i in rng.permutation(len(ports))]
    sinks = [ports[i] for i in rng.permutation(len(ports))]
    routes = []
    for source in sources[:count]:
        fanout = int(rng.integers(2, 5)) if rng.random() < multicast else 1
        want = tuple(sinks[:fanout])
        if len(want) < fanout:
            break
        route = Route(source, want)
        try:
            router.add(route)
        except SwitchConfigError:
            continue  # the grid is full along the way; another source may still fit
        sinks = sinks[fanout:]
        routes.append(route)
    return routes, router


def run_grid_traffic(cfg: ArrayConfig, cases, *, tag: str = "switch", coverage: str | None = None,
                     network: str = "vector") -> list[dict]:
    """Each case: (name, routes, router, words per route, gap, stall, seed), on a grid of *network*'s
    switches. Returns per case the problems found by the scoreboard and the cycles taken. With
    *coverage* (a scope), the routing of every case that passed is sampled into the switches'
    functional coverage (verif/coverage/switch.py)."""
    gen = generate(grid_top(network), cfg)
    width = networks(cfg)[network].width
    lanes = max(1, width // 32)  # words of a transfer: the vector's lanes, or one word (of 32 bits or fewer)
    mask = (1 << min(width, 32)) - 1
    jobs, expected = [], []
    for name, routes, router, n, gap, stall, seed in cases:
        rng = np.random.default_rng(seed)
        data = {route.source: (rng.integers(0, 2**32, (n, lanes), dtype=np.uint64) & mask).astype(np.uint32)
                for route in routes}
        port = lambda kind, r, c, k: f"{kind}__{r}__{c}__{k}"  # noqa: E731
        sinks = [(sink, route.source) for route in routes for sink in route.sinks]
        jobs.append({
            "name": name, "seed": seed, "config": str(router.configuration()), "gap": gap, "stall": stall,
            "sources": {port("local_in", *route.source): pack(data[route.source]) for route in routes},
            "sinks": [port("local_out", *sink) for sink, _ in sinks], "expect": [n] * len(sinks),
            "drain": 16, "budget": cycle_budget(4 * n, gap, stall, 2 * (cfg.rows + cfg.cols)),
        })
        expected.append([(port("local_out", *sink), data[source]) for sink, source in sinks])
    records = run_stream_cases(gen, jobs, tag=tag)
    results = []
    for job, want, got, case in zip(jobs, expected, records, cases):
        problems = [f"did not finish in {got['cycles']} cycles"] if got["timed_out"] else []
        for sink, words in want:
            problems += compare(sink, unpack(got["outputs"][sink], lanes), words)
        results.append({"name": job["name"], "routes": len(job["sources"]), "sinks": len(want),
                        "cycles": got["cycles"], "first_out": got["first_out"], "last_out": got["last_out"],
                        "problems": problems})
        if coverage is not None and not problems:
            sample_selects(network, case[2].select, job["stall"] > 0, coverage)
    return results
