"""``session.metrics``: where each voice turn's time went, as this client saw it.

The same stages the server's Prometheus histograms measure (from the end
of the turn, speech_stopped or a push-to-talk commit, to the transcript, the
first text, the first audio, response.done), timed here at the moment each
event *arrived*, so they include the network and read the same against any
GA server, OpenAI's included. First text is the
first text or audio-transcript delta (not the end of speech synthesis);
first audio is the first ``response.output_audio.delta``, or on WebRTC, where
audio comes as RTP, ``output_audio_buffer.started``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

TURNS_KEPT = 100  # finished turns remembered (a long session must not grow this)
OPEN_KEPT = 16  # turns waiting for their response or its end


@dataclass(slots=True, kw_only=True)
class TurnLatency:
    """One response and the user turn that caused it; times on the session's clock (s).

    ``ended_at`` is when the user's turn ended: ``speech_stopped`` (server
    turn detection), or ``input_audio_buffer.committed`` for the app's own
    commit (push to talk). A response that followed neither (text, a greeting)
    has no ``ended_at`` and so no latencies, only its marks.
    """

    item_id: str | None = None
    response_id: str | None = None
    ended_at: float | None = None
    transcript_at: float | None = None
    first_text_at: float | None = None
    first_audio_at: float | None = None
    done_at: float | None = None
    status: str | None = None

    def _after(self, mark: float | None) -> float | None:
        if self.ended_at is None or mark is None:
            return None
        return round((mark - self.ended_at) * 1000, 1)

    @property
    def transcript_ms(self) -> float | None:
        """Milliseconds from the end of the turn to the final input transcript."""
        return self._after(self.transcript_at)

    @property
    def first_text_ms(self) -> float | None:
        return self._after(self.first_text_at)

    @property
    def first_audio_ms(self) -> float | None:
        return self._after(self.first_audio_at)

    @property
    def done_ms(self) -> float | None:
        return self._after(self.done_at)

    def as_dict(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "response_id": self.response_id,
            "status": self.status,
            "transcript_ms": self.transcript_ms,
            "first_text_ms": self.first_text_ms,
            "first_audio_ms": self.first_audio_ms,
            "done_ms": self.done_ms,
        }


class TurnMetrics:
    """Fed every received event (in order); keeps the last :data:`TURNS_KEPT` turns."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._done: deque[TurnLatency] = deque(maxlen=TURNS_KEPT)
        self._waiting: deque[TurnLatency] = deque(maxlen=OPEN_KEPT)  # no response yet
        self._by_response: dict[str, TurnLatency] = {}
        self._by_item: dict[str, TurnLatency] = {}  # transcripts may come after the response
        self._handlers: dict[str, Callable[[Any], None]] = {
            "input_audio_buffer.speech_stopped": self._speech_stopped,
            "input_audio_buffer.committed": self._committed,
            "conversation.item.input_audio_transcription.completed": self._transcript,
            "response.created": self._response_created,
            "response.output_text.delta": self._first_text,
            "response.output_audio_transcript.delta": self._first_text,
            "response.output_audio.delta": self._first_audio,
            "output_audio_buffer.started": self._first_audio,
            "response.done": self._response_done,
        }

    @property
    def turns(self) -> list[TurnLatency]:
        """Finished responses, oldest first (the latest :data:`TURNS_KEPT`)."""
        return list(self._done)

    @property
    def latest(self) -> TurnLatency | None:
        return self._done[-1] if self._done else None

    def observe(self, event: object) -> None:
        handler = self._handlers.get(getattr(event, "type", ""))
        if handler is not None:
            handler(event)

    def _speech_stopped(self, event: Any) -> None:
        turn = TurnLatency(item_id=str(event.item_id), ended_at=self._clock())
        self._waiting.append(turn)
        self._remember_item(turn)

    def _committed(self, event: Any) -> None:
        """The app's own commit ends a push-to-talk turn (a VAD's commit follows speech_stopped)."""
        if str(event.item_id) not in self._by_item:
            self._speech_stopped(event)

    def _remember_item(self, turn: TurnLatency) -> None:
        if turn.item_id is None:
            return
        if len(self._by_item) >= OPEN_KEPT + TURNS_KEPT:
            self._by_item.pop(next(iter(self._by_item)))  # the oldest
        self._by_item[turn.item_id] = turn

    def _transcript(self, event: Any) -> None:
        turn = self._by_item.get(str(event.item_id))
        if turn is not None and turn.transcript_at is None:
            turn.transcript_at = self._clock()

    def _response_created(self, event: Any) -> None:
        turn = self._waiting.pop() if self._waiting else TurnLatency()
        self._waiting.clear()  # older turns were answered together or not at all
        turn.response_id = str(event.response.id)
        if len(self._by_response) >= OPEN_KEPT:
            self._by_response.pop(next(iter(self._by_response)))
        self._by_response[turn.response_id] = turn

    def _first_text(self, event: Any) -> None:
        turn = self._by_response.get(str(event.response_id))
        if turn is not None and turn.first_text_at is None:
            turn.first_text_at = self._clock()

    def _first_audio(self, event: Any) -> None:
        turn = self._by_response.get(str(getattr(event, "response_id", "")))
        if turn is not None and turn.first_audio_at is None:
            turn.first_audio_at = self._clock()

    def _response_done(self, event: Any) -> None:
        turn = self._by_response.pop(str(event.response.id), None)
        if turn is None:
            return
        turn.done_at = self._clock()
        turn.status = str(event.response.status)
        self._done.append(turn)
