"""Per-item state of the conversation reducer.

Streaming events (text, transcript, argument deltas) arrive far more often
than whole items, and may arrive before the item itself. So an item's state
keeps the *accumulated* strings next to the last item model it saw, and
builds the up-to-date model only when someone asks for it (cached until the
next change). No model is copied and no string is re-joined per delta: deltas
are kept as chunks (:class:`Text`) and joined once, when read.
"""

from __future__ import annotations

import typing
from bisect import bisect_right
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from openai.types.realtime import ConversationItem

Field = Literal["text", "transcript"]
PartKey = tuple[int, Field]
# (audio ms of the item reached when a transcript delta arrived, its char offset)
Mark = tuple[float, int]


class Text:
    """A string grown by deltas: O(1) per append, joined only when read."""

    __slots__ = ("_chunks", "length")

    def __init__(self, value: str = "") -> None:
        self._chunks = [value]
        self.length = len(value)

    def append(self, delta: str) -> None:
        self._chunks.append(delta)
        self.length += len(delta)

    def value(self) -> str:
        if len(self._chunks) > 1:
            self._chunks = ["".join(self._chunks)]
        return self._chunks[0]


class ItemState:
    """What one item looks like so far, from every event that touched it."""

    __slots__ = (
        "item",
        "parts",
        "part_types",
        "marks",
        "arguments",
        "audio_bytes",
        "audio_ms",
        "truncated_ms",
        "transcription_error",
        "_cache",
    )

    def __init__(self) -> None:
        self.item: ConversationItem | None = None
        self.parts: dict[PartKey, Text] = {}
        self.part_types: dict[int, str] = {}
        self.marks: dict[int, list[Mark]] = {}
        self.arguments: Text | None = None
        self.audio_bytes = 0
        self.audio_ms = 0.0
        self.truncated_ms: int | None = None
        self.transcription_error: str | None = None
        self._cache: ConversationItem | None = None

    def set_item(self, item: ConversationItem) -> None:
        """Adopt a (new version of the) item; its non-empty strings are authoritative.

        Empty strings do not erase accumulated deltas: ``conversation.item.added``
        carries an empty item, and may be replayed after the deltas. A part whose
        type changed (a rebuild replays assistant audio as ``output_text``) is a
        new part: what was accumulated for the old one is dropped.
        """
        for index, part in enumerate(getattr(item, "content", None) or ()):
            known = self._part_type(index)
            kind = getattr(part, "type", None)
            if known is not None and kind is not None and kind != known:
                for field in typing.get_args(Field):
                    self.parts.pop((index, field), None)
                self.marks.pop(index, None)
                self.part_types[index] = kind
        self.item = item.model_copy(deep=True)
        self._cache = None
        arguments = getattr(item, "arguments", None)
        if arguments:
            self.arguments = Text(arguments)
        for index, part in enumerate(getattr(item, "content", None) or ()):
            for field in typing.get_args(Field):
                value = getattr(part, field, None)
                if value and not (field == "transcript" and self.truncated_ms is not None):
                    self.parts[(index, field)] = Text(value)

    def _part_type(self, index: int) -> str | None:
        """The type part ``index`` had so far (from the item, else from its deltas)."""
        content = getattr(self.item, "content", None) or ()
        if index < len(content):
            kind = getattr(content[index], "type", None)
            if isinstance(kind, str):
                return kind
        return self.part_types.get(index)

    def note_part(self, index: int, part_type: str) -> None:
        """Remember the content type to create if the item lacks part ``index``."""
        self.part_types.setdefault(index, part_type)

    def append(self, index: int, field: Field, delta: str, part_type: str) -> None:
        self.note_part(index, part_type)
        text = self.parts.get((index, field))
        if text is None:
            text = self.parts[(index, field)] = Text()
        text.append(delta)
        self._cache = None

    def finish(self, index: int, field: Field, value: str, part_type: str) -> None:
        self.note_part(index, part_type)
        self.parts[(index, field)] = Text(value)
        self._cache = None

    def add_transcript_delta(self, index: int, delta: str) -> None:
        """Append output transcript, marking how much audio had been received."""
        text = self.parts.get((index, "transcript"))
        offset = text.length if text is not None else 0
        self.marks.setdefault(index, []).append((self.audio_ms, offset))
        self.append(index, "transcript", delta, "output_audio")

    def add_arguments(self, delta: str) -> None:
        if self.arguments is None:
            self.arguments = Text()
        self.arguments.append(delta)
        self._cache = None

    def set_arguments(self, arguments: str) -> None:
        self.arguments = Text(arguments)
        self._cache = None

    def add_audio(self, nbytes: int, ms: float) -> None:
        self.audio_bytes += nbytes
        self.audio_ms += ms

    def truncate(self, index: int, audio_end_ms: int) -> None:
        """Record a cut at ``audio_end_ms`` and drop the transcript that was not heard."""
        self.truncated_ms = audio_end_ms
        text = self.parts.get((index, "transcript"))
        if text is None:
            return
        marks = self.marks.get(index, ())
        kept = cut_transcript(text.value(), marks, self.audio_ms, audio_end_ms)
        self.parts[(index, "transcript")] = Text(kept)
        self.marks[index] = [mark for mark in marks if mark[1] < len(kept)]
        self._cache = None

    def model(self) -> ConversationItem | None:
        """The item with every accumulated string applied (cached; treat as read-only)."""
        if self._cache is None and self.item is not None:
            self._cache = self._materialise(self.item)
        return self._cache

    def transcript(self) -> str:
        """The item's words: text and transcripts of its parts, in order."""
        item = self.model()
        if item is None:  # deltas only, so far
            pieces = [
                self._value((i, "text")) or self._value((i, "transcript"))
                for i in sorted({index for index, _ in self.parts})
            ]
        else:
            pieces = [
                getattr(part, "text", None) or getattr(part, "transcript", None)
                for part in getattr(item, "content", None) or ()
            ]
        return " ".join(piece for piece in pieces if piece)

    def _value(self, key: PartKey) -> str | None:
        text = self.parts.get(key)
        return text.value() if text is not None else None

    def _materialise(self, item: ConversationItem) -> ConversationItem:
        update: dict[str, Any] = {}
        arguments = self.arguments.value() if self.arguments is not None else None
        if arguments is not None and getattr(item, "arguments", None) != arguments:
            update["arguments"] = arguments
        content = getattr(item, "content", None)
        if content is not None and self.parts:
            new_content = self._apply_parts(type(item), list(content))
            if new_content != content:
                update["content"] = new_content
        return item.model_copy(update=update) if update else item

    def _apply_parts(self, item_type: type[Any], content: list[Any]) -> list[Any]:
        part_type = typing.get_args(item_type.model_fields["content"].annotation)[0]
        for index, field in sorted(self.parts):
            if field not in part_type.model_fields:
                continue  # e.g. a transcript delta aimed at a system message
            while len(content) <= index:
                content.append(part_type.model_construct(type=self.part_types.get(len(content))))
            part = content[index]
            value = self.parts[(index, field)].value()
            if getattr(part, field, None) != value:
                content[index] = part.model_copy(update={field: value})
        return content


