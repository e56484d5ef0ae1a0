"""Server-side identifiers: ``event_…``, ``item_…``, ``resp_…``, ``call_…``, ``sess_…``.

Shaped like the hosted API's: a prefix and a 21-character alphanumeric tail.
The tail is a per-process random *stem* (11 base-62 digits, about 65 bits)
followed by a per-process counter written in exactly 10 base-62 digits.

Why this shape:

- unique within a process by construction: the counter never repeats and a
  fixed-width encoding is injective (the old code padded a variable-width
  number with a digit that was not zero, so different numbers printed the
  same and ids repeated after a few thousand);
- unique across processes and nodes (sessions may move between them): every
  process, and every child after ``os.fork``, draws its own random stem; two
  stems collide with odds of about 2**-65 per pair;
- unguessable across processes: the stem comes from ``secrets``;
- cheap enough for one id per audio delta: the low two digits come from a
  table and the other eight are re-encoded once every 3,844 ids.

The alphabet is in ASCII order, so within one stem a later id sorts after an
earlier one (tests use that to check uniqueness over tens of millions of ids
in constant memory).
"""

from __future__ import annotations

import itertools
import os
import secrets
import string
import threading
from collections.abc import Iterator

ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase
BASE = len(ALPHABET)
STEM_DIGITS = 11
COUNTER_DIGITS = 10
COUNTER_LIMIT: int = BASE**COUNTER_DIGITS
TAIL_LENGTH = STEM_DIGITS + COUNTER_DIGITS

_LOW_DIGITS = 2
_LOW_SPAN: int = BASE**_LOW_DIGITS
_LOW = tuple(a + b for a in ALPHABET for b in ALPHABET)
_VALUE = {char: value for value, char in enumerate(ALPHABET)}


def encode(number: int, width: int) -> str:
    """``number`` in exactly ``width`` base-62 digits (most significant first)."""
    if not 0 <= number < BASE**width:
        raise ValueError(f"{number} does not fit in {width} base-62 digits")
    digits = []
    for _ in range(width):
        number, rest = divmod(number, BASE)
        digits.append(ALPHABET[rest])
    return "".join(reversed(digits))


def decode(digits: str) -> int:
    """The number that :func:`encode` wrote as ``digits``."""
    number = 0
    for char in digits:
        number = number * BASE + _VALUE[char]
    return number


def split_tail(identifier: str) -> tuple[str, int]:
    """The stem and the counter value of a server id (``prefix_`` + tail)."""
    tail = identifier.rpartition("_")[2]
    if len(tail) != TAIL_LENGTH:
        raise ValueError(f"{identifier!r} has no {TAIL_LENGTH}-character tail")
    return tail[:STEM_DIGITS], decode(tail[STEM_DIGITS:])


class _Source:
    """One stem and its counter; replaced whole, so readers never mix two."""

    __slots__ = ("stem", "counter", "block")

    def __init__(self, stem: str, start: int = 0) -> None:
        self.stem = stem
        self.counter: Iterator[int] = itertools.count(start)
        # (block number, stem + high digits) of the last block encoded: a
        # tuple swapped in one assignment, so threads never see half of it.
        self.block: tuple[int, str] = (-1, "")


_used_stems: set[str] = set()
_lock = threading.Lock()


def _fresh_stem() -> str:
    """A random stem this process has never used (a re-draw is about 2**-65 likely)."""
    while True:
        stem = "".join(secrets.choice(ALPHABET) for _ in range(STEM_DIGITS))
        if stem not in _used_stems:
            _used_stems.add(stem)
            return stem


_source = _Source(_fresh_stem())


def _tail() -> str:
    source = _source
    number = next(source.counter)
    if number >= COUNTER_LIMIT:
        return _tail_after_rollover(source)
    block, low = divmod(number, _LOW_SPAN)
    cached = source.block
    if cached[0] != block:
        cached = (block, source.stem + encode(block, COUNTER_DIGITS - _LOW_DIGITS))
        source.block = cached
    return cached[1] + _LOW[low]


def _tail_after_rollover(spent: _Source) -> str:
    """A counter that ran out (after 8 * 10**17 ids) moves on to a new stem."""
    global _source
    with _lock:
        if _source is spent:
            _source = _Source(_fresh_stem())
    return _tail()


def restart(*, start: int = 0) -> None:
    """Draw a new stem and restart the counter at ``start``.

    Runs in every child after ``os.fork`` (a child that kept its parent's stem
    and counter would repeat the parent's ids); tests use ``start`` to run the
    counter across its digit-width boundaries and its limit.
    """
    global _source
    with _lock:
        _source = _Source(_fresh_stem(), start)


def _restart_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # a thread of the parent may have held it at fork
    restart()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_restart_in_child)


def event_id() -> str:
    return "event_" + _tail()


def item_id() -> str:
    return "item_" + _tail()


def response_id() -> str:
    return "resp_" + _tail()


def call_id() -> str:
    return "call_" + _tail()


def session_id() -> str:
    return "sess_" + _tail()


def conversation_id() -> str:
    return "conv_" + _tail()
