"""Where the flows put their outputs: build/ at the root of the checkout (override with RDAGEN_BUILD)."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = Path(os.environ.get("RDAGEN_BUILD", ROOT / "build")).resolve()
