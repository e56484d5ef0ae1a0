"""JSON nesting: parsing text from outside without recursion, how deep a value goes, and an
object's top-level strings read without recursion.

The stdlib parser recurses once per level of nesting, so a few KiB of brackets
from a peer raise ``RecursionError``, which is not a ``ValueError`` and so
escapes every ``except ValueError`` written for bad JSON; and a garbage
collection that starts at the bottom of that stack makes any ``gc`` callback
(the server's pause timer) fail too. :func:`parse_untrusted` parses with
pydantic-core's parser instead, which does not recurse and stops at
:data:`MAX_DEPTH` levels with a ``ValueError``.

The wire parser stops at a fixed depth (``recursion limit exceeded``) and then
nothing of the event would be known. :func:`top_level_strings` reads the
top-level string members (``type``, ``event_id``) of such bytes anyway: it
decodes scalars and skips nested values by counting brackets, with a bounded
amount of work, so the refusal can still carry the ``event_id``. It runs only
after the parser has failed, never on the normal path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, Final

from pydantic_core import from_json

# Tokens a skipped value is made of: whole strings (brackets in them do not
# count) and brackets. Past this many the scan gives up: it stays cheap
# however large the frame.
MAX_SKIPPED_TOKENS: Final = 100_000
_TOKEN: Final = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
_KEY: Final = re.compile(r'\s*("[^"\\]*(?:\\.[^"\\]*)*")\s*:\s*')
_SPACE: Final = re.compile(r"\s*")
_SCALARS: Final = json.JSONDecoder()
# pydantic-core's parser takes 201 levels and refuses the 202nd ("recursion limit exceeded").
MAX_DEPTH: Final = 201
_TOO_DEEP: Final = "recursion limit exceeded"


def parse_untrusted(text: str | bytes | bytearray) -> Any:
    """One JSON value from a peer, a model or a file, without recursing.

    Raises ``ValueError`` for anything that is not one valid JSON value, with the
    parser's reason; a value nested deeper than :data:`MAX_DEPTH` levels is
    refused by saying so. Unlike ``json.loads``, an unpaired surrogate escape
    (``"\\ud800"``) is refused too: it cannot be encoded as UTF-8 anyway.
    """
    try:
        return from_json(text)
    except ValueError as exc:
        if str(exc).startswith(_TOO_DEEP):
            raise ValueError(f"nested deeper than {MAX_DEPTH} levels ({exc})") from None
        raise


def top_level_strings(raw: bytes | str, names: Iterable[str]) -> dict[str, str]:
    """The string values of the top-level members ``names`` that can be read.

    Reading stops at the first thing that is not well-formed JSON, or at a
    nested value too large to skip; what was read before is returned.
    """
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    wanted = set(names)
    found: dict[str, str] = {}
    at = _SPACE.match(text).end()  # type: ignore[union-attr]  # \s* always matches
    if not text.startswith("{", at):
        return found
    at += 1
    while True:
        key = _KEY.match(text, at)
        if key is None:
            return found
        at = key.end()
        if text.startswith(("{", "["), at):
            end = _skip_nested(text, at)
            if end is None:
                return found
            at = end
        else:
            try:
                value, at = _SCALARS.raw_decode(text, at)
                name = json.loads(key.group(1))  # a control character in it is not JSON
            except ValueError:
                return found
            if name in wanted and isinstance(value, str):
                found.setdefault(name, value)
        after = _SPACE.match(text, at).end()  # type: ignore[union-attr]
        if not text.startswith(",", after):
            return found
        at = after + 1


def _skip_nested(text: str, start: int) -> int | None:
    """Where the object or array opening at ``start`` ends; None if not found cheaply."""
    depth = 0
    for count, token in enumerate(_TOKEN.finditer(text, start)):
        if count >= MAX_SKIPPED_TOKENS:
            return None
        kind = token.group()
        if kind in ("[", "{"):
            depth += 1
        elif kind in ("]", "}"):
            depth -= 1
            if depth == 0:
                return token.end()
    return None


def nesting_depth(value: Any) -> int:
    """How many levels of objects and arrays ``value`` (parsed JSON) nests; 0 for a scalar.

    Iterative, so no depth can exhaust the stack.
    """
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        current, level = pending.pop()
        if isinstance(current, dict):
            children: Iterable[Any] = current.values()
        elif isinstance(current, list | tuple):
            children = current
        else:
            continue
        deepest = max(deepest, level)
        pending.extend((child, level + 1) for child in children)
    return deepest
