"""The conversation as both peers see it, rebuilt from server events.

A sans-I/O reducer: feed it every decoded server event (models,
:class:`~.codec.UnknownEvent`, :class:`~.codec.InvalidEvent`) and it keeps
the ordered items, their text, transcripts, arguments and audio durations,
and the responses. The client applies what it receives; the server applies
what it emits; so both agree item by item.

It assumes no ordering beyond the spec: deltas may precede their item (they
are kept and applied when it arrives), an item may precede its
``previous_item_id`` (see :mod:`.ordering`), an input transcription may
complete long after the response started. A deleted item stays deleted:
only a new ``conversation.item.added``/``created`` brings its id back, never
the ``…done`` events of a response still streaming it (the last
:data:`DELETED_ITEM_WINDOW` deletes are remembered). Replays change nothing:
an event whose ``event_id`` was seen among the last :data:`SEEN_EVENT_WINDOW`
handled events is ignored, and item events replace rather than duplicate.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from .audio import PCM16_24K, AudioFormat, b64_decoded_length
from .bounded import RecentDict
from .codec import InvalidEvent
from .errors import ProtocolError
from .items import ItemState
from .ordering import ItemOrder
from .responses import MAX_IN_PROGRESS, ResponseRecord, Responses, ResponseStatus

if TYPE_CHECKING:
    from openai.types.realtime import ConversationItem
    from pydantic import BaseModel

SEEN_EVENT_WINDOW: Final = 4096
MAX_PENDING_ITEMS: Final = 256  # states for items not (yet) added, e.g. out-of-band output
DELETED_ITEM_WINDOW: Final = 1024  # recently deleted ids that a running response must not revive

__all__ = ["Conversation", "ResponseRecord", "ResponseStatus"]

Handler = Callable[["Conversation", Any], None]


class Conversation:
    """Items and responses of one session, kept in step with the server."""

    def __init__(self, *, output_format: AudioFormat = PCM16_24K) -> None:
        self._output_format = output_format
        # Per-response output formats, popped at response.done; a peer that never
        # ends its responses cannot grow it past the responses kept in progress.
        self._response_formats: RecentDict[str, AudioFormat] = RecentDict(MAX_IN_PROGRESS)
        self._order = ItemOrder()
        self._states: dict[str, ItemState] = {}
        # Item states that are not in the conversation: deltas that came before
        # their item, and items of out-of-band responses. Bounded, oldest out.
        self._pending: OrderedDict[str, None] = OrderedDict()
        self._responses = Responses()
        self._seen: set[str] = set()
        self._seen_order: deque[str] = deque()
        # Deleted item ids, newest last: a response still streaming a deleted
        # item ends it with ``output_item.done``, which must not bring it back.
        self._deleted: OrderedDict[str, None] = OrderedDict()

    # --- feeding ------------------------------------------------------------

    def apply(self, event: object, *, fresh: bool = False) -> None:
        """Apply any decoded server event; types it does not track are ignored.

        ``fresh``: the caller knows the event is new although its id was seen
        (a server that reused an id for another event); it is applied.
        """
        if isinstance(event, InvalidEvent):
            self._on_invalid(event, fresh)
            return
        handler = _HANDLERS.get(getattr(event, "type", ""))
        if handler is None:
            return
        if self._is_replay(getattr(event, "event_id", None)) and not fresh:
            return
        handler(self, event)

    def _is_replay(self, event_id: object) -> bool:
        if not isinstance(event_id, str) or not event_id:
            return False
        if event_id in self._seen:
            return True
        self._seen.add(event_id)
        self._seen_order.append(event_id)
        if len(self._seen_order) > SEEN_EVENT_WINDOW:
            self._seen.discard(self._seen_order.popleft())
        return False

    # --- reading ------------------------------------------------------------

    @property
    def items(self) -> list[ConversationItem]:
        """Items in conversation order (read-only models)."""
        models = (self._states[item_id].model() for item_id in self._order)
        return [model for model in models if model is not None]

    @property
    def item_ids(self) -> list[str]:
        return self._order.ids

    def get(self, item_id: str) -> ConversationItem | None:
        return self._states[item_id].model() if item_id in self._order else None

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._order

    def __len__(self) -> int:
        return len(self._order)

    @property
    def last_item_id(self) -> str | None:
        return self._order.last

    def previous_item_id(self, item_id: str) -> str | None:
        return self._order.previous(item_id)

    def audio_ms(self, item_id: str) -> float:
        """Output audio produced/received for an item (truncation does not shrink it)."""
        state = self._states.get(item_id)
        return state.audio_ms if state else 0.0

    def transcript(self, item_id: str) -> str:
        """Text or audio transcript of an item, input or output ("" if unknown)."""
        state = self._states.get(item_id)
        return state.transcript() if state else ""

    def truncated_ms(self, item_id: str) -> int | None:
        state = self._states.get(item_id)
        return state.truncated_ms if state else None

    def transcription_error(self, item_id: str) -> str | None:
        """Message of a failed input transcription for ``item_id``, if any."""
        state = self._states.get(item_id)
        return state.transcription_error if state else None

    @property
    def responses(self) -> Mapping[str, ResponseRecord]:
        return self._responses.records

    @property
    def active_response_id(self) -> str | None:
        """The newest in-progress response that writes to the conversation."""
        return self._responses.active_id

    @property
    def output_format(self) -> AudioFormat:
        return self._output_format

    def set_output_format(self, fmt: AudioFormat | BaseModel | Mapping[str, Any] | None) -> None:
        """Format used to turn output audio bytes into durations from now on."""
        self._output_format = fmt if isinstance(fmt, AudioFormat) else AudioFormat.from_wire(fmt)

    def note_audio(self, item_id: str, ms: float, *, content_index: int = 0) -> None:
        """Count ``ms`` of output audio produced for an item that no delta event carried.

        On a WebRTC call the server plays the model's audio on the call's track
        and sends no ``response.output_audio.delta``; it notes each chunk here
        instead, so ``audio_ms`` (what a truncate is bounded by, and where a
        cut transcript ends) counts the same as if the deltas had been applied.
        """
        if not 0 <= ms < float("inf"):
            raise ValueError(f"ms must be a finite duration >= 0, got {ms!r}")
        state = self._state(item_id)
        state.note_part(content_index, "output_audio")
        state.add_audio(0, ms)  # no wire bytes: the audio never became an event

    # --- item state ---------------------------------------------------------

    def _state(self, item_id: str) -> ItemState:
        """The state of ``item_id``, created (as pending) on first touch."""
        state = self._states.get(item_id)
        if state is None:
            state = self._states[item_id] = ItemState()
            self._pending[item_id] = None
            if len(self._pending) > MAX_PENDING_ITEMS:
                evicted, _ = self._pending.popitem(last=False)
                del self._states[evicted]
        return state

    def _adopt(self, item: ConversationItem, previous_item_id: str | None, place: bool) -> None:
        if item.id is None or item.id in self._deleted:
            return  # untrackable, or deleted: only a new ``item.added`` brings an id back
        state = self._state(item.id)
        state.set_item(item)
        if place:
            self._pending.pop(item.id, None)
            self._order.place(item.id, previous_item_id)

    # --- handlers -------------------------------------------------------------

    def _on_item(self, event: Any) -> None:
        if event.type != "conversation.item.done":
            # Added (or created) anew: an id may be reused after its delete.
            self._deleted.pop(event.item.id, None)
        self._adopt(event.item, event.previous_item_id, place=True)

    def _on_output_item(self, event: Any) -> None:
        record = self._responses.record(event.response_id)
        item_id = event.item.id
        if item_id is not None and item_id not in record.output_item_ids:
            record.output_item_ids.append(item_id)
        in_conversation = record.conversation == "auto"
        self._adopt(event.item, None, place=in_conversation)

    def _on_content_part(self, event: Any) -> None:
        state = self._state(event.item_id)
        part = event.part
        part_type = "output_audio" if part.type == "audio" else "output_text"
        state.note_part(event.content_index, part_type)
        if part.text:
            state.finish(event.content_index, "text", part.text, part_type)
        if part.transcript and state.truncated_ms is None:
            state.finish(event.content_index, "transcript", part.transcript, part_type)

    def _on_text_delta(self, event: Any) -> None:
        self._state(event.item_id).append(event.content_index, "text", event.delta, "output_text")

    def _on_text_done(self, event: Any) -> None:
        self._state(event.item_id).finish(event.content_index, "text", event.text, "output_text")

    def _on_transcript_delta(self, event: Any) -> None:
        state = self._state(event.item_id)
        if state.truncated_ms is None:  # words after a cut were never heard
            state.add_transcript_delta(event.content_index, event.delta)

    def _on_transcript_done(self, event: Any) -> None:
        state = self._state(event.item_id)
        if state.truncated_ms is None:
            state.finish(event.content_index, "transcript", event.transcript, "output_audio")

    def _on_audio_delta(self, event: Any) -> None:
        nbytes = b64_decoded_length(event.delta)
        state = self._state(event.item_id)
        state.note_part(event.content_index, "output_audio")
        fmt = self._response_formats.get(event.response_id, self._output_format)
        state.add_audio(nbytes, fmt.duration_ms(nbytes))

    def _on_arguments_delta(self, event: Any) -> None:
        self._state(event.item_id).add_arguments(event.delta)

    def _on_arguments_done(self, event: Any) -> None:
        self._state(event.item_id).set_arguments(event.arguments)

    def _on_input_transcript_delta(self, event: Any) -> None:
        index = event.content_index or 0
        self._state(event.item_id).append(index, "transcript", event.delta or "", "input_audio")

    def _on_input_transcript_completed(self, event: Any) -> None:
        state = self._state(event.item_id)
        state.transcription_error = None
        state.finish(event.content_index, "transcript", event.transcript, "input_audio")

    def _on_input_transcript_failed(self, event: Any) -> None:
        error = event.error
        message = error.message or error.code or "input audio transcription failed"
        self._state(event.item_id).transcription_error = message

    def _on_truncated(self, event: Any) -> None:
        self._state(event.item_id).truncate(event.content_index, event.audio_end_ms)

    def _on_deleted(self, event: Any) -> None:
        self._order.remove(event.item_id)
        self._pending.pop(event.item_id, None)
        self._states.pop(event.item_id, None)
        self._deleted[event.item_id] = None
        if len(self._deleted) > DELETED_ITEM_WINDOW:
            self._deleted.popitem(last=False)

    def _on_response_created(self, event: Any) -> None:
        self._responses.started(event.response)
        fmt = _response_output_format(event.response)
        if fmt is not None and fmt != self._output_format:
            # A per-response override (response.create audio.output.format):
            # its deltas are measured in its own format, not the session's.
            self._response_formats[event.response.id] = fmt

    def _on_response_done(self, event: Any) -> None:
        self._responses.finished(event.response)
        self._response_formats.pop(event.response.id, None)

    def _on_session(self, event: Any) -> None:
        audio = getattr(event.session, "audio", None)
        output = getattr(audio, "output", None)
        fmt = getattr(output, "format", None)
        if fmt is not None:
            self.set_output_format(fmt)

    def _on_invalid(self, event: InvalidEvent, fresh: bool) -> None:
        """A malformed ``response.done`` still ends its response."""
        if event.type != "response.done" or event.data is None:
            return
        response = event.data.get("response")
        if not isinstance(response, Mapping) or not isinstance(response.get("id"), str):
            return
        if self._is_replay(event.event_id) and not fresh:
            return
        self._responses.end(response["id"], response.get("status"))


def _response_output_format(response: Any) -> AudioFormat | None:
    """The output format a response declares, if any (absent or unreadable: None)."""
    audio = getattr(response, "audio", None)
    fmt = getattr(getattr(audio, "output", None), "format", None)
    if fmt is None:
        return None
    try:
        return AudioFormat.from_wire(fmt)
    except ProtocolError:
        return None  # the session's format stays the best guess


_HANDLERS: Final[dict[str, Handler]] = {
    "conversation.item.added": Conversation._on_item,
    "conversation.item.done": Conversation._on_item,
    "conversation.item.created": Conversation._on_item,  # doctor: allow-beta (legacy GA name)
    "response.output_item.added": Conversation._on_output_item,
    "response.output_item.done": Conversation._on_output_item,
    "response.content_part.added": Conversation._on_content_part,
    "response.content_part.done": Conversation._on_content_part,
    "response.output_text.delta": Conversation._on_text_delta,
    "response.output_text.done": Conversation._on_text_done,
    "response.output_audio_transcript.delta": Conversation._on_transcript_delta,
    "response.output_audio_transcript.done": Conversation._on_transcript_done,
    "response.output_audio.delta": Conversation._on_audio_delta,
    "response.function_call_arguments.delta": Conversation._on_arguments_delta,
    "response.function_call_arguments.done": Conversation._on_arguments_done,
    "response.mcp_call_arguments.delta": Conversation._on_arguments_delta,
    "response.mcp_call_arguments.done": Conversation._on_arguments_done,
    "conversation.item.input_audio_transcription.delta": Conversation._on_input_transcript_delta,
    "conversation.item.input_audio_transcription.completed": (
        Conversation._on_input_transcript_completed
    ),
    "conversation.item.input_audio_transcription.failed": Conversation._on_input_transcript_failed,
    "conversation.item.truncated": Conversation._on_truncated,
    "conversation.item.deleted": Conversation._on_deleted,
    "response.created": Conversation._on_response_created,
    "response.done": Conversation._on_response_done,
    "session.created": Conversation._on_session,
    "session.updated": Conversation._on_session,
}