def cut_transcript(text: str, marks: Sequence[Mark], total_ms: float, end_ms: float) -> str:
    """The part of ``text`` spoken in the first ``end_ms`` of ``total_ms`` of audio.

    ``marks`` say at which audio position each transcript delta arrived. A
    delta is taken to be spoken from its mark up to the next delta's mark (the
    last one up to the end of the audio), so deltas whose audio starts at or
    after ``end_ms`` are dropped whole and the one playing at the cut is kept
    in proportion to the time it had played (which may split a word). When the
    marks carry no timing (all deltas arrived at one audio position, e.g. the
    whole transcript before or after the audio) the text is assumed to be
    spoken evenly over the audio.
    """
    if end_ms <= 0:
        return ""
    if end_ms >= total_ms:
        return text
    points = _points(marks, len(text))
    if len({ms for ms, _ in points}) <= 1:
        points = [(0.0, 0)]
    points.append((total_ms, len(text)))
    if end_ms < points[0][0]:
        return text[: points[0][1]]
    # end_ms lies in [points[0].ms, total_ms), so a following point exists.
    index = bisect_right([ms for ms, _ in points], end_ms) - 1
    (start_ms, start), (stop_ms, stop) = points[index], points[index + 1]
    fraction = (end_ms - start_ms) / (stop_ms - start_ms)
    return text[: start + int((stop - start) * fraction)]


def _points(marks: Sequence[Mark], length: int) -> list[Mark]:
    """One point per audio position (its earliest offset), offsets clamped and non-decreasing."""
    points: list[Mark] = []
    for ms, offset in marks:
        if points and ms <= points[-1][0]:
            continue
        floor = points[-1][1] if points else 0
        points.append((ms, max(floor, min(offset, length))))
    return points
