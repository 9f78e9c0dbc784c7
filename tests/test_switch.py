# amaranth: UnusedElaboratable=no
"""Switch fabric: random routes (unicast and multicast) through a grid of vector-network switches with
random traffic, gaps and back-pressure against a scoreboard (no loss, duplication or reorder); a
misrouted configuration is caught; one word per cycle per route; router and parameter errors.

Seeds are printed; rerun with ``pytest --seed N``.
"""

import pytest

from rdagen.rtl.spec.config import preset
from rdagen.rtl.hop_buffer import HopBuffer
from rdagen.rtl.switch import Switch
from rdagen.rtl.spec.switch_layout import DIRECTIONS, OPPOSITE, STEP, SwitchConfigError, port_index
from rdagen.mapper.backend.route import GridRouter, Route
from rdagen.sim.switch_regression import random_routes, run_grid_traffic

from .conftest import seeded_rng, test_seed

CONFIGS = ["small", "medium"]
ROUTINGS = 20


@pytest.mark.cocotb
@pytest.mark.parametrize("config", CONFIGS)
def test_random_routes_and_traffic(config, request):
    cfg = preset(config)
    rng = seeded_rng(request)
    cases = []
    for i in range(ROUTINGS):
        routes, router = random_routes(cfg, rng, int(rng.integers(2, 2 * cfg.rows * cfg.cols)))
        cases.append((f"routing{i}", routes, router, int(rng.integers(20, 120)), float(rng.choice([0, 0.3, 0.6])),
                      float(rng.choice([0, 0.3, 0.6])), int(rng.integers(2**31))))
    results = run_grid_traffic(cfg, cases, tag="switch-random")
    for r in results:
        print(f"  {r['name']:10} routes {r['routes']:3d} sinks {r['sinks']:3d} cycles {r['cycles']:5d} "
              f"{r['problems'] or 'ok'}")
    assert not [r for r in results if r["problems"]]
    assert sum(r["sinks"] > r["routes"] for r in results) > 0  # multicast happened
    assert sum(r["routes"] for r in results) > 5 * ROUTINGS


@pytest.mark.cocotb
def test_misrouting_is_caught(request):
    """Two routes end at the two local outputs of one switch; swapping those two selects delivers every
    word, each stream to the other's sink: the scoreboard must name both sinks with wrong values."""
    cfg = preset("small")
    first, second = Route((0, 0, 0), ((3, 3, 0),)), Route((0, 3, 0), ((3, 3, 1),))
    router = GridRouter(cfg.rows, cfg.cols, cfg.vector_tracks, 2, 2)
    router.add(first)
    router.add(second)
    out0, out1 = port_index(cfg.vector_tracks, None, 0), port_index(cfg.vector_tracks, None, 1)
    swapped = GridRouter(cfg.rows, cfg.cols, cfg.vector_tracks, 2, 2)
    swapped.select = dict(router.select)
    swapped.select[(3, 3, out0)], swapped.select[(3, 3, out1)] = router.select[(3, 3, out1)], router.select[(3, 3, out0)]
    seed = test_seed(request)
    good, bad = run_grid_traffic(cfg, [("good", [first, second], router, 30, 0.2, 0.2, seed),
                                       ("swapped", [first, second], swapped, 30, 0.2, 0.2, seed)], tag="switch-bad")
    assert not good["problems"]
    assert len(bad["problems"]) == 2, bad
    assert all("transfers differ" in p for p in bad["problems"]), bad
    assert {p.split(":")[0] for p in bad["problems"]} == {"local_out__3__3__0", "local_out__3__3__1"}, bad


@pytest.mark.cocotb
@pytest.mark.parametrize("config", CONFIGS)
def test_one_word_per_cycle_across_the_grid(config, request):
    """A route corner to corner: with no gaps and no back-pressure, n words arrive in n consecutive
    cycles, the first after one cycle per switch: the source offers the first word in bench cycle 1 (it
    enters the first switch at that cycle's edge), each of the hops switches (a registered output)
    delays it one cycle, the sink takes it in the cycle it sees it and records it in the next."""
    cfg = preset(config)
    route = Route((0, 0, 0), ((cfg.rows - 1, cfg.cols - 1, 1),))
    router = GridRouter(cfg.rows, cfg.cols, cfg.vector_tracks, 2, 2)
    router.add(route)
    (result,) = run_grid_traffic(cfg, [("corner", [route], router, 200, 0.0, 0.0, test_seed(request))],
                                 tag="switch-rate")
    assert not result["problems"]
    hops = cfg.rows + cfg.cols - 1
    print(f"200 words over {hops} switches: first in cycle {result['first_out']}, last in {result['last_out']}")
    assert result["last_out"] - result["first_out"] + 1 == 200
    assert result["first_out"] == hops + 2


