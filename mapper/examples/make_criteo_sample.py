"""Writes criteo_sample.tsv: 16 synthetic lines in the Criteo Kaggle format (label, 13 integer
features, 26 categorical features as 8-digit hexadecimal hashes, tab-separated; about 1 field in 8
empty, as in the real data; some integers negative, as the real I2 column). Deterministic: run it
again and the file is the same (tests/test_dlrm.py checks). Usage: python make_criteo_sample.py [OUT]"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

LINES, DENSE, CATEGORICAL, SEED = 16, 13, 26, 20261127


def lines() -> list[str]:
    rng = np.random.default_rng(SEED)
    out = []
    for _ in range(LINES):
        label = str(int(rng.random() < 0.25))
        ints = [str(int(v)) for v in np.floor(rng.exponential(20.0, DENSE) - 2)]
        cats = [f"{int(v):08x}" for v in rng.integers(0, 2**32, CATEGORICAL)]
        fields = [f if rng.random() >= 0.125 else "" for f in ints + cats]
        out.append("\t".join([label] + fields))
    return out


def main(path: str) -> None:
    Path(path).write_text("\n".join(lines()) + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).with_name("criteo_sample.tsv")))
