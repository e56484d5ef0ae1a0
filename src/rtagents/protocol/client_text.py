"""Client text made safe to quote in an error message or a log line: escaped, cut, its length noted.

A client decides what its strings contain. Quoted raw, a newline in an event
``type`` forges a log line, an ESC rewrites a terminal, a lone surrogate
breaks a UTF-8 log stream, and a 1 MB ``type`` makes a 1 MB error reply.
Everything here is pure and cheap: text that is short and printable is
returned as it is (one C-level check), the rest costs work in proportion to
``limit``, never to the length of what the client sent.
"""

from __future__ import annotations

ELLIPSIS = "…"


def quoted(text: str, limit: int = 200) -> str:
    """``text`` as a Python string literal, cut to ``limit`` characters, its length noted if cut.

    Every character that is not printable (C0 and C1 controls such as
    newline, CR, ESC and NUL, DEL, Unicode line and paragraph separators,
    bidirectional overrides, lone surrogates) is shown as its escape
    (``\\n``, ``\\x1b``, ``\\u2028``), and backslashes are doubled, so the
    result is one line and reads back unambiguously::

        quoted("a\\nb")           -> 'a\\nb'
        quoted("x" * 1048576, 3)  -> 'xxx…' (1048576 chars)

    ``limit`` counts characters of ``text``, so the result is at most about
    ``10 * limit + 30`` characters (one escaped character takes up to 10).
    """
    _check_limit(limit)
    if len(text) <= limit:
        return _literal(text)
    shown = _literal(text[:limit])
    return f"{shown[:-1]}{ELLIPSIS}{shown[-1]} ({len(text)} chars)"


def loggable(text: str, limit: int = 200) -> str:
    """``text`` as it is when short (``limit``) and printable, else :func:`quoted`.

    For a value a log line shows as it is in the ordinary case (``evt_1``,
    ``session.update``): only a value that needs escaping or cutting pays
    for it, and it then shows in quotes, so it is plain that it was altered.
    """
    _check_limit(limit)
    if len(text) <= limit and text.isprintable():
        return text
    return quoted(text, limit)


def one_line(text: str, limit: int = 2000) -> str:
    """``text`` with its unprintable characters escaped (no quotes added), cut to ``limit``.

    For a message the server wrote that may embed something a client sent:
    spaces stay, a newline becomes ``\\n``, and past ``limit`` characters the
    rest is replaced by ``… (N chars)``.
    """
    _check_limit(limit)
    if len(text) <= limit and text.isprintable():
        return text
    shown = text[:limit]
    if not shown.isprintable():
        shown = "".join(char if char.isprintable() else _literal(char)[1:-1] for char in shown)
    if len(text) <= limit:
        return shown
    return f"{shown}{ELLIPSIS} ({len(text)} chars)"


def _literal(text: str) -> str:
    # str.__repr__, not repr(): a str subclass cannot bring its own __repr__.
    return str.__repr__(text)


def _check_limit(limit: int) -> None:
    if limit < 0:
        raise ValueError(f"a quoting limit must be >= 0, got {limit}")
