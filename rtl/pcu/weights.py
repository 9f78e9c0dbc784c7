"""The PCU's weight banks (the systolic mode): two tiles of ``stages x lanes`` stationary weights, one in
use by the firings while the next loads from a vector input."""

from amaranth import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..spec.config import ArrayConfig
from ..spec.pcu_layout import PERIOD_BITS

__all__ = ["WeightBanks"]


class WeightBanks(wiring.Component):
    """Two banks of ``stages`` weight vectors (``lanes`` words each). The loader fills the banks in turn,
    one vector per cycle from the weights input (``w_rdy``/``w_data``, popped with ``w_pop``): vector s of
    a tile goes to stage s. Firings use the banks in the same turn: ``ready`` says the bank in use
    (``bank``) holds a whole tile; ``release`` (a firing that ends the tile's use) moves the firings on
    to the other bank and lets the loader refill the released one once the firings already issued
    have left the stages (``drain`` cycles later).

    Of every ``period`` tiles of the input only tile ``phase`` is kept: the vectors of the others are
    popped as they come and dropped (a weight stream multicast to the units of a chain).

    Ports: ``enable``, ``period``, ``phase`` (static: the weights are on, and which tiles are kept; off,
    nothing is popped), ``w_rdy``, ``w_data``, ``w_pop``, ``ready``, ``release``, ``bank``; ``tiles``
    (bank b's vector s at ``b * stages + s``).
    Latency: a vector popped in cycle t is in ``tiles`` from t+1; a tile whose last vector is popped in
    cycle t makes ``ready`` high from t+1. Invariants: a bank is written only while no firing issued
    with it can still read it (it was released at least ``drain`` cycles before); firings see the tiles
    in the order they arrive; at most two tiles are held.
    """

    def __init__(self, cfg: ArrayConfig, drain: int):
        self.stages, self.drain = cfg.stages, drain
        super().__init__({
            "enable": In(1), "period": In(PERIOD_BITS), "phase": In(PERIOD_BITS), "w_rdy": In(1), "w_data": In(32 * cfg.lanes), "w_pop": Out(1),
            "ready": Out(1), "release": In(1), "bank": Out(1),
            "tiles": Out(32 * cfg.lanes).array(2 * cfg.stages),
        })

    def elaborate(self, platform):
        m = Module()
        S = self.stages
        rows = [Signal(range(S + 1), name=f"bank{b}_rows") for b in range(2)]  # vectors loaded
        draining = [Signal(range(self.drain + 1), name=f"bank{b}_draining") for b in range(2)]
        fill = Signal()  # the bank the loader fills
        use = self.bank  # the bank firings use
        m.d.sync += use.eq(use ^ self.release)

        # The stream's position: the vector within its tile and the tile within its turn of `period`.
        row, turn = Signal(range(S)), Signal(PERIOD_BITS)
        kept = turn == self.phase
        loading, dropping = Signal(), Signal()
        m.d.comb += loading.eq(self.enable & self.w_rdy & kept & (
            ((fill == 0) & (rows[0] < S) & (draining[0] == 0)) | ((fill == 1) & (rows[1] < S) & (draining[1] == 0))))
        m.d.comb += dropping.eq(self.enable & self.w_rdy & ~kept)
        with m.If(loading | dropping):
            m.d.sync += row.eq(Mux(row == S - 1, 0, row + 1))
            with m.If(row == S - 1):
                m.d.sync += turn.eq(Mux(turn + 1 >= self.period, 0, turn + 1))
        m.d.comb += [self.w_pop.eq(loading | dropping),
                     self.ready.eq(((use == 0) & (rows[0] == S)) | ((use == 1) & (rows[1] == S)))]
        for b in range(2):
            with m.If(self.release & (use == b)):
                m.d.sync += [rows[b].eq(0), draining[b].eq(self.drain)]
            with m.Elif(draining[b] != 0):
                m.d.sync += draining[b].eq(draining[b] - 1)
            with m.Elif(loading & (fill == b)):
                m.d.sync += rows[b].eq(rows[b] + 1)
                with m.If(rows[b] == S - 1):
                    m.d.sync += fill.eq(~fill)
                for s in range(S):
                    with m.If(rows[b] == s):
                        m.d.sync += self.tiles[b * S + s].eq(self.w_data)
        return m
