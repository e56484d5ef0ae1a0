"""What a trace finds in a recording: failures, ordering anomalies, turns and responses.

Plain data, so the text, JSON and HTML reports render the same analysis.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

STAGES = ("transcript", "first_token", "first_text", "first_audio", "done")
"""The waterfall's stages after the turn's anchor (speech stopped, or the commit)."""


@dataclass(frozen=True, slots=True)
class FailureFinding:
    """One classified failure: which part failed, the rule that said so, and what to do."""

    category: str  # connection | protocol | model | tool
    code: str | None
    what: str  # what happened, in a few words
    message: str  # the failure's own message, as recorded
    rule: str  # the trace rule that fired, and what it matched
    next_step: str
    t: float
    where: str  # FILE:LINE of the record
    origin: str | None = None
    server_rule: str | None = None  # the server rules table's condition, when one applies
    response_id: str | None = None


@dataclass(frozen=True, slots=True)
class Anomaly:
    """An event out of order: the rule it breaks, and the event."""

    rule: str  # delta_after_done | unknown_response | event_after_close | duplicate_item_id
    message: str
    t: float
    where: str
    response_id: str | None = None


@dataclass(slots=True)
class ResponseSpan:
    """One response, from ``response.created`` to ``response.done``."""

    response_id: str
    created: float
    done: float | None = None
    status: str | None = None
    first_text: float | None = None
    first_audio: float | None = None
    events: int = 0
    tool_calls: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Turn:
    """The user's input (spoken, pushed or typed) and the responses that answer it."""

    index: int
    kind: str  # voice | push_to_talk | text | response_only
    start: float
    anchor: float | None = None  # speech stopped, or the commit of a push-to-talk turn
    item_id: str | None = None
    transcript: str | None = None
    stages: dict[str, float] = field(default_factory=dict)  # stage -> absolute t
    responses: list[ResponseSpan] = field(default_factory=list)

    def waterfall(self) -> dict[str, float | None]:
        """Milliseconds from the anchor to each stage (None: never happened, or no anchor)."""
        if self.anchor is None:
            return {stage: None for stage in STAGES}
        return {
            stage: round((self.stages[stage] - self.anchor) * 1000.0, 1)
            if stage in self.stages
            else None
            for stage in STAGES
        }


@dataclass(slots=True)
class Trace:
    """The whole analysis of one recording."""

    header: dict[str, Any]
    parts: list[str]
    records: int
    duration: float
    findings: list[FailureFinding]
    anomalies: list[Anomaly]
    turns: list[Turn]
    unreadable: list[str]
    unreadable_count: int
    not_listed: int = 0  # findings, anomalies or turns past their caps, counted only

    @property
    def failed(self) -> bool:
        """Whether the trace should fail a CI step: any failure or ordering anomaly."""
        return bool(self.findings or self.anomalies)

    def to_json(self) -> dict[str, Any]:
        return {
            "header": self.header,
            "parts": self.parts,
            "records": self.records,
            "duration_s": round(self.duration, 3),
            "failed": self.failed,
            "findings": [asdict(finding) for finding in self.findings],
            "anomalies": [asdict(anomaly) for anomaly in self.anomalies],
            "turns": [_turn_json(turn) for turn in self.turns],
            "unreadable": {"count": self.unreadable_count, "first": self.unreadable},
            "not_listed": self.not_listed,
        }


def _turn_json(turn: Turn) -> dict[str, Any]:
    return {
        "index": turn.index,
        "kind": turn.kind,
        "start": round(turn.start, 4),
        "item_id": turn.item_id,
        "transcript": turn.transcript,
        "waterfall_ms": turn.waterfall(),
        "responses": [asdict(response) for response in turn.responses],
    }
