# amaranth: UnusedElaboratable=no
"""The tile array: a checkerboard of PCUs and PMUs, one switch per tile and network, an AG on the west
edge of every row and host streams on the east edge (topology: rtl/spec/array_layout.py), a configuration
port and host registers.

Configuration port: ``config`` has a lane per row (``config_port_layout``); each lane writes one (unit,
32-bit word) pair per cycle into a unit of its group (``config_groups``: unit ``configuration_units(cfg)[i]``
at its local index on its lane), so the lanes load their units in parallel. Each word shifts into
the unit's *shadow* configuration register from below, so a unit of n bits takes ceil(n / 32) words,
the most significant first, while the *active* configuration runs; a load ends with a seal on every
lane, and a swap (``swap``, or the done register rising with ``swap_on_done``) makes every shadow
active at once or is refused (``config_refused``, ``config_refused_lanes``), keeping the active one
(rtl/config_port.py; the protocol: rtl/spec/config_port.py). The units restart in the cycle after an
accepted swap, their memories kept. The loader in Python validates the bitstream
(rtl/spec/bitstream.py) before it drives this port.

Host registers: while ``run`` is low the units and switches are held in reset (their memories keep
their contents) and the configuration can be loaded; ``cycles`` counts the cycles with ``run`` high;
``errors`` sums the units' error counters (refused AG requests, out-of-range PMU lanes); ``done`` rises
once ``done_tokens`` (nonzero) control tokens have reached the ``done`` ports of the rows (a kernel
routes its last unit's done token there) and stays high until ``run`` falls. Scalar arguments enter as
words on ``ssend`` (a PCU input popped at an outer counter level holds one for a whole loop).

Units are instances of one module per kind (``unit_modules``: ``rdagen_pcu``, ``rdagen_pmu``,
``rdagen_ag``), which the Verilog of the array carries once each: elaborating every PCU of a large
array on its own took minutes at 4x4 and does not scale to 8x8 and beyond.
"""

import functools
import hashlib

from amaranth import Cat, Const, Module, ResetSignal, Shape, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .ag import AG, axi4_signature
from .spec.ag_layout import COMMAND
from .spec.array_layout import configuration_units, local_counts, switch_ports, tile_kind, unit_layout, unit_name, unit_words
from .spec.config_port import SWAP_REFUSALS, config_groups, config_port_layout
from .spec.bitstream import NETWORKS, Address, Kind
from .spec.config import ArrayConfig
from .config_port import ConfigurationPort, unit_active
from .instance import instance_of
from .pcu import PCU
from .pmu import PMU
from .switch import Switch, SwitchGrid
from .spec.switch_layout import networks

__all__ = ["Array", "ConfiguredUnit", "array_switch", "configured_modules", "unit_modules"]

UNIT_MODULES = {Kind.PCU: "rdagen_pcu", Kind.PMU: "rdagen_pmu", Kind.AG: "rdagen_ag"}
SWITCH_MODULES = {network: f"rdagen_switch_{network}" for network in NETWORKS}


def array_switch(cfg: ArrayConfig, network: str) -> Switch:
    """The switch of *network* every tile of the array has (its local ports as ``local_counts`` gives them)."""
    net = networks(cfg)[network]
    return Switch(net.width, net.tracks, *local_counts(cfg, network))


def unit_modules(cfg: ArrayConfig) -> dict[str, wiring.Component]:
    """The modules an array of *cfg* instantiates (the unit kinds and each network's switch), by Verilog
    module name (converted alongside it)."""
    return {UNIT_MODULES[Kind.PCU]: PCU(cfg), UNIT_MODULES[Kind.PMU]: PMU(cfg), UNIT_MODULES[Kind.AG]: AG(cfg),
            **{SWITCH_MODULES[n]: array_switch(cfg, n) for n in NETWORKS}}


# Configuration fields that are numbers (bounds, constants, addresses, seeds) rather than selections of
# logic: a configured unit takes them from a port, so units that differ only in them share a module.
NUMERIC_FIELDS = frozenset({"start", "stop", "stride", "const", "init", "fold", "seed", "table_base", "row_words",
                            "rows"})


