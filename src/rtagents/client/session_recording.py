"""``connect(..., record=PATH)``: the client's side of a session written as a recording.

The recorder sits where the wire is: it wraps the session's transport opener,
so every frame sent and received is recorded as it was on the wire (resends
after a resume included), a failed open is a classified ``connection``
failure, and each close says who closed. It also follows the lifecycle, turns
every ``error`` event into a failure record with the SDK's classification,
records a tool's error output as a ``tool`` failure, and marks the latencies
the client sees. The file closes when the session ends (CLOSED or FAILED).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ..observability.recording import RecordingWriter
from ..observability.recording_format import (
    AUDIO_FIELDS,
    DEFAULT_ROTATE_BYTES,
    AudioMode,
    CloseBy,
    Direction,
    tool_output_error,
    transport_kind,
)
from ..observability.recording_marks import LiveMarks
from ..protocol.errors import RealtimeError, error_from_payload
from ..protocol.json_depth import parse_untrusted
from ..protocol.lifecycle import State, Transition
from ..transports.base import ABNORMAL_CLOSURE, NORMAL_CLOSURE, Transport, TransportClosed
from .opening import TransportOpener

_ENDED = (State.CLOSED, State.FAILED)


class SessionRecording:
    """Writes one client session's recording to ``path``."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        url: str,
        transport: str = "websocket",
        audio: AudioMode = "elided",
        rotate_bytes: int = DEFAULT_ROTATE_BYTES,
    ) -> None:
        model = dict(parse_qsl(urlsplit(url).query)).get("model")
        self.writer = RecordingWriter(
            path,
            side="client",
            transport=transport,
            url=url,
            model=model,
            audio=audio,
            rotate_bytes=rotate_bytes,
        )
        self._marks = LiveMarks()
        self._numbers = FrameNumbers()

    def wrap(self, opener: TransportOpener) -> TransportOpener:
        """``opener`` whose transports record their frames and whose failures are recorded."""

        async def open_recorded(
            url: str, headers: Mapping[str, str], open_timeout: float
        ) -> Transport:
            try:
                transport = await opener(url, headers, open_timeout)
            except RealtimeError as exc:
                self.writer.error(exc, step="open")
                raise
            return RecordingTransport(transport, self)

        return open_recorded

    def on_transition(self, transition: Transition) -> None:
        """A lifecycle transition; the recording ends with the session."""
        writer = self.writer
        writer.lifecycle(str(transition.source), str(transition.target), str(transition.trigger))
        if transition.target in _ENDED:
            writer.close()

    def frame(self, direction: Direction, frame: str | bytes, transport: str) -> None:
        """One frame on the wire; an error event or a tool's error output is also a failure."""
        writer = self.writer
        if writer.closed:
            return
        event = _parsed(frame) if isinstance(frame, str) else {}
        kind = event.get("type")
        event_type = kind if isinstance(kind, str) else None
        if event_type == "session.created" and direction == "received":
            self._numbers.restart()  # a new server session (a rebuild) numbers from 1
        seq = self._numbers.number(direction, frame)
        if event_type is None:
            writer.event(direction, frame, seq=seq, transport=transport)  # raw, as it came
            return
        # Audio goes in parsed (its payload is elided or moved); the rest as on the wire.
        wire = event if event_type in AUDIO_FIELDS else frame
        writer.event(direction, wire, event_type=event_type, seq=seq, transport=transport)
        if direction == "received":
            self._received(event_type, event)
        elif (tool := tool_output_error(event)) is not None:
            call_id, message = tool
            writer.failure("tool", message, origin="local", detail={"call_id": call_id})

    def _received(self, event_type: str, event: dict[str, Any]) -> None:
        if event_type == "error":
            self._server_error(event.get("error"))
        elif event_type == "session.created":
            self.writer.session_id = _session_id(event)
        mark = self._marks.see(event_type, event)
        if mark is not None:
            self.writer.mark(mark.name, response_id=mark.response_id, item_id=mark.item_id)

    def closed(self, code: int | None, reason: str | None, by: CloseBy) -> None:
        self.writer.connection_closed(code, reason, by)

    def _server_error(self, payload: Any) -> None:
        if not isinstance(payload, dict):
            return
        error = error_from_payload(
            error_type=payload.get("type"),
            code=payload.get("code"),
            message=str(payload.get("message") or ""),
            param=payload.get("param"),
            event_id=payload.get("event_id"),
        )
        self.writer.error(error)


class FrameNumbers:
    """Sequence numbers as the resume protocol gives them: per server session, text frames
    only, and a frame sent again after a resume keeps the number it first had (among the
    last :attr:`KEPT` sent), so a reader can tell a resend from a new event."""

    KEPT = 4096

    def __init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        self.sent = self.received = 0
        self._sent_numbers: dict[str, int] = {}

    def number(self, direction: Direction, frame: str | bytes) -> int | None:
        if not isinstance(frame, str):
            return None
        if direction == "received":
            self.received += 1
            return self.received
        known = self._sent_numbers.get(frame)
        if known is not None:
            return known
        self.sent += 1
        if len(self._sent_numbers) >= self.KEPT:
            del self._sent_numbers[next(iter(self._sent_numbers))]
        self._sent_numbers[frame] = self.sent
        return self.sent


class RecordingTransport:
    """A transport that shows every frame and its close to a :class:`SessionRecording`.

    Anything else (response headers, ``abort``, a call's media) is the wrapped
    transport's own.
    """

    def __init__(self, inner: Transport, recording: SessionRecording) -> None:
        self.inner = inner
        self._recording = recording
        self._kind = transport_kind(inner)
        self._close_seen = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @property
    def closed(self) -> bool:
        return self.inner.closed

    async def send(self, message: str) -> None:
        await self.inner.send(message)
        self._recording.frame("sent", message, self._kind)

    async def recv(self) -> str | bytes:
        try:
            frame = await self.inner.recv()
        except TransportClosed as exc:
            if not self._close_seen:
                self._close_seen = True
                by: CloseBy = "transport" if exc.close_code == ABNORMAL_CLOSURE else "server"
                if str(exc.origin) == "local":
                    by = "client"
                self._recording.closed(exc.close_code, exc.reason, by)
            raise
        self._recording.frame("received", frame, self._kind)
        return frame

    async def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        if not self._close_seen and not self.inner.closed:
            self._close_seen = True
            self._recording.closed(code, reason, "client")
        await self.inner.close(code, reason)


def _parsed(frame: str) -> dict[str, Any]:
    try:
        value = parse_untrusted(frame)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _session_id(event: Mapping[str, Any]) -> str | None:
    session = event.get("session")
    value = session.get("id") if isinstance(session, dict) else None
    return value if isinstance(value, str) else None
