"""The package's shape: imports point down the layers of ARCHITECTURE.md, never in a circle."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "hubkit"


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """hubkit modules `name` imports anywhere in its file (top level or inside functions)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: `from . import x` inside package p is p.x
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        for t in targets:
            while t and t not in known:  # `from hubkit.x import name`: the module is hubkit.x
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    edges = {}
    for name, path in mods.items():
        deps = imports(name, path, known)
        # Importing hubkit.a.b from outside hubkit.a runs hubkit/a/__init__.py first.
        for dep in list(deps):
            parent = dep.rpartition(".")[0]
            while parent not in ("", "hubkit"):
                if not (name == parent or name.startswith(parent + ".")):
                    deps.add(parent)
                parent = parent.rpartition(".")[0]
        edges[name] = deps - {"hubkit"}
    return edges


def test_no_import_cycle_at_any_depth():
    edges = graph()
    try:
        TopologicalSorter(edges).prepare()
    except CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None


def test_no_production_module_imports_the_test_kit():
    edges = graph()
    bad = {m: sorted(d for d in deps if d.startswith("hubkit.testing"))
           for m, deps in edges.items() if not m.startswith("hubkit.testing")}  # fmt: skip
    assert {m: d for m, d in bad.items() if d} == {}


def test_domain_packages_never_import_the_graph_or_the_artifacts():
    edges = graph()
    domain = ("hubkit.llm", "hubkit.distill", "hubkit.train", "hubkit.merge", "hubkit.bench")
    upper = ("hubkit.artifacts", "hubkit.graph", "hubkit.cards", "hubkit.pipeline", "hubkit.hub", "hubkit.cli")
    bad = {m: sorted(d for d in deps if d.startswith(upper)) for m, deps in edges.items() if m.startswith(domain)}
    assert {m: d for m, d in bad.items() if d} == {}


def test_the_checker_sees_a_cycle_through_a_function_level_import(tmp_path, monkeypatch):
    pkg = tmp_path / "hubkit"
    (pkg / "a").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a" / "__init__.py").write_text("from hubkit.b import x\n")
    (pkg / "b.py").write_text("def f():\n    from hubkit.a import y\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["x"]), "PACKAGE", pkg)
    monkeypatch.setattr(__import__(__name__, fromlist=["x"]), "ROOT", tmp_path)
    try:
        test_no_import_cycle_at_any_depth()
    except AssertionError as exc:
        assert "hubkit.a" in str(exc) and "hubkit.b" in str(exc)
    else:
        raise AssertionError("the cycle a -> b -> a was not found")
