"""Progress of long builds on stderr: a line every ``INTERVAL`` seconds while a step runs, saying what is
built, the step, the time so far and, for a C++ compile, the files started of the total (counted in
make's own output: the compile commands it has echoed, against those ``make -n`` lists)."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

__all__ = ["INTERVAL", "heartbeat", "compile_commands", "planned_compiles", "compile_count"]

INTERVAL = 10.0
_COMPILE = re.compile(rb"^\S*(?:c\+\+|g\+\+|clang\+\+|ccache)\s.*\s-c\s.*\.(?:cpp|cc|c)\s*$", re.M)


def compile_commands(text: bytes) -> int:
    """The C++ compile commands (one per file) in make's output *text*."""
    return len(_COMPILE.findall(text))


def planned_compiles(directory: Path, makefile: str, variables: dict[str, str]) -> int | None:
    """The files ``make`` would compile in *directory* (``make -n``: nothing is built), or None when
    that cannot be told."""
    run = subprocess.run(["make", "-n", "-C", str(directory), "-f", makefile,
                          *(f"{k}={v}" for k, v in variables.items())], capture_output=True)
    return compile_commands(run.stdout) or None if run.returncode == 0 else None


def compile_count(log: Path, total: Callable[[], int | None], start: int = 0) -> Callable[[], str]:
    """A progress text for ``heartbeat``: the compile commands in *log* after byte *start*, of
    *total()* (asked until it knows)."""
    known: list[int] = []

    def text() -> str:
        if not known:
            value = total()
            if value:
                known.append(value)
        try:
            with open(log, "rb") as handle:
                handle.seek(start)
                done = compile_commands(handle.read())
        except OSError:
            return ""
        return f"{done} of {known[0]} files compiled" if known else f"{done} files compiled"

    return text


@contextlib.contextmanager
def heartbeat(label: str, detail: Callable[[], str] | None = None, interval: float = INTERVAL, stream=None):
    """While the block runs, prints ``label: N s[, detail()]`` every *interval* seconds (nothing for a
    step shorter than that)."""
    stream = stream or sys.stderr
    stop = threading.Event()
    started = time.perf_counter()

    def beat():
        while not stop.wait(interval):
            extra = detail() if detail else ""
            print(f"{label}: {time.perf_counter() - started:.0f} s{', ' + extra if extra else ''}", file=stream,
                  flush=True)

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
