"""No client module reaches into another object's private attributes.

Reconnect, rebuild and rollover used to edit the session's insides (36
accesses to 14 private attributes). The session now hands them its parts and
they use public methods; this scan keeps it that way for the whole package:
``x._name`` is allowed only on ``self``, ``cls`` and ``super()``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import rtagents.client

CLIENT = Path(rtagents.client.__file__).parent


def private_reach_ins(source: str) -> list[str]:
    """``line: expression`` for every private attribute read or written on another object."""
    found: list[tuple[int, int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute) or not node.attr.startswith("_"):
            continue
        if node.attr.startswith("__") and node.attr.endswith("__"):
            continue  # dunders are protocols, not privates
        owner = node.value
        if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
            continue
        if (
            isinstance(owner, ast.Call)
            and isinstance(owner.func, ast.Name)
            and owner.func.id == "super"
        ):
            continue
        found.append((node.lineno, node.col_offset, ast.unparse(node)))
    return [f"{line}: {text}" for line, _, text in sorted(found)]


def test_the_scan_sees_reach_ins_and_nothing_else() -> None:
    source = (
        "class A:\n"
        "    def f(self, other):\n"
        "        self._own = other._theirs\n"
        "        super()._base()\n"
        "        self.session._outbox.number(1)\n"
        "        return cls._x, type(self).__name__, module._hidden\n"
    )
    assert private_reach_ins(source) == [
        "3: other._theirs",
        "5: self.session._outbox",
        "6: module._hidden",
    ]


def test_no_client_module_touches_another_objects_privates() -> None:
    offenders = [
        f"{path.relative_to(CLIENT)}:{hit}"
        for path in sorted(CLIENT.rglob("*.py"))
        for hit in private_reach_ins(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
