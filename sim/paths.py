"""Where the flows put their outputs: build/ at the root of the checkout (override with RDAGEN_BUILD).

Each simulation run gets a new directory under build/runs/. Only the last ``keep_runs()`` of them are
kept (``RDAGEN_KEEP_RUNS``, default 20): older ones are removed when a new one is made, except those of
a process still running (their name holds its pid), which may still be writing them."""

import os
import re
import shutil
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = Path(os.environ.get("RDAGEN_BUILD", ROOT / "build")).resolve()
KEEP_RUNS = 20
_PID = re.compile(r"-p(\d+)-[^-]*$")


def write_atomic(path: Path, text: str) -> Path:
    """*text* written under a temporary name, then renamed: parallel workers (processes or threads)
    may write the same file, and a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}-{threading.get_ident()}")
    tmp.write_text(text)
    tmp.replace(path)
    return path


def keep_runs() -> int:
    """How many run directories build/runs keeps (RDAGEN_KEEP_RUNS; at least 1)."""
    text = os.environ.get("RDAGEN_KEEP_RUNS", str(KEEP_RUNS))
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"RDAGEN_KEEP_RUNS={text!r}: must be a whole number >= 1")
    return int(text)


def new_run_dir(name: str) -> Path:
    """A new, empty directory ``build/runs/<name>-p<pid>-<random>`` for one simulation run: nothing an
    earlier run left (results of a crashed or older simulation) can be read as this run's."""
    runs = BUILD / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    prune_runs(runs, keep_runs() - 1)
    return Path(tempfile.mkdtemp(prefix=f"{name}-p{os.getpid()}-", dir=runs))


def prune_runs(runs: Path, keep: int) -> list[Path]:
    """Removes the run directories of *runs* beyond the newest *keep*, but those of a live process;
    returns the ones removed."""
    entries = []
    for path in runs.iterdir():
        try:
            entries.append((path.stat().st_mtime, path))
        except FileNotFoundError:  # another process pruned it first
            continue
    removed = []
    for _, path in sorted(entries, reverse=True)[keep:]:
        match = _PID.search(path.name)
        if path.is_dir() and not (match and _alive(int(match.group(1)))):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # no signal: only whether the process exists (this one's too)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


LOW_DISK = 1 << 30


def disk_note(where: Path, log: Path | None = None) -> str:
    """Words to add to a failed build's message when the disk is the cause: *log* says there was no
    space left, or the file system of *where* has less than 1 GiB free. Empty otherwise."""
    free = shutil.disk_usage(where if where.exists() else BUILD.parent).free
    full = log is not None and log.exists() and b"No space left on device" in log.read_bytes()
    if not (full or free < LOW_DISK):
        return ""
    return (f": the disk is full ({free / 2**20:,.0f} MiB free on the file system of {BUILD}); `make clean` "
            f"removes build/ (or delete old models under {BUILD / 'sim'} and {BUILD / 'direct'})")
