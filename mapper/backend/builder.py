"""The builder: configure an array's units by coordinates and named fields and its routes by endpoints
on a named network, check them against the array's resources, and emit the bitstream. The mapper
phases (mapper/phases/matmul.py, ...) are written against this API. Imports only the spec modules.

Endpoints: ``("pcu"|"pmu", row, col, port, index)`` for tile ports (``vin``, ``vout``, ``sin``,
``sout``, ``ctrl_in``, ``ctrl_out``), ``("ag", row, port)`` (``rdata``, ``wdata``, ``idx``) and
``("host", row, port)`` (``vsend``, ``vrecv``, ``ssend``, ``srecv``, ``csend``, ``crecv``, and ``done``:
the control tokens the ``done`` host register counts).
"""

from __future__ import annotations

from rdagen.rtl.spec.ag_layout import AgConfigError, AgProgram
from rdagen.rtl.spec.array_layout import local_counts, plan, switch_ports, tile_kind
from rdagen.rtl.spec.bitstream import NETWORKS, Address, Kind, encode
from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.pcu_layout import PcuConfigError, PcuProgram
from rdagen.rtl.spec.pmu_layout import PmuConfigError, PmuProgram
from rdagen.rtl.spec.switch_layout import SwitchConfigError, networks

from rdagen.mapper.backend.route import GridRouter, Route

__all__ = ["ArrayBuilder", "BuildError"]


class BuildError(ValueError):
    """A unit, field or route that does not fit the array; the message names it."""


class ArrayBuilder:
    def __init__(self, cfg: ArrayConfig):
        self.cfg = cfg
        self.plan = plan(cfg)
        self.words: dict[Address, int] = {}
        self.routers = {n: GridRouter(cfg.rows, cfg.cols, networks(cfg)[n].tracks, *local_counts(cfg, n))
                        for n in NETWORKS}
        self.routes: list[tuple[str, tuple, tuple]] = []

    # -- units -------------------------------------------------------------------------------------------
    def _tile(self, kind: str, row: int, col: int, program, error: type) -> None:
        """Configures the tile unit at (row, col) with *program*, which raises *error* when invalid."""
        if not (0 <= row < self.cfg.rows and 0 <= col < self.cfg.cols):
            raise BuildError(f"tile ({row}, {col}) is outside the {self.cfg.rows}x{self.cfg.cols} array")
        if tile_kind(row, col) != kind:
            raise BuildError(f"tile ({row}, {col}) is a {tile_kind(row, col).upper()}, not a {kind.upper()}")
        address = Address(Kind[kind.upper()], row, col)
        if address in self.words:
            raise BuildError(f"{kind.upper()} ({row}, {col}) is configured twice")
        try:
            self.words[address] = program.encode(self.cfg)
        except error as exc:
            raise BuildError(f"{kind.upper()} ({row}, {col}): {exc}") from None

    def pcu(self, row: int, col: int, program: PcuProgram) -> None:
        self._tile("pcu", row, col, program, PcuConfigError)

    def pmu(self, row: int, col: int, program: PmuProgram) -> None:
        self._tile("pmu", row, col, program, PmuConfigError)

    def ag(self, row: int, program: AgProgram) -> None:
        if not 0 <= row < self.cfg.rows:
            raise BuildError(f"there is no AG in row {row} (rows 0..{self.cfg.rows - 1})")
        address = Address(Kind.AG, row, 0)
        if address in self.words:
            raise BuildError(f"AG {row} is configured twice")
        try:
            self.words[address] = program.encode(self.cfg)
        except AgConfigError as exc:
            raise BuildError(f"AG {row}: {exc}") from None

    # -- routes ------------------------------------------------------------------------------------------
    def _locate(self, network: str, endpoint: tuple, outgoing: bool) -> tuple[int, int, int]:
        """(switch row, switch col, local port) of *endpoint*: a local input of its switch when it sends
        (*outgoing*), a local output when it receives."""
        if endpoint and endpoint[0] in ("ag", "host"):
            unit, row, port = endpoint
            col = 0 if unit == "ag" else self.cfg.cols - 1
            full = (unit, row, col, port, 0)
        else:
            full = tuple(endpoint)
            unit, row, col = full[:3] if len(full) == 5 else (None, -1, -1)
        if not (len(full) == 5 and 0 <= row < self.cfg.rows and 0 <= col < self.cfg.cols):
            raise BuildError(f"endpoint {endpoint!r} is not a port of the {self.cfg.rows}x{self.cfg.cols} array")
        inputs, outputs = switch_ports(self.cfg, network, row, col)
        ports = inputs if outgoing else outputs
        if full not in ports:
            role = "send on" if outgoing else "receive from"
            raise BuildError(f"endpoint {endpoint!r} cannot {role} the {network} network; the ports there are "
                             f"{', '.join(str(p) for p in ports)}")
        return row, col, ports.index(full)

    def route(self, network: str, source: tuple, *sinks: tuple) -> None:
        if network not in NETWORKS:
            raise BuildError(f"unknown network {network!r}; valid: {', '.join(NETWORKS)}")
        if not sinks:
            raise BuildError(f"route on the {network} network from {source!r} has no sink")
        route = Route(self._locate(network, source, True), tuple(self._locate(network, s, False) for s in sinks))
        try:
            self.routers[network].add(route)
        except SwitchConfigError as exc:
            raise BuildError(f"route on the {network} network from {source!r} to {list(sinks)!r}: {exc}") from None
        self.routes.append((network, source, sinks))

    def route_all(self, network: str, routes: list) -> None:
        """Routes a set of (source, [sinks]) on *network* together by negotiated congestion
        (``GridRouter.route_all``); on a refusal nothing is routed."""
        if network not in NETWORKS:
            raise BuildError(f"unknown network {network!r}; valid: {', '.join(NETWORKS)}")
        located = []
        for source, sinks in routes:
            if not sinks:
                raise BuildError(f"route on the {network} network from {source!r} has no sink")
            located.append(Route(self._locate(network, source, True),
                                 tuple(self._locate(network, s, False) for s in sinks)))
        try:
            self.routers[network].route_all(located)
        except SwitchConfigError as exc:
            raise BuildError(f"routes on the {network} network: {exc}") from None
        self.routes += [(network, source, tuple(sinks)) for source, sinks in routes]

    def paths(self, network: str) -> dict[tuple[tuple, tuple], tuple[tuple[int, int, int], ...]]:
        """{(source endpoint, sink endpoint): the switch outputs a word passes between them} of every
        route on *network* (``GridRouter.paths``): what a cost model of the placed routes reads."""
        routes = [(tuple(source), self._locate(network, source, True), sinks)
                  for net, source, sinks in self.routes if net == network]
        trees = self.routers[network].paths([located for _, located, _ in routes])
        return {(source, tuple(s)): trees[located][self._locate(network, s, False)]
                for source, located, sinks in routes for s in sinks}

    # -- output ------------------------------------------------------------------------------------------
    def bitstream(self) -> bytes:
        words = dict(self.words)
        for network, router in self.routers.items():
            for r in range(self.cfg.rows):
                for c in range(self.cfg.cols):
                    word = router.switch_word(r, c)
                    if word:
                        words[Address(Kind.SWITCH, r, c, network)] = word
        return encode(self.plan, words)
