"""Instances of separately converted Verilog modules: a unit kind (or a switch) is converted once, as
its own module, and instantiated per tile with the port signals of an interface of its signature. The
array's Verilog then holds one copy of each kind, whatever the array's size, and simulators compile
each kind once (Verilator's hierarchical builds)."""

from amaranth import ClockSignal, Instance, Value
from amaranth.lib.wiring import In

__all__ = ["instance_of"]


def instance_of(module: str, interface, reset) -> Instance:
    """An instance of Verilog module *module* whose ports are the signals of *interface* (created from
    the module's component signature), clocked by ``sync`` and reset by *reset*."""
    ports = {}
    for path, member, value in interface.signature.flatten(interface):
        name = "__".join(str(p) for p in path)
        ports[("i_" if member.flow == In else "o_") + name] = Value.cast(value)
    return Instance(module, i_clk=ClockSignal(), i_rst=reset, **ports)
