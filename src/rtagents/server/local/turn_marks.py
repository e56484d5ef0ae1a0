"""Where the time of a voice turn went: one record per response, for benchmarks, logs, the console.

Marks are ``time.perf_counter()`` seconds taken in the server process at the
moment each thing happened on the server: the end of the user's turn
(``speech_stopped`` emitted by turn detection; for push to talk, the
``input_audio_buffer.committed`` of the client's commit), the transcript was
final, the LLM gave its first chunk, the first text delta was emitted, the
first audio went out (a ``response.output_audio.delta`` on a WebSocket; on a
WebRTC call, the moment its first frame was played into the track, which
``output_audio_buffer.started`` reports), ``response.done``. A response the
client asked for with no voice turn before it is measured from its
``response.created``. A stage that did not happen says why in ``absent``
(a text-only response has no first audio), so a log line is never silently
short. ``bench/voice_latency.py`` reads ``host.turns.marks``; the console
reads them over ``GET /console/calls/{call_id}/turns``; every record is also
logged at INFO on ``rtagents.server.turns`` with the session id.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

log = logging.getLogger("rtagents.server.turns")

# The stages after the end of a turn, in the order they normally come.
STAGES = ("transcript_final", "first_token", "first_text", "first_audio", "done")
_LABELS = {
    "transcript_final": "transcript",
    "first_token": "first token",
    "first_text": "first text",
    "first_audio": "first audio",
    "done": "done",
}


@dataclass(slots=True, kw_only=True)
class TurnMarks:
    """The latency marks of one response (``None``: did not happen; ``absent`` says why)."""

    session_id: str
    response_id: str | None = None
    item_id: str | None = None  # the user turn that caused the response
    # How the turn ended: server_vad, semantic_vad, idle_timeout, or manual (the
    # client's commit: push to talk); None when the response followed no voice turn.
    turn: str | None = None
    transport: str | None = None  # websocket, webrtc or memory
    audio_end_ms: int | None = None  # speech_stopped.audio_end_ms (audio time)
    speech_stopped_at: float | None = None
    committed_at: float | None = None  # the turn's input_audio_buffer.committed
    created_at: float | None = None  # response.created
    # When the item's transcript was delivered: ~0 ms after speech_stopped when the
    # speculative job had it ready (it cannot precede the commit it belongs to).
    transcript_final_at: float | None = None
    first_token_at: float | None = None
    first_text_at: float | None = None
    first_audio_at: float | None = None
    done_at: float | None = None
    status: str | None = None
    absent: dict[str, str] = field(default_factory=dict)  # stage -> why it has no mark

    @property
    def origin(self) -> str | None:
        """What the stages are measured from: the end of the turn, else the response's start."""
        if self.speech_stopped_at is not None:
            return "speech_stopped"
        if self.committed_at is not None:
            return "committed"
        return "response_created" if self.created_at is not None else None

    @property
    def end_of_turn_at(self) -> float | None:
        """``speech_stopped``, or the commit of a push-to-talk turn; None without a voice turn."""
        return self.speech_stopped_at if self.speech_stopped_at is not None else self.committed_at

    def stage_at(self, stage: str) -> float | None:
        at: float | None = getattr(self, f"{stage}_at")
        return at

    def latencies_ms(self) -> dict[str, float | None]:
        """Each mark in ms after the origin (negative: it was ready before)."""
        origin_at = {
            "speech_stopped": self.speech_stopped_at,
            "committed": self.committed_at,
            "response_created": self.created_at,
        }.get(self.origin or "")

        def after(mark: float | None) -> float | None:
            if origin_at is None or mark is None:
                return None
            return round((mark - origin_at) * 1000, 1)

        return {f"{stage}_ms": after(self.stage_at(stage)) for stage in STAGES}

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "origin": self.origin, **self.latencies_ms()}

    def summary(self) -> dict[str, Any]:
        """The JSON the console draws its stage bars from (ms after the origin)."""
        latencies = self.latencies_ms()
        return {
            "response_id": self.response_id,
            "item_id": self.item_id,
            "turn": self.turn,
            "transport": self.transport,
            "status": self.status,
            "origin": self.origin,
            "stages_ms": {stage: latencies[f"{stage}_ms"] for stage in STAGES},
            "absent": dict(self.absent),
        }


def describe(marks: TurnMarks) -> str:
    """The log line's text: every stage with its time, or absent and why."""
    latencies = marks.latencies_ms()
    parts = []
    for stage in STAGES:
        ms = latencies[f"{stage}_ms"]
        if ms is not None:
            parts.append(f"{_LABELS[stage]} {ms} ms")
        else:
            parts.append(f"{_LABELS[stage]} absent ({marks.absent.get(stage, 'not seen')})")
    origin = (marks.origin or "nothing").replace("_", " ")
    turn = f"turn {marks.item_id} ({marks.turn})" if marks.turn else "no voice turn"
    return (
        f"{turn} over {marks.transport or '?'}: response {marks.response_id} "
        f"{marks.status or 'unfinished'}; after {origin}: {', '.join(parts)}"
    )


def log_marks(marks: TurnMarks) -> None:
    log.info(
        "%s",
        describe(marks),
        extra={"event_type": "turn.marks", **marks.as_dict()},  # session_id included
    )
