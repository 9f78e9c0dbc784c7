"""Functional coverage of the PCU regressions (sim/pcu_regression.py), sampled per case whose streams
matched the golden model, from its program (rtl/spec/pcu_layout.py) and the golden model's account:

* ``operand_source``: operand source (reg, vin, sin, ctr, lane, const, bvin, wgt) x stage, for every
  operand a stage's op reads (by its arity).
* ``weights`` (the systolic mode): a tile per firing (level 0) and per run of outer counters, two
  tiles used (the second loaded while the first computed), a bank refilled after its release (three
  or more tiles), tiles of a shared stream dropped (``period`` > 1), and a systolic firing (every stage an ``ffma`` of ``bvin``, ``wgt`` and the partial sum).
* ``reduce``: the reduction tree's op, or none.
* ``accumulate``: the accumulator's op x mode: a fixed fold, group lengths from a scalar input, and
  zero-length groups (empty bags) among them.
* ``output``: what each output port carries (vout: reg, acc; sout: reg, acc, red).
* ``flow``: input gaps, output back-pressure, start tokens, inputs popped by an outer counter.
* ``full_output``: each output FIFO full while the unit wants to fire: the outputs were held, the
  golden model's firings outnumber the credits, and this output's own limit is the one that stopped
  the unit (verif/golden/credits.py).
"""

from __future__ import annotations

from rdagen.rtl.spec.config import ArrayConfig
from rdagen.rtl.spec.ops import OP_BY_NAME
from rdagen.rtl.spec.pcu_layout import REDUCE_OPS, Src
from rdagen.verif.golden.credits import output_credit_limits

from .group import Group

__all__ = ["pcu_group", "sample_pcu"]

SOURCES = tuple(s.name.lower() for s in Src)
MODES = ("fixed_fold", "scalar_length", "zero_length_bag")
OUTPUTS = ("vout.reg", "vout.acc", "sout.reg", "sout.acc", "sout.red")
FLOW = ("gaps", "back_pressure", "start_tokens", "pop_level", "lazy_input", "zero_first")
WEIGHTS = ("tile_per_firing", "tile_per_run", "two_tiles", "bank_refilled", "others_tiles_dropped",
           "systolic_firing")

_GROUPS: dict[str, Group] = {}


def pcu_group(cfg: ArrayConfig) -> Group:
    """The PCU's coverage group for *cfg* (its stages are bins)."""
    if cfg.name not in _GROUPS:
        _GROUPS[cfg.name] = Group("pcu", {
            "source": SOURCES, "stage": tuple(range(cfg.stages)),
            "reduce": (*REDUCE_OPS, "none"),
            "acc_op": REDUCE_OPS, "acc_mode": MODES,
            "output": OUTPUTS, "flow": FLOW, "weights": WEIGHTS,
            "full_output": tuple(f"vout{k}" for k in range(cfg.vector_outputs))
            + tuple(f"sout{k}" for k in range(cfg.scalar_outputs)),
        }, {"operand_source": ("source", "stage"), "accumulate": ("acc_op", "acc_mode")})
    return _GROUPS[cfg.name]


def sample_pcu(cfg: ArrayConfig, case, golden, scope: str) -> None:
    """Samples one checked case (sim/pcu_regression.py ``Case``) and its golden streams."""
    group, program = pcu_group(cfg), case.program
    for s, stage in enumerate(program.stages):
        for operand in (stage.a, stage.b, stage.c)[:OP_BY_NAME[stage.op].arity]:
            group.sample(scope, source=operand.src, stage=s)
    group.sample(scope, reduce=program.reduce.op if program.reduce else "none")
    acc = program.accumulate
    if acc is not None and golden.groups:
        group.sample(scope, acc_op=acc.op, acc_mode="fixed_fold" if acc.fold_scalar is None else "scalar_length")
        if golden.empty_groups:
            group.sample(scope, acc_op=acc.op, acc_mode="zero_length_bag")
    for kind, ports in (("vout", program.vout), ("sout", program.sout)):
        for port in ports:
            if port is not None:
                group.sample(scope, output=f"{kind}.{port[0]}")
    flow = {"gaps": case.gap > 0, "back_pressure": case.stall > 0, "start_tokens": case.start_tokens > 0,
            "pop_level": any(level > 0 for level in [*program.vin_pop_level.values(), *program.sin_pop_level.values()]),
            "lazy_input": bool(program.vin_lazy), "zero_first": bool(program.vin_zero_first)}
    for name, happened in flow.items():
        if happened and golden.firings:
            group.sample(scope, flow=name)
    if program.weights is not None and golden.firings:
        _sample_weights(group, scope, cfg, program, golden)
    if case.hold:
        limits = output_credit_limits(cfg, program.encode(cfg))
        stop = min(limits.values())
        for name, limit in limits.items():
            if limit == stop and golden.firings > stop:
                group.sample(scope, full_output=name)


def _is_systolic(cfg: ArrayConfig, program) -> bool:
    """Every stage an ffma of a broadcast input word, the weight and the partial sum in register 0."""
    return len(program.stages) == cfg.stages and all(
        st.op == "ffma" and st.a.src == "bvin" and st.b.src == "wgt" and st.dst == 0
        and (s == 0 or (st.c.src, st.c.index) == ("reg", 0)) for s, st in enumerate(program.stages))


def _sample_weights(group: Group, scope: str, cfg: ArrayConfig, program, golden) -> None:
    group.sample(scope, weights="tile_per_firing" if program.weights.level == 0 else "tile_per_run")
    if golden.tiles >= 2:
        group.sample(scope, weights="two_tiles")
    if golden.tiles >= 3:
        group.sample(scope, weights="bank_refilled")
    if program.weights.period > 1 and golden.tiles >= 2:
        group.sample(scope, weights="others_tiles_dropped")
    if _is_systolic(cfg, program):
        group.sample(scope, weights="systolic_firing")
