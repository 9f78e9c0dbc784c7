"""Pipeline helpers shared by the units: delay lines, stage groups, indexed selects, input FIFOs, operand
selection, and the stream ports of a PCU or PMU."""

from types import SimpleNamespace

from amaranth import Module, Signal, Value
from amaranth.lib import data, stream
from amaranth.lib.wiring import In, Out

from .buffered_fifo import BufferedFifo
from .spec.config import ArrayConfig
from .spec.pcu_layout import Src

__all__ = ["delay", "stage", "select", "input_fifo", "operand", "stream_unit_ports"]


def delay(m: Module, value, stages: int = 1, name: str = "d"):
    """*value* delayed by *stages* registers in the sync domain (*value* itself when *stages* is 0)."""
    for k in range(stages):
        reg = Signal.like(value, name=f"{name}_d{k + 1}") if isinstance(value, Signal) \
            else Signal(value.shape(), name=f"{name}_d{k + 1}")
        m.d.sync += reg.eq(value)
        value = reg
    return value


def stage(m: Module, depth: int, **values) -> SimpleNamespace:
    """*depth* registers for each named value: the group one pipeline stage hands to the next."""
    return SimpleNamespace(**{name: delay(m, value, depth, name) for name, value in values.items()})


def select(m: Module, options: list, index, width: int = 32, name: str = "sel"):
    """options[index] (combinational), or 0 when *index* is out of range (the encoders never produce
    that). Every case statement gets an explicit default, so the Verilog has no incomplete case."""
    out = Signal(width, name=name)
    with m.Switch(index):
        for k, option in enumerate(options):
            with m.Case(k):
                m.d.comb += out.eq(option)
        with m.Default():
            m.d.comb += out.eq(0)
    return out


def input_fifo(m: Module, name: str, port, width: int, depth: int) -> BufferedFifo:
    """A FIFO behind the input stream *port* (a unit input): the unit reads ``r_data``/``r_rdy`` and
    pops with ``r_en``."""
    f = m.submodules[name] = BufferedFifo(width, depth)
    m.d.comb += [f.w_data.eq(Value.cast(port.payload)), f.w_en.eq(port.valid), port.ready.eq(f.w_rdy)]
    return f


def operand(m: Module, view, *, regs: list, vins: list, sins: list, ctrs: list, lane: int, const, name: str,
            broadcast=0, weight=0):
    """One lane's operand selected by *view* (``src`` and ``index``; rtl/spec/pcu_layout.py ``Src``) from
    the lane's registers *regs*, the vector inputs *vins* (whole vectors: the lane's word is taken), the
    scalar inputs *sins*, the counter values *ctrs* (as this lane sees them), the lane index, *const*,
    the *broadcast* word (``bvin``: the stage's lane of the indexed vector input, selected once per
    stage) or the lane's *weight* (``wgt``); a unit without the last two leaves them 0."""
    by_source = {
        Src.REG: select(m, regs, view.index, name=f"{name}_reg"),
        Src.VIN: select(m, [v[32 * lane: 32 * lane + 32] for v in vins], view.index, name=f"{name}_vin"),
        Src.SIN: select(m, sins, view.index, name=f"{name}_sin"),
        Src.CTR: select(m, ctrs, view.index, name=f"{name}_ctr"),
        Src.LANE: lane,
        Src.CONST: const,
        Src.BVIN: broadcast,
        Src.WGT: weight,
    }
    return select(m, [by_source[src] for src in Src], view.src, name=name)


def stream_unit_ports(cfg: ArrayConfig, configuration, *, vector_outputs: int | None,
                      scalar_outputs: int | None) -> dict:
    """The signature members of a unit on the networks (a PCU or a PMU): ``configuration`` (static, of
    layout *configuration*), ``vin[k]``/``sin[k]`` (cfg's vector and scalar inputs), ``ctrl_in``, then
    ``vout``/``sout`` (arrays of *vector_outputs*/*scalar_outputs* streams, or one stream each when
    None) and ``ctrl_out``. Vector streams carry ``lanes`` words."""
    vector = stream.Signature(data.ArrayLayout(32, cfg.lanes))
    scalar = stream.Signature(32)
    many = lambda port, count: Out(port) if count is None else Out(port).array(count)  # noqa: E731
    return {
        "configuration": In(configuration),
        "vin": In(vector).array(cfg.vector_inputs),
        "sin": In(scalar).array(cfg.scalar_inputs),
        "ctrl_in": In(stream.Signature(1)),
        "vout": many(vector, vector_outputs),
        "sout": many(scalar, scalar_outputs),
        "ctrl_out": Out(stream.Signature(1)),
    }
