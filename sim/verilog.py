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

from rdagen.rtl.config import ArrayConfig

from .paths import BUILD
from .tops import top

__all__ = ["GeneratedVerilog", "generate"]


@dataclasses.dataclass(frozen=True)
class GeneratedVerilog:
    top: str  # name in the TOPS registry
    module: str  # Verilog module name of the top
    path: Path
    digest: str  # sha256 of the Verilog text: the key of every build made from it
    seconds: float  # time spent generating it (0 when it came from the cache of this process)


_cache: dict[tuple[str, str], GeneratedVerilog] = {}


def _source_key(name: str, cfg: ArrayConfig) -> str:
    rtl = Path(__file__).resolve().parent.parent / "rtl"
    h = hashlib.sha256(f"{name} {cfg.hash} amaranth {metadata.version('amaranth')}".encode())
    for source in sorted(rtl.glob("*.py")):
        h.update(source.name.encode() + b"\0" + source.read_bytes())
    h.update(Path(__file__).with_name("tops.py").read_bytes())
    return h.hexdigest()[:24]


def generate(name: str, cfg: ArrayConfig) -> GeneratedVerilog:
    """Elaborate top *name* for *cfg* and write its Verilog (once per generator source, top and config)."""
    key = (name, cfg.hash)
    if key in _cache:
        return dataclasses.replace(_cache[key], seconds=0.0)
    index = BUILD / "verilog" / "index" / f"{name}-{cfg.name}-{_source_key(name, cfg)}.json"
    if index.exists():
        entry = json.loads(index.read_text())
        path = Path(entry["path"])
        if path.exists():
            result = _cache[key] = GeneratedVerilog(name, entry["module"], path, entry["digest"], 0.0)
            return result
    started = time.perf_counter()
    spec = top(name)
    module = f"rdagen_{name}"
    text = verilog.convert(spec.build(cfg), name=module, emit_src=False)
    for submodule, component in spec.modules(cfg).items():
        text += verilog.convert(component, name=submodule, emit_src=False)
    digest = hashlib.sha256(text.encode()).hexdigest()
    out_dir = BUILD / "verilog"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}-{cfg.name}-{digest[:12]}.v"
    if not path.exists():
        tmp = path.with_suffix(f".tmp{id(text)}")
        tmp.write_text(text)
        tmp.replace(path)  # atomic: parallel workers may write the same file
    result = GeneratedVerilog(name, module, path, digest, time.perf_counter() - started)
    _cache[key] = result
    index.parent.mkdir(parents=True, exist_ok=True)
    tmp = index.with_suffix(f".tmp{id(result)}")
    tmp.write_text(json.dumps({"module": module, "path": str(path), "digest": digest}))
    tmp.replace(index)
    return result
