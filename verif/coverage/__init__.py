"""Functional coverage (cocotb-coverage CoverPoints and CoverCrosses), one group per part of the design,
sampled where stimulus and checked results meet (a case whose results matched the golden model):

* ``arith.<op>`` (arith.py): operand classes, result classes (the arithmetic regression).
* ``pcu`` (pcu.py): operand source x stage, reduction op, accumulator op x mode, outputs, streams.
* ``pmu`` (pmu.py): mode x access pattern x bank conflicts x out-of-range lanes, port x conflicts (per
  access, from the golden model's account of what each access did).
* ``ag`` (ag.py): request x burst cut reason, bursts in flight, channel pauses (from the bursts the
  RTL put on the AXI channels).
* ``switch`` (switch.py): network x fan-out of a switch input x back-pressure (the switch-grid
  regression of each network).
* ``bitstream`` (bitstream.py): every reason a bitstream is refused.
* ``array`` (array.py): the named workloads run bit-exact on the array; every network carried routes.

``rdagen coverage`` (sim/coverage_regression.py) runs the regressions of every group and writes
build/coverage/summary.json; every bin is hit or listed unreachable with the reason.
"""

from .arith import FP_CLASSES, INT_CLASSES, RESULT_CLASSES, arith_coverage, arith_group, fp_class, int_class, \
    result_class, sample_arith
from .group import Group, merge

__all__ = ["Group", "merge", "FP_CLASSES", "INT_CLASSES", "RESULT_CLASSES", "arith_coverage", "arith_group",
           "fp_class", "int_class", "result_class", "sample_arith"]