def test_router_refuses_with_a_named_route():
    cfg = preset("small")
    router = GridRouter(cfg.rows, cfg.cols, 1, 1, 1)
    with pytest.raises(SwitchConfigError, match=r"sink \(9, 0, 0\) is not a local output"):
        router.add(Route((0, 0, 0), ((9, 0, 0),)))
    router.add(Route((0, 0, 0), ((0, 3, 0),)))
    with pytest.raises(SwitchConfigError, match=r"local output 0 of switch \(0, 3\) is taken"):
        router.add(Route((1, 0, 0), ((0, 3, 0),)))
    # the row-0 eastward track is used; a route across a one-row grid cannot pass
    narrow = GridRouter(1, 4, 1, 2, 2)
    narrow.add(Route((0, 0, 0), ((0, 3, 0),)))
    with pytest.raises(SwitchConfigError, match="no free path to switch"):
        narrow.add(Route((0, 0, 1), ((0, 3, 1),)))
    with pytest.raises(SwitchConfigError, match="unknown direction"):
        port_index(2, "up", 0)


def test_switch_parameters_are_validated():
    with pytest.raises(ValueError, match="Switch tracks = 0 is invalid"):
        Switch(32, 0, 1, 1)
    with pytest.raises(ValueError, match="HopBuffer width = 0 is invalid"):
        HopBuffer(0)


def _random_route_set(rng, rows, cols, n, local=2):
    """*n* routes between distinct random local ports (a fifth of them multicast to two sinks)."""
    ports = [(r, c, k) for r in range(rows) for c in range(cols) for k in range(local)]
    sources = [ports[i] for i in rng.permutation(len(ports))][:n]
    sinks = [ports[i] for i in rng.permutation(len(ports))]
    routes = []
    for source in sources:
        fanout = 2 if rng.random() < 0.2 else 1
        routes.append(Route(source, tuple(sinks[:fanout])))
        sinks = sinks[fanout:]
    return routes


def _greedy_fits(routes, rows, cols, tracks) -> bool:
    router = GridRouter(rows, cols, tracks, 2, 2)
    try:
        for route in routes:
            router.add(route)
    except SwitchConfigError:
        return False
    return True


