"""The results of a sweep, kept as each task finishes: an SQLite file beside the spec (one row per task,
keyed by the task's hash), so a sweep that is stopped and started again runs only what is missing, and
``rdagen sweep --report`` redraws the tables and plots without recomputing.

A row is written in one transaction when its task ends (ok, refused or failed), never before: a task
that was running when the sweep stopped has no row and runs again. A key already stored is kept (the
first result stands), so every task is in the store once.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

__all__ = ["Store", "StoreError"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    key TEXT PRIMARY KEY,
    position INTEGER NOT NULL, -- the task's place in the spec's order (tables are in this order)
    point TEXT NOT NULL,      -- JSON: the varied fields
    config TEXT NOT NULL,     -- JSON: every hardware field of the point
    workload TEXT NOT NULL,   -- JSON
    status TEXT NOT NULL,     -- ok | refused | failed
    reason TEXT NOT NULL,
    metrics TEXT NOT NULL,    -- JSON (explore/evaluate.py)
    seconds REAL NOT NULL,
    finished REAL NOT NULL    -- Unix time
);
CREATE TABLE IF NOT EXISTS sweep (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class StoreError(ValueError):
    """A file that is not a sweep store."""


class Store:
    def __init__(self, path: str | Path, *, create: bool = True):
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise StoreError(f"{self.path}: no such sweep store")
        try:
            self.db = sqlite3.connect(self.path)
            self.db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a sweep store ({exc})") from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def set_meta(self, **values) -> None:
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO sweep VALUES (?, ?)",
                                [(k, json.dumps(v)) for k, v in values.items()])

    def meta(self) -> dict:
        return {k: json.loads(v) for k, v in self.db.execute("SELECT name, value FROM sweep")}

    def keys(self) -> set[str]:
        return {k for (k,) in self.db.execute("SELECT key FROM tasks")}

    def put(self, task: dict, result: dict) -> bool:
        """Stores *result* of *task* (``Task.payload()``); False when the key was stored already."""
        with self.db:
            cursor = self.db.execute(
                "INSERT OR IGNORE INTO tasks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (task["key"], task["position"], json.dumps(task["point"], sort_keys=True), json.dumps(task["config"], sort_keys=True),
                 json.dumps(task["workload"], sort_keys=True), result["status"], result["reason"],
                 json.dumps(result["metrics"], sort_keys=True), result["seconds"], time.time()))
        return cursor.rowcount == 1

    def rows(self) -> list[dict]:
        """Every stored task, in the spec's order of points and workloads."""
        out = []
        for key, _, point, config, workload, status, reason, metrics, seconds, _ in self.db.execute(
                "SELECT * FROM tasks ORDER BY position, key"):
            out.append({"key": key, "point": json.loads(point), "config": json.loads(config),
                        "workload": json.loads(workload), "status": status, "reason": reason,
                        "metrics": json.loads(metrics), "seconds": seconds})
        return out
