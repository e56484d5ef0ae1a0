"""Fills one session's :class:`~.turn_marks.TurnMarks` from the events the server emits.

The book sees every event as it is emitted (it is fed by :class:`.turns.Turns`,
an observer of the host), so the marks are the same whatever the transport
and however the turn ended:

- a turn begins at ``speech_stopped`` (server or semantic VAD),
  ``timeout_triggered`` (idle timeout) or, for a commit nobody announced, at
  ``input_audio_buffer.committed`` (push to talk);
- a response belongs to the turn that started it (``answer``), or else to the
  latest committed turn no response has answered yet (push to talk: commit,
  then ``response.create``); otherwise it has no turn;
- the stages are the first text delta, the first ``output_audio.delta`` or,
  on a call, ``output_audio_buffer.started`` (the track began playing it), the
  transcript's ``.completed`` and ``response.done``.

On a call the audio may start playing after ``response.done`` (synthesis is
faster than playback), and a transcript may be final after it: such a record
waits, bounded, until the stage comes, is ruled out (``.cleared``, the
transcript ``.failed``) or the session ends, then it is kept and logged.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

from .turn_marks import STAGES, TurnMarks, log_marks

MARKS_KEPT = 64
TURNS_OPEN = 8  # ended turns waiting for their response (push to talk answers later)
WAITING_MAX = 16  # done responses waiting for first audio or the transcript
_TEXT_DELTAS = frozenset({"response.output_text.delta", "response.output_audio_transcript.delta"})


class MarkBook:
    """One session's turn marks: those in progress, and the last :data:`MARKS_KEPT` finished."""

    def __init__(
        self,
        session_id: str,
        *,
        first_token: Callable[[str], float | None],
        transport: Callable[[], str],
        transcription_on: Callable[[], bool],
        report: Callable[[TurnMarks], None],
    ) -> None:
        self._session_id = session_id
        self._first_token = first_token  # response id -> its run's first LLM chunk
        self._transport = transport
        self._transcription_on = transcription_on
        self._report = report  # observers' on_turn (metrics, recordings)
        self.kept: deque[TurnMarks] = deque(maxlen=MARKS_KEPT)
        self._turns: dict[str, TurnMarks] = {}  # item id -> an ended turn not yet answered
        self.open: dict[str, TurnMarks] = {}  # response id -> marks until response.done
        self._waiting: dict[str, TurnMarks] = {}  # response id -> done, a stage still to come

    def let_go(self) -> None:
        """The session ended: drop the callbacks, bound to the session's turns (a cycle)."""
        self._first_token = _no_first_token
        self._report = _no_report

    def snapshot(self) -> list[TurnMarks]:
        """The finished records, then those still open or waiting (status None: in progress).

        An open response's first token is read from its run now, so a long
        reply shows where its time went before its ``response.done``.
        """
        for response_id, marks in self.open.items():
            if marks.first_token_at is None:
                marks.first_token_at = self._first_token(response_id)
            marks.transport = marks.transport or self._transport()
        return [*self.kept, *self._waiting.values(), *self.open.values()]

    # --- turns ----------------------------------------------------------------------

    def turn_ended(self, item_id: str, kind: str, audio_end_ms: int | None = None) -> None:
        """Turn detection ended a turn (the event announcing it is being emitted now)."""
        marks = TurnMarks(
            session_id=self._session_id, item_id=item_id, turn=kind, audio_end_ms=audio_end_ms
        )
        if kind != "idle_timeout":
            marks.speech_stopped_at = time.perf_counter()
        self._remember_turn(marks)

    def answer(self, item_id: str, response_id: str) -> None:
        """Turn detection started ``response_id`` for the turn of ``item_id``."""
        marks = self._turns.pop(item_id, None)
        if marks is not None:
            marks.response_id = response_id
            self.open[response_id] = marks

    def _remember_turn(self, marks: TurnMarks) -> None:
        assert marks.item_id is not None
        self._turns[marks.item_id] = marks
        while len(self._turns) > TURNS_OPEN:
            del self._turns[next(iter(self._turns))]  # never answered: nothing to log

    # --- what is emitted ----------------------------------------------------------------

    def on_sent(self, kind: str | None, event: Any) -> None:
        if kind in _TEXT_DELTAS:
            self._first(self.open.get(event.response_id), "first_text_at")
        elif kind == "response.output_audio.delta":
            self._first(self.open.get(event.response_id), "first_audio_at")
        elif kind == "output_audio_buffer.started":
            self._played(event.response_id)
        elif kind == "output_audio_buffer.cleared":
            self._rule_out(event.response_id, "first_audio", "cleared before it played")
        elif kind == "input_audio_buffer.committed":
            self._committed(event.item_id)
        elif kind == "conversation.item.input_audio_transcription.completed":
            self.transcript_final(event.item_id)
        elif kind == "conversation.item.input_audio_transcription.failed":
            self._transcript_failed(event.item_id)
        elif kind == "response.created":
            self._created(str(event.response.id))
        elif kind == "response.done":
            self._done(event.response)

    def _first(self, marks: TurnMarks | None, name: str) -> None:
        if marks is not None and getattr(marks, name) is None:
            setattr(marks, name, time.perf_counter())

    def _committed(self, item_id: str) -> None:
        marks = self._turns.get(item_id)
        if marks is None:  # nobody announced it: the client's own commit
            marks = TurnMarks(session_id=self._session_id, item_id=item_id, turn="manual")
            self._remember_turn(marks)
        marks.committed_at = time.perf_counter()
        if not self._transcription_on():
            marks.absent["transcript_final"] = "not sent: audio.input.transcription is off"

    def transcript_final(self, item_id: str) -> None:
        for marks in self._with_item(item_id):
            self._first(marks, "transcript_final_at")
            marks.absent.pop("transcript_final", None)
            self._settle(marks)

    def _transcript_failed(self, item_id: str) -> None:
        for marks in self._with_item(item_id):
            if marks.transcript_final_at is None:
                marks.absent["transcript_final"] = "the transcription failed"
                self._settle(marks)

    def _with_item(self, item_id: str) -> list[TurnMarks]:
        books = (self._turns.values(), self.open.values(), self._waiting.values())
        return [marks for book in books for marks in book if marks.item_id == item_id]

    def _created(self, response_id: str) -> None:
        marks = self.open.get(response_id)
        if marks is None:
            marks = self._latest_unanswered() or TurnMarks(session_id=self._session_id)
            marks.response_id = response_id
            self.open[response_id] = marks
        marks.created_at = time.perf_counter()

    def _latest_unanswered(self) -> TurnMarks | None:
        """The latest committed turn with no response yet (push to talk's response.create)."""
        for item_id, marks in reversed(self._turns.items()):
            if marks.committed_at is not None:
                del self._turns[item_id]
                return marks
        return None

    def _played(self, response_id: str) -> None:
        marks = self.open.get(response_id) or self._waiting.get(response_id)
        if marks is not None:
            self._first(marks, "first_audio_at")
            self._settle(marks)

    def _rule_out(self, response_id: str, stage: str, why: str) -> None:
        marks = self.open.get(response_id) or self._waiting.get(response_id)
        if marks is not None and marks.stage_at(stage) is None:
            marks.absent.setdefault(stage, why)
            self._settle(marks)

    # --- response.done and after ----------------------------------------------------------

    def _done(self, response: Any) -> None:
        response_id = str(response.id)
        marks = self.open.pop(response_id, None)
        if marks is None:
            return
        marks.first_token_at = self._first_token(response_id)
        marks.done_at = time.perf_counter()
        marks.status = response.status
        marks.transport = self._transport()
        _explain(marks, response)
        self._waiting[response_id] = marks
        self._settle(marks)
        while len(self._waiting) > WAITING_MAX:
            oldest = next(iter(self._waiting.values()))
            self._finish(oldest, f"not seen before {WAITING_MAX} later responses ended")

    def _settle(self, marks: TurnMarks) -> None:
        """Keep and log a done record once no stage is still to come."""
        if marks.response_id in self._waiting and not _awaited(marks):
            self._finish(marks, "")

    def _finish(self, marks: TurnMarks, why_missing: str) -> None:
        self._waiting.pop(marks.response_id or "", None)
        for stage in _awaited(marks):
            marks.absent[stage] = why_missing
        self.kept.append(marks)
        log_marks(marks)
        self._report(marks)

    def close(self) -> None:
        """The session ended: what is still open or waiting is logged as it stands."""
        for marks in list(self._waiting.values()):
            self._finish(marks, "the session ended first")
        for marks in list(self.open.values()):
            marks.transport = self._transport()
            marks.absent.update({stage: "the session ended first" for stage in _unmarked(marks)})
            self.kept.append(marks)
            log_marks(marks)
        self.open.clear()


