"""Which keys sit at the top level of a ``session`` or ``response`` object, line by line.

``voice`` or ``turn_detection`` is beta only when written directly in the
session (GA nests them under ``audio``), so the scanner needs the nesting, not
the word. A full parser per language is not needed for that: code, JSON and
log lines are read with a small bracket tracker (strings and comments skipped,
each ``{``/``(`` remembering the key it is the value of), YAML by indentation
and TOML by its table headers. Pure and line-fed, so a file of any size streams.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final, Protocol

from .doctor_rules import FileKind, fields_owner

TopKey = tuple[int, str, str]
"""``(column, object name, key)``: a key found directly inside a session/response."""

_MAX_DEPTH: Final = 256  # deeper nesting is not followed (bounded state on hostile input)
# A line that could open a session/response object names one as a key. Log and
# recording lines without such a mention (most of them: audio deltas) are not
# walked character by character while no such object is open.
_OWNER_MENTION: Final = re.compile(r"(?i)(?:session(?:_?config)?|response)[\"'`]?\s*[:=]")
_LINE_KINDS: Final = frozenset({"json", "text", "markup"})
_OPENERS: Final = {"{": "}", "(": ")", "[": "]"}
_CLOSERS: Final = frozenset(_OPENERS.values())


class KeyTracker(Protocol):
    def feed(self, line: str) -> list[TopKey]: ...


@dataclass
class _Container:
    opener: str
    owner: str | None  # "session"/"response" if this bracket opens such an object


@dataclass
class BraceTracker:
    """Brackets of Python, JavaScript/TypeScript, JSON and log lines."""

    kind: FileKind
    _stack: list[_Container] = field(default_factory=list)
    _pending: str | None = None  # a key whose value has not started yet
    _last_word: str | None = None  # the string or name just read (a key if ':' follows)
    _open_string: str | None = None  # the closing quote of a string spanning lines
    _in_block_comment: bool = False

    def feed(self, line: str) -> list[TopKey]:
        found: list[TopKey] = []
        if self.kind in _LINE_KINDS and not self._owner_open() and not _OWNER_MENTION.search(line):
            return found
        i, n = 0, len(line)
        while i < n:
            if self._open_string is not None or self._in_block_comment:
                i = self._skip_open(line, i)
                continue
            char = line[i]
            if self._starts_comment(line, i):
                break
            if char in "\"'`":
                i = self._string(line, i)
            elif char.isalpha() or char in "_$":
                end = i + 1
                while end < n and (line[end].isalnum() or line[end] in "_$"):
                    end += 1
                self._last_word = line[i:end]
                i = end
                continue
            elif char in ":=":
                self._separator(line, i, found)
            elif char in _OPENERS:
                self._open(char)
            elif char in _CLOSERS:
                self._close(char)
            elif not char.isspace():
                self._pending = self._last_word = None
            i += 1
        if self.kind in ("json", "text", "markup"):
            self._open_string = None  # a log line never continues a string
        return found

    def _owner_open(self) -> bool:
        return any(container.owner is not None for container in self._stack)

    def _starts_comment(self, line: str, i: int) -> bool:
        if self.kind == "python":
            return line[i] == "#"
        if self.kind == "js" and line.startswith("/*", i):
            self._in_block_comment = True
            return False
        return self.kind == "js" and line.startswith("//", i)

    def _skip_open(self, line: str, i: int) -> int:
        if self._in_block_comment:
            end = line.find("*/", i)
            if end < 0:
                return len(line)
            self._in_block_comment = False
            return end + 2
        assert self._open_string is not None
        end = _string_end(line, i, self._open_string)
        if end < 0:
            return len(line)
        self._open_string = None
        return end

    def _string(self, line: str, i: int) -> int:
        """Read the string starting at ``i``; returns where reading goes on."""
        quote = line[i]
        if self.kind == "python" and line.startswith(quote * 3, i):
            quote *= 3
        end = _string_end(line, i + len(quote), quote)
        if end < 0:  # runs past the line: only triple quotes and template literals go on
            if len(quote) == 3 or quote == "`":
                self._open_string = quote
            self._last_word = None
            return len(line)
        self._last_word = line[i + len(quote) : end - len(quote)] if len(quote) == 1 else None
        return end - 1

    def _separator(self, line: str, i: int, found: list[TopKey]) -> None:
        char = line[i]
        nxt = line[i + 1 : i + 2]
        prev = line[i - 1 : i] if i else ""
        is_key = (char == ":" and nxt != ":") or (
            char == "=" and nxt not in "=>" and prev not in "=!<>:+-*/"
        )
        key, self._last_word = self._last_word, None
        if not is_key or key is None:
            self._pending = None
            return
        self._pending = key
        top = self._stack[-1] if self._stack else None
        if top is None or top.owner is None:
            return
        if (char == ":" and top.opener == "{") or (
            char == "=" and top.opener == "(" and top.owner == "session" and prev not in " \t"
        ):
            found.append((_key_column(line, i, key), top.owner, key))

    def _open(self, char: str) -> None:
        owner = fields_owner(self._pending) if char != "[" else None
        if len(self._stack) < _MAX_DEPTH:
            self._stack.append(_Container(char, owner))
        self._pending = self._last_word = None

    def _close(self, char: str) -> None:
        for depth in range(len(self._stack) - 1, -1, -1):
            if _OPENERS[self._stack[depth].opener] == char:
                del self._stack[depth:]  # tolerant: unclosed inner brackets end here too
                break
        self._pending = self._last_word = None


def _string_end(line: str, start: int, quote: str) -> int:
    """Index just past the closing ``quote`` from ``start``, or -1 if the line ends first."""
    i = start
    while True:
        j = line.find(quote, i)
        if j < 0:
            return -1
        backslashes = 0
        while j - 1 - backslashes >= start and line[j - 1 - backslashes] == "\\":
            backslashes += 1
        if backslashes % 2 == 0:
            return j + len(quote)
        i = j + 1


def _key_column(line: str, separator: int, key: str) -> int:
    """Column of ``key`` written just before the separator at ``separator``."""
    column = line.rfind(key, 0, separator)
    return max(column, 0)


@dataclass
class YamlTracker:
    """YAML: the keys indented directly under a ``session:``/``response:`` key."""

    _owner: str | None = None
    _owner_indent: int = 0
    _child_indent: int | None = None

    def feed(self, line: str) -> list[TopKey]:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            return []
        indent = len(line) - len(line.lstrip(" "))
        key = stripped.split(":", 1)[0].strip().strip("\"'") if ":" in stripped else None
        found: list[TopKey] = []
        if self._owner is not None and indent <= self._owner_indent:
            self._owner = None
        if self._owner is not None and key is not None:
            if self._child_indent is None:
                self._child_indent = indent
            if indent == self._child_indent:
                found.append((indent, self._owner, key))
        owner = fields_owner(key)
        if owner is not None and stripped.endswith(":"):
            self._owner, self._owner_indent, self._child_indent = owner, indent, None
        return found


@dataclass
class TomlTracker:
    """TOML: the keys of a ``[session]``/``[x.session]`` table, and ``[session.voice]`` tables."""

    _owner: str | None = None

    def feed(self, line: str) -> list[TopKey]:
        stripped = line.strip()
        if stripped.startswith("["):
            parts = [p.strip().strip("\"'") for p in stripped.strip("[]").split(".")]
            self._owner = fields_owner(parts[-1])
            parent = fields_owner(parts[-2]) if len(parts) >= 2 else None
            return [] if parent is None else [(line.rfind(parts[-1]), parent, parts[-1])]
        if self._owner is None or "=" not in stripped or stripped.startswith("#"):
            return []
        key = stripped.split("=", 1)[0].strip().strip("\"'")
        return [(line.find(key), self._owner, key)]


@dataclass
class NoTracker:
    """Formats without nesting (.env): only the line rules apply."""

    def feed(self, line: str) -> list[TopKey]:
        return []


def tracker_for(kind: FileKind) -> KeyTracker:
    if kind == "yaml":
        return YamlTracker()
    if kind == "toml":
        return TomlTracker()
    if kind == "env":
        return NoTracker()
    return BraceTracker(kind)
