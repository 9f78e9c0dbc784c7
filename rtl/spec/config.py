"""ArrayConfig: the one parameter object that every layer (RTL, golden models, mapper, flows) reads.

This is a *spec* module: it imports nothing from the implementations, so ``verif.golden`` and ``mapper``
may import it freely.

Every field is validated when the object is built; a bad value raises ``ValueError`` naming the field,
the value and the allowed range. The ``hash`` is computed from the hardware fields only (not the
``name``), so two files that describe the same hardware agree, and a bitstream header can refer to it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

__all__ = ["ArrayConfig", "PRESETS", "preset", "load"]

# field -> (minimum, maximum, must be a power of two, what it means)
_FIELDS: dict[str, tuple[int, int, bool, str]] = {
    "lanes": (1, 32, True, "SIMD lanes per PCU (= banks per PMU); the reduction tree has log2(lanes) levels; "
                           "at most 32 because the AG's AXI4 data bus is one vector (32 x lanes bits) and AXI4 "
                           "allows at most 1024"),
    "stages": (1, 16, False, "pipeline stages of functional units per PCU"),
    "registers": (2, 64, False, "pipeline registers per lane between PCU stages"),
    "counters": (1, 8, False, "counters in each PCU/PMU counter chain"),
    "vector_inputs": (1, 8, False, "vector input ports per PCU"),
    "scalar_inputs": (1, 8, False, "scalar input ports per PCU"),
    "vector_outputs": (1, 4, False, "vector output ports per PCU"),
    "scalar_outputs": (1, 4, False, "scalar output ports per PCU"),
    "fifo_depth": (4, 64, True, "depth of the FIFO behind every unit input (at least 4: a buffered FIFO "
                                "of depth 2 has zero-width pointers, rtl/buffered_fifo.py)"),
    "pmu_depth": (16, 65536, True, "words per PMU bank"),
    "pmu_stages": (1, 8, False, "stages of the PMU integer address pipeline"),
    "rows": (1, 32, False, "rows of the tile array"),
    "cols": (1, 32, False, "columns of the tile array"),
    "vector_tracks": (1, 8, False, "vector-network tracks per switch direction"),
    "scalar_tracks": (1, 8, False, "scalar-network tracks per switch direction"),
    "control_tracks": (1, 8, False, "control-network tracks per switch direction"),
}

WORD_BITS = 32
"""Width of every datapath word (int32, fp32, bf16-in-fp32). Fixed by the arithmetic spec, not a field."""


def _describe(lo: int, hi: int, pow2: bool) -> str:
    return f"{'a power of two ' if pow2 else 'an integer '}in [{lo}, {hi}]"


@dataclasses.dataclass(frozen=True)
class ArrayConfig:
    """Hardware parameters of one rdagen array. Frozen and validated on construction.

    See ``ArrayConfig.describe()`` (or ``rdagen config fields``) for every field and its range.
    """

    name: str
    lanes: int
    stages: int
    registers: int
    counters: int
    vector_inputs: int
    scalar_inputs: int
    vector_outputs: int
    scalar_outputs: int
    fifo_depth: int
    pmu_depth: int
    pmu_stages: int
    rows: int
    cols: int
    vector_tracks: int
    scalar_tracks: int
    control_tracks: int

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"ArrayConfig field 'name' = {self.name!r} is invalid: must be a non-empty string")
        for field, (lo, hi, pow2, _) in _FIELDS.items():
            value = getattr(self, field)
            ok = isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi
            if ok and pow2:
                ok = value & (value - 1) == 0
            if not ok:
                raise ValueError(
                    f"ArrayConfig field '{field}' = {value!r} is invalid: must be {_describe(lo, hi, pow2)} "
                    f"({_FIELDS[field][3]})")
        if self.rows * self.cols < 2:
            raise ValueError(
                f"ArrayConfig fields 'rows' x 'cols' = {self.rows} x {self.cols} is invalid: "
                f"the checkerboard needs at least 2 tiles (one PCU and one PMU)")

    # -- derived values -------------------------------------------------------------------------------
    @property
    def lane_bits(self) -> int:
        """Bits of a lane index (at least 1)."""
        return max(1, (self.lanes - 1).bit_length())

    @property
    def pmu_words(self) -> int:
        """Words of one PMU scratchpad (all banks)."""
        return self.lanes * self.pmu_depth

    # -- serialisation --------------------------------------------------------------------------------
    def hardware_dict(self) -> dict[str, int]:
        """The fields that define the hardware (everything but ``name``)."""
        return {field: getattr(self, field) for field in _FIELDS}

    def to_dict(self) -> dict:
        return {"name": self.name, **self.hardware_dict()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json())

    @property
    def hash(self) -> str:
        """Stable 16-hex-digit hash of the hardware fields (independent of ``name`` and field order)."""
        canonical = json.dumps(self.hardware_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    @property
    def hash32(self) -> int:
        """The first 32 bits of ``hash`` as an integer (for bitstream headers)."""
        return int(self.hash[:8], 16)

    @classmethod
    def from_dict(cls, data: dict, *, source: str = "configuration", notes: list | None = None) -> "ArrayConfig":
        """The ArrayConfig of *data*. A ``hash`` entry (as ``rdagen config show`` prints) is derived, not
        a field: it is accepted when it matches the fields; when it does not (the file was edited), a
        note saying so is appended to *notes* and the hash of the fields is used."""
        if not isinstance(data, dict):
            raise ValueError(f"{source}: expected a JSON object of ArrayConfig fields, got {type(data).__name__}")
        data = dict(data)
        stated = data.pop("hash", None)
        known = {"name", *_FIELDS}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{source}: unknown ArrayConfig field(s) {', '.join(unknown)}; "
                             f"valid fields: {', '.join(['name', *_FIELDS])}")
        missing = [f for f in ["name", *_FIELDS] if f not in data]
        if missing:
            raise ValueError(f"{source}: missing ArrayConfig field(s) {', '.join(missing)} "
                             f"(start from `rdagen config show small`)")
        cfg = cls(**data)
        if stated is not None and stated != cfg.hash and notes is not None:
            notes.append(f"{source}: its 'hash' {stated!r} does not match its fields (the file was edited); the hash "
                         f"is derived from the hardware fields, which give {cfg.hash}")
        return cfg

    @classmethod
    def from_json(cls, text: str, *, source: str = "configuration", notes: list | None = None) -> "ArrayConfig":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{source}: not valid JSON: {exc}") from None
        return cls.from_dict(data, source=source, notes=notes)

    @staticmethod
    def describe() -> str:
        """One line per field: name, allowed range, meaning."""
        return "\n".join(f"{field:15} {_describe(lo, hi, pow2):32} {meaning}"
                         for field, (lo, hi, pow2, meaning) in _FIELDS.items())


PRESETS: dict[str, ArrayConfig] = {
    # The fast regression configuration (shared/ARCHITECTURE.md).
    "small": ArrayConfig(
        name="small", lanes=4, stages=4, registers=8, counters=3,
        vector_inputs=3, scalar_inputs=2, vector_outputs=1, scalar_outputs=1,
        fifo_depth=4, pmu_depth=256, pmu_stages=4, rows=4, cols=4,
        vector_tracks=2, scalar_tracks=2, control_tracks=2),
    # Plasticine (ISCA 2017): 16 lanes x 6 stages, 16 registers, 16 banks x 4096 words, 16x8 array,
    # 4 vector and 2 scalar links per switch, FIFOs of depth 4.
    "plasticine": ArrayConfig(
        name="plasticine", lanes=16, stages=6, registers=16, counters=3,
        vector_inputs=4, scalar_inputs=4, vector_outputs=2, scalar_outputs=2,
        fifo_depth=4, pmu_depth=4096, pmu_stages=4, rows=16, cols=8,
        vector_tracks=4, scalar_tracks=2, control_tracks=4),
    # A second regression width (8 lanes x 6 stages) so bugs that only show at other widths are caught.
    "medium": ArrayConfig(
        name="medium", lanes=8, stages=6, registers=12, counters=3,
        vector_inputs=3, scalar_inputs=3, vector_outputs=2, scalar_outputs=2,
        fifo_depth=8, pmu_depth=1024, pmu_stages=4, rows=6, cols=6,
        vector_tracks=3, scalar_tracks=2, control_tracks=2),
    # The smallest array worth simulating whole (3 x 3 tiles of 2 lanes: five PCUs, room for a two-layer
    # MLP): array-level regressions in CI.
    "tiny": ArrayConfig(
        name="tiny", lanes=2, stages=2, registers=4, counters=2,
        vector_inputs=2, scalar_inputs=2, vector_outputs=1, scalar_outputs=1,
        fifo_depth=4, pmu_depth=16, pmu_stages=2, rows=3, cols=3,
        vector_tracks=1, scalar_tracks=1, control_tracks=1),
}


def preset(name: str) -> ArrayConfig:
    """The preset called *name*; an unknown name raises ``ValueError`` listing the valid ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown ArrayConfig preset {name!r}; valid presets: {', '.join(PRESETS)}") from None


def load(spec: str | Path, notes: list | None = None) -> ArrayConfig:
    """A preset name or the path of a JSON file (notes on it, such as a stale ``hash``, go to *notes*)."""
    if isinstance(spec, str) and spec in PRESETS:
        return PRESETS[spec]
    path = Path(spec)
    if not path.exists():
        raise ValueError(f"{spec!r} is neither a preset ({', '.join(PRESETS)}) nor an existing JSON file")
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not an ArrayConfig JSON file")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    return ArrayConfig.from_json(text, source=str(path), notes=notes)
