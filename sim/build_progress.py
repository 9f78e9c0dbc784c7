"""Progress of long builds on stderr: a line every ``INTERVAL`` seconds while a step runs, saying what is
built, the step, the time so far and, for a C++ compile, the files started of the total (counted in
make's own output: the compile commands it has echoed, against those ``make -n`` lists and those
already echoed when it is asked)."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

__all__ = ["INTERVAL", "heartbeat", "compile_commands", "compiled_files", "planned_files", "compile_count"]

INTERVAL = 10.0
_COMPILE = re.compile(rb"^\S*(?:c\+\+|g\+\+|clang\+\+|ccache)\s.*\s-c\s.*?(\S+\.(?:cpp|cc|c))\s*$", re.M)


def compiled_files(text: bytes) -> list[bytes]:
    """The source file of each C++ compile command in make's output *text*."""
    return _COMPILE.findall(text)


def compile_commands(text: bytes) -> int:
    """The C++ compile commands (one per file) in make's output *text*."""
    return len(compiled_files(text))


def planned_files(directory: Path, makefile: str, variables: dict[str, str]) -> set[bytes] | None:
    """The files ``make`` would compile in *directory* now (``make -n``: nothing is built), or None when
    that cannot be told or there is none."""
    run = subprocess.run(["make", "-n", "-C", str(directory), "-f", makefile,
                          *(f"{k}={v}" for k, v in variables.items())], capture_output=True)
    return set(compiled_files(run.stdout)) or None if run.returncode == 0 else None


def compile_count(log: Path, plan: Callable[[], set[bytes] | None], start: int = 0) -> Callable[[], str]:
    """A progress text for ``heartbeat``: the compile commands in *log* after byte *start*, of the files
    the build compiles. *plan()* (asked until it answers) gives the files make has still to compile;
    it is asked while make runs (the makefile appears mid-build), so the total is those and the files
    the log shows already started (once each: a file still compiling is in both)."""
    known: list[int] = []

    def text() -> str:
        try:
            with open(log, "rb") as handle:
                handle.seek(start)
                done = compiled_files(handle.read())
        except OSError:
            return ""
        if not known:
            files = plan()
            if files:
                known.append(len(set(files) | set(done)))
        return f"{len(done)} of {known[0]} files compiled" if known else f"{len(done)} files compiled"

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
