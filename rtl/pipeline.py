"""Pipeline registers: delay lines and stage groups shared by the arithmetic units and the PCU."""

from types import SimpleNamespace

from amaranth import Module, Signal

__all__ = ["delay", "stage"]


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
