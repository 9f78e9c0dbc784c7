# amaranth: UnusedElaboratable=no
"""The AG's parts on their own (rtl/ag/): the request side's split into realigner and fetch entries, the
read realigner turning beats into each request's vectors, and the write aligner turning vectors into
strobed beats, on random requests (offsets, lengths, refusals) with random stalls, against a word
memory written from the spec (rtl/spec/ag_layout.py). Amaranth's simulator; the burst former has its
own tests and proofs, the whole unit tests/test_ag.py.

Seeds are printed; rerun with ``pytest --seed N``.
"""

import numpy as np
import pytest

from rdagen.rtl.ag.realigners import ReadRealigner, WriteAligner
from rdagen.rtl.ag.requests import INFO, Requests
from rdagen.rtl.spec.config import preset

from .amaranth_sim import lanes_of, simulate, vector
from .conftest import seeded_rng

U32 = np.uint32
CONFIGS = ["tiny", "small"]


def _random_requests(cfg, rng, n, memory_words):
    """(address, length, ok) with offsets in every position of a beat and lengths from 0 to 3 vectors."""
    L = cfg.lanes
    lengths = rng.integers(0, 3 * L + 1, n)
    addresses = [int(rng.integers(0, memory_words - 3 * L)) for _ in range(n)]
    oks = rng.random(n) < 0.8
    return [(a, int(length), bool(ok)) for a, length, ok in zip(addresses, lengths, oks)]


def _beats(cfg, address, length):
    L = cfg.lanes
    return 0 if length == 0 else (address + length + L - 1) // L - address // L


