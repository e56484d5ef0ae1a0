"""The package's shape: no import cycles, a host that knows no backend, names that explain.

Like ``tests/test_layers.py`` this reads the source with ``ast`` and imports
nothing, so type-only imports (under ``if TYPE_CHECKING:``) and lazy
function-level imports count as edges too: a cycle hidden from the
interpreter is still a cycle in the design. Each checker is proven on a fake
tree that breaks its rule.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict, deque
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "rtagents"

# What the wire host of the server must never reach: it serves any backend.
HOST_FORBIDDEN = ("rtagents.server.local", "rtagents.server.webrtc", "rtagents.engines")
# Each package's seam module may share this name (transports/base.py, engines/base.py...).
SHARED_BASENAMES = {"base"}
# The one home of the 24 kHz pcm16 rate (PCM_RATE), relative to the package.
RATE_HOME = Path("protocol") / "audio.py"
PCM_RATE_VALUE = 24_000
# Public class names that two packages may share because they mean the same thing.
SAME_MEANING_CLASSES: set[str] = set()


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package (packages as ``__init__``)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(absolute module, imported names, line) per import statement, relative ones resolved."""
    package = [PACKAGE.name, *path.relative_to(PACKAGE).parent.parts]
    found: list[tuple[str, list[str], int]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend((alias.name, [], node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.append((module, [alias.name for alias in node.names], node.lineno))
    return found


def _import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports (``from p import m`` counts ``p.m``)."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for module, names, _line in _imports(path):
            submodules = [f"{module}.{n}" for n in names if f"{module}.{n}" in modules]
            graph[name].update(submodules)
            if not names:  # import a.b.c: the deepest module of the package it names
                graph[name].update(_known_prefix(module, modules))
            elif module in modules and len(submodules) < len(names):
                graph[name].add(module)  # names defined in the module itself
    return graph


def _known_prefix(module: str, modules: dict[str, Path]) -> list[str]:
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in modules:
            return [".".join(parts[:end])]
    return []


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative: no recursion limit to meet)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            child = next(edges, None)
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
                components.append(sorted(component))
    return components


def _a_cycle(graph: dict[str, set[str]], members: list[str]) -> list[str]:
    """One shortest cycle through the first member, staying inside its component."""
    inside, start = set(members), members[0]
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for child in sorted(graph[node] & inside):
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [start, *reversed(path[:-1]), start]
            if child not in came_from:
                came_from[child] = node
                queue.append(child)
    return [start, start]


def _cycles() -> list[str]:
    graph = _import_graph()
    problems = []
    for members in _strongly_connected(graph):
        if len(members) == 1 and members[0] not in graph[members[0]]:
            continue
        home = ".".join(_common_prefix([m.split(".") for m in members]))
        path = " -> ".join(m.removeprefix(home + ".") for m in _a_cycle(graph, members))
        problems.append(
            f"import cycle of {len(members)} modules in {home}: {', '.join(members)}; e.g. {path}"
        )
    return problems


def _common_prefix(names: list[list[str]]) -> list[str]:
    prefix = names[0]
    for parts in names[1:]:
        while parts[: len(prefix)] != prefix:
            prefix = prefix[:-1]
    return prefix


def _host_violations() -> list[str]:
    problems = []
    for path in sorted((PACKAGE / "server" / "host").rglob("*.py")):
        for module, names, line in _imports(path):
            for target in [module, *(f"{module}.{n}" for n in names)]:
                if any(target == f or target.startswith(f + ".") for f in HOST_FORBIDDEN):
                    where = f"{path.relative_to(PACKAGE.parent)}:{line}"
                    problems.append(f"{where}: server/host must not import {target}")
                    break
    return problems


def _twin_names() -> list[str]:
    by_name: dict[str, list[str]] = defaultdict(list)
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.stem != "__init__" and path.stem not in SHARED_BASENAMES:
            by_name[path.stem].append(str(path.relative_to(PACKAGE)))
    return [
        f"module name '{name}' is used {len(paths)} times: {', '.join(paths)}"
        for name, paths in sorted(by_name.items())
        if len(paths) > 1
    ]


def _twin_classes() -> list[str]:
    """Public top-level classes defined under one name in several modules."""
    by_name: dict[str, list[str]] = defaultdict(list)
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.parse(path.read_text(), filename=str(path)).body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                by_name[node.name].append(str(path.relative_to(PACKAGE)))
    return [
        f"class name '{name}' is defined {len(paths)} times: {', '.join(paths)}"
        for name, paths in sorted(by_name.items())
        if len(paths) > 1 and name not in SAME_MEANING_CLASSES
    ]


def _stdlib_shadows() -> list[str]:
    problems = []
    for path in sorted(PACKAGE.rglob("*")):
        name = path.stem if path.suffix == ".py" else path.name
        if (path.suffix == ".py" or path.is_dir()) and not name.startswith("_"):
            if name in sys.stdlib_module_names:
                where = path.relative_to(PACKAGE)
                problems.append(f"{where} is named after the standard library module '{name}'")
    return problems


def _rate_literals() -> list[str]:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE) == RATE_HOME:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if (
                isinstance(node, ast.Constant)
                and type(node.value) is int
                and node.value == PCM_RATE_VALUE
            ):
                where = f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
                problems.append(f"{where}: 24 kHz written as a literal; import PCM_RATE")
    return problems


def all_violations() -> dict[str, list[str]]:
    """Every shape rule's findings (helpers print this while the refactor is under way)."""
    return {
        "import cycles": _cycles(),
        "server/host imports": _host_violations(),
        "twin module names": _twin_names(),
        "twin class names": _twin_classes(),
        "stdlib module names": _stdlib_shadows(),
        "24 kHz literals": _rate_literals(),
    }


# --- the rules, on the real package ---------------------------------------------------------


def test_no_import_cycles() -> None:
    assert _cycles() == []


def test_the_server_host_knows_no_backend_and_no_engine() -> None:
    assert (PACKAGE / "server" / "host").is_dir()
    assert _host_violations() == []


def test_module_names_are_unique() -> None:
    assert _twin_names() == []


def test_class_names_are_unique() -> None:
    assert _twin_classes() == []


def test_no_module_is_named_after_the_standard_library() -> None:
    assert _stdlib_shadows() == []


def test_the_24_khz_rate_is_written_once() -> None:
    assert _rate_literals() == []


# --- each checker, proven on a fake tree ------------------------------------------------------


def _fake_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str]) -> None:
    """Point the checkers at a package of ``files`` (path under ``rtagents/`` -> source)."""
    fake = tmp_path / "rtagents"
    for name, source in {"__init__.py": "", **files}.items():
        (fake / name).parent.mkdir(parents=True, exist_ok=True)
        (fake / name).write_text(source)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)


