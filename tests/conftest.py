"""Shared pytest options: the random seed of every randomized test is printed and can be set.

    pytest --seed N          run every randomized test with base seed N
    RDAGEN_SEED=N pytest     the same
    CI=true pytest           base seed from the commit (CI: new stimulus per commit, printed in the header)

Each test derives its own generator from the base seed and its name, so one test can be rerun alone
with the same stimulus.
"""

import os
import subprocess
import zlib
from pathlib import Path

import numpy as np


def pytest_addoption(parser):
    parser.addoption("--seed", type=int, default=None, help="base random seed (default: RDAGEN_SEED or 1)")


def commit_seed() -> int | None:
    """The base seed CI uses: the first 28 bits of the checked-out commit (None outside a git checkout)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                                text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return int(commit[:7], 16)


def base_seed(config) -> int:
    """--seed N, else RDAGEN_SEED, else under CI (CI=true) the commit's seed, so every commit's CI run
    draws new stimulus, else 1 (a plain `make test` repeats itself)."""
    seed = config.getoption("--seed")
    if seed is None and "RDAGEN_SEED" in os.environ:
        seed = int(os.environ["RDAGEN_SEED"])
    if seed is None and os.environ.get("CI") == "true":
        seed = commit_seed()
    return 1 if seed is None else seed


def test_seed(request) -> int:
    """The seed of this test: base seed mixed with the test's name (stable across runs and workers)."""
    return (base_seed(request.config) * 1_000_003 + zlib.crc32(request.node.name.encode())) & 0xFFFFFFFF


test_seed.__test__ = False


def seeded_rng(request) -> np.random.Generator:
    seed = test_seed(request)
    print(f"[seed] {request.node.nodeid}: seed {seed} (rerun with --seed {base_seed(request.config)})")
    return np.random.default_rng(seed)


def pytest_report_header(config):
    return f"rdagen base seed: {base_seed(config)} (rerun with --seed {base_seed(config)}; set with --seed N or RDAGEN_SEED=N)"


# -- coverage summary: the coverage tests leave one JSON per group; the run ends with their table ------------
COVERAGE_RESULTS = "suite"  # under build/coverage/


def coverage_result(group: str, report: dict) -> None:
    """Leaves *group*'s coverage *report* for the suite's closing summary."""
    import json

    from rdagen.sim.paths import BUILD

    out = BUILD / "coverage" / COVERAGE_RESULTS
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{group}.json").write_text(json.dumps({"group": group, "bins": report["bins"], "hit": report["hit"],
                                                   "unreachable": len(report["unreachable"]),
                                                   "missing": len(report["missing"])}))


def pytest_sessionstart(session):
    session.config._coverage_started = __import__("time").time()


def pytest_terminal_summary(terminalreporter, config):
    import json

    from rdagen.sim.paths import BUILD

    started = getattr(config, "_coverage_started", 0)
    totals: dict[str, list[int]] = {}
    for path in sorted((BUILD / "coverage" / COVERAGE_RESULTS).glob("*.json")):
        if path.stat().st_mtime < started:
            continue  # left by an earlier run
        r = json.loads(path.read_text())
        t = totals.setdefault(r["group"].split(".")[0], [0, 0, 0, 0])
        for k, key in enumerate(("bins", "hit", "unreachable", "missing")):
            t[k] += r[key]
    if totals:
        terminalreporter.section("functional coverage (bins hit of the bins reachable)")
        for group, (bins, hit, unreachable, missing) in totals.items():
            terminalreporter.write_line(f"{group:10} {hit:5d} of {bins:5d} hit, {unreachable:3d} unreachable, "
                                        f"{missing} missed")