def numeric_mask(layout) -> int:
    """The bits of *layout* (a unit's configuration layout) that belong to ``NUMERIC_FIELDS``."""
    mask = 0
    if isinstance(layout, data.Layout):
        for name, field in layout:
            if isinstance(name, str) and name in NUMERIC_FIELDS:
                mask |= ((1 << Shape.cast(field.shape).width) - 1) << field.offset
            elif isinstance(field.shape, data.Layout):
                mask |= numeric_mask(field.shape) << field.offset
    return mask


class ConfiguredUnit(wiring.Component):
    """An instance of unit module *module* (of signature *signature*) whose configuration is *word*, but
    with *shared* for its numeric fields (``numeric_mask``), which then come from the ``numbers`` port
    (the array drives it with the same word): the unit a specialised array instantiates. Converted as
    its own module (``configured_modules``: one per kind and structure, or per word), it lets a simulator
    fold the configuration into one unit at a time (sim/direct.py compiles each as a hierarchical block
    on large arrays).

    Ports: the unit's signature, plus ``numbers`` (its numeric fields). Latency and invariants: the
    unit's, with the structure fields constant.
    """

    def __init__(self, module: str, signature: wiring.Signature, word: int, shared: bool = True):
        layout = signature.members["configuration"].shape
        self.mask = numeric_mask(layout) if shared else 0
        self.module, self.unit_signature, self.structure = module, signature, word & ~self.mask
        super().__init__({"numbers": In(Shape.cast(layout).width),
                          **{n: m for n, m in signature.members.items() if n != "configuration"}})

    @property
    def name(self) -> str:
        """The Verilog module name: the unit kind's, then ``s`` and a digest of the structure (numbers
        shared) or ``w`` and a digest of the word."""
        digest = hashlib.sha256(self.structure.to_bytes(-(-self.structure.bit_length() // 8) or 1, "little"))
        return f"{self.module}_{'s' if self.mask else 'w'}{digest.hexdigest()[:12]}"

    def elaborate(self, platform):
        m = Module()
        unit = self.unit_signature.create(path=("unit",))
        m.submodules.unit = instance_of(self.module, unit, ResetSignal())
        m.d.comb += unit.configuration.as_value().eq(self.structure | (self.numbers & self.mask))
        for path, member, value in self.signature.flatten(self):
            if path == ("numbers",):
                continue
            inner = unit
            for step in path:
                inner = inner[step] if isinstance(step, int) else getattr(inner, step)
            m.d.comb += (inner.eq(value) if member.flow == In else value.eq(inner))
        return m


@functools.lru_cache(maxsize=8)
def _unit_signatures(cfg: ArrayConfig) -> dict[Kind, wiring.Signature]:
    return {kind: unit_modules(cfg)[name].signature for kind, name in UNIT_MODULES.items()}


# A unit kind whose units have at most this many distinct configuration words is specialised word by word
# (numbers folded too: on plasticine, a PCU that takes its numbers from a port spends its time
# re-evaluating what depends on them); beyond, by structure, so that the modules stay few.
WORDS_PER_KIND = 4


def _shared_kinds(cfg: ArrayConfig, configuration: dict, share: bool) -> set:
    if not share:
        return set()
    words = {}
    for address in configuration_units(cfg):
        if address.kind in UNIT_MODULES:
            words.setdefault(address.kind, set()).add(configuration.get(address, 0))
    return {kind for kind, found in words.items() if len(found) > WORDS_PER_KIND}


def configured_unit(cfg: ArrayConfig, address: Address, word: int, shared: bool = True) -> ConfiguredUnit:
    """The configured unit of the unit at *address* with configuration *word*."""
    return ConfiguredUnit(UNIT_MODULES[address.kind], _unit_signatures(cfg)[address.kind], word, shared)


def configured_modules(cfg: ArrayConfig, configuration: dict,
                       share: bool = True) -> dict[str, tuple[ConfiguredUnit, list[str]]]:
    """The configured units an array of *cfg* specialised to *configuration* instantiates, by Verilog
    module name, each with the names of its instances: one module per distinct configuration word, or,
    with *share*, for a kind with more than ``WORDS_PER_KIND`` of them, per structure; unconfigured
    units included."""
    found = {}
    shared = _shared_kinds(cfg, configuration, share)
    for address in configuration_units(cfg):
        if address.kind in UNIT_MODULES:
            unit = configured_unit(cfg, address, configuration.get(address, 0), address.kind in shared)
            found.setdefault(unit.name, (unit, []))[1].append(unit_name(address))
    return found




def _link(m, source, sink):
    m.d.comb += [sink.valid.eq(source.valid), sink.payload.eq(source.payload), source.ready.eq(sink.ready)]


class Array(wiring.Component):
    """With *configuration* ({Address: configuration word}, a decoded bitstream), the array is
    specialised to it: every switch's configuration is that constant, every unit an instance of its
    ``ConfiguredUnit`` module (``configured_modules``: with *share*, units of a kind with many distinct
    words share modules by structure; units absent from *configuration* are unconfigured) and the
    ``config`` port, still present, loads nothing. The units and switches behave exactly as when the
    same words are loaded through the port: they are held in reset until ``run`` either way, so a
    loader may skip the loading; simulators fold the constants into the logic (sim/direct.py's
    specialised builds).

    Ports: ``config`` (the configuration port: unit and 32-bit word per lane), ``swap``, ``swap_on_done``,
    ``config_loaded``, ``config_refused``, ``config_refused_lanes``, ``run``, ``cycles``, ``errors``,
    ``done``, ``done_tokens``, per row the AG commands (``ag_cmd``, ``ag_wcmd``), an AXI4 manager
    (``m_axi``) and the host streams (``vsend``/``vrecv``, ``ssend``/``srecv``, ``csend``/``crecv``). Latency: a unit's configuration of n bits takes ceil(n / 32) words; a swap one
    cycle (the units held in reset in it); one cycle per hop between units. Invariants: units and
    switches are held in reset while ``run`` is low and in a swap's cycle (memories keep their
    contents); a swap never mixes two loads' words (``make formal``: ``config.swap``); the same words
    give the same behaviour loaded or specialised.
    """

    def __init__(self, cfg: ArrayConfig, configuration: dict | None = None, share: bool = True):
        self.cfg = cfg
        self.configuration = configuration
        self.share = share
        self.units = configuration_units(cfg)
        vector = data.ArrayLayout(32, cfg.lanes)
        R = cfg.rows
        super().__init__({
            "config": In(stream.Signature(config_port_layout(cfg))),
            "swap": In(1),
            "swap_on_done": In(1),
            "config_loaded": Out(1),
            "config_refused": Out(len(SWAP_REFUSALS)),
            "config_refused_lanes": Out(R),
            "run": In(1),
            "cycles": Out(32),
            "errors": Out(32),
            "done_tokens": In(32),
            "done": Out(1),
            "ag_cmd": In(stream.Signature(COMMAND)).array(R),
            "ag_wcmd": In(stream.Signature(COMMAND)).array(R),
            "m_axi": Out(axi4_signature(32 * cfg.lanes)).array(R),
            "vsend": In(stream.Signature(vector)).array(R),
            "vrecv": Out(stream.Signature(vector)).array(R),
            "ssend": In(stream.Signature(32)).array(R),
            "srecv": Out(stream.Signature(32)).array(R),
            "csend": In(stream.Signature(1)).array(R),
            "crecv": Out(stream.Signature(1)).array(R),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        registers = {}
        # A swap on the host's command or, with swap_on_done, when the done register rises.
        done = Signal()
        request = self.swap | (self.swap_on_done & done)
        accepted = Signal()
        if self.configuration is None:
            port = m.submodules.config_port = ConfigurationPort([unit_words(cfg, a) for a in self.units],
                                                                config_groups(cfg))
            wiring.connect(m, wiring.flipped(self.config), port.config)
            m.d.comb += [port.swap.eq(request), accepted.eq(port.accepted), self.config_loaded.eq(port.loaded),
                         self.config_refused.eq(port.refused), self.config_refused_lanes.eq(port.refused_lanes)]
            for u, address in enumerate(self.units):
                registers[address] = unit_active(port.active, u)[:unit_layout(cfg, address).size]
        else:  # the configuration is built in: a swap restarts the units with it
            m.d.comb += [self.config.ready.eq(1), accepted.eq(request), self.config_loaded.eq(1)]
            for address in self.units:
                if address.kind == Kind.SWITCH:
                    registers[address] = Const(self.configuration.get(address, 0), unit_layout(cfg, address).size)

        # The units start afresh in the cycle after a swap, with the configuration it made active.
        unit_reset = ResetSignal() | ~self.run | accepted
        with m.If(self.run):
            m.d.sync += self.cycles.eq(self.cycles + 1)

        # One component per kind, never elaborated here (hence the pragma on line 1): its signature
        # gives every instance's port signals.
        signatures = _unit_signatures(cfg)
        ports = {}
        errors = []
        shared = _shared_kinds(cfg, self.configuration, self.share) if self.configuration is not None else set()

        def unit_instance(address, name):
            if self.configuration is None:
                unit = signatures[address.kind].create(path=(name,))
                m.submodules[name] = instance_of(UNIT_MODULES[address.kind], unit, unit_reset)
                m.d.comb += unit.configuration.eq(registers[address])
            else:
                word = self.configuration.get(address, 0)
                configured = configured_unit(cfg, address, word, address.kind in shared)
                unit = configured.signature.create(path=(name,))
                m.submodules[name] = instance_of(configured.name, unit, unit_reset)
                m.d.comb += unit.numbers.eq(word)
            return unit

        for address in self.units:
            if address.kind in (Kind.PCU, Kind.PMU):
                unit = unit_instance(address, unit_name(address))
                ports[(tile_kind(address.row, address.col), address.row, address.col)] = unit
                if address.kind == Kind.PMU:
                    errors.append(unit.errors)
            elif address.kind == Kind.AG:
                ag = unit_instance(address, unit_name(address))
                _link(m, self.ag_cmd[address.row], ag.cmd)
                _link(m, self.ag_wcmd[address.row], ag.wcmd)
                wiring.connect(m, ag.m_axi, wiring.flipped(self.m_axi[address.row]))
                ports[("ag", address.row, 0)] = ag
                errors.append(ag.errors)
        m.d.comb += self.errors.eq(sum(errors))

        # The done ports: always ready; their tokens are counted while running.
        done_ports = [stream.Signature(1).flip().create(path=(f"done_{r}",)) for r in range(cfg.rows)]
        arrived = Signal(32)
        m.d.comb += [p.ready.eq(1) for p in done_ports]
        with m.If(self.run & ~accepted):
            m.d.sync += arrived.eq(arrived + sum(p.valid for p in done_ports))
        with m.Else():
            m.d.sync += arrived.eq(0)
        m.d.comb += [done.eq(self.run & (self.done_tokens != 0) & (arrived >= self.done_tokens)), self.done.eq(done)]

        def endpoint(ep):
            unit, r, c, name, k = ep
            if name == "done":
                return done_ports[r]
            if unit == "host":
                return getattr(self, name)[r]
            port = getattr(ports[(unit, r, c)], name)
            return port[k] if isinstance(port, list) else port  # port arrays are lists of interfaces

        for network in NETWORKS:
            net = networks(cfg)[network]
            n_in, n_out = local_counts(cfg, network)
            grid = m.submodules[f"{network}_network"] = SwitchGrid(net.width, net.tracks, cfg.rows, cfg.cols,
                                                                    n_in, n_out, module=SWITCH_MODULES[network],
                                                                    reset=unit_reset)
            for r in range(cfg.rows):
                for c in range(cfg.cols):
                    m.d.comb += grid.configuration[r * cfg.cols + c].eq(
                        registers[Address(Kind.SWITCH, r, c, network)])
                    inputs, outputs = switch_ports(cfg, network, r, c)
                    for k in range(n_in):
                        if k < len(inputs):
                            _link(m, endpoint(inputs[k]), grid.local_in[r][c][k])
                        else:
                            m.d.comb += grid.local_in[r][c][k].valid.eq(0)
                    for k in range(n_out):
                        if k < len(outputs):
                            _link(m, grid.local_out[r][c][k], endpoint(outputs[k]))
                        else:
                            m.d.comb += grid.local_out[r][c][k].ready.eq(0)
        return m
