"""cocotb testbench of the ArithHarness (sim/tops.py): streams a preloaded plan of operations through
all lanes at once and records every result.

The plan is a .npz written by verif/arith_regression.py (environment variable RDAGEN_STIMULUS):
``codes``, ``a``, ``b``, ``c`` of shape (cycles, lanes), ``valid`` of shape (cycles,), ``seed`` and
``expected`` (the golden model's results, for the caller). The results are written to RDAGEN_RESULTS
with the cycle count; the caller compares them with ``expected``, per op. The bench itself passes
whenever it ran to the end, so a failed simulation is never mistaken for a mismatch report.

Inputs are driven and outputs sampled at the falling clock edge, so the same bench gives the same bits
on Verilator and on Icarus (whose value-change callbacks at the rising edge come before the flops).
"""

import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from rdagen.rtl.spec.ops import OP_BITS


def _pack_rows(words: np.ndarray, bits: int) -> list[int]:
    """Each row of *words* (lane j in bits [j*bits, (j+1)*bits)) as one Python integer."""
    if bits == 32:
        return [int.from_bytes(row.tobytes(), "little") for row in words.astype("<u4")]
    unpacked = np.unpackbits(words.astype(np.uint8)[..., None], axis=-1, bitorder="little")[..., :bits]
    packed = np.packbits(unpacked.reshape(len(words), -1), axis=1, bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in packed]


@cocotb.test()
async def arith_stream(dut):
    plan = np.load(os.environ["RDAGEN_STIMULUS"])
    codes, valid = plan["codes"], plan["valid"]
    cycles, lanes = codes.shape
    ops = _pack_rows(codes, OP_BITS)
    a, b, c = (_pack_rows(plan[k], 32) for k in "abc")
    valid = [int(v) for v in valid]

    Clock(dut.clk, int(os.environ.get("RDAGEN_CLOCK_NS", "10")), unit="ns").start()
    falling = FallingEdge(dut.clk)
    dut.rst.value = 1
    dut.valid.value = 0
    dut.reseed.value = 0
    dut.seed.value = int(plan["seed"])
    await falling
    await falling
    dut.rst.value = 0
    dut.reseed.value = 1
    await falling
    dut.reseed.value = 0

    out_valid, out = dut.out_valid, dut.out
    in_valid, in_op, in_a, in_b, in_c = dut.valid, dut.op, dut.a, dut.b, dut.c
    results: list[int] = []
    drain = 0
    k = 0
    while k < cycles or drain < 16:
        await falling
        if out_valid.value:
            results.append(out.value.to_unsigned())
        if k < cycles:
            in_valid.value = valid[k]
            in_op.value = ops[k]
            in_a.value = a[k]
            in_b.value = b[k]
            in_c.value = c[k]
            k += 1
        else:
            in_valid.value = 0
            drain += 1

    got = np.frombuffer(b"".join(r.to_bytes(4 * lanes, "little") for r in results), dtype="<u4")
    got = got.reshape(-1, lanes)
    np.savez(os.environ["RDAGEN_RESULTS"], results=got, cycles=cycles)
