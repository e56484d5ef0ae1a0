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
    "agents": {"client", "protocol"},
    # The ported reference scenarios: built on the agents layer only, like a user's app.
    "scenarios": {"agents", "client", "protocol"},
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
        "scenarios",
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
# The client package of the fake trees the checkers are proven on.
CLIENT_INIT = '__all__ = ["Session"]\n'


def _layer_of(path: Path) -> str | None:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else None


def _imported_modules(path: Path) -> list[tuple[str, int]]:
    """Absolute dotted names imported by a module (each module, and each ``module.name`` a
    ``from`` import takes), relative imports resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[str, int]] = []
    for module, names, line in _import_statements(path, tree):
        found.append((module, line))
        found.extend((f"{module}.{name}", line) for name in names)
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


def _agents_violations() -> list[str]:
    """The agents layer reaches the client only through ``rtagents.client``'s ``__all__``
    (never a submodule), and openai-agents only from ``agents/compat`` (the optional extra)."""
    public = set(_public_names(PACKAGE / "client" / "__init__.py"))
    problems = []
    for path in sorted((PACKAGE / "agents").rglob("*.py")):
        in_compat = "compat" in path.relative_to(PACKAGE).parts
        tree = ast.parse(path.read_text(), filename=str(path))
        for module, names, line in _import_statements(path, tree):
            where = f"{path.relative_to(PACKAGE.parent)}:{line}"
            if client_problem := _client_problem("agents", module, names, public):
                problems.append(f"{where}: {client_problem}")
            elif (module == "agents" or module.startswith("agents.")) and not in_compat:
                problems.append(f"{where}: only agents/compat may import openai-agents")
    return problems


def _scenarios_violations() -> list[str]:
    """The scenarios are built like a user's app: the client only through ``rtagents.client``'s
    ``__all__``, nothing private of the agents layer, and never openai-agents itself."""
    public = set(_public_names(PACKAGE / "client" / "__init__.py"))
    problems = []
    for path in sorted((PACKAGE / "scenarios").rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for module, names, line in _import_statements(path, tree):
            where = f"{path.relative_to(PACKAGE.parent)}:{line}"
            if client_problem := _client_problem("scenarios", module, names, public):
                problems.append(f"{where}: {client_problem}")
            elif module == "rtagents.agents" or module.startswith("rtagents.agents."):
                private = [p for p in [*module.split("."), *names] if p.startswith("_")]
                if private:
                    problems.append(f"{where}: scenarios use private agents names {private}")
            elif module == "agents" or module.startswith("agents."):
                problems.append(f"{where}: scenarios import openai-agents ({module})")
    return problems


def _client_problem(layer: str, module: str, names: list[str], public: set[str]) -> str | None:
    """Why importing ``names`` from ``module`` breaks "the client only through its ``__all__``"
    (``import rtagents.client`` names nothing, so it counts as non-public use); None if it
    does not, or ``module`` is not the client."""
    if module == "rtagents.client":
        hidden = [n for n in names if n not in public]
        if hidden or not names:
            return f"{layer} layer uses non-public client names {hidden}"
    elif module.startswith("rtagents.client."):
        return f"{layer} layer imports the client submodule {module}"
    return None


def _public_names(init: Path) -> list[str]:
    tree = ast.parse(init.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return [ast.literal_eval(e) for e in node.value.elts]  # type: ignore[attr-defined]
    return []


def _import_statements(path: Path, tree: ast.Module) -> list[tuple[str, list[str], int]]:
    """(absolute module, imported names, line) per import statement; ``import x`` has none."""
    package = ["rtagents", *path.relative_to(PACKAGE).parent.parts]
    found: list[tuple[str, list[str], int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, [], node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.append((module, [alias.name for alias in node.names], node.lineno))
    return found


def _fake_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str]) -> None:
    """Point the checkers at a package of ``files`` (path under ``rtagents/`` -> source)."""
    fake = tmp_path / "rtagents"
    for name, source in files.items():
        (fake / name).parent.mkdir(parents=True, exist_ok=True)
        (fake / name).write_text(source)
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake)


def test_agents_use_only_the_public_client_and_protocol() -> None:
    assert _agents_violations() == []


def test_the_agents_checker_sees_private_client_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = (
        "from ..client import Session, _secret\nfrom ..client.tools import ToolRunner\n"
        "from agents.realtime import RealtimeAgent\nimport rtagents.client\n"
    )
    _fake_package(tmp_path, monkeypatch, {"client/__init__.py": CLIENT_INIT, "agents/bad.py": bad})
    found = _agents_violations()
    assert any("non-public client names ['_secret']" in p for p in found)
    assert any("client submodule rtagents.client.tools" in p for p in found)
    assert any("only agents/compat may import openai-agents" in p for p in found)
    assert any("non-public client names []" in p for p in found)


def test_scenarios_use_only_public_agents_and_client_names() -> None:
    assert _scenarios_violations() == []


def test_the_scenarios_checker_sees_private_and_forbidden_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = (
        "from ..client import Session, _secret\nfrom ..client.rebuild import merge_config\n"
        "from ..agents.session import _merge\nfrom ..agents._hidden import x\n"
        "from agents.realtime import RealtimeAgent\nfrom ..server import app\n"
    )
    good = (
        "from ..agents import Agent\nfrom ..agents.agent import reachable\n"
        "from ..client import Session\nfrom ..protocol import errors\n"
    )
    files = {"client/__init__.py": CLIENT_INIT, "scenarios/bad.py": bad, "scenarios/good.py": good}
    _fake_package(tmp_path, monkeypatch, files)
    found = _scenarios_violations()
    assert all("bad.py" in p for p in found), found
    assert any("non-public client names ['_secret']" in p for p in found)
    assert any("client submodule rtagents.client.rebuild" in p for p in found)
    assert any("private agents names ['_merge']" in p for p in found)
    assert any("private agents names ['_hidden']" in p for p in found)
    assert any("scenarios import openai-agents" in p for p in found)
    assert any("scenarios must not import server" in p for p in _violations())


def test_imports_point_one_way() -> None:
    assert _violations() == []


def test_the_checker_sees_a_forbidden_edge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {
        "client/bad.py": "from ..server import app\nimport socket\n",
        "protocol/bad.py": "import asyncio\n",
    }
    _fake_package(tmp_path, monkeypatch, files)
    found = _violations()
    assert any("client must not import server" in p for p in found)
    assert any("protocol is sans-I/O but imports asyncio" in p for p in found)


def test_agents_and_observability_stay_narrow() -> None:
    """The agents layer sees only the client's public surface (checked above) and protocol;
    observability only protocol. Widening either is a design change, not a fix."""
    assert ALLOWED["agents"] == {"client", "protocol"}
    assert ALLOWED["observability"] == {"protocol"}
