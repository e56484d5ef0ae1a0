"""What the server's protocol rules look at: the session's facts, the request, the outcome.

:mod:`.server_rules` decides whether a Realtime server accepts a client event
from two small frozen values: :class:`Facts` (what the session is doing now,
gathered by whoever runs the session) and :class:`Request` (the few fields of
the event a rule reads). Both are plain data, so the rules run and are tested
without a socket, a task or a clock.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, NamedTuple, Protocol

from pydantic import BaseModel

from .audio import b64_decoded_length
from .errors import RemoteProtocolError

# The least audio a manual commit may carry (the hosted API's figure).
MIN_COMMIT_MS: Final = 100
# pcm16 at 24 kHz: bytes per millisecond of the default input format.
PCM16_BYTES_PER_MS: Final = 48.0
# The uncommitted input buffer's default bound: 15 MiB of pcm16 at 24 kHz (about 5.5
# minutes), the hosted API's figure.
MAX_BUFFER_MS: Final = 15 * 2**20 / PCM16_BYTES_PER_MS

_NO_FIELDS: Final[Mapping[str, Any]] = MappingProxyType({})
_NO_ITEMS: Final[frozenset[str]] = frozenset()


class SessionFacts(Protocol):
    """What the rules read of a session: :class:`Facts` (a snapshot) or a live view.

    A server asks the rules about every event, appends included, so it may
    hand them an object whose properties read its state on demand instead of
    building a snapshot per event; each rule reads only the facts it needs.
    """

    @property
    def closing(self) -> bool: ...
    @property
    def kind(self) -> str: ...
    @property
    def model(self) -> str | None: ...
    @property
    def voice(self) -> str | None: ...
    @property
    def audio_produced(self) -> bool: ...
    @property
    def vad_available(self) -> bool: ...
    @property
    def turn_detection(self) -> bool: ...
    @property
    def buffered_ms(self) -> float: ...
    @property
    def buffer_limit_ms(self) -> float: ...
    @property
    def input_bytes_per_ms(self) -> float: ...
    @property
    def max_append_bytes(self) -> int | None: ...
    @property
    def active_response(self) -> str | None: ...
    @property
    def responses(self) -> AbstractSet[str]: ...
    @property
    def plays_audio(self) -> bool: ...
    @property
    def items(self) -> Container[str]: ...
    @property
    def item_count(self) -> int: ...
    @property
    def max_items(self) -> int | None: ...
    @property
    def max_instructions_bytes(self) -> int | None: ...
    @property
    def max_tools_bytes(self) -> int | None: ...
    @property
    def max_tools(self) -> int | None: ...
    @property
    def max_json_depth(self) -> int | None: ...
    @property
    def memory_held(self) -> int: ...
    @property
    def memory_budget(self) -> int | None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Facts:
    """The session state the rules depend on, as one immutable snapshot.

    Every field has the value of a fresh realtime session, so a caller (or a
    test) names only what differs.
    """

    closing: bool = False  # the session is ending: every event is refused
    kind: str = "realtime"  # session.type: "realtime" or "transcription"
    model: str | None = None
    voice: str | None = None  # the current output voice
    audio_produced: bool = False  # once true, the voice is fixed
    vad_available: bool = True  # the server has a VAD engine (turn detection possible)
    turn_detection: bool = False  # turn detection is on: the VAD must hear every append
    buffered_ms: float = 0.0  # uncommitted input audio
    buffer_limit_ms: float = MAX_BUFFER_MS
    input_bytes_per_ms: float = PCM16_BYTES_PER_MS  # of the session's input format
    max_append_bytes: int | None = None  # decoded bytes one append may carry; None: no bound
    active_response: str | None = None  # the response writing to the conversation
    responses: frozenset[str] = frozenset()  # every running response, out-of-band ones too
    plays_audio: bool = False  # WebRTC or SIP: the server plays the output audio
    # Ids of the conversation's items (any container: the live conversation
    # itself will do, so no copy is made per event).
    items: Container[str] = field(default=_NO_ITEMS)
    item_count: int = 0  # items in the conversation
    max_items: int | None = None  # items one conversation may hold; None: no bound
    # UTF-8 bytes of instructions, JSON bytes of all tools, and tools, of a
    # session or one response; None: no bound.
    max_instructions_bytes: int | None = None
    max_tools_bytes: int | None = None
    max_tools: int | None = None
    max_json_depth: int | None = None  # levels an event's tools may nest; None: no bound
    # Bytes the session holds that clients grew (input audio, items' content),
    # and its budget; None: no bound.
    memory_held: int = 0
    memory_budget: int | None = None


class Request(NamedTuple):
    """A client event reduced to what the rules read (see :meth:`from_event`).

    A named tuple rather than a frozen dataclass: one is built for every client
    event, appends included, and a tuple is built about three times faster.
    """

    type: str
    item_id: str | None = None  # retrieve, truncate, delete
    new_item_id: str | None = None  # conversation.item.create: the id the client chose
    previous_item_id: str | None = None  # conversation.item.create
    response_id: str | None = None  # response.cancel
    conversation: str | None = None  # response.create: response.conversation
    appended_bytes: int = 0  # input_audio_buffer.append: decoded audio bytes
    item_bytes: int = 0  # conversation.item.create: what the item's content holds
    response: Mapping[str, Any] = _NO_FIELDS  # response.create: instructions, tools where set
    session: Mapping[str, Any] = _NO_FIELDS  # session.update: set fields only

    @classmethod
    def from_event(cls, event: Any) -> Request:
        """The request of a decoded client event (an ``openai`` model) or a wire dict.

        Only the fields the rules read for that event type are taken: the host
        asks this of every event, appends included, so it must stay cheap.
        """
        kind = str(_get(event, "type"))
        read = _READERS.get(kind)
        return cls(type=kind) if read is None else read(kind, event)


def _append(kind: str, event: Any) -> Request:
    audio = _get(event, "audio")
    appended = b64_decoded_length(audio) if isinstance(audio, str) else 0
    return Request(type=kind, appended_bytes=appended)


def _session_update(kind: str, event: Any) -> Request:
    return Request(type=kind, session=_set_fields(_get(event, "session")))


def _item_create(kind: str, event: Any) -> Request:
    item = _get(event, "item")
    return Request(
        type=kind,
        new_item_id=_get(item, "id"),
        previous_item_id=_get(event, "previous_item_id"),
        item_bytes=item_content_bytes(item),
    )


def _item_named(kind: str, event: Any) -> Request:
    return Request(type=kind, item_id=_get(event, "item_id"))


def _response_create(kind: str, event: Any) -> Request:
    response = _get(event, "response")
    return Request(
        type=kind,
        conversation=_get(response, "conversation"),
        response=_sized_fields(response),
    )


def _response_cancel(kind: str, event: Any) -> Request:
    return Request(type=kind, response_id=_get(event, "response_id"))


_READERS: Final[Mapping[str, Callable[[str, Any], Request]]] = MappingProxyType(
    {
        "input_audio_buffer.append": _append,
        "session.update": _session_update,
        "conversation.item.create": _item_create,
        "conversation.item.retrieve": _item_named,
        "conversation.item.truncate": _item_named,
        "conversation.item.delete": _item_named,
        "response.create": _response_create,
        "response.cancel": _response_cancel,
    }
)


@dataclass(frozen=True, slots=True)
class Accept:
    """The event may go on to whatever answers it."""


ACCEPT: Final = Accept()


@dataclass(frozen=True, slots=True)
class Refuse:
    """The event is refused: the server answers with an ``error`` event of these fields."""

    code: str
    param: str | None
    message: str

    def to_error(self, event_id: str | None = None) -> RemoteProtocolError:
        """The error the server sends (with the refused event's ``event_id``)."""
        return RemoteProtocolError(
            self.message, code=self.code, param=self.param, event_id=event_id
        )


Outcome = Accept | Refuse


def _get(source: Any, name: str) -> Any:
    # dict first, then the attribute: an ABC check (Mapping) on every event is not free.
    if isinstance(source, dict):
        return source.get(name)
    value = getattr(source, name, None)
    if value is None and isinstance(source, Mapping):
        return source.get(name)
    return value


def _set_fields(session: Any) -> Mapping[str, Any]:
    """The fields a ``session.update`` sets (unset ones must not look like changes)."""
    if session is None:
        return _NO_FIELDS
    if isinstance(session, Mapping):
        return session
    dumped: Mapping[str, Any] = session.model_dump(mode="json", exclude_unset=True, by_alias=True)
    return dumped


def _sized_fields(response: Any) -> Mapping[str, Any]:
    """A response's instructions and tools (as JSON data), where set: what size rules read."""
    fields: dict[str, Any] = {}
    instructions = _get(response, "instructions")
    if isinstance(instructions, str):
        fields["instructions"] = instructions
    tools = _get(response, "tools")
    if isinstance(tools, list):
        fields["tools"] = [
            tool.model_dump(mode="json", exclude_unset=True, by_alias=True)
            if isinstance(tool, BaseModel)
            else tool
            for tool in tools
        ]
    return fields or _NO_FIELDS


# Content fields whose text an item holds (audio: base64, counted decoded).
_TEXT_FIELDS: Final = ("text", "transcript", "arguments", "output", "name", "image_url")


def item_content_bytes(item: Any) -> int:
    """About what an item's content takes in memory: its texts' length, audio decoded.

    Read from the fields a client can make large, not a serialisation, so a
    15 MiB audio part is not copied to be measured.
    """
    size = item_text_bytes(item)
    for part in _get(item, "content") or ():
        audio = _get(part, "audio")
        if isinstance(audio, str):
            size += b64_decoded_length(audio)
    return size


def item_text_bytes(item: Any) -> int:
    """The characters of an item's texts (arguments, outputs, transcripts...), audio aside."""
    if item is None:
        return 0
    return _text_bytes(item) + sum(_text_bytes(part) for part in _get(item, "content") or ())


def _text_bytes(source: Any) -> int:
    return sum(len(value) for name in _TEXT_FIELDS if isinstance(value := _get(source, name), str))
