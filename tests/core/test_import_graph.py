"""The package's import graph stays acyclic and its layers point the right way.

The graph is read with :mod:`ast`, not by importing: every ``import`` counts, at module level,
inside functions (lazy imports) and under ``if TYPE_CHECKING`` (a circle for the type checker is
still a circle for the reader). ``from pkg import name`` is an edge to ``pkg.name`` when that is
a module, else to ``pkg``. A package's ``__init__`` is not implied by importing its submodules:
Python runs it first, but it is no edge a module author wrote.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "cascade"


def _modules(root: Path, package: str) -> dict[str, Path]:
    """Every module of ``package`` (a directory under ``root``) by dotted name."""
    modules = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _imports(name: str, path: Path, modules: dict[str, Path]) -> Iterator[str]:
    """The package's modules that module ``name`` imports, anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # a name inside a module, not a module
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target


def import_graph(root: Path = ROOT, package: str = PACKAGE) -> dict[str, set[str]]:
    """Each module of ``package`` and the modules of ``package`` it imports."""
    modules = _modules(root, package)
    return {name: set(_imports(name, path, modules)) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(frozenset(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _describe(group: frozenset[str], graph: dict[str, set[str]]) -> str:
    return ", ".join(sorted(f"{a} -> {b}" for a in group for b in graph[a] if b in group))


def _edges_into(graph: dict[str, set[str]], sources: str, target: str) -> list[str]:
    """Imports from modules under ``sources`` of ``target`` or anything under it."""
    return sorted(
        f"{module} -> {imported}"
        for module, imported_set in graph.items()
        if module == sources or module.startswith(sources + ".")
        for imported in imported_set
        if imported == target or imported.startswith(target + ".")
    )


def test_no_import_cycles() -> None:
    graph = import_graph()
    found = cycles(graph)
    assert not found, "import circles:\n  " + "\n  ".join(_describe(g, graph) for g in found)


STAGES = ("vad", "asr", "turn", "llm", "tts")
"""The stage packages: each talks to the others only through frames, never by import."""
MAY_IMPORT: dict[str, set[str]] = {
    "core": {"core"},
    **{stage: {"core"} for stage in STAGES},
    "transports": {"core"},
    "agent": {"core", *STAGES, "transports"},
    "app": {"core", *STAGES, "transports", "agent"},
    "testing": {"core", *STAGES, "transports"},
}
"""Who may import whom (README, Architecture): the core (frames, stages, pipeline, session,
transport contract, clock, metrics, audio, weights) imports nothing above it; the stage packages
and the transports only the core; the agent assembles them; the command line (the app) runs the
agent; the test kit drives any of them, and no production module imports it."""
APP_MODULES = ("cascade.cli", "cascade.prepare")
APP_PACKAGE = "cascade.apps"
"""The apps behind the command line (phone, demo, config) belong to the app layer too."""


def layer(module: str) -> str:
    """The layer of a cascade module (see :data:`MAY_IMPORT`)."""
    if module in APP_MODULES or module == APP_PACKAGE or module.startswith(APP_PACKAGE + "."):
        return "app"
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in {*STAGES, "transports", "agent", "testing"}:
        return parts[1]
    return "core"


def test_imports_point_down_the_layers() -> None:
    wrong = sorted(
        f"{module} -> {imported}"
        for module, imported_set in import_graph().items()
        for imported in imported_set
        if layer(imported) not in MAY_IMPORT[layer(module)] | {layer(module)}
    )
    assert not wrong, "imports against the layers (README, Architecture):\n  " + "\n  ".join(wrong)


def test_every_kind_of_import_makes_an_edge(tmp_path: Path) -> None:
    """Lazy, TYPE_CHECKING, relative and ``from pkg import module`` imports all count."""
    files = {
        "pkg/__init__.py": "",
        "pkg/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.b import B\n",
        "pkg/b.py": "def f():\n    from .sub import c\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/c.py": "import pkg.a as a\nfrom .. import d\n",
        "pkg/d.py": "from pkg.sub.c import name\nimport os\n",
        "pkg/e.py": "import pkg\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = import_graph(tmp_path, "pkg")
    assert graph == {
        "pkg": set(),
        "pkg.a": {"pkg.b"},
        "pkg.b": {"pkg.sub.c"},
        "pkg.sub": set(),
        "pkg.sub.c": {"pkg.a", "pkg.d"},
        "pkg.d": {"pkg.sub.c"},
        "pkg.e": {"pkg"},
    }
    assert cycles(graph) == [frozenset({"pkg.a", "pkg.b", "pkg.sub.c", "pkg.d"})]