def _unmarked(marks: TurnMarks) -> list[str]:
    return [s for s in STAGES if marks.stage_at(s) is None and s not in marks.absent]


def _awaited(marks: TurnMarks) -> list[str]:
    """Stages a done response may still reach: playback on a call, a late transcript."""
    return [s for s in ("transcript_final", "first_audio") if s in _unmarked(marks)]


def _explain(marks: TurnMarks, response: Any) -> None:
    """At ``response.done``: why each stage that did not happen will not, where known."""
    status = response.status
    messages = [item for item in response.output or () if item.type == "message"]
    parts = [part for item in messages for part in item.content or ()]
    spoken = any(part.type == "output_audio" and part.transcript for part in parts)
    why = {
        "first_token": f"the response was {status} before the model's first token",
        "first_text": (
            f"the response was {status} before any text"
            if messages
            else "no text: the response has no message (function calls only)"
        ),
        "first_audio": _no_audio(response, messages, spoken, status),
        "transcript_final": "no voice turn: the client asked for this response",
    }
    for stage in _unmarked(marks):
        if stage == "transcript_final" and marks.turn is not None:
            continue  # may still come (a transcript slower than the reply)
        if stage == "first_audio" and spoken:
            continue  # produced: on a call it is heard when the track plays it
        if why.get(stage):
            marks.absent[stage] = why[stage]


def _no_audio(response: Any, messages: list[Any], spoken: bool, status: str) -> str:
    if "audio" not in (response.output_modalities or ()):
        return "text-only response"
    if not messages:
        return "no audio: the response has no message (function calls only)"
    return "" if spoken else f"the response was {status} before any audio"


def _no_first_token(_: str) -> float | None:
    return None


def _no_report(_: TurnMarks) -> None:
    """An ended session reports no more turns."""
