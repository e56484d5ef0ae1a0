"""What ``rtagents replay`` sends and expects: a recording read into client steps and server events.

In a client recording the client's events are the ones it ``sent``; in a
server recording they are the ones the server ``received``. Each client
event becomes a :class:`ReplayStep` that knows how many server events (and how
many ``response.done``/``error`` among them) the recording had seen before
it was sent, so the replay sends it at the same point of the conversation.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..observability.recording import RecordingReader
from ..observability.recording_format import AUDIO_FIELDS, Header

# Server events that end something the client may be waiting for.
MILESTONES = frozenset({"response.done", "error", "session.created", "session.updated"})


@dataclass(frozen=True, slots=True)
class ReplayStep:
    """One client frame to send: an event (dict) or, for an unreadable one, its raw text."""

    t: float
    frame: dict[str, Any] | str
    after_events: int  # server events the recording had received before it
    after_milestones: int  # of which response.done / error / session.*


@dataclass(slots=True)
class ReplayPlan:
    header: Header
    steps: list[ReplayStep] = field(default_factory=list)
    server_events: list[dict[str, Any]] = field(default_factory=list)
    open_failure: dict[str, Any] | None = None  # the recorded session never opened: why
    notes: list[str] = field(default_factory=list)


def plan_from(path: str | Path) -> ReplayPlan:
    """Read the recording at ``path`` into a :class:`ReplayPlan`."""
    reader = RecordingReader(path)
    plan = ReplayPlan(reader.header)
    client_dir = "sent" if reader.header.side == "client" else "received"
    milestones = silenced = resent = 0
    numbered = Numbering()
    for record in reader:
        kind = record.get("kind")
        if kind == "failure" and _opening(record) and not plan.steps and not plan.server_events:
            plan.open_failure = plan.open_failure or record
        if kind != "event":
            continue
        event = record.get("event")
        if numbered.seen_before(record):
            resent += 1  # sent again after a resume: the server had it once
            continue
        if record.get("dir") == client_dir:
            frame, was_silenced = _client_frame(reader, record, event)
            silenced += was_silenced
            if frame is not None:
                plan.steps.append(
                    ReplayStep(
                        float(record.get("t") or 0.0), frame, len(plan.server_events), milestones
                    )
                )
        elif isinstance(event, dict):
            plan.server_events.append(event)
            milestones += event.get("type") in MILESTONES
    if silenced:
        plan.notes.append(
            f"{silenced} audio payloads were elided in the recording and are replayed as "
            "silence of the same length (record with audio 'inline' or 'beside' to replay speech)"
        )
    if resent:
        plan.notes.append(f"{resent} frames sent again after a resume were replayed once")
    if numbered.sessions > 1:
        plan.notes.append(
            f"the recording spans {numbered.sessions} server sessions (a rebuild); the replay "
            "is one session, so what follows the first session's end differs"
        )
    if reader.truncated:
        plan.notes.append("the recording's last line was cut short; it was left out")
    return plan


class Numbering:
    """Which event records repeat an earlier frame: a sequence number not above the last one
    of its direction in the same server session (a resume's resend)."""

    def __init__(self) -> None:
        self.last: dict[str, int] = {}
        self.sessions = 0

    def seen_before(self, record: dict[str, Any]) -> bool:
        event = record.get("event")
        if isinstance(event, dict) and event.get("type") == "session.created":
            self.last.clear()  # a new server session numbers from 1
            self.sessions += 1
        direction, seq = str(record.get("dir")), record.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool):
            return False
        if seq <= self.last.get(direction, 0):
            return True
        self.last[direction] = seq
        return False


def _opening(record: dict[str, Any]) -> bool:
    detail = record.get("detail")
    return record.get("category") == "connection" and (
        isinstance(detail, dict) and detail.get("step") == "open"
    )


def _client_frame(
    reader: RecordingReader, record: dict[str, Any], event: Any
) -> tuple[dict[str, Any] | str | None, bool]:
    """The frame to send for one recorded client event, and whether its audio is silence."""
    if not isinstance(event, dict):
        raw = record.get("raw")
        return (raw if isinstance(raw, str) else None), False
    field_name = AUDIO_FIELDS.get(str(event.get("type")))
    payload = event.get(field_name) if field_name else None
    if field_name is None or payload is None or isinstance(payload, str):
        return event, False
    audio = reader.audio(payload)
    silenced = audio is None
    if audio is None:
        size = payload.get("bytes") if isinstance(payload, dict) else 0
        audio = bytes(int(size or 0))
    return {**event, field_name: base64.b64encode(audio).decode()}, silenced


def encode_frame(frame: dict[str, Any] | str) -> str:
    return frame if isinstance(frame, str) else json.dumps(frame, separators=(",", ":"))
