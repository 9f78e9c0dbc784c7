"""Switch fabric: random routes (unicast and multicast) through a grid of vector-network switches with
random traffic, gaps and back-pressure against a scoreboard (no loss, duplication or reorder); a
misrouted configuration is caught; one word per cycle per route; router and parameter errors.

Seeds are printed; rerun with ``pytest --seed N``.
"""

import pytest

from rdagen.rtl.config import preset
from rdagen.rtl.switch import Switch
from rdagen.rtl.switch_layout import SwitchConfigError, port_index
from rdagen.mapper.route import GridRouter, Route
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
