"""Guess an event's ``type`` from its JSON text without parsing it.

Servers write ``type`` either first (OpenAI: ``{"type":"…",``) or last (a
pydantic dump orders fields by name: ``…,"type":"…"}``). Reading it there
costs a few string operations, and lets the codec send a known type straight
to its validator and an unknown one straight to a single parse, instead of
letting the validator fail on it first.

The guess only picks a path, it never decides: the validator checks the real
``type`` of the parsed object, and whatever it rejects is parsed and judged
again. A wrong guess (a ``type`` inside a string, escapes, duplicate keys) can
cost time, never a wrong result.
"""

from __future__ import annotations

from typing import Any

# How far from either end the ``type`` member is looked for: the GA type names
# are under 60 characters.
_REACH = 128


class _Marks:
    """``"`` and ``type`` as ``str`` or as ``bytes``.

    Typed ``Any`` so one function serves both kinds of text: :func:`peek_type`
    pairs ``str`` text with the ``str`` marks and ``bytes`` with ``bytes``.
    """

    __slots__ = ("colons", "key", "quote")

    def __init__(self, quote: Any, key: Any, colons: tuple[Any, Any]) -> None:
        self.quote, self.key, self.colons = quote, key, colons


_STR_MARKS = _Marks('"', "type", (":", ": "))
_BYTES_MARKS = _Marks(b'"', b"type", (b":", b": "))


def _audio_delta_ends(as_text: type[str] | type[bytes]) -> tuple[tuple[Any, ...], ...]:
    name = "response.output_audio.delta"
    heads = (f'{{"type":"{name}"', f'{{"type": "{name}"')
    tails = (f',"type":"{name}"}}', f', "type": "{name}"}}')
    if as_text is str:
        return heads, tails
    return tuple(head.encode() for head in heads), tuple(tail.encode() for tail in tails)


# How an audio delta's text starts when ``type`` comes first (OpenAI) and ends
# when it comes last (a pydantic dump, as rtagents' server sends), as
# (heads, tails), indexed by ``type(text) is str``. The codec tests these before
# anything else, one startswith and one endswith, because audio deltas are most
# of the traffic.
AUDIO_DELTA_ENDS = (_audio_delta_ends(bytes), _audio_delta_ends(str))


def peek_type(raw: str | bytes) -> str | bytes | None:
    """The ``type`` an event's text appears to carry first or last, else ``None``.

    Returns the same kind of text it was given. Cheap rather than exact (one
    split of each end, fewer steps than finding the quotes one by one): it runs
    before every validation, and a wrong guess costs nothing but time.
    """
    marks = _STR_MARKS if isinstance(raw, str) else _BYTES_MARKS
    # {"type":"name",… or {"type": "name",… -> '{', 'type', ':', 'name', …
    parts = raw[:_REACH].split(marks.quote, 4)
    if len(parts) == 5 and parts[1] == marks.key and parts[2] in marks.colons:
        return parts[3]
    # …,"type":"name"} or …, "type": "name"} -> …, 'type', ':', 'name', '}'
    parts = raw[-_REACH:].rsplit(marks.quote, 4)
    if len(parts) == 5 and parts[1] == marks.key and parts[2] in marks.colons:
        return parts[3]
    return None
