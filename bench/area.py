"""Benchmark of the area model (explore/area.py): every unit kind of the ``tiny``, ``small`` and
``medium`` presets synthesized whole (``full``) and by parts (``parts``, synth/parts.py), the error of
the parts in Yosys cells, NAND2 equivalents, flip-flops and memory bits, and the seconds of each;
then every unit kind of ``plasticine`` by parts (its full PCU synthesis takes hours). Writes
bench/results/area.json. Both methods run on the same Yosys, hierarchical, memories as macros; results
come from (and go to) the unit cache, build/synth/units, so a rerun synthesizes nothing it has seen.
"""

from __future__ import annotations

import dataclasses
import json

from rdagen.explore.area import UNITS, synthesize_unit
from rdagen.rtl.spec.config import preset

from .arith import RESULTS

__all__ = ["run", "CALIBRATION", "LARGE"]

CALIBRATION = ("tiny", "small", "medium")
LARGE = ("plasticine",)
FIGURES = ("cells", "nand2", "flipflops", "memory_bits")


def run(*, log=print, timeout: float = 14_000):
    rows = []
    for name in CALIBRATION + LARGE:
        fields = {k: v for k, v in dataclasses.asdict(preset(name)).items() if k != "name"}
        for kind in UNITS:
            parts = synthesize_unit(kind, fields, timeout, "parts")
            row = {"config": name, "kind": kind, "modules": (parts["parts"] or {}).get("modules"),
                   "parts": (parts["parts"] or {}).get("parts"), "parts_seconds": parts["seconds"],
                   **{f"parts_{f}": parts[f] for f in FIGURES}}
            if name in CALIBRATION:
                full = synthesize_unit(kind, fields, timeout, "full")
                row.update({"full_seconds": full["seconds"], **{f"full_{f}": full[f] for f in FIGURES}})
                row.update({f"error_{f}": round(parts[f] / full[f] - 1, 6) if full[f] else 0.0 for f in FIGURES})
            rows.append(row)
            log(f"[area] {name} {kind}: {parts['cells']:,} cells by parts ({parts['seconds']:.0f} s)"
                + (f", {row['full_cells']:,} whole ({row['full_seconds']:.0f} s), error "
                   f"{100 * row['error_cells']:+.3f} %" if "full_cells" in row else ""))
    errors = [abs(r[f"error_{f}"]) for r in rows if "full_cells" in r for f in FIGURES]
    out = RESULTS / "area.json"
    RESULTS.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmark": "area", "max_abs_error": max(errors), "yosys": parts["yosys"],
                               "rows": rows}, indent=2) + "\n")
    log(f"[area] largest error of the parts against the full syntheses: {100 * max(errors):.3f} %")
    return out