@pytest.mark.parametrize("config", CONFIGS)
def test_requests_split_into_realigner_and_fetch_entries(config, request):
    cfg = preset(config)
    rng = seeded_rng(request)
    L = cfg.lanes
    requests = _random_requests(cfg, rng, 40, 1 << 20)
    dut = Requests(cfg)
    seen = {"info": [], "fetch": [], "refused": 0}
    pop_info, pop_fetch = rng.random(400) < 0.6, rng.random(400) < 0.6

    async def bench(ctx):
        pos = 0
        for t in range(400):
            if pos < len(requests):
                a, length, ok = requests[pos]
                ctx.set(dut.valid, 1)
                ctx.set(dut.address, a)
                ctx.set(dut.length, length)
                ctx.set(dut.ok, int(ok))
            else:
                ctx.set(dut.valid, 0)
            ctx.set(dut.info_pop, int(pop_info[t] and ctx.get(dut.info_rdy)))
            ctx.set(dut.fetch_pop, int(pop_fetch[t] and ctx.get(dut.fetch_rdy)))
            if ctx.get(dut.info_rdy) and pop_info[t]:
                d = ctx.get(dut.info_data)
                seen["info"].append((d["offset"], d["length"], d["beats"], d["ok"]))
            if ctx.get(dut.fetch_rdy) and pop_fetch[t]:
                d = ctx.get(dut.fetch_data)
                seen["fetch"].append((d["beat"], d["beats"], d["aligned_start"], d["aligned_end"]))
            seen["refused"] += ctx.get(dut.refused)
            pos += ctx.get(dut.take)
            await ctx.tick()

    simulate(dut, bench)
    info = [(a % L, length, _beats(cfg, a, length), int(ok)) for a, length, ok in requests]
    fetch = [(a // L, _beats(cfg, a, length), int(a % L == 0), int((a + length) % L == 0))
             for a, length, ok in requests if ok and length]
    assert seen["info"] == info
    assert seen["fetch"] == fetch
    assert seen["refused"] == sum(not ok for *_, ok in requests)


def _info(cfg, a, length, ok):
    return INFO.const({"offset": a % cfg.lanes, "length": length, "beats": _beats(cfg, a, length), "ok": int(ok)})


@pytest.mark.parametrize("config", CONFIGS)
def test_read_realigner_gives_each_request_its_words_in_order(config, request):
    cfg = preset(config)
    rng = seeded_rng(request)
    L = cfg.lanes
    memory = rng.integers(0, 2**32, 4096, dtype=np.uint64).astype(U32)
    requests = _random_requests(cfg, rng, 30, len(memory))
    # The beats arrive in request order (AXI ID 0): each performed request's beats, first to last.
    beats = [memory[(a // L + i) * L:(a // L + i + 1) * L] for a, length, ok in requests if ok
             for i in range(_beats(cfg, a, length))]
    expected = []
    for a, length, ok in requests:
        for v in range((length + L - 1) // L):
            words = np.zeros(L, U32)
            n = min(L, length - v * L)
            if ok:
                words[:n] = memory[a + v * L: a + v * L + n]
            expected.append(words)
    dut = ReadRealigner(cfg)
    seen = []
    cycles = 40 * len(requests)
    beat_ready, out_ready = rng.random(cycles) < 0.7, rng.random(cycles) < 0.7

    async def bench(ctx):
        r = b = 0
        for t in range(cycles):
            ctx.set(dut.info_rdy, int(r < len(requests)))
            if r < len(requests):
                ctx.set(dut.info_data, _info(cfg, *requests[r]))
            ctx.set(dut.beat_rdy, int(b < len(beats) and beat_ready[t]))
            if b < len(beats):
                ctx.set(dut.beat_data, vector(beats[b]))
            ctx.set(dut.out_rdy, int(out_ready[t]))
            if ctx.get(dut.out_en):
                assert out_ready[t], f"cycle {t}: a vector written with no room"
                value = ctx.get(dut.out_data)
                seen.append(lanes_of(value, L))
            if ctx.get(dut.beat_pop):
                assert b < len(beats) and beat_ready[t], f"cycle {t}: a beat popped that is not there"
            b += ctx.get(dut.beat_pop)
            r += ctx.get(dut.info_pop)
            await ctx.tick()
        assert (r, b) == (len(requests), len(beats)), f"{r} of {len(requests)} requests, {b} of {len(beats)} beats"

    simulate(dut, bench)
    assert len(seen) == len(expected), f"{len(seen)} vectors, the requests make {len(expected)}"
    for j, (got, want) in enumerate(zip(seen, expected)):
        assert np.array_equal(got, want), f"vector {j}: {got} != {want}"


@pytest.mark.parametrize("config", CONFIGS)
def test_write_aligner_places_each_word_at_its_address_with_strobes(config, request):
    cfg = preset(config)
    rng = seeded_rng(request)
    L = cfg.lanes
    requests = _random_requests(cfg, rng, 30, 4096)
    vectors = [rng.integers(0, 2**32, ((length + L - 1) // L, L), dtype=np.uint64).astype(U32)
               for _, length, _ in requests]
    dut = WriteAligner(cfg)
    cycles = 40 * len(requests)
    vec_ready, room = rng.random(cycles) < 0.7, rng.random(cycles) < 0.7
    beats = []  # per request: (words, strobes) in order

    async def bench(ctx):
        r = v = 0
        for t in range(cycles):
            ctx.set(dut.info_rdy, int(r < len(requests)))
            if r < len(requests):
                ctx.set(dut.info_data, _info(cfg, *requests[r]))
            here = vectors[r] if r < len(requests) else []
            ctx.set(dut.vec_rdy, int(v < len(here) and vec_ready[t]))
            if v < len(here):
                ctx.set(dut.vec_data, vector(here[v]))
            ctx.set(dut.beat_room, int(room[t]))
            if ctx.get(dut.beat_en):
                assert room[t], f"cycle {t}: a beat written with no room"
                value = ctx.get(dut.beat_data)
                beats.append((r, [value >> (32 * i) & 0xFFFFFFFF for i in range(L)],
                              [value >> (32 * L + 4 * i) & 0xF for i in range(L)]))
            if ctx.get(dut.vec_pop):
                assert v < len(here) and vec_ready[t], f"cycle {t}: a vector popped that is not there"
            v += ctx.get(dut.vec_pop)
            if ctx.get(dut.info_pop):
                assert v == len(here), f"request {r} done with {v} of its {len(here)} vectors taken"
                r, v = r + 1, 0
            await ctx.tick()
        assert r == len(requests)

    simulate(dut, bench)
    for k, (a, length, ok) in enumerate(requests):
        mine = [(words, strobes) for r, words, strobes in beats if r == k]
        assert len(mine) == (_beats(cfg, a, length) if ok else 0), f"request {k}: {len(mine)} beats"
        if not ok:
            continue
        written = {}
        for i, (words, strobes) in enumerate(mine):
            for w in range(L):
                assert strobes[w] in (0, 0xF)
                if strobes[w]:
                    written[(a // L + i) * L + w] = words[w]
        want = {a + j: int(vectors[k].ravel()[j]) for j in range(length)}
        assert written == want, f"request {k} (address {a}, {length} words): the strobed words differ"
