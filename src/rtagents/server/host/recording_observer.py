"""``serve --record DIR``: an observer of each session host that writes its recording.

One file per session, ``DIR/<session id>.jsonl`` (format v1, docs/recording.md),
opened at the session's first event, so a connection that never starts a
session leaves no file. What is written: every event sent (as it went out)
and every client frame received (as it came in, refused ones included), a
failure record for each refusal (its category: protocol for the rules, model
for an engine failure), the latency marks the events show, and the close.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ...observability.recording import RecordingWriter
from ...observability.recording_format import (
    DEFAULT_ROTATE_BYTES,
    AudioMode,
    CloseBy,
    tool_output_error,
    transport_kind,
)
from ...observability.recording_marks import MARKING, LiveMarks, Mark
from ...observability.recording_runs import APPEND
from ...protocol.errors import RealtimeError, error_from_payload
from .backend import HostPort, Observer, ReceivedEvent

log = logging.getLogger("rtagents.recording")


def session_recorders(
    directory: str | os.PathLike[str],
    *,
    audio: AudioMode = "elided",
    rotate_bytes: int = DEFAULT_ROTATE_BYTES,
) -> Callable[[HostPort], Observer]:
    """An observer factory for :attr:`ServerConfig.observers`: record every session."""
    folder = Path(directory)

    def make(host: HostPort) -> Observer:
        return SessionRecorder(host, folder, audio=audio, rotate_bytes=rotate_bytes)

    return make


class SessionRecorder:
    """Writes one session's recording; an :class:`Observer` of its host."""

    def __init__(
        self,
        host: HostPort,
        directory: Path,
        *,
        audio: AudioMode = "elided",
        rotate_bytes: int = DEFAULT_ROTATE_BYTES,
    ) -> None:
        # A SessionHost: its frame, frames_read and sent_frame are the wire text.
        self._host: Any = host
        self._path = directory / f"{host.session_id}.jsonl"
        self._audio: AudioMode = audio
        self._rotate_bytes = rotate_bytes
        self._writer: RecordingWriter | None = None
        self._ended = False
        self._marks = LiveMarks()
        self._refused: RealtimeError | None = None  # recorded with the frame it refused
        self._recorded_number = 0  # host.frames_read of the client frame last written

    # --- the Observer seam -----------------------------------------------------------

    def on_sent(self, event: BaseModel, error: RealtimeError | None) -> None:
        writer = self._writer or self._open()
        if writer is None:
            return
        host = self._host
        if host.frames_read != self._recorded_number and host.frame is not None:
            # The frame being handled caused this: it goes first (it came first).
            self._recorded_number = host.frames_read
            self._write_frame(writer, host.frame, host.frame_event)
        model: Any = event
        event_type = model.type
        if event_type == "response.output_audio.delta":  # a reply's audio: the hot path
            writer.sent(host.sent_frame, event_type, model.delta)
            mark = self._marks.audio_delta(model.response_id, event)
            if mark is not None:
                self._mark(writer, mark)
            return
        writer.sent(host.sent_frame, event_type)
        if error is not None:
            if error is not self._refused:
                writer.error(error)
            self._refused = None
        elif event_type == "error":
            payload = model.error
            writer.error(
                error_from_payload(
                    error_type=payload.type,
                    code=payload.code,
                    message=payload.message,
                    param=payload.param,
                    event_id=payload.event_id,
                )
            )
        if event_type in MARKING:
            self._mark(writer, self._marks.see(event_type, event))

    @staticmethod
    def _mark(writer: RecordingWriter, mark: Mark | None) -> None:
        if mark is not None:
            writer.mark(mark.name, response_id=mark.response_id, item_id=mark.item_id)

    def on_received(self, inbound: ReceivedEvent) -> None:
        writer = self._writer or self._open()
        if writer is None:
            return
        host = self._host
        if host.frames_read != self._recorded_number:
            self._recorded_number = host.frames_read
            frame = host.frame if host.frame is not None else "{}"
            self._write_frame(writer, frame, inbound.event if inbound.outcome == "ok" else None)
        if inbound.error is not None:
            self._refused = inbound.error
            writer.error(inbound.error, outcome=inbound.outcome, event_type=inbound.type)
        elif inbound.type == "conversation.item.create" and (
            tool := tool_output_error(inbound.event)
        ):
            call_id, message = tool  # the client's tool failed: it answered with its error
            writer.failure(
                "tool",
                message,
                origin="remote",
                event_id=inbound.event_id,
                detail={"call_id": call_id},
            )

    @staticmethod
    def _write_frame(writer: RecordingWriter, frame: str | bytes, event: Any) -> None:
        """Write a client frame; ``event`` is it decoded, once the codec accepted it (then
        it is one JSON object of that type, not parsed again), else None."""
        if event is None:
            writer.event("received", frame)
        elif event.type == APPEND and isinstance(frame, str):
            writer.append("received", frame, event.audio)  # the hot path
        else:
            writer.event("received", frame, event_type=event.type)

    def on_turn(self, marks: Any) -> None:
        """The server's marks of a voice turn: the first LLM token, which no event shows."""
        writer = self._writer
        first_token = getattr(marks, "first_token_at", None)
        if writer is not None and first_token is not None:
            writer.mark(
                "first_token",
                response_id=getattr(marks, "response_id", None),
                item_id=getattr(marks, "item_id", None),
                at=first_token,
            )

    def on_closed(self, code: int | None, reason: str | None, by: CloseBy) -> None:
        """The session ended: the close record, then the file is closed."""
        self._ended = True
        if self._writer is not None:
            self._writer.connection_closed(code, reason, by)
            self._writer.close()
        # The host holds this observer: holding the host back made the pair a reference
        # cycle, and every recorded session's whole state waited for a full collection.
        # A late hook then finds no writer and, the session ended, opens none.
        self._writer = None
        self._host = None

    # --- the file ----------------------------------------------------------------------

    def _open(self) -> RecordingWriter | None:
        if self._ended:
            return None
        config = getattr(self._host, "limits", None)
        try:
            return self._start(config)
        except OSError as exc:  # the folder cannot be made or written: the session goes on
            log.warning(
                "cannot record session %s to %s: %s", self._host.session_id, self._path, exc
            )
            self._ended = True
            return None

    def _start(self, config: Any) -> RecordingWriter:
        self._writer = RecordingWriter(
            self._path,
            side="server",
            transport=transport_kind(getattr(self._host, "transport", None)),
            session_id=self._host.session_id,
            model=getattr(config, "model", None),
            audio=self._audio,
            rotate_bytes=self._rotate_bytes,
            clock=time.perf_counter,  # the clock of the server's turn marks (on_turn)
        )
        return self._writer
