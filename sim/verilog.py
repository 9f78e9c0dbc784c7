"""Verilog generation of the named tops, written under build/verilog/ and named by content hash."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from pathlib import Path

from amaranth.back import verilog

from rtl.config import ArrayConfig

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


def generate(name: str, cfg: ArrayConfig) -> GeneratedVerilog:
    """Elaborate top *name* for *cfg* and write its Verilog (once per process per (top, config))."""
    key = (name, cfg.hash)
    if key in _cache:
        return dataclasses.replace(_cache[key], seconds=0.0)
    started = time.perf_counter()
    component = top(name).build(cfg)
    module = f"rdagen_{name}"
    text = verilog.convert(component, name=module, emit_src=False)
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
    return result
