"""The import graph of orchestrator/: no cycles, and the layers point one way (issue 17).

Every import counts: top-level, inside functions (a lazy import only hides a loop) and under
`if TYPE_CHECKING:` (a type-only loop is still two modules that cannot be understood apart).
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import orchestrator

PACKAGE = Path(orchestrator.__file__).parent
# The module API (orchestrator.modules) stands on its own: the engine uses it, never the reverse.
FORBIDDEN = {"orchestrator.modules": ("orchestrator.executor", "orchestrator.playbook", "orchestrator.cli")}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, name: str, known: set[str]) -> Iterator[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            # `from pkg import submodule` imports the submodule; `from mod import name` the module
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for target in targets:
            while target not in known and "." in target:
                target = target.rpartition(".")[0]
            if target in known and target != name:
                yield target


@functools.cache
def import_graph() -> dict[str, frozenset[str]]:
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    known = set(paths)
    return {name: frozenset(_imports(path, name, known)) for name, path in paths.items()}


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_graph_is_read() -> None:
    """The test below is only as good as the graph: known edges must be in it."""
    graph = import_graph()
    assert "orchestrator.modules.context" in graph["orchestrator.executor.task_runner"]
    assert "orchestrator.transport.shell" in graph["orchestrator.transport.base"]
    assert len(graph) > 100
    # and the cycle finder finds one
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles in orchestrator/:\n" + "\n".join(" -> ".join(c) for c in found)


def test_layers_point_one_way() -> None:
    wrong = [
        f"{name} imports {target}"
        for name, targets in import_graph().items()
        for layer, forbidden in FORBIDDEN.items()
        if name == layer or name.startswith(layer + ".")
        for target in sorted(targets)
        if target.startswith(forbidden)
    ]
    assert not wrong, "modules/ must not import the engine (use orchestrator.modules.context):\n" + "\n".join(wrong)
