"""The comment above each field of a settings table, as the help of its generated flag.

The limits (``server/host/limits.py``) and the gateway policy
(``server/policy/table.py``) document each field with a comment just above
it; their flags (``--limit-*``, ``--policy-*``) take that comment as their
help, so the table and ``--help`` cannot drift apart.
"""

from __future__ import annotations

import ast
import inspect
from types import ModuleType


def field_comments(module: ModuleType, class_name: str) -> dict[str, str]:
    """Each annotated field of ``class_name`` in ``module``: its comment, as one line."""
    try:
        source = inspect.getsource(module)
    except OSError:  # no source shipped: the flags still work, with shorter help
        return {}
    lines = source.splitlines()
    comments: dict[str, str] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for statement in node.body:
                if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                    comments[statement.target.id] = _comment_above(lines, statement.lineno - 1)
    return comments


def _comment_above(lines: list[str], index: int) -> str:
    words: list[str] = []
    while index > 0 and lines[index - 1].strip().startswith("#"):
        index -= 1
        text = lines[index].strip().lstrip("#").strip()
        if text.startswith("---"):  # a section heading, not this field's comment
            break
        words.insert(0, text)
    return " ".join(words)
