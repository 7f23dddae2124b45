"""tcpaudit's modules import each other in one direction: no file reaches itself.

Every ``import`` and ``from ... import`` in src/tcpaudit counts, those inside
functions too (a deferred import still ties two files together). The engine
loads the checks and hands them what they need (``Context.rules``); checks
import the engine's models, never its runner or catalogue.
"""

from __future__ import annotations

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src"


def _modules() -> dict[str, Path]:
    found = {}
    for path in (SOURCE / "tcpaudit").rglob("*.py"):
        parts = path.relative_to(SOURCE).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rsplit(".", 1)[0]
            module = (
                (f"{base}.{node.module}" if node.module else base) if node.level else node.module
            )
            candidates = {module} | {f"{module}.{alias.name}" for alias in node.names}
            targets |= {c for c in candidates if c in modules}
        elif isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names if alias.name in modules}
    return targets - {name}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_itself_through_others() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert _cycles(graph) == []


def test_checks_import_no_engine_runner() -> None:
    modules = _modules()
    for name, path in modules.items():
        if name.startswith("tcpaudit.checks"):
            imported = _imports(name, path, modules)
            assert not imported & {"tcpaudit.engine.run", "tcpaudit.engine.catalogue"}, name
