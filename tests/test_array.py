"""The array top on the `tiny` configuration, configured through the builder and loaded from a
bitstream through the config port: host streams through a PCU, DRAM reads through an AG, and an
embedding-bag sum (row indices from the host to an AG's gathers, bag lengths to a PCU's accumulator,
empty bags included), against NumPy; the builder's and loader's refusals.

Seeds are printed; rerun with ``pytest --seed N``.
"""

import numpy as np
import pytest

from mapper.builder import ArrayBuilder, BuildError
from rtl.ag_layout import AgProgram
from rtl.bitstream import BitstreamError
from rtl.config import preset
from rtl.pcu_layout import Accumulate, Operand, PcuProgram, Stage, vin
from sim.array_run import config_writes, run_array
from sim.streams import pack, unpack

from .conftest import seeded_rng, test_seed

TINY = preset("tiny")


@pytest.mark.cocotb
def test_host_stream_through_a_pcu_and_a_dram_read(request):
    rng = seeded_rng(request)
    L = TINY.lanes
    b = ArrayBuilder(TINY)
    b.pcu(0, 0, PcuProgram(stages=[Stage("fmax", vin(0), Operand("const"), dst=0, const=0)], vin_required=[0],
                           vout=[("reg", 0)]))
    b.route("vector", ("host", 0, "vsend"), ("pcu", 0, 0, "vin", 0))
    b.route("vector", ("pcu", 0, 0, "vout", 0), ("host", 0, "vrecv"))
    b.ag(1, AgProgram("read"))
    b.route("vector", ("ag", 1, "rdata"), ("host", 1, "vrecv"))
    x = rng.standard_normal((40, L)).astype(np.float32)
    table = rng.integers(0, 2**32, 200, dtype=np.uint64).astype(np.uint32)
    base, length = 3, 101
    record = run_array(TINY, b.bitstream(), sources={"vsend__0": pack(x.view(np.uint32)),
                                                     "ag_cmd__1": [base | (length << 32)]},
                       sinks={"vrecv__0": len(x), "vrecv__1": -(-length // L)}, dram={1: {0: table}},
                       gap=0.2, stall=0.2, seed=test_seed(request), tag="array-smoke")
    relu = unpack(record["outputs"]["vrecv__0"], L).view(np.float32)
    assert np.array_equal(relu, np.maximum(x, 0))
    words = unpack(record["outputs"]["vrecv__1"], L).ravel()
    assert np.array_equal(words[:length], table[base: base + length]) and not words[length:].any()
    assert record["registers"]["errors"] == 0 and record["registers"]["cycles"] > len(x)


@pytest.mark.cocotb
def test_embedding_bag_sum(request):
    """Bags of 0 .. 5 rows of a d = lanes table: indices from the host to AG 1 (gathers), rows to the
    PCU at (0, 0), bag lengths from the host to its accumulator; empty bags give zeros. The fp32 sums
    are compared bit for bit with a float32 sum in row order (the accumulator's order)."""
    rng = seeded_rng(request)
    L, rows = TINY.lanes, 50
    table = rng.standard_normal((rows, L)).astype(np.float32)
    lengths = np.array([3, 0, 1, 5, 0, 2, 4], np.uint32)
    indices = rng.integers(0, rows, int(lengths.sum())).astype(np.uint32)
    base = 1000
    b = ArrayBuilder(TINY)
    b.ag(1, AgProgram("gather", table_base=base, row_words=L, rows=rows))
    b.pcu(0, 0, PcuProgram(stages=[Stage("pass", vin(0), dst=1)], vin_required=[0],
                           accumulate=Accumulate("fadd", init=0, src=1, fold_scalar=0), vout=[("acc", 0)]))
    b.route("scalar", ("host", 1, "ssend"), ("ag", 1, "idx"))
    b.route("vector", ("ag", 1, "rdata"), ("pcu", 0, 0, "vin", 0))
    b.route("scalar", ("host", 0, "ssend"), ("pcu", 0, 0, "sin", 0))
    b.route("vector", ("pcu", 0, 0, "vout", 0), ("host", 0, "vrecv"))
    record = run_array(TINY, b.bitstream(), sources={"ssend__1": [int(i) for i in indices],
                                                     "ssend__0": [int(n) for n in lengths]},
                       sinks={"vrecv__0": len(lengths)}, dram={1: {base: table.view(np.uint32).ravel()}},
                       gap=0.3, stall=0.3, seed=test_seed(request), tag="array-bag")
    got = unpack(record["outputs"]["vrecv__0"], L).view(np.float32)
    want, at = [], 0
    for n in lengths:
        acc = np.zeros(L, np.float32)
        for i in indices[at: at + n]:
            acc = acc + table[i]  # float32, in row order
        want.append(acc)
        at += n
    assert np.array_equal(got, np.array(want)), (got, want)


def test_builder_refuses_with_a_named_unit_or_route():
    b = ArrayBuilder(TINY)
    with pytest.raises(BuildError, match=r"tile \(0, 1\) is a PMU, not a PCU"):
        b.pcu(0, 1, PcuProgram(vin_required=[0], vout=[("reg", 0)]))
    with pytest.raises(BuildError, match=r"PCU \(0, 0\): PCU stage 0, field 'dst'"):
        b.pcu(0, 0, PcuProgram(stages=[Stage(dst=9)], vin_required=[0], vout=[("reg", 0)]))
    with pytest.raises(BuildError, match="cannot receive from the scalar network"):
        b.route("scalar", ("host", 0, "ssend"), ("pcu", 0, 0, "vin", 0))
    with pytest.raises(BuildError, match="unknown network 'optical'"):
        b.route("optical", ("host", 0, "ssend"), ("pcu", 0, 0, "sin", 0))
    b.route("vector", ("host", 0, "vsend"), ("pcu", 0, 0, "vin", 0))
    with pytest.raises(BuildError, match="local output 0 of switch \\(0, 0\\) is taken"):
        b.route("vector", ("host", 1, "vsend"), ("pcu", 0, 0, "vin", 0))
    with pytest.raises(BuildError, match="there is no AG in row 5"):
        b.ag(5, AgProgram())


def test_loader_refuses_a_bitstream_for_another_array():
    small = ArrayBuilder(preset("small")).bitstream()
    with pytest.raises(BitstreamError, match="made for ArrayConfig hash"):
        config_writes(TINY, small)
