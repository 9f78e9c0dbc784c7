"""Where the flows put their outputs: build/ at the root of the checkout (override with RDAGEN_BUILD)."""

import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = Path(os.environ.get("RDAGEN_BUILD", ROOT / "build")).resolve()


def new_run_dir(name: str) -> Path:
    """A new, empty directory ``build/runs/<name>-<random>`` for one simulation run: nothing an earlier
    run left (results of a crashed or older simulation) can be read as this run's."""
    runs = BUILD / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=runs))
