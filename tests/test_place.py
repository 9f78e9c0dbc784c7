"""Placement by simulated annealing (mapper/backend/place.py): legal (every unit on a free site of its kind,
pins honoured), deterministic for a seed, close to the optimum on a netlist whose optimum is known,
far below a random placement, routable by the negotiated router, and refusals that name the unit.

Seeds are printed; rerun with ``pytest --seed N``.
"""

import numpy as np
import pytest

from rdagen.mapper.backend.builder import ArrayBuilder
from rdagen.mapper.backend.place import Net, PlacementError, Unit, place, sites
from rdagen.rtl.spec.array_layout import connections, plan
from rdagen.rtl.spec.bitstream import decode
from rdagen.rtl.spec.config import preset

from .conftest import test_seed

SMALL = preset("small")


def _chain(n):
    """AG -> u0 -> u1 -> ... -> u(n-1) -> host, alternating PCU and PMU: optimum wirelength n - 1
    (neighbouring tiles of the checkerboard, the AG's and host's rows through the ends)."""
    units = [Unit(f"u{i}", "pcu" if i % 2 == 0 else "pmu") for i in range(n)] + [Unit("in", "ag"), Unit("out", "host")]
    nets = [Net(f"u{i}", (f"u{i + 1}",)) for i in range(n - 1)] + [Net("in", ("u0",)), Net(f"u{n - 1}", ("out",))]
    return units, nets


def _legal(cfg, units, placement, pins=()):
    used = set()
    for u in units:
        site = placement.sites[u.name]
        assert site in sites(cfg, u.kind), (u, site)
        assert (u.kind, site) not in used, (u, site)
        used.add((u.kind, site))
    for name, site in dict(pins).items():
        assert placement.sites[name] == site


def test_a_chain_is_placed_near_its_optimum_and_far_below_random(request):
    seed = test_seed(request)
    print(f"[seed] {seed}")
    units, nets = _chain(14)
    p = place(SMALL, units, nets, seed=seed)
    _legal(SMALL, units, p)
    print(p.grid(SMALL))
    print(f"wirelength {p.wirelength} (optimum 13), random start {p.initial_cost:.0f}, {p.moves} moves")
    # Near the optimum, and at least half of the random start's excess over the optimum removed (a start
    # that is already close, such as seed 1713243761's 25 or 124172779's 28, cannot be halved: CI seed
    # 124172779 reached 15 from 28).
    assert 13 <= p.wirelength <= 17 and p.cost - 13 <= (p.initial_cost - 13) / 2
    again = place(SMALL, units, nets, seed=seed)
    assert again.sites == p.sites  # deterministic for a seed


def test_pins_are_honoured(request):
    units, nets = _chain(10)
    pins = {"u0": (3, 3), "u5": (0, 1), "in": (3, 0), "out": (0, 3)}
    p = place(SMALL, units, nets, seed=test_seed(request), pins=pins)
    _legal(SMALL, units, p, pins)


def test_a_random_netlist_fills_the_plasticine_array_legally(request):
    cfg = preset("plasticine")
    rng = np.random.default_rng(test_seed(request))
    units = [Unit(f"c{i}", "pcu") for i in range(64)] + [Unit(f"m{i}", "pmu") for i in range(64)] + \
            [Unit(f"a{i}", "ag") for i in range(16)]
    names = [u.name for u in units]
    nets = [Net(names[i], tuple(names[j] for j in rng.choice(len(names), 2, replace=False) if j != i))
            for i in range(len(names))]
    p = place(cfg, units, nets, seed=1, effort=0.3)
    _legal(cfg, units, p)
    assert p.cost < p.initial_cost / 2


def test_a_placed_netlist_routes_on_the_array(request):
    """The placed chain's vector routes (AG rdata -> u0 -> ... -> host vrecv) all fit together by
    negotiated routing, and the loader's route check accepts the selects."""
    units, nets = _chain(14)
    p = place(SMALL, units, nets, seed=test_seed(request))
    kind = {u.name: u.kind for u in units}

    def port(name, direction):
        r, c = p.sites[name]
        if kind[name] == "ag":
            return ("ag", r, "rdata")
        if kind[name] == "host":
            return ("host", r, "vrecv")
        return (kind[name], r, c, "vout" if direction == "out" else "vin", 0)

    b = ArrayBuilder(SMALL)
    b.route_all("vector", [(port(n.source, "out"), [port(s, "in") for s in n.sinks]) for n in nets])
    routes = connections(SMALL, decode(plan(SMALL), b.bitstream()))["vector"]
    assert len(routes) == len(nets)


@pytest.mark.parametrize("units,nets,pins,message", [
    ([Unit(f"c{i}", "pcu") for i in range(9)], [], {}, r"9 PCU units do not fit the 4x4 array of small, which has 8"),
    ([Unit("a", "pcu")], [], {"a": (0, 1)}, r"pin a=\(0, 1\): not a PCU site"),
    ([Unit("a", "pcu")], [], {"a": (7, 0)}, r"pin a=\(7, 0\): not a PCU site of the 4x4 array"),
    ([Unit("a", "pcu"), Unit("b", "pcu")], [], {"a": (0, 0), "b": (0, 0)}, r"pin b=\(0, 0\): 'a' is pinned there too"),
    ([Unit("a", "pcu")], [Net("a", ("z",))], {}, r"net from 'a': unit 'z' is not in the netlist"),
    ([Unit("a", "fpga")], [], {}, r"unit 'a': unknown kind 'fpga'"),
    ([Unit("a", "pcu"), Unit("a", "pmu")], [], {}, r"unit name 'a' is used twice"),
    ([Unit("a", "pcu")], [], {"q": (0, 0)}, r"pin q=\(0, 0\): no unit 'q' in the netlist"),
])
def test_refusals_name_the_unit(units, nets, pins, message):
    with pytest.raises(PlacementError, match=message):
        place(SMALL, units, nets, pins=pins)


def test_reserved_sites_are_left_alone_and_named_when_they_leave_too_few(request):
    """Sites that hold another phase's resident weights: no unit takes them, a pin on one is refused,
    and a netlist that needs them is refused naming how many are kept."""
    seed = test_seed(request)
    print(f"[seed] {seed}")
    cfg = preset("small")
    pmus = sites(cfg, "pmu")
    reserved = frozenset(("pmu", s) for s in pmus[:5])
    units = [Unit(f"m{i}", "pmu") for i in range(3)] + [Unit("p", "pcu")]
    nets = [Net(f"m{i}", ("p",)) for i in range(3)]
    placed = place(cfg, units, nets, seed=seed, reserved=reserved)
    assert {placed.sites[f"m{i}"] for i in range(3)} == set(pmus[5:])
    with pytest.raises(PlacementError, match="holds resident weights"):
        place(cfg, units, nets, seed=seed, reserved=reserved, pins={"m0": pmus[0]})
    with pytest.raises(PlacementError, match=r"4 PMU units .* 3 PMU sites free \(5 hold resident weights\)"):
        place(cfg, units + [Unit("m3", "pmu")], nets, seed=seed, reserved=reserved)
