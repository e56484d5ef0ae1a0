"""``rtagents trace``'s analysis: one pass over a recording, every finding at once.

Typical use::

    trace = analyse(read_recording("session.jsonl"))
    print(render_text(trace))
    sys.exit(1 if trace.failed else 0)
"""

from __future__ import annotations

from pathlib import Path

from .recording_format import RecordingError
from .trace_events import EventIndex
from .trace_failures import FailureFinder
from .trace_input import Recording, read_recording
from .trace_model import Anomaly, FailureFinding, ResponseSpan, Trace, Turn
from .trace_order import OrderChecker
from .trace_timeline import TimelineBuilder

__all__ = [
    "Anomaly",
    "FailureFinding",
    "RecordingError",
    "ResponseSpan",
    "Trace",
    "Turn",
    "analyse",
    "read_recording",
    "trace_file",
]


def analyse(recording: Recording) -> Trace:
    """Classify the failures, check the order and build the turns of ``recording``."""
    index = EventIndex()
    failures = FailureFinder(index)
    order = OrderChecker(recording.side)
    timeline = TimelineBuilder()
    last = 0.0
    session_id = recording.header.get("session_id")
    for record in recording.records():
        index.add(record)  # before the finder, which looks up what this record names
        failures.add(record)
        order.add(record)
        timeline.add(record)
        last = max(last, record.t)
        if session_id is None:  # a client learns its id from session.created
            session_id = record.data.get("session_id")
    return Trace(
        header={**recording.header, "session_id": session_id},
        parts=[str(part) for part in recording.parts],
        records=recording.records_read,
        duration=last,
        findings=failures.found,
        anomalies=order.anomalies,
        turns=timeline.finish(),
        unreadable=recording.unreadable,
        unreadable_count=recording.unreadable_count,
        not_listed=failures.more + order.more + timeline.more,
    )


def trace_file(path: str | Path) -> Trace:
    """Read and analyse the recording at ``path`` (raises :class:`RecordingError`)."""
    return analyse(read_recording(path))
