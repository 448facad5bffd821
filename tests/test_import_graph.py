"""The import graph of ``planner/`` and ``flows/`` has no cycle, counting imports inside functions too.

A cycle hidden in a function-level import still ties the modules into one unit: neither can be read,
tested or moved without the other, and the order in which they finish importing depends on who is
imported first. The planner is also pure: it never imports the run machinery (prefect, flows), the
command line (stackplan, typer) or the terminal UI (rich). And a package's ``__init__`` stays light:
importing ``planner.render`` for one submodule must not drag in every sibling.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

PROJECT = Path(__file__).resolve().parent.parent
PACKAGES = ("planner", "flows")
FORBIDDEN_IN_PLANNER = ("prefect", "flows", "stackplan", "rich", "typer")


def _module_name(path: Path, root: Path = PROJECT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(root: Path = PROJECT, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    return {
        _module_name(path, root): path
        for package in packages
        for path in sorted((root / package).rglob("*.py"))
        if ".venv" not in path.parts
    }


def _imports(module: str, path: Path) -> list[tuple[str, int]]:
    """Every module named by an import anywhere in the file (functions included), absolute, with its line.

    ``from a.b import c`` names ``a.b`` and, when ``c`` is a submodule, ``a.b.c`` as well: the edge goes to
    what is really loaded."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = module.split(".")
                drop = node.level - 1 if is_package else node.level
                base_parts = base_parts[: len(base_parts) - drop] if drop else base_parts
                base = ".".join(base_parts)
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.append((target, node.lineno))
            found.extend((f"{target}.{alias.name}", node.lineno) for alias in node.names)
    return found


def _graph(
    root: Path = PROJECT, packages: tuple[str, ...] = PACKAGES
) -> tuple[nx.DiGraph, dict[str, list[tuple[str, int]]]]:
    modules = _modules(root, packages)
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    external: dict[str, list[tuple[str, int]]] = {}
    for module, path in modules.items():
        for target, line in _imports(module, path):
            if target in modules:
                if target != module:
                    graph.add_edge(module, target, line=line)
            else:
                external.setdefault(module, []).append((target, line))
    return graph, external


def test_walker_sees_function_level_relative_and_submodule_imports(tmp_path: Path) -> None:
    """The walker itself, on a made-up package: an import inside a function, a relative import and a
    ``from package import submodule`` each become an edge (a walker that missed them passes any tree)."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text('"""p"""\n')
    (pkg / "sub" / "__init__.py").write_text('"""s"""\n')
    (pkg / "a.py").write_text("def f():\n    from pkg.sub import b\n")
    (pkg / "sub" / "b.py").write_text("from . import c\n")
    (pkg / "sub" / "c.py").write_text("from ..a import f\n")
    graph, _ = _graph(tmp_path, ("pkg",))
    assert {("pkg.a", "pkg.sub.b"), ("pkg.sub.b", "pkg.sub.c"), ("pkg.sub.c", "pkg.a")} <= set(graph.edges)
    assert not nx.is_directed_acyclic_graph(graph)
    real, _ = _graph()
    assert real.number_of_edges() > 100


def test_no_import_cycles() -> None:
    graph, _ = _graph()
    cycles = []
    for component in nx.strongly_connected_components(graph):
        if len(component) > 1:
            cycle = nx.find_cycle(graph.subgraph(component))
            hops = " -> ".join(f"{a} (line {graph.edges[a, b]['line']})" for a, b in cycle)
            cycles.append(f"{hops} -> {cycle[0][0]}")
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_planner_is_pure() -> None:
    _, external = _graph()
    bad = [
        f"{module} line {line}: imports {target}"
        for module, targets in external.items()
        if module.split(".")[0] == "planner"
        for target, line in targets
        if target.split(".")[0] in FORBIDDEN_IN_PLANNER
    ]
    graph, _ = _graph()
    bad += [
        f"{a} line {graph.edges[a, b]['line']}: imports {b}"
        for a, b in graph.edges
        if a.split(".")[0] == "planner" and b.split(".")[0] != "planner"
    ]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("package", sorted(m for m, p in _modules().items() if p.name == "__init__.py"))
def test_package_init_is_light(package: str) -> None:
    """An ``__init__`` says what its package owns and imports no heavy third-party library at load, so
    importing one light submodule (the CLI does, for ``--help``) never pays for its siblings' libraries."""
    path = _modules()[package]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    heavy = ("prefect", "networkx", "jinja2", "ruamel", "rattler", "httpx", "starlette", "uvicorn", "rich")
    assert ast.get_docstring(tree), f"{path}: says nothing of what the package owns"
    for node in tree.body:
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""] if not node.level else []
        else:
            continue
        for name in names:
            assert name.split(".")[0] not in heavy, f"{path} line {node.lineno}: imports {name} at load"
