"""The session host: one per connection, between a transport and the backend answering it.

It reads client frames one at a time, decodes them with the codec, checks
the protocol rules, hands each accepted event to its :class:`Backend`, and
turns every failure into an ``error`` event for that event (with its
``event_id``) while the session goes on. Everything sent goes through
:meth:`SessionHost.emit`, which applies the event to the session's
:class:`Conversation` *before* queueing it, with no ``await`` in between:
the order of state changes is the order on the wire, and the server's
conversation is the one a client mirroring the same events would build.
Every event sent and received is shown to the host's observers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ...observability.event_log import EventLog
from ...protocol.codec import InvalidEvent, UnknownEvent, encode_event
from ...protocol.conversation import Conversation
from ...protocol.errors import LocalProtocolError, RealtimeError, RemoteProtocolError
from ...transports.base import (
    ABNORMAL_CLOSURE,
    GOING_AWAY,
    POLICY_VIOLATION,
    Transport,
    TransportClosed,
)
from .. import ids
from ..policy.event_gate import PolicyGate
from .backend import Backend, BackendFactory, Observer, ReceivedEvent
from .event_log_observer import EventLogObserver
from .frame_outbox import FrameOutbox
from .intake import describe_unknown, read_frame
from .observer_list import ObserverList
from .rules_gate import refusal_for
from .session_cap import SessionCap
from .wire_events import error_event

if TYPE_CHECKING:
    from ..config import ServerConfig
    from .session_resume import Attachment, Resumable, ResumeRegistry

log = logging.getLogger("rtagents.server.session")
CLOSE_FLUSH_TIMEOUT_S = 2.0


class SessionHost:
    """Runs one Realtime session over ``transport`` until either side closes it.

    ``limits`` is the server's config (sizes, the cap, the clock); ``roster``
    is the set of live hosts this one joins while it runs.
    """

    def __init__(
        self,
        transport: Transport,
        limits: ServerConfig,
        backend_factory: BackendFactory,
        *,
        roster: set[SessionHost] | None = None,
        session_id: str | None = None,
    ) -> None:
        # A given id: a session taken over from another node (stores/redis_takeover.py).
        self.id = session_id or ids.session_id()
        self._restored = False
        self.transport = transport
        self.limits = limits
        self._roster = roster if roster is not None else set()
        # When the session cap will close it (the hosted API shows this too).
        self.expires_at = int(limits.clock() + limits.session_length_s)
        self.conversation = Conversation()
        self.events = EventLog(self.id, side="server")
        self.event_log = EventLogObserver(
            self.events, log_records=limits.limits.session_log_records
        )
        # The event log, then metrics, spans and the config's observers.
        self.observers = ObserverList([self.event_log, *limits.session_observers(self)])
        self._closing = False
        self._outbox = FrameOutbox(
            self.id,
            backlog_bytes=limits.limits.outbox_backlog_bytes,
            on_overflow=self._not_reading,
        )
        # Set by offer_resume when the client opted in (host/session_resume.py).
        self.resume: Resumable | None = None
        self.received_frames = 0
        # The client frame being handled now (a recording observer reads it in on_received),
        # and the close the read loop saw last (whoever closed: it says).
        self.frame: str | bytes | None = None
        self.frames_read = 0  # every frame, binary ones included (numbers ``frame``)
        # ``frame`` decoded, once the codec accepted it: a recording observer writes a
        # frame whose handling emits events without parsing it again (appends start turns).
        self.frame_event: Any = None
        self.transport_closed: TransportClosed | None = None
        self.sent_frame = ""
        self._tasks: set[asyncio.Task[Any]] = set()
        self._done = asyncio.Event()
        self._cap = SessionCap(limits, self._expire)
        # The gateway policy on client events (server/policy): refusals, forced fields.
        self.policy = PolicyGate(limits.policy, quote_chars=limits.limits.quoted_chars)
        self.backend: Backend = backend_factory(self)

    # --- HostPort ----------------------------------------------------------------

    @property
    def session_id(self) -> str:
        return self.id

    @property
    def closing(self) -> bool:
        return self._closing

    @property
    def frames_emitted(self) -> int:
        return self._outbox.frames_emitted

    def offer_resume(self, registry: ResumeRegistry, owner: str) -> Resumable:
        """Opt this session into resume (before it runs): a token, a log of sent frames.

        Only ``owner``, the principal that opened the session, may resume it.
        """
        self.resume = registry.open(self, owner)
        self._outbox.before_send = self.resume.before_send
        return self.resume

    def restore(self, *, frames_emitted: int, received_frames: int, expires_at: int) -> None:
        """Continue a session another node started: its counts and cap; no greeting."""
        self._restored = True
        self._outbox.frames_emitted = frames_emitted
        self.received_frames = received_frames
        self.expires_at = expires_at
        if self.resume is not None:
            self._outbox.before_send = self.resume.before_send

    def add_observer(self, observer: Observer) -> None:
        self.observers.add(observer)

    def remove_observer(self, observer: Observer) -> None:
        self.observers.remove(observer)

    # --- running -----------------------------------------------------------------

    async def run(self) -> None:
        """Greet, serve events until the transport closes, then stop all work."""
        self._roster.add(self)
        started = asyncio.get_running_loop().time()
        log.info("session started", extra={"session_id": self.id})
        self._cap.start(f"{self.id}-cap")
        self._outbox.start(self.transport)
        try:
            if not self._restored:  # a restored session was greeted on its first node
                await self.backend.start()
            await self._serve()
        finally:
            self._end_resume()
            await self._cap.stop()
            await self._stop_work()
            await self._close_transport(GOING_AWAY, "session ended")
            await self._outbox.stop()
            self._roster.discard(self)
            self.event_log.close()  # summaries of the records its log budget held back
            self._tell_closed()
            let_go = getattr(self.backend, "let_go", None)
            if let_go is not None:  # optional: a backend that forms no cycles needs none
                let_go()
            self._done.set()
            log.info(
                "session ended after %.1f s",
                asyncio.get_running_loop().time() - started,
                extra={
                    "session_id": self.id,
                    "events_in": self.received_frames,
                    "events_out": self.frames_emitted,
                },
            )

    def _tell_closed(self) -> None:
        """Observers that hold something open (a recording) hear how the session closed."""
        closed = self.transport_closed
        code: int | None = getattr(self.transport, "close_code", None)
        reason = closed.reason if closed is not None else None
        by = "server"
        if closed is not None and closed.origin == "remote":
            by = "transport" if closed.close_code == ABNORMAL_CLOSURE else "client"
            code = closed.close_code
        self.observers.notify("on_closed", code, reason, by)

    async def _serve(self) -> None:
        while True:
            try:
                if self.resume is None:
                    message = await self.transport.recv()
                else:
                    message = await self.resume.receive(self.transport)
            except TransportClosed as closed:
                # Kept for how it closed, not where: its traceback holds this frame,
                # and so this host, in a cycle (bench/gc_census.py counts them).
                self.transport_closed = closed.with_traceback(None)
                attachment = None
                if self.resume is not None and not self._closing:
                    attachment = await self.resume.reattach(closed, self.transport)
                if attachment is None:
                    return
                await self._switch_to(attachment)
                continue
            if isinstance(message, str):
                self.received_frames += 1
            self.frame = message
            self.frame_event = None
            self.frames_read += 1
            await self._on_message(message)

    async def _switch_to(self, attachment: Attachment) -> None:
        """Go on over a resumed connection: the frames it missed, in order, then live.

        The writer is replaced rather than paused: it may be stuck sending on
        the old connection, whose peer may never read again.
        """
        assert self.resume is not None
        await self._outbox.stop()
        self.transport = attachment.transport
        self._outbox.skip_sent()
        await self.resume.replay(attachment)
        self._outbox.start(self.transport)
        self.observers.notify("on_resumed")

    def _end_resume(self) -> None:
        if self.resume is not None:
            self.resume.end()

    def _gone(self) -> bool:
        """Whether nothing emitted now can reach the client (resume may bring a new one)."""
        if self.resume is not None and not self.resume.ended:
            return False
        return self.transport.closed

    # --- receiving ---------------------------------------------------------------

    async def _on_message(self, message: str | bytes) -> None:
        limits = self.limits.limits
        try:
            event = read_frame(
                message, limits.frame_bytes, self.conversation, quote_chars=limits.quoted_chars
            )
        except Exception:  # a codec bug must cost one frame, never the session
            log.exception("reading a client frame failed")
            await self._refuse(None, _unreadable(), error_type="server_error")
            return
        if isinstance(event, RemoteProtocolError):
            await self._refuse(None, event)
        elif (
            refusal := refusal_for(
                event, closing=self._closing, backend=self.backend, policy=self.policy
            )
        ) is not None:
            outcome = "invalid" if self._closing else "error"  # as the handlers logged them
            await self._refuse(getattr(event, "type", None), refusal, outcome=outcome)
        elif isinstance(event, InvalidEvent):
            await self._refuse(event.type, event.error, outcome="invalid")
        elif isinstance(event, UnknownEvent):
            refusal = describe_unknown(event, quote_chars=limits.quoted_chars)
            await self._refuse(event.type, refusal, outcome="unknown")
        else:
            await self._dispatch(event)

    async def _dispatch(self, event: Any) -> None:
        self.frame_event = event
        try:
            # The backend gets the event with the gateway policy's forced fields in place.
            await self.backend.handle(self.policy.forced(event))
        except RealtimeError as exc:
            exc.event_id = exc.event_id or event.event_id
            await self._refuse(event.type, exc, outcome="error")
            return
        except Exception:
            log.exception("handler for %s failed", event.type)
            error = LocalProtocolError(
                f"The server failed while handling '{event.type}'; this is a server bug, "
                "not your request. The session goes on.",
                code="internal_error",
                event_id=event.event_id,
            )
            await self._refuse(event.type, error, outcome="error", error_type="server_error")
            return
        self.observers.received(
            ReceivedEvent(type=event.type, event_id=event.event_id, outcome="ok", event=event)
        )

    async def _refuse(
        self,
        event_type: str | None,
        error: RealtimeError,
        *,
        outcome: str = "invalid",
        error_type: str = "invalid_request_error",
    ) -> None:
        self.observers.received(
            ReceivedEvent(type=event_type, event_id=error.event_id, outcome=outcome, error=error)
        )
        await self.reply_error(error, error_type=error_type)

    def report_turn(self, marks: Any) -> None:
        """A voice turn's latency marks (the backend's), for observers with ``on_turn``."""
        self.observers.notify("on_turn", marks)

    # --- emitting ----------------------------------------------------------------

    async def reply_error(
        self, error: RealtimeError, *, error_type: str = "invalid_request_error"
    ) -> None:
        await self.emit(error_event(error, error_type=error_type), error=error)

    async def emit(
        self, event: BaseModel | Callable[[], BaseModel], *, error: RealtimeError | None = None
    ) -> bool:
        """Apply ``event`` to the conversation and queue it for sending.

        Applying and queueing happen with no ``await`` in between, so a task
        cancelled around an emit has either fully emitted or not at all, and
        the wire order is the order of state changes. Pass a callable to build
        the event at that moment (``previous_item_id`` depends on it). It never
        waits for the client: a client that lets too much pile up is closed
        (frame_outbox.py). False once the transport is closed.
        """
        if self._gone():
            return False
        self._enqueue(event if isinstance(event, BaseModel) else event(), error)
        return True

    async def emit_all(self, build_events: Callable[[], Sequence[BaseModel]]) -> bool:
        """Emit several events as one step (no other event can come between them)."""
        if self._gone():
            return False
        for model in build_events():
            self._enqueue(model, None)
        return True

    def _enqueue(self, model: BaseModel, error: RealtimeError | None) -> None:
        self.conversation.apply(model)
        text = encode_event(model)
        self.sent_frame = text  # ``model`` as it goes out (a recording observer reads it)
        self.observers.sent(model, error)
        self._outbox.put(text)
        if self.resume is not None:
            self.resume.log.append(text)

    async def flush(self) -> None:
        """Wait until everything emitted so far was handed to the transport."""
        await self._outbox.flush()

    def _not_reading(self, queued_bytes: int) -> None:
        """The client let more than ``outbox_backlog_bytes`` pile up: close this connection.

        A 1008 with the reason, behind what was queued (a client that reads
        again sees it); an opted-in session detaches and may be resumed.
        """
        reason = f"client is not reading: {queued_bytes} bytes queued (limit outbox_backlog_bytes)"
        log.warning("closing: %s", reason, extra={"session_id": self.id, "outcome": "not_reading"})
        self.spawn(self.transport.close(POLICY_VIOLATION, reason), "not-reading")

    # --- work and ending -----------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run background work owned by this session (cancelled when it ends)."""
        task = asyncio.create_task(coro, name=f"{self.id}-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def shutdown(
        self, code: int, reason: str, *, notice: RealtimeError | None = None
    ) -> None:
        """Close from the server's side: stop work, say why, then close.

        From the first call on, every client event is answered ``session_closed``.
        """
        if self._closing:
            return
        self.begin_closing()
        self._end_resume()
        await self._stop_work()
        if notice is not None:
            await self.reply_error(notice)
        await self._close_transport(code, reason)

    def begin_closing(self) -> None:
        """From now on, every client event is answered with ``session_closed``."""
        self._closing = True

    async def _expire(self, code: int, reason: str, notice: RemoteProtocolError) -> None:
        await self.shutdown(code, reason, notice=notice)

    async def wait_closed(self) -> None:
        """Return once :meth:`run` has finished (all work stopped, transport closed)."""
        await self._done.wait()

    async def _close_transport(self, code: int, reason: str) -> None:
        """Send what is queued (briefly: the peer may be gone), then close."""
        if not self.transport.closed:
            try:
                await asyncio.wait_for(self.flush(), CLOSE_FLUSH_TIMEOUT_S)
            except TimeoutError:
                pass
        await self.transport.close(code, reason)

    async def _stop_work(self) -> None:
        await self.backend.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _unreadable() -> LocalProtocolError:
    return LocalProtocolError(
        "The server failed while reading this frame; this is a server bug, not your request. "
        "The session goes on.",
        code="internal_error",
    )
