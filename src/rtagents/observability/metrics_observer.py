"""One session's feed into its server's :class:`~.metrics.ServerMetrics`: an observer of the host.

The host shows it every event sent and every client frame handled (the
Observer seam of ``server/host/backend.py``), each voice turn's latency marks
(``on_turn``), a resume (``on_resumed``) and who closed the session
(``on_closed``). It holds no state of its own: counting stays a lookup and an
increment per event, appends included.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel

from ..protocol.errors import RealtimeError, classify_error_payload
from .metrics import UNKNOWN, LatencyMarks, ServerMetrics

_TRANSCRIPT_TYPES = frozenset(
    {
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.input_audio_transcription.completed",
        "conversation.item.input_audio_transcription.failed",
    }
)
MAX_PENDING_TRANSCRIPTS = 16  # turns whose transcript is still coming


class SessionMetrics:
    """Counts one session's events, errors, turns and ending into ``metrics``."""

    def __init__(self, metrics: ServerMetrics) -> None:
        self._metrics = metrics
        self._sent = metrics.events.sent  # counted in place: the hot path (appends, deltas)
        self._received = metrics.events.received
        self._stopped_at: dict[str, float] = {}  # item id -> when speech_stopped was sent

    def on_sent(self, event: BaseModel, error: RealtimeError | None) -> None:
        kind: Any = getattr(event, "type", None)
        sent = self._sent
        if kind in sent:
            sent[kind] += 1
        else:
            sent[UNKNOWN] += 1
        if kind == "error":
            self._count_error(event, error)
        elif kind in _TRANSCRIPT_TYPES:
            self._transcript_stage(event)

    def _transcript_stage(self, event: Any) -> None:
        """The end of a turn -> its transcript, timed here: it may come after response.done.

        The end is speech_stopped, or for a client's commit (push to talk) the commit.
        """
        item_id = str(event.item_id)
        if event.type.startswith("input_audio_buffer."):
            if item_id in self._stopped_at:
                return  # committed just after its speech_stopped: that was the end
            if len(self._stopped_at) >= MAX_PENDING_TRANSCRIPTS:
                self._stopped_at.pop(next(iter(self._stopped_at)))  # the oldest
            self._stopped_at[item_id] = time.perf_counter()
            return
        stopped = self._stopped_at.pop(item_id, None)
        if stopped is not None and event.type.endswith(".completed"):
            self._metrics.observe_stage("transcript", time.perf_counter() - stopped)

    def _count_error(self, event: Any, error: RealtimeError | None) -> None:
        if error is not None:
            self._metrics.count_error(str(error.category), error.code)
            return
        # An error event a backend built itself: classified from its wire fields.
        payload = event.error
        category = classify_error_payload(payload.type, payload.code)
        self._metrics.count_error(str(category), payload.code)

    def on_received(self, inbound: Any) -> None:
        """``inbound`` is the host's ``ReceivedEvent`` (its ``type`` is None for unreadable)."""
        kind = inbound.type
        received = self._received
        if kind in received:
            received[kind] += 1
        else:
            received[UNKNOWN] += 1

    def on_turn(self, marks: LatencyMarks) -> None:
        self._metrics.observe_turn(marks)

    def on_resumed(self) -> None:
        self._metrics.count_resume("resumed")

    def on_closed(self, code: int | None, reason: str | None, by: str) -> None:
        self._metrics.session_ended(by)
