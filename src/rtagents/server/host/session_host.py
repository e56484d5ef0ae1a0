"""The session host: one per connection, between a transport and the engines.

It reads client events one at a time, decodes them with the codec, dispatches
each by type to a handler, and turns every failure into an ``error`` event for
that event (with its ``event_id``) while the session goes on. Everything it
sends goes through :meth:`SessionHost.emit`, which applies the event to the
session's :class:`Conversation` *before* sending it, under one lock: the order
of state changes is the order on the wire, and the server's conversation is
the one a client mirroring the same events would build.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from openai.types.realtime import ConversationCreatedEvent, SessionCreatedEvent
from pydantic import BaseModel

from ..observability.logging import EventLog
from ..protocol.codec import InvalidEvent, UnknownEvent, decode_client_event, encode_event
from ..protocol.conversation import Conversation
from ..protocol.errors import LocalProtocolError, RealtimeError, RemoteProtocolError
from ..transports.base import GOING_AWAY, Transport, TransportClosed
from . import ids
from .handlers import HANDLERS, describe_unknown, resolve_references
from .input_audio import InputAudio
from .items import build, error_event
from .session_config import SessionConfig
from .turns import Turns

if TYPE_CHECKING:
    from .call_audio import AudioSink
    from .host.session_resume import Attachment, Resumable
    from .responses import ResponseRun
    from .state import ServerState

log = logging.getLogger("rtagents.server.session")
# Queued messages beyond which an emitter waits for the client to catch up.
OUTBOX_HIGH_WATER = 256
CLOSE_FLUSH_TIMEOUT_S = 2.0


class SessionHost:
    """Runs one Realtime session over ``transport`` until either side closes it."""

    def __init__(self, transport: Transport, state: ServerState, config: SessionConfig) -> None:
        self.id = ids.session_id()
        self.transport = transport
        self.state = state
        self.config = config
        self.conversation_id = ids.conversation_id()
        # When the session cap will close it (the hosted API shows this too).
        self.expires_at = int(state.config.clock() + state.config.session_cap_s)
        self.conversation = Conversation(output_format=config.output_format)
        self.events = EventLog(self.id, side="server")
        self.input = InputAudio()
        self.responses: dict[str, ResponseRun] = {}
        self.audio_produced = False
        # Turn detection, auto-commit, barge-in and latency marks (server/turns.py).
        self.turns = Turns(self)
        # Set on WebRTC calls (server/call_audio.py): response audio plays on a
        # track instead of going out as output_audio.delta events.
        self.audio_sink: AudioSink | None = None
        self._closing = False
        # (frame number, text): frames are numbered 1, 2, ... for resume.
        self._outbox: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        # Set when the client opted into resume (server/resume.py); the counts
        # below are what a resuming client and this host compare.
        self.resume: Resumable | None = None
        self.frames_emitted = 0
        self.received_frames = 0
        self._replayed_through = 0  # frames the writer skips: a resume re-sent them
        self._tasks: set[asyncio.Task[Any]] = set()
        self._done = asyncio.Event()
        self._cap_reached = False

    @property
    def closing(self) -> bool:
        return self._closing

    async def run(self) -> None:
        """Greet, serve events until the transport closes, then stop all work."""
        self.state.sessions.add(self)
        started = asyncio.get_running_loop().time()
        log.info("session started", extra={"session_id": self.id, "model": self.config.model})
        cap = asyncio.create_task(self._enforce_cap(), name=f"{self.id}-cap")
        self._writer = asyncio.create_task(self._write(), name=f"{self.id}-writer")
        try:
            session = self.config.to_model(self.id, expires_at=self.expires_at)
            await self.emit(build(SessionCreatedEvent, session=session))
            conversation = {"id": self.conversation_id, "object": "realtime.conversation"}
            await self.emit(build(ConversationCreatedEvent, conversation=conversation))
            await self._serve()
        finally:
            self._end_resume()
            if not self._cap_reached:
                cap.cancel()  # once reached, it is closing the session: let it finish
            await asyncio.gather(cap, return_exceptions=True)
            await self._stop_work()
            await self._close_transport(GOING_AWAY, "session ended")
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
            self.state.sessions.discard(self)
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

    async def _serve(self) -> None:
        while True:
            try:
                if self.resume is None:
                    message = await self.transport.recv()
                else:
                    message = await self.resume.receive(self.transport)
            except TransportClosed as closed:
                attachment = None
                if self.resume is not None and not self._closing:
                    attachment = await self.resume.reattach(closed, self.transport)
                if attachment is None:
                    return
                await self._switch_to(attachment)
                continue
            if isinstance(message, str):
                self.received_frames += 1
            await self._on_message(message)

    async def _switch_to(self, attachment: Attachment) -> None:
        """Go on over a resumed connection: the frames it missed, in order, then live.

        The writer is replaced rather than paused: it may be stuck sending on
        the old connection, whose peer may never read again.
        """
        assert self.resume is not None and self._writer is not None
        self._writer.cancel()
        await asyncio.gather(self._writer, return_exceptions=True)
        self.transport = attachment.transport
        self._replayed_through = self.frames_emitted
        await self.resume.replay(attachment)
        self._writer = asyncio.create_task(self._write(), name=f"{self.id}-writer")

    def _end_resume(self) -> None:
        if self.resume is not None:
            self.resume.end()

    def _gone(self) -> bool:
        """Whether nothing emitted now can reach the client (resume may bring a new one)."""
        if self.resume is not None and not self.resume.ended:
            return False
        return self.transport.closed

    async def _on_message(self, message: str | bytes) -> None:
        if isinstance(message, bytes):
            await self._refuse(
                None,
                RemoteProtocolError(
                    "Binary frames are not part of the Realtime protocol; send each event as "
                    "a JSON text frame (audio goes base64-encoded in input_audio_buffer.append).",
                    code="invalid_event",
                ),
            )
            return
        if len(message) > self.state.config.ws_max_size:
            await self._refuse(
                None,
                RemoteProtocolError(
                    f"The message is {len(message)} bytes; the limit is "
                    f"{self.state.config.ws_max_size}. Split audio into several appends.",
                    code="message_too_large",
                ),
            )
            return
        event = decode_client_event(message)
        if isinstance(event, InvalidEvent):
            event = resolve_references(self, event)
        if self._closing:
            await self._refuse(
                getattr(event, "type", None),
                RemoteProtocolError(
                    "The session is closing; no more events are accepted. Open a new session.",
                    code="session_closed",
                    event_id=getattr(event, "event_id", None),
                ),
            )
            return
        if isinstance(event, InvalidEvent):
            await self._refuse(event.type, event.error, outcome="invalid")
            return
        if isinstance(event, UnknownEvent):
            await self._refuse(event.type, describe_unknown(event), outcome="unknown")
            return
        await self._dispatch(event)

    async def _dispatch(self, event: Any) -> None:
        handler = HANDLERS[event.type]
        try:
            await handler(self, event)
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
        self.events.inbound(event.type, event.event_id)

    async def _refuse(
        self,
        event_type: str | None,
        error: RealtimeError,
        *,
        outcome: str = "invalid",
        error_type: str = "invalid_request_error",
    ) -> None:
        self.events.inbound(event_type, error.event_id, outcome=outcome, error=error)
        await self.reply_error(error, error_type=error_type)

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
        the event at that moment (``previous_item_id`` depends on it). The
        only wait is backpressure, after the event is queued. False once the
        transport is closed.
        """
        if self._gone():
            return False
        self._enqueue(event if isinstance(event, BaseModel) else event(), error)
        await self._backpressure()
        return True

    async def emit_all(self, build_events: Callable[[], Sequence[BaseModel]]) -> bool:
        """Emit several events as one step (no other event can come between them)."""
        if self._gone():
            return False
        for model in build_events():
            self._enqueue(model, None)
        await self._backpressure()
        return True

    def _enqueue(self, model: BaseModel, error: RealtimeError | None) -> None:
        self.conversation.apply(model)
        if self.audio_sink is not None:
            self.audio_sink.observe(model)
        self.turns.observe(model)
        self.events.outbound(
            getattr(model, "type", None),
            getattr(model, "event_id", None),
            outcome="error" if error is not None else "ok",
            error=error,
        )
        text = encode_event(model)
        self.frames_emitted += 1
        if self.resume is not None:
            self.resume.log.append(text)
        self._outbox.put_nowait((self.frames_emitted, text))

    async def _backpressure(self) -> None:
        if self._outbox.qsize() > OUTBOX_HIGH_WATER:
            await self._outbox.join()

    async def flush(self) -> None:
        """Wait until everything emitted so far was handed to the transport."""
        await self._outbox.join()

    async def _write(self) -> None:
        """The one task that sends: drains the outbox in order."""
        while True:
            seq, text = await self._outbox.get()
            try:
                if seq > self._replayed_through and not self.transport.closed:
                    await self.transport.send(text)
            except TransportClosed:
                pass  # the receive loop sees the close and ends the session
            finally:
                self._outbox.task_done()

    def active_response(self) -> ResponseRun | None:
        """The response writing to the conversation, if any (out-of-band ones do not)."""
        for run in self.responses.values():
            if run.plan.conversation == "auto":
                return run
        return None

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run background work owned by this session (cancelled when it ends)."""
        task = asyncio.create_task(coro, name=f"{self.id}-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def begin_closing(self) -> None:
        """From now on, every client event is answered with ``session_closed``."""
        self._closing = True

    async def shutdown(
        self, code: int, reason: str, *, notice: RealtimeError | None = None
    ) -> None:
        """Close from the server's side: stop work, say why, then close."""
        if self._closing:
            return
        self.begin_closing()
        self._end_resume()
        await self._stop_work()
        if notice is not None:
            await self.reply_error(notice)
        await self._close_transport(code, reason)

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
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _enforce_cap(self) -> None:
        cap_s = self.state.config.session_cap_s
        await asyncio.sleep(cap_s)
        self._cap_reached = True
        message = f"Your session hit the maximum duration of {_duration_text(cap_s)}."
        notice = RemoteProtocolError(message, code="session_expired")
        await self.shutdown(GOING_AWAY, message, notice=notice)


def _duration_text(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute" + ("s" if minutes != 1 else "")
    return f"{seconds:g} seconds"
