"""The package layout holds: no private module used across packages, Dagster only in its face, no import cycle.

Static, over the source files: every import counts (module level or inside a function), except
those under `if TYPE_CHECKING:`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "mlsecops"
DAGSTER_FACE = ("mlsecops.assets", "mlsecops.checks.asset_checks", "mlsecops.resources", "mlsecops.definitions")


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package(path: Path) -> str:
    return _module(path.parent / "__init__.py")


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports(path: Path) -> list[str]:
    """Every module `path` imports (absolute names), outside `if TYPE_CHECKING:` blocks."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_lines(tree)
    out: list[str] = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            if node.level:
                base = ".".join(_module(path).split(".")[: -node.level] + [node.module])
            out.append(base)
            out += [f"{base}.{a.name}" for a in node.names if (ROOT.parent / Path(*f"{base}.{a.name}".split("."))).with_suffix(".py").exists()
                    or (ROOT.parent / Path(*f"{base}.{a.name}".split(".")) / "__init__.py").exists()]
    return out


SOURCES = sorted(ROOT.rglob("*.py"))


def _own(name: str) -> bool:
    return name == "mlsecops" or name.startswith("mlsecops.")


def _package_of(module: str) -> str:
    """The package a module belongs to (a package's own name for its __init__)."""
    path = ROOT.parent / Path(*module.split("."))
    return module if (path / "__init__.py").exists() else module.rsplit(".", 1)[0]


def private_imports(sources: list[Path] = SOURCES) -> list[str]:
    bad = []
    for path in sources:
        here = _package(path)
        for name in filter(_own, imports(path)):
            parts = name.split(".")
            for i, part in enumerate(parts):
                if part.startswith("_") and not part.startswith("__"):
                    owner = ".".join(parts[:i])
                    if here != owner and not here.startswith(owner + "."):
                        bad.append(f"{_module(path)} imports private {name}")
                    break
    return bad


def dagster_outside_face(sources: list[Path] = SOURCES) -> list[str]:
    return [f"{_module(path)} imports {name}" for path in sources for name in imports(path)
            if name.split(".")[0] in ("dagster", "dagster_dask", "dagster_postgres")
            and not any(_module(path) == f or _module(path).startswith(f + ".") for f in DAGSTER_FACE)]


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in SOURCES:
        here = _package(path)
        for name in filter(_own, imports(path)):
            there = _package_of(name)
            if there != here:
                graph.setdefault(here, set()).add(there)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if state.get(nxt) is None and (found := visit(nxt)):
                return found
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if state.get(node) is None and (found := visit(node)):
            return found
    return None


def test_no_module_imports_another_packages_private_module() -> None:
    assert private_imports() == []


def test_only_the_dagster_face_imports_dagster() -> None:
    assert dagster_outside_face() == []


def test_the_package_import_graph_has_no_cycle() -> None:
    cycle = find_cycle(package_graph())
    assert cycle is None, " -> ".join(cycle or [])


@pytest.mark.parametrize("source, problem", [
    ("from mlsecops.controls.data.discretion import _recognizers\n", "private"),
    ("def f():\n    import dagster\n", "dagster"),
])
def test_the_rules_catch_a_violation(source: str, problem: str) -> None:
    """The rules are not vacuous: a planted violation in a non-face package is reported."""
    planted = ROOT / "stages" / "_layout_probe.py"
    planted.write_text(source, encoding="utf-8")
    try:
        sources = sorted(ROOT.rglob("*.py"))
        found = private_imports(sources) if problem == "private" else dagster_outside_face(sources)
        assert any("_layout_probe" in line for line in found)
    finally:
        planted.unlink()


def test_a_cycle_is_found() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
