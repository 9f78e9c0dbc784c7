"""The folders keep the architecture's rules, read from every import (at module level or inside a
function) of every source file:

* the spec (rtl/spec/) imports nothing of the project but itself;
* the RTL imports the spec and itself, never a golden model, the mapper or a flow;
* golden models and the mapper import the spec, never an implementation (rtl/ outside rtl/spec/);
* the flows (sim/, synth/) and the benchmarks (bench/) never import the command line, and sim/ never
  imports bench/; the design-space sweep (explore/) builds on the flows and the mapper, and bench/
  measures it: the command line (cli/) sits on top of them all.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"rtl": "rdagen.rtl", "verif": "rdagen.verif", "sim": "rdagen.sim", "synth": "rdagen.synth",
           "bench": "rdagen.bench", "mapper": "rdagen.mapper", "explore": "rdagen.explore", "cli": "rdagen.cli"}

# (package of the importing file, packages it may import from rdagen); the longest matching prefix rules.
ALLOWED = {
    "rdagen.rtl.spec": ("rdagen.rtl.spec",),
    "rdagen.rtl": ("rdagen.rtl",),
    "rdagen.verif.golden": ("rdagen.rtl.spec", "rdagen.verif.golden"),
    "rdagen.mapper": ("rdagen.rtl.spec", "rdagen.mapper"),
    "rdagen.verif": ("rdagen.rtl", "rdagen.verif", "rdagen.mapper"),
    "rdagen.synth": ("rdagen.synth",),
    "rdagen.sim": ("rdagen.rtl", "rdagen.verif", "rdagen.mapper", "rdagen.sim", "rdagen.synth"),
    "rdagen.explore": ("rdagen.rtl", "rdagen.mapper", "rdagen.sim", "rdagen.synth", "rdagen.explore"),
    "rdagen.bench": ("rdagen.rtl", "rdagen.verif", "rdagen.mapper", "rdagen.sim", "rdagen.synth", "rdagen.explore",
                     "rdagen.bench"),
    "rdagen.cli": ("rdagen",),
}


def _module(path: Path) -> str:
    folder, *rest = path.relative_to(ROOT).with_suffix("").parts
    parts = [FOLDERS[folder], *rest]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package(path: Path) -> str:
    module = _module(path)
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def project_imports(path: Path) -> set[str]:
    """The rdagen modules *path* imports (relative imports resolved)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("rdagen")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _package(path).split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.startswith("rdagen"):
                found.add(module)
    return found


def _rule(module: str) -> tuple[str, tuple[str, ...]]:
    owner = max((p for p in ALLOWED if module == p or module.startswith(p + ".")), key=len)
    return owner, ALLOWED[owner]


SOURCES = sorted(p for folder in FOLDERS for p in (ROOT / folder).rglob("*.py") if "examples" not in p.parts)


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_every_source_file_is_seen():
    assert len(SOURCES) > 100 and any(p.parent.name == "spec" for p in SOURCES)


def test_imports_follow_the_layering():
    bad = []
    for path in SOURCES:
        owner, allowed = _rule(_module(path))
        wrong = sorted(m for m in project_imports(path) if not any(_inside(m, a) for a in allowed))
        if wrong:
            bad.append(f"{path.relative_to(ROOT)} ({owner}) imports {', '.join(wrong)}")
    assert not bad, "\n".join(bad)


def test_the_checker_sees_a_broken_rule(tmp_path, monkeypatch):
    """A golden model importing an RTL implementation, found through a relative import."""
    fake = ROOT / "verif" / "golden" / "pcu.py"
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: "from ...rtl.pcu import PCU\n")
    assert project_imports(fake) == {"rdagen.rtl.pcu"}
    owner, allowed = _rule(_module(fake))
    assert owner == "rdagen.verif.golden" and not any(_inside("rdagen.rtl.pcu", a) for a in allowed)


def test_every_component_states_its_ports_latency_and_invariants():
    import importlib
    import inspect
    import pkgutil

    from amaranth.lib import wiring

    import rdagen.rtl

    missing = []
    for info in pkgutil.walk_packages(rdagen.rtl.__path__, "rdagen.rtl."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and issubclass(obj, wiring.Component) and obj.__module__ == module.__name__:
                doc = (obj.__dict__.get("__doc__") or "").lower()
                lacking = [word for word in ("ports", "latency", "invariant") if word not in doc]
                if lacking:
                    missing.append(f"{module.__name__}.{name}: no {', '.join(lacking)}")
    assert not missing, "components whose class docstring does not state:\n  " + "\n  ".join(missing)


def test_every_source_folder_is_a_declared_package():
    """pyproject.toml lists every folder of the installed tree with its directory, so an install
    neither drops one nor warns about it (setuptools' "Package would be ignored")."""
    import tomllib

    setup = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    declared = {setup["package-dir"][name] for name in setup["packages"]}
    assert set(setup["package-dir"]) == set(setup["packages"]), "packages and package-dir disagree"
    folders = set()
    for top in ("rtl", "verif", "sim", "synth", "bench", "mapper", "explore", "cli"):
        for path in [ROOT / top, *(ROOT / top).rglob("*")]:
            results = path.relative_to(ROOT).as_posix().startswith("bench/results")  # measurements, not code
            if path.is_dir() and path.name != "__pycache__" and not results and any(f.is_file() for f in path.iterdir()):
                folders.add(path.relative_to(ROOT).as_posix())
    assert folders <= declared, f"folders not declared as packages in pyproject.toml: {sorted(folders - declared)}"