def test_the_cycle_checker_sees_type_only_and_relative_cycles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        "server/__init__.py": "",
        "server/a.py": "from .b import thing\n",
        "server/b.py": "import typing\nif typing.TYPE_CHECKING:\n    from .c import C\n",
        "server/c.py": "from . import a\n",
        "server/d.py": "from .a import x\nimport rtagents.server.e\n",
        "server/e.py": "def later():\n    import rtagents.server.e\n",
        "client/__init__.py": "from .f import F\n",
        "client/f.py": "from ..server.a import x\n",
    }
    _fake_package(tmp_path, monkeypatch, files)
    found = _cycles()
    assert len(found) == 2, found
    three = next(p for p in found if "3 modules" in p)
    assert "in rtagents.server: rtagents.server.a, rtagents.server.b, rtagents.server.c" in three
    assert "e.g. a -> b -> c -> a" in three
    assert any("1 modules in rtagents.server.e" in p for p in found)  # e imports itself


def test_the_host_checker_sees_backend_and_engine_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        "server/host/one.py": "from ..local import pipeline\n",
        "server/host/two.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from ...engines.base import Engines\n",
        "server/host/three.py": "from .. import webrtc\nfrom ...protocol import errors\n",
        "server/host/four.py": "from . import backend\nfrom ..stores import client_secrets\n",
    }
    _fake_package(tmp_path, monkeypatch, files)
    found = _host_violations()
    assert len(found) == 3, found
    assert any("one.py:1: server/host must not import rtagents.server.local" in p for p in found)
    assert any("two.py:3: server/host must not import rtagents.engines.base" in p for p in found)
    assert any("three.py:1: server/host must not import rtagents.server.webrtc" in p for p in found)


def test_the_name_checkers_see_twins_and_stdlib_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        "server/items.py": "",
        "protocol/items.py": "",
        "server/base.py": "",
        "client/base.py": "",
        "server/secrets.py": "",
        "json/__init__.py": "",
        "server/_private.py": "",
        "server/call.py": "class CallTransport:\n    pass\nclass _Hidden:\n    pass\n",
        "client/call.py": "class CallTransport:\n    pass\nclass _Hidden:\n    pass\n",
    }
    _fake_package(tmp_path, monkeypatch, files)
    assert _twin_names() == [
        "module name 'call' is used 2 times: client/call.py, server/call.py",
        "module name 'items' is used 2 times: protocol/items.py, server/items.py",
    ]
    assert _twin_classes() == [
        "class name 'CallTransport' is defined 2 times: client/call.py, server/call.py"
    ]
    assert _stdlib_shadows() == [
        "json is named after the standard library module 'json'",
        "server/secrets.py is named after the standard library module 'secrets'",
    ]


def test_the_rate_checker_sees_int_literals_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        "protocol/audio.py": "PCM_RATE = 24_000\n",
        "engines/tts.py": "RATE = 24000\nTEXT = '24000 Hz'\nHALF = 24000.0 / 2\nOK = True\n",
        "client/play.py": "def rate():\n    return {'rate': 24_000}\n",
    }
    _fake_package(tmp_path, monkeypatch, files)
    assert _rate_literals() == [
        "rtagents/client/play.py:2: 24 kHz written as a literal; import PCM_RATE",
        "rtagents/engines/tts.py:1: 24 kHz written as a literal; import PCM_RATE",
    ]


if __name__ == "__main__":  # print the current findings (helpers keep a file of them)
    for rule, findings in all_violations().items():
        print(f"## {rule}: {len(findings)}")
        print("\n".join(f"- {finding}" for finding in findings) or "- none")
