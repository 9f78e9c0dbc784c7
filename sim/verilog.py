"""Verilog generation of the named tops, written under build/verilog/ and named by content hash.

Elaborating the array takes minutes (every unit instance is elaborated on its own), so generated
Verilog is also cached on disk, keyed by the top, the ArrayConfig hash, the Amaranth version and the
text of every rtl/ source: any change to the generator makes a new key."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from importlib import metadata
from pathlib import Path

from amaranth.back import verilog

from rdagen.rtl.array import Array, configured_modules
from rdagen.rtl.spec.config import ArrayConfig

from . import code_coverage
from .build_progress import heartbeat
from .paths import BUILD, write_atomic
from .tops import top

__all__ = ["GeneratedVerilog", "generate", "generate_specialised"]


@dataclasses.dataclass(frozen=True)
class GeneratedVerilog:
    top: str  # name in the TOPS registry
    module: str  # Verilog module name of the top
    path: Path
    digest: str  # sha256 of the Verilog text: the key of every build made from it
    seconds: float  # time spent generating it (0 when it came from the cache of this process)
    # A specialised array's ConfiguredUnit modules, each with the names of its instances (units).
    blocks: tuple[tuple[str, tuple[str, ...]], ...] = ()


_cache: dict[tuple[str, str], GeneratedVerilog] = {}


def _source_key(name: str, cfg: ArrayConfig) -> str:
    rtl = Path(__file__).resolve().parent.parent / "rtl"
    h = hashlib.sha256(f"{name} {cfg.hash} amaranth {metadata.version('amaranth')}".encode())
    for source in sorted(rtl.rglob("*.py")):
        h.update(source.relative_to(rtl).as_posix().encode() + b"\0" + source.read_bytes())
    h.update(Path(__file__).with_name("tops.py").read_bytes())
    return h.hexdigest()[:24]


def generate(name: str, cfg: ArrayConfig) -> GeneratedVerilog:
    """Elaborate top *name* for *cfg* and write its Verilog (once per generator source, top and config).
    While code coverage is collected (sim/code_coverage.py), the Verilog carries Amaranth's ``src``
    attributes (a separate cache entry)."""
    src = code_coverage.active()
    key = (name, cfg.hash, src)
    if key in _cache:
        return dataclasses.replace(_cache[key], seconds=0.0)
    index = BUILD / "verilog" / "index" / f"{name}-{cfg.name}{'-src' if src else ''}-{_source_key(name, cfg)}.json"
    cached = _indexed(index, name)
    if cached:
        _cache[key] = cached
        return cached
    started = time.perf_counter()
    module = f"rdagen_{name}"
    with heartbeat(f"[verilog] generating {name} for {cfg.name} (cached by hash)"):
        text = verilog.convert(top(name).build(cfg), name=module, emit_src=src) + _modules_text(name, cfg)
    result = _cache[key] = _write(index, name, cfg, module, text, time.perf_counter() - started)
    return result


def generate_specialised(cfg: ArrayConfig, configuration: dict, share: bool) -> GeneratedVerilog:
    """The array specialised to *configuration* ({Address: word}, a decoded bitstream): switch
    configurations are constants and each unit an instance of its ``ConfiguredUnit`` module (rtl/array.py),
    converted here once each (``configured_modules``, with *share*) and listed in ``blocks``; the unit
    modules are the generic ones. Cached by the configuration too."""
    words = hashlib.sha256(repr((share, sorted(configuration.items()))).encode()).hexdigest()[:16]
    index = BUILD / "verilog" / "index" / f"array-spec-{cfg.name}-{_source_key('array', cfg)}-{words}.json"
    cached = _indexed(index, "array-spec")
    if cached:
        return cached
    started = time.perf_counter()
    with heartbeat(f"[verilog] generating the array of {cfg.name} specialised to a bitstream (cached by hash)"):
        blocks = configured_modules(cfg, configuration, share)
        text = (verilog.convert(Array(cfg, configuration, share), name="rdagen_array", emit_src=False)
                + "".join(verilog.convert(unit, name=name, emit_src=False) for name, (unit, _) in blocks.items())
                + _modules_text("array", cfg))
    return _write(index, "array-spec", cfg, "rdagen_array", text, time.perf_counter() - started,
                  tuple((name, tuple(units)) for name, (_, units) in blocks.items()))


def _modules_text(name: str, cfg: ArrayConfig) -> str:
    """The Verilog of the modules top *name* instantiates by name, converted once per generator source."""
    modules = top(name).modules(cfg)
    if not modules:
        return ""
    path = BUILD / "verilog" / "modules" / f"{name}-{cfg.name}-{_source_key(name, cfg)}.v"
    if path.exists():
        return path.read_text()
    text = "".join(verilog.convert(component, name=module, emit_src=False) for module, component in modules.items())
    write_atomic(path, text)
    return text


def _indexed(index: Path, name: str) -> GeneratedVerilog | None:
    """The Verilog an index entry names, if both exist."""
    if not index.exists():
        return None
    entry = json.loads(index.read_text())
    path = Path(entry["path"])
    if not path.exists():
        return None
    blocks = tuple((module, tuple(units)) for module, units in entry.get("blocks", ()))
    return GeneratedVerilog(name, entry["module"], path, entry["digest"], 0.0, blocks)


def _write(index: Path, name: str, cfg: ArrayConfig, module: str, text: str, seconds: float,
           blocks: tuple = ()) -> GeneratedVerilog:
    """Writes *text* (named by its digest) and its *index* entry."""
    digest = hashlib.sha256(text.encode()).hexdigest()
    path = BUILD / "verilog" / f"{name}-{cfg.name}-{digest[:12]}.v"
    if not path.exists():
        write_atomic(path, text)
    write_atomic(index, json.dumps({"module": module, "path": str(path), "digest": digest,
                                     "blocks": [[m, list(units)] for m, units in blocks]}))
    return GeneratedVerilog(name, module, path, digest, seconds, blocks)


