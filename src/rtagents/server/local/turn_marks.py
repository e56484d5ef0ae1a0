"""Where the time of a voice turn went: one record per response, for benchmarks and logs.

Marks are ``time.perf_counter()`` seconds taken in the server process at the
moment each thing happened on the server: the end of the user's turn was
decided (``speech_stopped`` emitted), the transcript was final, the LLM gave
its first chunk, the first audio delta was emitted, ``response.done``. A
response the client asked for itself has no turn marks, only the rest.
``bench/voice_latency.py`` reads ``host.turns.marks``; every record is also
logged at INFO on ``rtagents.server.turns`` with the session id.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

log = logging.getLogger("rtagents.server.turns")


@dataclass(slots=True, kw_only=True)
class TurnMarks:
    """The latency marks of one response (``None``: did not happen)."""

    session_id: str
    response_id: str | None = None
    item_id: str | None = None  # the user turn that caused the response (turn detection)
    audio_end_ms: int | None = None  # speech_stopped.audio_end_ms (audio time)
    speech_stopped_at: float | None = None
    # When the item's transcript was delivered: ~0 ms after speech_stopped when the
    # speculative job had it ready (it cannot precede the commit it belongs to).
    transcript_final_at: float | None = None
    first_token_at: float | None = None
    first_audio_at: float | None = None
    done_at: float | None = None
    status: str | None = None

    def latencies_ms(self) -> dict[str, float | None]:
        """Each mark in ms after ``speech_stopped`` (negative: it was ready before)."""
        origin = self.speech_stopped_at

        def after(mark: float | None) -> float | None:
            if origin is None or mark is None:
                return None
            return round((mark - origin) * 1000, 1)

        return {
            "transcript_final_ms": after(self.transcript_final_at),
            "first_token_ms": after(self.first_token_at),
            "first_audio_ms": after(self.first_audio_at),
            "done_ms": after(self.done_at),
        }

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), **self.latencies_ms()}


def log_marks(marks: TurnMarks) -> None:
    fields = marks.as_dict()
    latency = fields.get("first_audio_ms")
    log.info(
        "turn %s: response %s %s, first audio %s ms after end of speech",
        marks.item_id or "-",
        marks.response_id,
        marks.status,
        latency if latency is not None else "-",
        extra={"event_type": "turn.marks", **fields},
    )
