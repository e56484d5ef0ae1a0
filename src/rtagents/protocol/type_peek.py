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

# How far from the end the last member's key is looked for: the GA type names
# are under 60 characters.
_TAIL_REACH = 96


class _Marks:
    """The punctuation around a ``type`` member, as ``str`` or as ``bytes``.

    Typed ``Any`` so one function serves both kinds of text: :func:`peek_type`
    pairs ``str`` text with the ``str`` marks and ``bytes`` with ``bytes``.
    """

    __slots__ = ("head", "key", "quote", "tail")

    def __init__(self, head: Any, key: Any, quote: Any, tail: Any) -> None:
        self.head, self.key, self.quote, self.tail = head, key, quote, tail


_STR_MARKS = _Marks('{"type":', '"type":', '"', '"}')
_BYTES_MARKS = _Marks(b'{"type":', b'"type":', b'"', b'"}')


def _audio_delta_marks(as_text: type[str] | type[bytes]) -> tuple[Any, Any]:
    name = "response.output_audio.delta"
    heads = (f'{{"type":"{name}"', f'{{"type": "{name}"')
    tails = (f'"type":"{name}"}}', f'"type": "{name}"}}')
    if as_text is str:
        return heads, tails
    return tuple(h.encode() for h in heads), tuple(t.encode() for t in tails)


# (heads, tails) of an audio delta's text, indexed by ``type(text) is str``: the
# codec tests these first, at the cost of one startswith/endswith, because
# audio deltas are most of what a server sends.
AUDIO_DELTA_MARKS = (_audio_delta_marks(bytes), _audio_delta_marks(str))


def peek_type(raw: str | bytes) -> str | bytes | None:
    """The ``type`` an event's text appears to carry first or last, else ``None``.

    Returns the same kind of text it was given. Cheap rather than exact: it
    runs before every validation, and a wrong guess costs nothing but time.
    """
    marks = _STR_MARKS if isinstance(raw, str) else _BYTES_MARKS
    quote = marks.quote
    if raw.startswith(marks.head):  # {"type":"name" or {"type": "name"
        start = raw.find(quote, 8, 10) + 1
        end = raw.find(quote, start, start + _TAIL_REACH) if start else -1
        return raw[start:end] if end > 0 else None
    if raw.endswith(marks.tail):  # ,"type":"name"} or , "type": "name"}
        key = raw.rfind(marks.key, len(raw) - _TAIL_REACH)
        start = raw.find(quote, key + 7, key + 9) + 1 if key >= 0 else 0
        return raw[start:-2] if start else None
    return None
