"""Imports point one way only (DESIGN.md, "Layers").

Reads every module's import statements with ``ast`` (nothing is imported), so a
forbidden edge is caught even in code paths that tests never execute, lazy
function-level imports included.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "rtagents"

# layer -> the rtagents layers it may import (itself is always allowed).
ALLOWED: dict[str, set[str]] = {
    "protocol": set(),
    "observability": {"protocol"},
    "transports": {"protocol", "observability"},
    "engines": {"protocol", "observability"},
    "server": {"protocol", "transports", "engines", "observability"},
    "client": {"protocol", "transports", "observability"},
    "agents": {"client", "protocol", "transports", "observability"},
    "testing": {"protocol", "observability", "transports", "engines", "server", "client", "agents"},
    "cli": {
        "protocol",
        "observability",
        "transports",
        "engines",
        "server",
        "client",
        "agents",
        "testing",
    },
}
# Third-party modules the sans-I/O core must not reach for.
PROTOCOL_FORBIDDEN_THIRD_PARTY = {
    "asyncio",
    "socket",
    "threading",
    "time",
    "websockets",
    "starlette",
    "uvicorn",
    "httpx",
    "aiortc",
}


def _layer_of(path: Path) -> str | None:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else None


def _imported_modules(path: Path) -> list[tuple[str, int]]:
    """Absolute dotted names imported by a module, relative imports resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ["rtagents", *path.relative_to(PACKAGE).parent.parts]
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.append((module, node.lineno))
            found.extend((f"{module}.{alias.name}", node.lineno) for alias in node.names)
    return found


def _violations() -> list[str]:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        layer = _layer_of(path)
        if layer is None or layer not in ALLOWED:
            continue
        for module, line in _imported_modules(path):
            parts = module.split(".")
            where = f"{path.relative_to(PACKAGE.parent)}:{line}"
            if parts[0] == "rtagents" and len(parts) > 1:
                target = parts[1]
                if target in ALLOWED and target != layer and target not in ALLOWED[layer]:
                    problems.append(f"{where}: {layer} must not import {target} ({module})")
            elif layer == "protocol" and parts[0] in PROTOCOL_FORBIDDEN_THIRD_PARTY:
                problems.append(f"{where}: protocol is sans-I/O but imports {module}")
    return problems


def test_imports_point_one_way() -> None:
    assert _violations() == []


def test_the_checker_sees_a_forbidden_edge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "rtagents"
    (fake / "client").mkdir(parents=True)
    (fake / "client" / "bad.py").write_text("from ..server import app\nimport socket\n")
    (fake / "protocol").mkdir()
    (fake / "protocol" / "bad.py").write_text("import asyncio\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake)
    found = _violations()
    assert any("client must not import server" in p for p in found)
    assert any("protocol is sans-I/O but imports asyncio" in p for p in found)
