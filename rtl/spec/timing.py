"""What the units promise about time and queues: the latency of a PCU and the depths of the queues
whose slots are promised ahead (credits, rtl/credited_fifo.py). The RTL builds them; the golden stall
rules (verif/golden/credits.py) and the regressions read them.
"""

from .config import ArrayConfig
from .ops import FU_LATENCY

__all__ = ["pcu_latency", "pcu_output_depth", "pmu_request_queue_depth", "pmu_output_depth"]


def pcu_latency(cfg: ArrayConfig) -> int:
    """Cycles from a PCU firing to its output FIFO write (the output is visible one cycle later): the
    issue register, the stages and the reduction tree."""
    return 1 + FU_LATENCY * (cfg.stages + (cfg.lanes - 1).bit_length())


def weight_drain(cfg: ArrayConfig) -> int:
    """Cycles after a weight tile's release before its bank may be refilled (rtl/pcu/weights.py): the
    firings issued with it leave the stages (FU_LATENCY per stage) with two cycles to spare."""
    return FU_LATENCY * cfg.stages + 2


def pcu_output_depth(cfg: ArrayConfig) -> int:
    """Entries of each PCU output FIFO: the firings in flight, the write and read registers and an input
    FIFO's worth, so that credits never limit throughput while the consumer keeps up."""
    return pcu_latency(cfg) + 2 + cfg.fifo_depth


def pmu_request_queue_depth(cfg: ArrayConfig) -> int:
    """Entries of each PMU port's request queue: the accesses in the address pipeline and a few more."""
    return cfg.pmu_stages + 4


def pmu_output_depth(cfg: ArrayConfig) -> int:
    """Entries of each PMU read output FIFO: the reads between firing and output and an input FIFO's worth."""
    return cfg.pmu_stages + 8 + cfg.fifo_depth
