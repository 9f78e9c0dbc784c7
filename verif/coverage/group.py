"""A coverage group: the bins of one part of the design, as cocotb-coverage CoverPoints and
CoverCrosses, sampled with one event (a dict of point values) at a time where stimulus and checked
results meet; each run samples into its own *scope*, so that runs in one process do not add to each
other. Bins that cannot be hit are listed with the reason, not counted.
"""

from __future__ import annotations

from collections.abc import Sequence

from cocotb_coverage.coverage import CoverCross, CoverPoint, coverage_db, coverage_section

__all__ = ["Group", "merge"]


class Group:
    """Points {name: bins}; crosses {name: (point, point, ...)}; *unreachable* {(item, bin): why}, where
    a cross's bin is a tuple that may hold None for "any bin of that point". Reported items: every
    cross, and every point no cross uses."""

    def __init__(self, name: str, points: dict[str, Sequence], crosses: dict[str, tuple[str, ...]] | None = None,
                 unreachable: dict | None = None):
        self.name, self.points, self.crosses = name, dict(points), dict(crosses or {})
        for cross, parts in self.crosses.items():
            unknown = [p for p in parts if p not in self.points]
            if unknown:
                raise ValueError(f"coverage group {name}: cross {cross} names unknown points {unknown}")
        crossed = {p for parts in self.crosses.values() for p in parts}
        self.reported = [*self.crosses, *(p for p in self.points if p not in crossed)]
        self.unreachable = dict(unreachable or {})
        self._sections: dict = {}

    def _db(self, item: str, scope: str) -> str:
        return f"{self.name}.{scope}.{item}" if scope else f"{self.name}.{item}"

    def _section(self, scope: str):
        if scope not in self._sections:
            items = [CoverPoint(self._db(p, scope), xf=lambda event, p=p: event.get(p), bins=list(bins))
                     for p, bins in self.points.items()]
            items += [CoverCross(self._db(c, scope), items=[self._db(p, scope) for p in parts])
                      for c, parts in self.crosses.items()]

            @coverage_section(*items)
            def sample(event):
                pass

            self._sections[scope] = sample
        return self._sections[scope]

    def sample(self, scope: str = "", **event) -> None:
        """One event: the bin of each point it names (points it does not name are not sampled)."""
        self._section(scope)(event)

    def why_unreachable(self, item: str, key) -> str | None:
        for (it, pattern), why in self.unreachable.items():
            if it != item:
                continue
            if pattern == key or (isinstance(key, tuple) and isinstance(pattern, tuple) and len(pattern) == len(key)
                                  and all(p is None or p == k for p, k in zip(pattern, key))):
                return why
        return None

    def report(self, scope: str = "") -> dict:
        """{"bins", "hit", "missing", "unreachable", "contradicted"}: bins counted (unreachable ones are
        not), bins hit, the names of those missed, [{"bin", "why"}] of the unreachable ones, and the
        names of bins listed unreachable that were hit (their reason is wrong; they count as bins). A
        bin's name is ``<group>.<item>:<bin>`` (a cross's bins joined by ``x``), the same in every scope."""
        self._section(scope)
        bins = hit = 0
        missing, unreachable, contradicted = [], [], []
        for item in self.reported:
            for key, count in coverage_db[self._db(item, scope)].detailed_coverage.items():
                label = "x".join(map(str, key)) if isinstance(key, tuple) else str(key)
                name = f"{self.name}.{item}:{label}"
                why = self.why_unreachable(item, key)
                if why and not count:
                    unreachable.append({"bin": name, "why": why})
                    continue
                if why:  # the reason given is wrong: the bin counts, and is reported
                    contradicted.append(name)
                bins += 1
                if count:
                    hit += 1
                else:
                    missing.append(name)
        return {"bins": bins, "hit": hit, "missing": missing, "unreachable": unreachable, "contradicted": contradicted}


def merge(reports: list[dict]) -> dict:
    """The reports of several groups as one."""
    return {"bins": sum(r["bins"] for r in reports), "hit": sum(r["hit"] for r in reports),
            "missing": [m for r in reports for m in r["missing"]],
            "unreachable": [u for r in reports for u in r["unreachable"]],
            "contradicted": [c for r in reports for c in r["contradicted"]]}
