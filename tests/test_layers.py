"""The layers of bot/ hold: imports point down only, and no module imports another in a circle.

Read from the source with ``ast`` (nothing is imported), so a forbidden import fails here
even if it happens to work at run time. The layers, top to bottom:

    __main__ → modes → app (all wiring) → handlers → services / alerts.service
      → views, content → domain, alerts.planner (pure)
    storage and botapi serve services, alerts and the wiring, never the pure layers.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers")

# Third-party stacks a layer must not touch.
TELEGRAM = ("telegram",)
SQL = ("sqlalchemy", "sqlmodel", "alembic", "asyncpg", "aiosqlite")
WEB = ("aiohttp",)
TEMPLATES = ("jinja2", "markupsafe")

# Pure modules: the domain rules, testable without Telegram, SQL, HTTP or templates.
PURE = ("bot.domain", "bot.alerts.planner", "bot.alerts.keys", "bot.broadcast.segments")

# module prefix -> prefixes it must never import
RULES: dict[str, tuple[str, ...]] = {
    "bot.domain": (
        *TELEGRAM,
        *SQL,
        *WEB,
        *TEMPLATES,
        "yaml",
        "pydantic",
        "bot.content",
        "bot.views",
        "bot.services",
        "bot.alerts.service",
        "bot.alerts.dispatcher",
        "bot.storage",
        "bot.botapi",
        "bot.app",
        "bot.modes",
        "bot.context",
        "bot.config",
        "handlers",
    ),
    "bot.alerts.planner": (*TELEGRAM, *SQL, *WEB, *TEMPLATES, "bot.", "handlers"),
    "bot.alerts.keys": (*TELEGRAM, *SQL, *WEB, *TEMPLATES, "bot.storage", "bot.services"),
    "bot.broadcast.segments": (*TELEGRAM, *SQL, *WEB, *TEMPLATES, "bot.", "handlers"),
    "bot.broadcast.service": (*WEB, "handlers", "bot.web"),
    "bot.content": (*TELEGRAM, *SQL, *WEB, "bot.services", "bot.alerts.service", "bot.storage"),
    "bot.views": (*TELEGRAM, *SQL, *WEB, "bot.services", "bot.alerts.service", "bot.storage"),
    "bot.services": (*TELEGRAM, *WEB, "bot.botapi", "handlers", "bot.web"),
    "bot.alerts.service": (*WEB, "handlers", "bot.web"),
    "bot.storage": (*TELEGRAM, *WEB, *TEMPLATES, "bot.services", "bot.views", "handlers"),
    "handlers": (*SQL, "bot.storage"),
}
WIRING = ("bot.app",)
WIRING_IMPORTERS = ("bot.modes",)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            found[_module_name(path)] = path
    return found


MODULES = _modules()


@cache
def _imports(path: Path, name: str) -> tuple[tuple[str, int, bool], ...]:
    return tuple(_read_imports(path, name))


def _read_imports(path: Path, name: str) -> Iterator[tuple[str, int, bool]]:
    """(imported module, line, inside a function) for every import in the file."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def visit(node: ast.AST, in_function: bool) -> Iterator[tuple[str, int, bool]]:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, child.lineno, in_function
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                if base == "__future__":
                    continue
                for alias in child.names:
                    full = f"{base}.{alias.name}"
                    yield (full if full in MODULES else base), child.lineno, in_function
            else:
                yield from visit(child, nested)

    yield from visit(tree, False)


def _first_party(target: str) -> str | None:
    """The module of this project an import names, or None for third-party ones."""
    while target:
        if target in MODULES:
            return target
        target = target.rpartition(".")[0]
    return None


def _matches(module: str, prefix: str) -> bool:
    return module == prefix.rstrip(".") or module.startswith(prefix.rstrip(".") + ".")


def test_every_layer_imports_only_what_it_may() -> None:
    broken = []
    for name, path in MODULES.items():
        rules = [forbidden for layer, forbidden in RULES.items() if _matches(name, layer)]
        for target, line, _ in _imports(path, name):
            for forbidden in (f for group in rules for f in group):
                if _matches(target, forbidden):
                    broken.append(f"{path.relative_to(ROOT)}:{line}: {name} imports {target}")
    assert not broken, "\n".join(broken)


def test_pure_layers_are_listed_and_exist() -> None:
    assert any(_matches(name, "bot.domain") for name in MODULES)
    assert "bot.alerts.planner" in MODULES
    for prefix in PURE:
        assert prefix in RULES


def test_only_modes_imports_the_wiring() -> None:
    broken = []
    for name, path in MODULES.items():
        if name in WIRING or name in WIRING_IMPORTERS:
            continue
        for target, line, _ in _imports(path, name):
            if any(_matches(target, wiring) for wiring in WIRING):
                broken.append(f"{path.relative_to(ROOT)}:{line}: {name} imports the wiring")
    assert not broken, "\n".join(broken)


def test_no_first_party_import_inside_a_function() -> None:
    """Imports inside functions hide circles; only the CLI defers loading a heavy stack."""
    allowed = {"bot.__main__"}  # `content` tasks must not load Telegram, aiohttp and SQL
    broken = []
    for name, path in MODULES.items():
        if name in allowed:
            continue
        for target, line, in_function in _imports(path, name):
            if in_function and _first_party(target) is not None:
                broken.append(f"{path.relative_to(ROOT)}:{line}: {name} imports {target} late")
    assert not broken, "\n".join(broken)


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        for target, _, _ in _imports(path, name):
            found = _first_party(target)
            if found is not None and found != name:
                graph[name].add(found)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_no_import_circle() -> None:
    cycle = _cycle(_graph())
    assert cycle is None, " -> ".join(cycle or [])


@pytest.mark.parametrize(
    ("graph", "has_cycle"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, False),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, True),
        ({"a": {"a"}}, True),
    ],
)
def test_the_circle_finder_finds_circles(graph: dict[str, set[str]], has_cycle: bool) -> None:
    assert (_cycle(graph) is not None) is has_cycle