def _trace(router, sink):
    """Follows the selects back from a sink's local output to the local input that feeds it."""
    r, c, k = sink
    output = port_index(router.tracks, None, k)
    for _ in range(4 * router.rows * router.cols * router.tracks + 1):
        selected = router.select[(r, c, output)] - 1
        if selected >= 4 * router.tracks:
            return (r, c, selected - 4 * router.tracks)
        direction = DIRECTIONS[selected // router.tracks]
        dr, dc = STEP[direction]
        r, c, output = r + dr, c + dc, port_index(router.tracks, OPPOSITE[direction], selected % router.tracks)
    raise AssertionError(f"the selects from {sink} loop")


def test_negotiated_routing_fits_what_one_route_at_a_time_cannot(request):
    """On 60 random sets of 8 routes on a 4x4 grid of one track, PathFinder (route_all) routes every set
    that greedy routing (add, in order) routes, and more; each routed set connects every sink to its
    own source; a set it cannot route leaves the grid as it was and names a congested output."""
    rng = seeded_rng(request)
    greedy = negotiated = 0
    for _ in range(60):
        routes = _random_route_set(rng, 4, 4, 8)
        fits = _greedy_fits(routes, 4, 4, 1)
        router = GridRouter(4, 4, 1, 2, 2)
        try:
            router.route_all(routes)
        except SwitchConfigError as exc:
            assert not fits, exc
            assert router.select == {} and "still wanted by two routes, e.g." in str(exc)
            continue
        negotiated += 1
        greedy += fits
        for route in routes:
            assert all(_trace(router, sink) == route.source for sink in route.sinks)
    print(f"routed: greedy {greedy} of 60 sets, negotiated {negotiated}")
    assert negotiated > greedy + 5


def test_a_routes_paths_follow_its_tree_from_the_source_to_every_sink(request):
    """``GridRouter.paths`` (what the placed cost model reads, mapper/phases/chain_timing.py): on 40
    random routed sets, every route's paths reach exactly its sinks; each starts at the source's switch,
    steps to a neighbour switch per direction output and ends at the sink's local output, at least the
    Manhattan distance long, and each hop of it selects the hop before (the selects traced back from the
    sink lead to the source); a multicast's paths form a tree (a shared hop has one hop before it)."""
    rng = seeded_rng(request)
    multicast = 0
    for _ in range(40):
        routes = _random_route_set(rng, 4, 4, 8)
        router = GridRouter(4, 4, 2, 2, 2)
        router.route_all(routes)
        for route in routes:
            paths = router.paths([route.source])[route.source]
            assert set(paths) == set(route.sinks)
            for sink, path in paths.items():
                assert path[0][:2] == route.source[:2] and path[-1] == (*sink[:2], port_index(2, None, sink[2]))
                assert len(path) >= 1 + abs(sink[0] - route.source[0]) + abs(sink[1] - route.source[1])
                for (r, c, output), (nr, nc, next_output) in zip(path, path[1:]):
                    direction = DIRECTIONS[output // 2]
                    assert (nr, nc) == (r + STEP[direction][0], c + STEP[direction][1])
                    assert router.select[(nr, nc, next_output)] - 1 == port_index(2, OPPOSITE[direction], output % 2)
                assert _trace(router, sink) == route.source
            if len(paths) > 1:
                multicast += 1
                before = {}  # a tree: a hop on several paths comes after the same hop on each
                for path in paths.values():
                    for j, hop in enumerate(path):
                        assert before.setdefault(hop, path[j - 1] if j else None) == (path[j - 1] if j else None)
    assert multicast > 0


def test_routing_refusals_leave_no_state(request):
    router = GridRouter(4, 4, 1, 2, 2)
    router.add(Route((0, 0, 0), ((0, 3, 0),)))
    before = dict(router.select)
    # the second sink's local output is taken: nothing of the first sink's path stays
    with pytest.raises(SwitchConfigError, match=r"local output 0 of switch \(0, 3\) is taken"):
        router.add(Route((3, 0, 0), ((3, 3, 1), (0, 3, 0))))
    with pytest.raises(SwitchConfigError, match="both end at local output 1 of switch"):
        router.route_all([Route((3, 0, 0), ((3, 3, 1),)), Route((2, 0, 0), ((3, 3, 1),))])
    with pytest.raises(SwitchConfigError, match="routes start at local input 0 of switch"):
        router.route_all([Route((3, 0, 0), ((3, 3, 1),)), Route((3, 0, 0), ((2, 3, 1),))])
    # a one-row grid with one track: two routes eastward across it cannot both pass
    narrow = GridRouter(1, 4, 1, 2, 2)
    with pytest.raises(SwitchConfigError, match=r"east track 0 of switch \(0, [0-2]\) by Route"):
        narrow.route_all([Route((0, 0, 0), ((0, 3, 0),)), Route((0, 0, 1), ((0, 3, 1),))])
    assert narrow.select == {} and router.select == before


def test_negotiated_routing_is_deterministic(request):
    """The same route set gives the same selects, or the same refusal (a random set may not fit)."""
    rng = seeded_rng(request)
    for _ in range(20):
        routes = _random_route_set(rng, 4, 4, 20)
        first, second = GridRouter(4, 4, 2, 2, 2), GridRouter(4, 4, 2, 2, 2)
        try:
            first.route_all(routes)
        except SwitchConfigError as refused:
            with pytest.raises(SwitchConfigError) as again:
                second.route_all(routes)
            assert str(again.value) == str(refused)
            continue
        second.route_all(routes)
        assert first.select == second.select and first.select
        return
    pytest.fail("none of 20 random route sets fits the 4x4 grid")


@pytest.mark.cocotb
def test_negotiated_routes_carry_traffic_on_the_rtl(request):
    """Route sets that greedy routing cannot fit on the small grid (4x4, 2 tracks), routed by
    negotiation, carry random traffic with gaps and back-pressure through the RTL switch grid: every
    sink gets exactly its source's words."""
    cfg = preset("small")
    rng = seeded_rng(request)
    cases = []
    while len(cases) < 5:
        routes = _random_route_set(rng, cfg.rows, cfg.cols, 22)
        if _greedy_fits(routes, cfg.rows, cfg.cols, cfg.vector_tracks):
            continue
        router = GridRouter(cfg.rows, cfg.cols, cfg.vector_tracks, 2, 2)
        try:
            router.route_all(routes)
        except SwitchConfigError:
            continue
        cases.append((f"negotiated{len(cases)}", routes, router, int(rng.integers(20, 80)), 0.3, 0.3,
                      int(rng.integers(2**31))))
    results = run_grid_traffic(cfg, cases, tag="switch-negotiated")
    for r in results:
        print(f"  {r['name']:12} routes {r['routes']:3d} sinks {r['sinks']:3d} cycles {r['cycles']:5d} "
              f"{r['problems'] or 'ok'}")
    assert not [r for r in results if r["problems"]]
