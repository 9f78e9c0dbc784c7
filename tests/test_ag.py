"""AG/CU: the configuration encoder; contiguous read streams of many lengths and alignments,
embedding-row gathers (d = 16, 64, 128) and contiguous writes against the golden AG model, with
cocotbext-axi's AxiRam as the DRAM and random pauses on every AXI channel; the AXI rules (256 beats,
4 KB, nothing touched outside the performed requests); coalescing; bursts in flight; DRAM error
responses (SLVERR/DECERR with poisoned data) on reads and writes. On two configurations, and on the
widest one ArrayConfig allows (32 lanes: a 1024-bit AXI4 data bus, AxSIZE 7).

Seeds are printed; rerun with ``pytest --seed N``.
"""

import dataclasses

import numpy as np
import pytest

from rdagen.rtl.spec.ag_layout import MAX_OUTSTANDING, AgConfigError, AgProgram, axi_size, beat_bytes, decode
from rdagen.rtl.spec.config import ArrayConfig, preset
from rdagen.sim.ag_regression import AgCase, contiguous_case, failed_beats, gather_case, run_ag_cases, write_case
from rdagen.verif.tb.ag_tb import POISON

from .conftest import seeded_rng

CONFIGS = ["small", "medium"]
SMALL = preset("small")


def _report(results):
    for r in results:
        print(f"  {r.name:28} cycles {r.cycles:6d} vectors {len(r.golden.vectors):5d} bursts {len(r.bursts):4d} "
              f"in flight <= {r.most_in_flight:2d} errors {r.errors} {'ok' if r.ok else r.problems}")
    bad = [r for r in results if not r.ok]
    assert not bad, f"{len(bad)} of {len(results)} cases failed; first: {bad[0].name}: {bad[0].problems}"


@pytest.mark.parametrize("program,message", [
    (AgProgram("scatter"), "field 'mode': unknown mode 'scatter'"),
    (AgProgram("gather", row_words=0), "field 'row_words': 0 is not an integer"),
    (AgProgram("gather", table_base=2**32 - 10, row_words=4, rows=3), "field 'rows': 3 rows of 4 words"),
    (AgProgram("gather", rows=0), "field 'rows'"),
])
def test_encoder_rejects_with_named_field(program, message):
    with pytest.raises(AgConfigError, match=message):
        program.encode(SMALL)


def test_encoding_round_trips():
    view = decode(SMALL, AgProgram("gather", table_base=1000, row_words=64, rows=77).encode(SMALL))
    assert view.mode.name == "GATHER" and view.table_base == 1000 and view.row_words == 64 and view.rows == 77


