"""The documentation: the site builds with ``mkdocs build --strict`` (a broken link, a page left out of
the navigation or a missing anchor fails it), its command reference is generated from the parser and
holds every command, every ``rdagen <command>`` the docs and the README name exists, and the README
stays short."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from rdagen.cli import COMMANDS

ROOT = Path(__file__).resolve().parent.parent
NAMES = {c.NAME for c in COMMANDS}


def _build(root: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(root / "mkdocs.yml"),
                           "-d", str(site)], capture_output=True, text=True, cwd=root,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})


def test_the_site_builds_strict_with_every_command_in_its_reference(tmp_path):
    run = _build(ROOT, tmp_path / "site")
    assert run.returncode == 0, run.stderr[-3000:]
    reference = (tmp_path / "site" / "commands" / "index.html").read_text()
    for name in NAMES:
        assert f"rdagen {name}" in reference and f"usage: rdagen {name}" in reference, name
    assert "rdagen-commands" not in reference  # the marker was replaced


def test_a_broken_link_fails_the_build(tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(ROOT / "docs", copy / "docs")
    shutil.copy(ROOT / "mkdocs.yml", copy)
    page = copy / "docs" / "array.md"
    page.write_text(page.read_text() + "\nSee [the missing page](no_such_page.md).\n")
    run = _build(copy, tmp_path / "site")
    assert run.returncode != 0 and "no_such_page.md" in run.stderr, run.stderr[-2000:]


def test_every_command_the_docs_name_exists():
    texts = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    # in code: `rdagen X ...` spans and the command lines of code blocks (prose such as "rdagen generates" is not)
    span = re.compile(r"`(?:\.venv/bin/)?rdagen ([a-z]+)\b")
    line = re.compile(r"^\s*(?:\$ )?(?:\.venv/bin/)?rdagen ([a-z]+)\b", re.M)
    named = set()
    for p in texts:
        for n, part in enumerate(p.read_text().split("```")):
            named |= {(p.name, m) for m in (line if n % 2 else span).findall(part)}
    unknown = sorted((page, m) for page, m in named if m not in NAMES)
    assert not unknown, unknown
    assert {m for _, m in named} >= {"sim", "map", "run", "dlrm"}


def test_the_readme_is_short_and_links_every_page():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 120
    pages = {p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").rglob("*.md") if not p.name.startswith("_")}
    linked = set(re.findall(r"\]\((docs/[^)]+\.md)\)", readme))
    assert pages - {"docs/index.md"} <= linked, sorted(pages - linked)
    assert all((ROOT / p).exists() for p in linked), sorted(p for p in linked if not (ROOT / p).exists())


def test_the_readme_starts_with_the_install_one_run_then_sim_and_test():
    """A newcomer's first screen: make venv, one run of the example graph, then make sim and make test,
    each with its measured time."""
    readme = (ROOT / "README.md").read_text()
    first = readme.index("make venv")
    run = readme.index("rdagen run mapper/examples/dlrm_tiny.json --config small")
    sim, test = readme.index("make sim"), readme.index("make test")
    assert first < run < sim < test and readme[:test].count("\n") < 70  # within the first screens
    for command in ("make venv", "make sim", "make test"):
        line = next(line for line in readme.splitlines() if line.startswith(command))
        assert re.search(r"\d+ (s|minutes)", line + readme[readme.index(line) + len(line):][:200]), command
