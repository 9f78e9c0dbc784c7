# amaranth: UnusedElaboratable=no
"""A statically configured switch of one network, and a grid of them (semantics: rtl/spec/switch_layout.py).

Latency: one cycle per hop (every output is a registered two-entry FIFO, rtl/hop_buffer.py). Throughput:
one word per cycle per output, also under multicast. Ready never depends on valid, and no ready path
crosses a hop.
"""

from amaranth import Const, Module
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .hop_buffer import HopBuffer
from .instance import instance_of
from .pipeline import select
from .spec.switch_layout import DIRECTIONS, OPPOSITE, switch_layout

__all__ = ["Switch", "SwitchGrid"]


class Switch(wiring.Component):
    """One switch of a network of *width*-bit words and *tracks* tracks per direction.

    Ports: ``inp[d][t]``/``out[d][t]`` for the four directions, ``local_in[k]``/``local_out[k]``, and
    ``configuration`` (static, ``switch_layout(tracks, local_in, local_out)``). Latency: one cycle per
    hop (every output a ``HopBuffer``); one word per cycle per output, also under multicast.
    Invariants: ready never depends on valid; no ready path crosses a hop; a multicast word leaves
    when every one of its outputs takes it.
    """

    def __init__(self, width: int, tracks: int, local_in: int, local_out: int):
        for name, value, lo in (("width", width, 1), ("tracks", tracks, 1), ("local_in", local_in, 0),
                                ("local_out", local_out, 0)):
            if not isinstance(value, int) or value < lo:
                raise ValueError(f"Switch {name} = {value!r} is invalid: must be an integer >= {lo}")
        self.width, self.tracks, self.n_local_in, self.n_local_out = width, tracks, local_in, local_out
        link = stream.Signature(width)
        members = {
            "configuration": In(switch_layout(tracks, local_in, local_out)),
            "inp": In(link).array(4, tracks),
            "out": Out(link).array(4, tracks),
        }
        if local_in:
            members["local_in"] = In(link).array(local_in)
        if local_out:
            members["local_out"] = Out(link).array(local_out)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        inputs = [self.inp[d][t] for d in range(4) for t in range(self.tracks)]
        inputs += [self.local_in[k] for k in range(self.n_local_in)]
        outputs = [self.out[d][t] for d in range(4) for t in range(self.tracks)]
        outputs += [self.local_out[k] for k in range(self.n_local_out)]
        sel = self.configuration

        buffers = []
        for o, port in enumerate(outputs):
            f = m.submodules[f"out{o}"] = HopBuffer(self.width)
            m.d.comb += [port.valid.eq(f.r_rdy), port.payload.eq(f.r_data), f.r_en.eq(port.ready)]
            buffers.append(f)
        fires = []
        for i, port in enumerate(inputs):
            consumers = [sel[o] == i + 1 for o in range(len(outputs))]
            used = Const(0)
            for c in consumers:
                used |= c
            m.d.comb += port.ready.eq(used & self.room(consumers, buffers))
            fires.append(port.valid & port.ready)
        for o, f in enumerate(buffers):
            m.d.comb += [f.w_en.eq(select(m, [Const(0), *fires], sel[o], 1, f"out{o}_fire")),
                         f.w_data.eq(select(m, [Const(0, self.width), *[p.payload for p in inputs]], sel[o],
                                            self.width, f"out{o}_data"))]
        return m

    @staticmethod
    def room(consumers: list, buffers: list):
        """Whether every consumer of an input (``consumers[o]``: output o selects it) can take a word:
        a multicast word moves only when all of them take it (verif/formal.py proves it)."""
        room = Const(1)
        for consumer, f in zip(consumers, buffers):
            room &= ~consumer | f.w_rdy
        return room


class SwitchGrid(wiring.Component):
    """``rows`` x ``cols`` switches joined by their direction links (edge links tied off), each with
    ``local_in`` local inputs and ``local_out`` local outputs exposed as ``local_in[r][c][k]`` and
    ``local_out[r][c][k]``; the configuration is every switch's, row by row. One network of the array,
    and a test top for routes through a network. With *module*, every switch is an instance of that
    Verilog module (a ``Switch`` converted once, separately) reset by *reset*; without, each switch is
    elaborated in place.

    Ports: ``configuration`` (every switch's, row by row), ``local_in[r][c][k]``, ``local_out[r][c][k]``.
    Latency: one cycle per hop; invariants: those of ``Switch`` at every tile.
    """

    def __init__(self, width: int, tracks: int, rows: int, cols: int, local_in: int, local_out: int,
                 module: str | None = None, reset=None):
        self.width, self.tracks, self.rows, self.cols = width, tracks, rows, cols
        self.n_local_in, self.n_local_out = local_in, local_out
        self.module, self.reset = module, reset
        link = stream.Signature(width)
        super().__init__({
            "configuration": In(data.ArrayLayout(switch_layout(tracks, local_in, local_out), rows * cols)),
            "local_in": In(link).array(rows, cols, local_in),
            "local_out": Out(link).array(rows, cols, local_out),
        })

    def elaborate(self, platform):
        m = Module()
        grid = {}
        for r in range(self.rows):
            for c in range(self.cols):
                switch = Switch(self.width, self.tracks, self.n_local_in, self.n_local_out)
                if self.module:
                    sw = switch.signature.create(path=(f"sw_{r}_{c}",))
                    m.submodules[f"sw_{r}_{c}"] = instance_of(self.module, sw, self.reset)
                else:
                    sw = m.submodules[f"sw_{r}_{c}"] = switch
                m.d.comb += sw.configuration.eq(self.configuration[r * self.cols + c])
                for k in range(self.n_local_in):
                    wiring.connect(m, wiring.flipped(self.local_in[r][c][k]), sw.local_in[k])
                for k in range(self.n_local_out):
                    wiring.connect(m, sw.local_out[k], wiring.flipped(self.local_out[r][c][k]))
                grid[r, c] = sw
        step = {"north": (-1, 0), "east": (0, 1), "south": (1, 0), "west": (0, -1)}
        for (r, c), sw in grid.items():
            for d, direction in enumerate(DIRECTIONS):
                dr, dc = step[direction]
                neighbour = grid.get((r + dr, c + dc))
                back = DIRECTIONS.index(OPPOSITE[direction])
                for t in range(self.tracks):
                    if neighbour is None:  # array edge: nothing arrives, nothing leaves
                        m.d.comb += [sw.inp[d][t].valid.eq(0), sw.out[d][t].ready.eq(0)]
                    else:
                        wiring.connect(m, sw.out[d][t], neighbour.inp[back][t])
        return m
