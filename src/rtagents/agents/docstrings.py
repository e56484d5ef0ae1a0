"""Read a function's docstring the way a tool schema needs it: a summary and per-argument text.

Google style (``Args:`` with ``name: text`` or ``name (type): text`` entries,
continuation lines indented deeper) is what openai-agents users write; other
styles keep the whole docstring as the description and no argument text.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_SECTION = re.compile(r"^(Args|Arguments|Parameters|Returns|Raises|Yields|Examples?|Notes?):\s*$")
_ARG = re.compile(r"^(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


@dataclass(frozen=True, slots=True)
class Docstring:
    summary: str
    arguments: dict[str, str] = field(default_factory=dict)


def read_docstring(fn: Callable[..., Any]) -> Docstring:
    """The summary (before the first section) and the ``Args:`` entries of ``fn``."""
    text = inspect.getdoc(fn) or ""
    summary: list[str] = []
    arguments: dict[str, str] = {}
    section: str | None = None
    current: str | None = None
    arg_indent: int | None = None
    for line in text.splitlines():
        stripped = line.strip()
        heading = _SECTION.match(stripped)
        if heading and len(line) - len(line.lstrip()) == 0:
            section, current, arg_indent = heading.group(1), None, None
            continue
        if section is None:
            summary.append(line)
        elif section in ("Args", "Arguments", "Parameters") and stripped:
            indent = len(line) - len(line.lstrip())
            entry = _ARG.match(stripped)
            if entry and (arg_indent is None or indent <= arg_indent):
                arg_indent = indent
                current = entry.group(1).lstrip("*")
                arguments[current] = entry.group(2).strip()
            elif current is not None:
                arguments[current] = f"{arguments[current]} {stripped}".strip()
    return Docstring(summary="\n".join(summary).strip(), arguments=arguments)
