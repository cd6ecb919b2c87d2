"""ARCHITECTURE.md kept true: forbidden arrows, no import cycles, module sizes."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("networks", "optimizer")
MAX_LINES = 1100  # "about 1,000 lines"


def _modules() -> dict[str, Path]:
    mods = {}
    for pkg in PACKAGES:
        for f in (ROOT / pkg).rglob("*.py"):
            parts = f.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            mods[name] = f
    return mods


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Every module a module imports (at the top or inside functions), absolute names."""
    out = set()
    is_pkg = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_pkg else 0)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            out.add(stem)
            out.update(f"{stem}.{a.name}" for a in node.names)
    return out


def _project_edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        targets = set()
        for t in _imports(name, path):
            while t and t not in MODULES:
                t = t.rpartition(".")[0]
            # a package's children import their package's __init__ freely (re-exports)
            if t and t != name and not name.startswith(t + "."):
                targets.add(t)
        edges[name] = targets
    return edges


def _owners(third_party: str) -> set[str]:
    return {
        name
        for name, path in MODULES.items()
        if any(t == third_party or t.startswith(third_party + ".") for t in _imports(name, path))
    }


def test_networks_never_imports_optimizer():
    bad = [
        (m, t)
        for m, ts in _project_edges().items()
        if m.startswith("networks")
        for t in ts
        if t.startswith("optimizer")
    ]
    assert bad == []


def test_the_algorithms_never_import_the_application_wing():
    bad = [
        (m, t)
        for m, ts in _project_edges().items()
        if m.startswith("optimizer") and not m.startswith("optimizer.jobs")
        for t in ts
        if t.startswith("optimizer.jobs")
    ]
    assert bad == []


@pytest.mark.parametrize(
    ("library", "allowed"),
    [
        ("numba", "optimizer._kernels"),
        ("ortools", "optimizer.design"),
        ("osmnx", "networks.osm"),
        ("pyrosm", "networks.osm"),
        ("rasterio", "networks.terrain"),
    ],
)
def test_heavy_libraries_stay_in_their_one_module(library, allowed):
    owners = _owners(library)
    assert owners and all(m == allowed or m.startswith(allowed + ".") for m in owners), owners


def test_no_import_cycle_among_the_projects_modules():
    edges = _project_edges()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in edges:
        if v not in index:
            strong(v)
    assert cycles == []


def test_no_module_is_oversized():
    sizes = {m: len(p.read_text(encoding="utf-8").splitlines()) for m, p in MODULES.items()}
    assert {m: n for m, n in sizes.items() if n > MAX_LINES} == {}


def test_importing_optimizer_loads_no_application_code_nor_osmnx():
    code = (
        "import sys, optimizer\n"
        "bad = sorted(m for m in sys.modules if m.startswith('optimizer.jobs') or "
        "m.split('.')[0] in ('osmnx', 'pyrosm', 'geopandas', 'matplotlib'))\n"
        "assert not bad, bad\n"
        "optimizer.plan_study  # the lazy re-export works\n"
        "assert 'optimizer.jobs.pipeline' in sys.modules\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert r.returncode == 0, r.stderr


def test_architecture_md_names_the_rules():
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    for phrase in ("networks` -> `optimizer", "optimizer.jobs", "numba", "OR-Tools", "osmnx"):
        assert phrase in text


def test_an_assignment_loads_no_heavy_library(data_dir):
    """``roadopt assign`` on a TNTP network loads neither OR-Tools, pandas nor the GIS stack."""
    code = (
        "import sys\n"
        "from optimizer.jobs.cli import main\n"
        "assert main(['assign', 'SiouxFalls', '--gap', '1e-6', '-q']) == 0\n"
        "heavy = ('ortools', 'pandas', 'geopandas', 'osmnx', 'pyrosm', 'matplotlib', "
        "'rasterio', 'pyogrio', 'shapely', 'sklearn', 'openmatrix')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "", f"loaded: {r.stdout.strip()}"
