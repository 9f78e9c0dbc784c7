"""Shared pytest options: the random seed of every randomized test is printed and can be set.

    pytest --seed N          run every randomized test with base seed N
    RDAGEN_SEED=N pytest     the same

Each test derives its own generator from the base seed and its name, so one test can be rerun alone
with the same stimulus.
"""

import os
import zlib

import numpy as np


def pytest_addoption(parser):
    parser.addoption("--seed", type=int, default=None, help="base random seed (default: RDAGEN_SEED or 1)")


def base_seed(config) -> int:
    seed = config.getoption("--seed")
    if seed is None:
        seed = int(os.environ.get("RDAGEN_SEED", "1"))
    return seed


def test_seed(request) -> int:
    """The seed of this test: base seed mixed with the test's name (stable across runs and workers)."""
    return (base_seed(request.config) * 1_000_003 + zlib.crc32(request.node.name.encode())) & 0xFFFFFFFF


test_seed.__test__ = False


def seeded_rng(request) -> np.random.Generator:
    seed = test_seed(request)
    print(f"[seed] {request.node.nodeid}: seed {seed} (rerun with --seed {base_seed(request.config)})")
    return np.random.default_rng(seed)


def pytest_report_header(config):
    return f"rdagen base seed: {base_seed(config)} (set with --seed N or RDAGEN_SEED=N)"