@pytest.mark.cocotb
@pytest.mark.parametrize("config", CONFIGS)
def test_contiguous_streams(config, request):
    """Commands of lengths 0 .. 3 L + 1 and long ones across 4 KB boundaries, from unaligned addresses,
    back to back and apart; without and with DRAM pauses and back-pressure."""
    cfg = preset(config)
    rng = seeded_rng(request)
    L = cfg.lanes
    short = list(range(0, 3 * L + 2))
    cases = [contiguous_case(cfg, rng, "short", short),
             contiguous_case(cfg, rng, "long", [1000, 4096 // 4 + 3, 2 * L, 5000], base=1023),
             contiguous_case(cfg, rng, "short-paused", short, ar_pause=0.3, r_pause=0.4, stall=0.3, gap=0.3),
             contiguous_case(cfg, rng, "long-paused", [3000, 7, 2500], ar_pause=0.5, r_pause=0.3, stall=0.2)]
    for k in range(6):  # random lengths and alignments
        lengths = [int(x) for x in rng.integers(0, 600, int(rng.integers(1, 8)))]
        pause = float(rng.choice([0, 0.2, 0.5]))
        cases.append(contiguous_case(cfg, rng, f"random{k}", lengths, ar_pause=pause, r_pause=pause,
                                     stall=float(rng.choice([0, 0.3])), gap=float(rng.choice([0, 0.3]))))
    results = run_ag_cases(cfg, cases, tag="ag-contiguous")
    _report(results)
    assert any(b[0] % 4096 == 0 and b[1] > 1 for r in results for b in r.bursts)  # a burst was cut at 4 KB


@pytest.mark.cocotb
@pytest.mark.parametrize("config", CONFIGS)
def test_embedding_gathers(config, request):
    """Rows of d = 16, 64 and 128 words from random tables: repeated, unsorted, first and last rows, runs
    of consecutive rows, and out-of-range indices (flagged, never read, zeros in their place)."""
    cfg = preset(config)
    rng = seeded_rng(request)
    cases = []
    for d in (16, 64, 128):
        cases.append(gather_case(cfg, rng, f"d{d}", d, rows=300, n=60, bad=3))
        cases.append(gather_case(cfg, rng, f"d{d}-paused", d, rows=50, n=40, bad=2, ar_pause=0.4, r_pause=0.4,
                                 stall=0.3, gap=0.3))
    cases.append(gather_case(cfg, rng, "d5-unaligned", 5, rows=100, n=50, bad=1, r_pause=0.2))
    results = run_ag_cases(cfg, cases, tag="ag-gather")
    _report(results)
    for case, r in zip(cases, results):
        assert r.errors == sum(i >= case.program.rows for i in case.indices) > 0
    # some rows straddle a 4 KB boundary, so their beats come in two bursts
    assert any(4 * a // 4096 != (4 * (a + n) - 1) // 4096 for r in results for a, n, ok in r.golden.requests if ok)


@pytest.mark.cocotb
@pytest.mark.parametrize("config", CONFIGS)
def test_coalescing_and_bursts_in_flight(config, request):
    """Consecutive rows waiting in the queue join one burst; with a slow R channel the AG keeps
    MAX_OUTSTANDING bursts in flight."""
    cfg = preset(config)
    rng = seeded_rng(request)
    rows, d = 64, 16
    consecutive = AgCase("consecutive-rows", AgProgram("gather", table_base=4096, row_words=d, rows=rows),
                         {4096: rng.integers(0, 2**32, rows * d, dtype=np.uint64).astype(np.uint32)},
                         indices=list(range(rows)), r_pause=0.5)
    scattered = gather_case(cfg, rng, "scattered-rows", d, rows=4096, n=64, r_pause=0.7)
    results = run_ag_cases(cfg, [consecutive, scattered], tag="ag-coalesce")
    _report(results)
    merged, apart = results
    print(f"{rows} consecutive rows in {len(merged.bursts)} bursts; {len(apart.bursts)} bursts for 68 scattered rows")
    row_beats = d // cfg.lanes
    assert len(merged.bursts) < rows // 2 and max(beats for _, beats in merged.bursts) >= 8 * row_beats
    assert apart.most_in_flight == MAX_OUTSTANDING


@pytest.mark.cocotb
@pytest.mark.parametrize("config", CONFIGS)
def test_contiguous_writes(config, request):
    """Write commands of many lengths from unaligned addresses (strobes cover exactly their words; the
    DRAM is read back one vector beyond each side), long ones across 4 KB boundaries, a refused one,
    with and without pauses on AW, W and B; then a read of what was written."""
    cfg = preset(config)
    rng = seeded_rng(request)
    L = cfg.lanes
    pauses = {"aw_pause": 0.3, "w_pause": 0.4, "b_pause": 0.3, "gap": 0.3}
    cases = [write_case(cfg, rng, "short", list(range(0, 3 * L + 2))),
             write_case(cfg, rng, "long", [3000, 1, 4096 + 5]),
             write_case(cfg, rng, "short-paused", list(range(0, 3 * L + 2)), **pauses),
             write_case(cfg, rng, "long-paused", [2000, 2 * L, 999], **pauses)]
    for k in range(4):
        lengths = [int(x) for x in rng.integers(0, 400, int(rng.integers(1, 8)))]
        cases.append(write_case(cfg, rng, f"random{k}", lengths, **(pauses if k % 2 else {})))
    refused = write_case(cfg, rng, "refused", [5, 5, 9])
    refused.write_commands[1] = (2**32 - 3, 5)  # runs past the address space: takes its vectors, writes nothing
    cases.append(refused)
    base, length = cases[1].write_commands[0]
    cases.append(AgCase("read-back", cases[0].program, {}, commands=[(base, length)]))
    results = run_ag_cases(cfg, cases, tag="ag-write")
    _report(results)
    assert results[-2].errors == 1
    assert results[-1].golden.vectors.size and results[-1].ok
    assert any(a % 4096 == 0 and n > 1 for r in results for a, n in r.write_bursts)  # cut at 4 KB


WIDEST = dataclasses.replace(SMALL, name="wide", lanes=32)
"""The widest AG ArrayConfig allows: 32 lanes, a 1024-bit data bus (AXI4's maximum)."""


def test_every_allowed_width_is_a_legal_axi4_bus():
    """AXI4 data buses are 8 .. 1024 bits and AxSIZE (3 bits) is log2 of the beat's bytes: every lanes
    value ArrayConfig accepts gives a legal bus, and the next power of two is refused, naming AXI4."""
    for lanes in (1, 2, 4, 8, 16, 32):
        cfg = dataclasses.replace(SMALL, lanes=lanes)
        assert 8 <= 8 * beat_bytes(cfg) <= 1024 and 2 ** axi_size(cfg) == beat_bytes(cfg) and axi_size(cfg) < 8
    with pytest.raises(ValueError, match="'lanes' = 64 is invalid.*AXI4 allows at most 1024"):
        ArrayConfig(**{**SMALL.to_dict(), "lanes": 64})


def _dram_error_cases(cfg, rng):
    L = cfg.lanes
    read = contiguous_case(cfg, rng, "read-errors", [3 * L + 1, 1, 700, 2 * L], r_pause=0.3, stall=0.2)
    read.failed_beats = failed_beats(rng, read.commands, L, 6)
    gather = gather_case(cfg, rng, "gather-errors", 40, rows=100, n=30, bad=1, gap=0.2)
    gather.failed_beats = failed_beats(rng, [(gather.program.table_base + i * 40, 40)
                                              for i in gather.indices if i < 100], L, 5)
    write = write_case(cfg, rng, "write-errors", [5, 3 * L, 600, 1], w_pause=0.3, b_pause=0.3)
    write.failed_beats = failed_beats(rng, write.write_commands, L, 4)
    return [read, gather, write]


@pytest.mark.cocotb
@pytest.mark.parametrize("config", CONFIGS)
def test_dram_errors(config, request):
    """The DRAM answers chosen beats with SLVERR or DECERR and poisoned data, on reads and on writes:
    the words of a failed read beat come back as zeros (never the poison), a failed write beat keeps
    the DRAM's old words, and every error response reaches ``errors`` (checked against the responses
    to the recorded bursts)."""
    cfg = preset(config)
    results = run_ag_cases(cfg, _dram_error_cases(cfg, seeded_rng(request)), tag="ag-dram-errors")
    _report(results)
    for r in results:
        assert r.errors > 0 and not (r.golden.vectors == POISON).any()
    read, gather, _ = results
    assert (read.golden.vectors == 0).sum() > (read.golden.vectors.size - sum(n for _, n, _ in read.golden.requests))


@pytest.mark.cocotb
def test_widest_config(request):
    """The 32-lane AG (1024-bit beats, AxSIZE 7) against AxiRam: reads of lengths 0 .. 3 L + 1 from
    unaligned addresses, a long read across 4 KB, gathers of 5- and 40-word rows, writes, DRAM errors."""
    cfg, rng = WIDEST, seeded_rng(request)
    L = cfg.lanes
    cases = [contiguous_case(cfg, rng, "short", list(range(0, 3 * L + 2)), r_pause=0.2, stall=0.2),
             contiguous_case(cfg, rng, "long", [2000, 33], base=1023),
             gather_case(cfg, rng, "d5", 5, rows=100, n=30, bad=1),
             gather_case(cfg, rng, "d40", 40, rows=100, n=30, bad=1, r_pause=0.3),
             write_case(cfg, rng, "writes", [1, L - 1, L + 1, 3 * L, 1500], w_pause=0.2, b_pause=0.2),
             *_dram_error_cases(cfg, rng)]
    results = run_ag_cases(cfg, cases, tag="ag-widest")
    _report(results)
    assert all((a % beat_bytes(cfg)) == 0 for r in results for a, _ in r.bursts + r.write_bursts)
