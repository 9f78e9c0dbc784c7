"""ArrayConfig: presets, validation with errors naming field/value/range, JSON, hash, CLI."""

import dataclasses
import json
import subprocess
import sys

import pytest

from rdagen.rtl.spec.config import PRESETS, ArrayConfig, load, preset
from rdagen.rtl.spec.config import _FIELDS as FIELDS

SMALL = PRESETS["small"]


def test_presets_match_the_architecture():
    small, plas = preset("small"), preset("plasticine")
    assert (small.lanes, small.stages, small.pmu_depth, small.rows, small.cols) == (4, 4, 256, 4, 4)
    assert (plas.lanes, plas.stages, plas.registers, plas.pmu_depth, plas.rows, plas.cols) == (16, 6, 16, 4096, 16, 8)
    assert (plas.vector_tracks, plas.scalar_tracks, plas.fifo_depth) == (4, 2, 4)
    assert len({cfg.hash for cfg in PRESETS.values()}) == len(PRESETS)


def test_unknown_preset_lists_valid_ones():
    with pytest.raises(ValueError, match="valid presets: small, plasticine"):
        preset("nosuch")


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_every_field_rejects_out_of_range_values(field):
    lo, hi, pow2, _ = FIELDS[field]
    bad = [lo - 1, hi + 1, True, 2.0, "4", None]
    if pow2:
        bad.append(3 if lo <= 3 <= hi else lo * 3)
    for value in bad:
        with pytest.raises(ValueError) as info:
            dataclasses.replace(SMALL, **{field: value})
        message = str(info.value)
        assert f"'{field}'" in message and repr(value) in message and f"[{lo}, {hi}]" in message, message


def test_array_needs_two_tiles():
    with pytest.raises(ValueError, match="'rows' x 'cols'"):
        dataclasses.replace(SMALL, rows=1, cols=1)


def test_json_round_trip_and_file(tmp_path):
    for cfg in PRESETS.values():
        assert ArrayConfig.from_json(cfg.to_json()) == cfg
    path = tmp_path / "c.json"
    SMALL.save(path)
    assert load(str(path)) == SMALL


def test_hash_is_stable_and_hardware_only():
    renamed = dataclasses.replace(SMALL, name="other")
    assert renamed.hash == SMALL.hash  # the name is not hardware
    assert dataclasses.replace(SMALL, lanes=8).hash != SMALL.hash
    reordered = dict(reversed(list(SMALL.to_dict().items())))
    assert ArrayConfig.from_dict(reordered).hash == SMALL.hash
    assert SMALL.hash == "f3259766ad4f066a"  # pinned: bitstreams will carry it; a change must be deliberate
    assert SMALL.hash32 == int(SMALL.hash[:8], 16)


def test_json_errors_name_the_problem():
    data = SMALL.to_dict()
    with pytest.raises(ValueError, match="unknown ArrayConfig field.*lanez"):
        ArrayConfig.from_dict({**data, "lanez": 4})
    del data["stages"]
    with pytest.raises(ValueError, match="missing ArrayConfig field.*stages"):
        ArrayConfig.from_dict(data)
    with pytest.raises(ValueError, match="not valid JSON"):
        ArrayConfig.from_json("{lanes: 4")


def _rdagen(*args):
    return subprocess.run([sys.executable, "-m", "rdagen.cli", *args], capture_output=True, text=True)


def test_cli_config_show_and_check(tmp_path):
    shown = _rdagen("config", "show", "small")
    assert shown.returncode == 0
    assert json.loads(shown.stdout)["lanes"] == 4
    missing = _rdagen("config", "show", "nosuch")
    assert missing.returncode != 0 and "small, plasticine" in missing.stderr
    good = tmp_path / "good.json"
    SMALL.save(good)
    assert _rdagen("config", "check", str(good)).returncode == 0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**SMALL.to_dict(), "lanes": 3}))
    checked = _rdagen("config", "check", str(bad))
    assert checked.returncode == 2 and "invalid: " in checked.stderr and "'lanes'" in checked.stderr and "3" in checked.stderr


def test_a_shown_config_file_is_accepted_and_an_edited_one_is_noted(tmp_path):
    """`rdagen config show small > my.json`, then `config check my.json`: accepted (the hash matches).
    Edited, its hash no longer matches: still accepted, with a note that the hash is derived."""
    mine = tmp_path / "my.json"
    mine.write_text(_rdagen("config", "show", "small").stdout)
    checked = _rdagen("config", "check", str(mine))
    assert checked.returncode == 0 and f"hash {SMALL.hash}" in checked.stdout and "note" not in checked.stderr
    edited = {**json.loads(mine.read_text()), "lanes": 8}
    mine.write_text(json.dumps(edited))
    wider = ArrayConfig(**{k: v for k, v in edited.items() if k != "hash"})
    for command in ("check", "show"):
        run = _rdagen("config", command, str(mine))
        assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
        assert f"'hash' '{SMALL.hash}' does not match its fields (the file was edited)" in run.stderr
        assert f"derived from the hardware fields, which give {wider.hash}" in run.stderr
        assert wider.hash in run.stdout


def test_config_files_that_cannot_be_read_are_refused_without_a_traceback(tmp_path):
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    for target, message in ((tmp_path, "is a directory"), (binary, "cannot be read")):
        for args in (("config", "check", str(target)), ("sim", "--config", str(target))):
            run = _rdagen(*args)
            assert run.returncode == 2 and message in run.stderr and "Traceback" not in run.stderr, run.stderr


def test_ci_derives_the_base_seed_from_the_commit(monkeypatch, pytestconfig):
    from .conftest import base_seed, commit_seed

    monkeypatch.delenv("RDAGEN_SEED", raising=False)
    monkeypatch.setattr(pytestconfig.option, "seed", None)
    monkeypatch.setenv("CI", "true")
    seed = commit_seed()
    assert seed is not None and base_seed(pytestconfig) == seed
    monkeypatch.setenv("RDAGEN_SEED", "77")
    assert base_seed(pytestconfig) == 77
    monkeypatch.delenv("RDAGEN_SEED")
    monkeypatch.delenv("CI")
    assert base_seed(pytestconfig) == 1


def test_installed_packages_live_under_one_rdagen_namespace(tmp_path):
    """Outside the checkout, the project imports as rdagen.rtl, rdagen.sim, ... and installs no generic
    top-level package (rtl, sim, verif, bench, mapper, synth) that could shadow a user's own."""
    probe = ("import importlib.util, rdagen.rtl.spec.config, rdagen.cli, rdagen.verif.golden.array, rdagen.mapper.program;"
             "print([n for n in ('rtl', 'sim', 'verif', 'bench', 'mapper', 'synth') if importlib.util.find_spec(n)])")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
