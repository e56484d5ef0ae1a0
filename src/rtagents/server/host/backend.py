"""The seam between the wire host and whatever answers a session: Backend, HostPort, media.

A :class:`~.session_host.SessionHost` owns what every session has whatever
answers it (transport, decoding and refusals, the rules table, emit with its
outbox, resume, the session cap, logging). What answers is a
:class:`Backend`: the offline voice pipeline (``server/local``) today, an
upstream relay later. A backend is built by a :data:`BackendFactory` given
the host's :class:`HostPort`, the only surface of the host it may use.

A backend that can take audio as PCM and play its output on a track (what a
WebRTC call needs) also implements :class:`MediaBackend`: the call hands it
caller audio at the track's rate, and it hands a :class:`PcmSink` the
response audio at the engine's rate, before any wire event is built.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

from pydantic import BaseModel

from ...protocol.errors import RealtimeError
from ...protocol.server_facts import SessionFacts

if TYPE_CHECKING:
    from ...protocol.conversation import Conversation


class ReceivedEvent(NamedTuple):
    """One client frame as the host saw it, for observers.

    A named tuple: one is built for every client frame (appends included),
    and a tuple is built about three times faster than a frozen dataclass.
    """

    type: str | None  # None when it could not be read at all
    event_id: str | None
    outcome: str  # "ok", "invalid", "unknown", "error" (refused by the rules or the backend)
    error: RealtimeError | None = None
    event: Any = None  # the decoded event, when it was one


class Observer(Protocol):
    """Sees every event the host emits and every client event it receives.

    Called synchronously, in order, with no ``await`` in between: an observer
    must be quick and must not emit (it may :meth:`HostPort.spawn` work that
    does). Logging, the turn detector's response tracking, a call's playback
    bookkeeping, recording and metrics are observers.
    """

    def on_sent(self, event: BaseModel, error: RealtimeError | None) -> None:
        """``event`` was applied to the conversation and queued for the wire."""

    def on_received(self, inbound: ReceivedEvent) -> None:
        """A client frame was handled (accepted or refused).

        An observer that only watches what is sent sets a class attribute
        ``wants_received = False``; the host then skips it for every client
        frame (appends arrive by the thousand).

        Optional hooks, called only on observers that define them: ``on_turn(marks)``
        (a voice turn's latency marks, :meth:`HostPort.report_turn`), ``on_resumed()``
        (the client resumed on a new connection) and ``on_closed(code, reason, by)``.
        """


class HostPort(Protocol):
    """What a backend may use of its host."""

    @property
    def session_id(self) -> str: ...

    @property
    def conversation(self) -> Conversation:
        """The mirror every emitted event is applied to (read it; change it by emitting)."""

    @property
    def expires_at(self) -> int:
        """When the session cap closes the session (unix seconds), as session.created shows."""

    @property
    def closing(self) -> bool: ...

    async def emit(
        self, event: BaseModel | Callable[[], BaseModel], *, error: RealtimeError | None = None
    ) -> bool:
        """Apply to the conversation and queue for the wire; False once nobody can hear it."""

    async def emit_all(self, build_events: Callable[[], Sequence[BaseModel]]) -> bool:
        """Several events as one step (nothing comes between them)."""

    async def reply_error(
        self, error: RealtimeError, *, error_type: str = "invalid_request_error"
    ) -> None: ...

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Background work owned by the session (cancelled when it ends)."""

    async def flush(self) -> None:
        """Wait until everything emitted so far was handed to the transport."""

    async def shutdown(
        self, code: int, reason: str, *, notice: RealtimeError | None = None
    ) -> None:
        """Close from the server's side."""

    def add_observer(self, observer: Observer) -> None: ...

    def report_turn(self, marks: Any) -> None:
        """A finished voice turn's latency marks, shown to observers (metrics, spans)."""


class Backend(Protocol):
    """What answers a session. The host calls it one event at a time."""

    async def start(self) -> None:
        """Greet (``session.created``, ``conversation.created``)."""

    async def handle(self, event: Any) -> None:
        """A decoded client event the rules accepted; raise :class:`RealtimeError` to refuse."""

    def facts(self) -> SessionFacts:
        """The state the protocol rules are checked against, ``items`` included (the host's
        conversation, :attr:`HostPort.conversation`, will do). Asked for every event,
        appends included, so a live view (properties read on demand) beats a snapshot;
        the host checks ``closing`` itself, before asking."""

    async def close(self) -> None:
        """Stop all work: the host is ending."""


BackendFactory = Callable[[HostPort], Backend]


class PcmSink(Protocol):
    """Where response audio plays instead of going out as delta events (a call's track)."""

    def play(self, pcm16: bytes, rate: int, response_id: str, item_id: str) -> None:
        """Queue ``pcm16`` (mono, ``rate`` Hz) of ``item_id``'s audio for playback."""

    async def clear(self) -> None:
        """``output_audio_buffer.clear``: stop playback and truncate where it stopped."""


@runtime_checkable
class MediaBackend(Protocol):
    """A backend that takes caller audio as PCM and can play its output on a sink."""

    async def receive_pcm(self, pcm16: bytes, rate: int) -> None:
        """Caller audio (mono pcm16 at ``rate``) into the input buffer, never via G.711."""

    def set_audio_out(self, sink: PcmSink | None) -> None:
        """Play response audio on ``sink`` (None: back to delta events)."""
