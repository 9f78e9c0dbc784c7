"""Bitstream: round trips of every unit's configuration, and refusals with a reason: another
ArrayConfig, bad magic, unknown version, unknown unit address, wrong payload size, stray bits,
duplicates, every truncation and every single-bit flip of a real bitstream; the refusal regression
(verif/bitstream_damage.py): every reason of REFUSALS earned by the damage made for it, and covered."""

import pytest

from rdagen.rtl.spec.array_layout import plan as array_plan
from rdagen.rtl.spec.bitstream import MAGIC, REFUSALS, Address, BitstreamError, Kind, Plan, decode, encode
from rdagen.rtl.spec.config import preset
from rdagen.verif.bitstream_damage import run_refusals, with_crc as _with_crc
from rdagen.verif.coverage.bitstream import bitstream_group, sample_refusal

from .conftest import seeded_rng


def _plan(name):
    return array_plan(preset(name))


def _random_words(plan, rng, fraction=0.5):
    return {a: int.from_bytes(rng.bytes((bits + 7) // 8), "little") % (1 << bits)
            for a, bits in plan.units.items() if rng.random() < fraction}


@pytest.mark.parametrize("config", ["small", "medium"])
def test_round_trip(config, request):
    plan = _plan(config)
    rng = seeded_rng(request)
    words = _random_words(plan, rng)
    assert decode(plan, encode(plan, words)) == words
    assert decode(plan, encode(plan, {})) == {}


def test_refuses_another_configuration():
    small, medium = _plan("small"), _plan("medium")
    data = encode(small, {Address(Kind.PCU, 0, 0): 5})
    with pytest.raises(BitstreamError, match=f"made for ArrayConfig hash {small.cfg.hash}.*medium with hash"):
        decode(medium, data)


@pytest.mark.parametrize("damage,message", [
    (lambda d: b"XDAG" + d[4:], "bad magic"),
    (lambda d: d[:4] + (9).to_bytes(2, "little") + d[6:], "version 9 is not supported"),
    (lambda d: d[:4] + (1).to_bytes(2, "little") + d[6:],
     r"version 1 \(PCU layout without the systolic mode\) is not supported: this loader reads version 2"),
    (lambda d: d[:10], "truncated bitstream"),
    (lambda d: d[:-1] + bytes([d[-1] ^ 1]), "CRC mismatch"),
    (lambda d: 42, "a bitstream is bytes"),
])
def test_refuses_damaged_headers(damage, message):
    plan = _plan("small")
    with pytest.raises(BitstreamError, match=message):
        decode(plan, damage(encode(plan, {Address(Kind.PMU, 0, 1): 3})))


def test_refuses_unknown_unit_addresses_and_bad_records():
    plan = _plan("small")
    wider = Plan(plan.cfg, {**plan.units, Address(Kind.PCU, 0, 1): plan.units[Address(Kind.PCU, 0, 0)],
                            Address(Kind.PCU, 9, 9): 8})
    with pytest.raises(BitstreamError, match=r"unknown unit address: no pcu at \(0, 1\)"):
        decode(plan, encode(wider, {Address(Kind.PCU, 0, 1): 1}))
    with pytest.raises(BitstreamError, match=r"no pcu at \(9, 9\)"):
        encode(plan, {Address(Kind.PCU, 9, 9): 1})
    size = plan.units[Address(Kind.AG, 0, 0)]
    with pytest.raises(BitstreamError, match=f"is not a {size}-bit word"):
        encode(plan, {Address(Kind.AG, 0, 0): 1 << size})
    assert size % 8, "the AG record needs spare payload bits for this test"
    data = bytearray(encode(plan, {Address(Kind.AG, 0, 0): 0}))
    data[-5] |= 0x80  # the last payload byte's top bit: above the AG's configuration bits
    with pytest.raises(BitstreamError, match="bits above the unit's"):
        decode(plan, _with_crc(data))
    twice = bytearray(encode(plan, {Address(Kind.AG, 0, 0): 0}))
    record = twice[20:-4]  # after the 20-byte header: magic, version, reserved, hash, count
    twice = twice[:16] + (2).to_bytes(4, "little") + record + record + twice[-4:]
    with pytest.raises(BitstreamError, match="configured twice"):
        decode(plan, _with_crc(twice))


def test_every_truncation_and_bit_flip_is_refused(request):
    plan = _plan("small")
    rng = seeded_rng(request)
    data = encode(plan, _random_words(plan, rng, fraction=0.05))
    for n in range(len(data)):
        with pytest.raises(BitstreamError):
            decode(plan, data[:n])
    flips = 0
    for i in range(len(data)):
        for b in range(8):
            damaged = bytearray(data)
            damaged[i] ^= 1 << b
            with pytest.raises(BitstreamError):
                decode(plan, bytes(damaged))
            flips += 1
    print(f"{len(data)} bytes: {len(data)} truncations and {flips} single-bit flips refused")
    assert data[:4] == MAGIC


@pytest.mark.parametrize("config", ["tiny", "small", "medium", "plasticine"])
def test_every_refusal_reason_is_earned_by_its_damage_and_covered(config, request):
    cfg = preset(config)
    rng = seeded_rng(request)
    valid = encode(array_plan(cfg), _random_words(array_plan(cfg), rng, fraction=0.0))
    scope = f"test-refusals-{config}"
    refused, problems = run_refusals(cfg, valid, rng, 300, lambda reason: sample_refusal(cfg, reason, scope))
    assert not problems, problems
    coverage = bitstream_group(cfg).report(scope)
    print(f"{refused} damaged bitstreams refused; refusal coverage {coverage['hit']} of {coverage['bins']}, "
          f"unreachable {coverage['unreachable']}")
    assert not coverage["missing"] and not coverage["contradicted"] and coverage["bins"] + len(
        coverage["unreachable"]) == len(REFUSALS)


def test_a_refusal_names_a_known_reason():
    assert BitstreamError("x", "crc").reason == "crc"
    with pytest.raises(ValueError, match="unknown refusal reason 'cosmic_ray'"):
        BitstreamError("x", "cosmic_ray")
