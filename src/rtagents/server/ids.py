"""Server-side identifiers: ``event_…``, ``item_…``, ``resp_…``, ``call_…``, ``sess_…``.

Shaped like the hosted API's (a prefix and an opaque alphanumeric tail).
Audio deltas each need an event id, so ids come from a process-random stem and
a counter instead of fresh randomness per id; they are unique within the
process and unguessable across processes, which is all clients rely on.
"""

from __future__ import annotations

import itertools
import secrets
import string

_ALPHABET = string.ascii_letters + string.digits
_STEM = "".join(secrets.choice(_ALPHABET) for _ in range(10))
_counter = itertools.count(1)


def _tail() -> str:
    number = next(_counter)
    digits = []
    while True:
        number, rest = divmod(number, len(_ALPHABET))
        digits.append(_ALPHABET[rest])
        if not number:
            break
    return _STEM + "".join(reversed(digits)).rjust(8, "0")


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
