"""Every failure in a recording, classified: category, the rule that fired, the next step.

The categories are the project's own: a wire ``error`` event is classified by
:func:`~rtagents.protocol.errors.classify_error_payload` (exactly as the
client classifies it live), a protocol refusal is matched to the row of the
server rules table (:data:`~rtagents.protocol.server_rules.RULES`) that
refuses that event with that code, and a ``failure`` record keeps the
category the recorder wrote. Several records often tell of one failure (the
client's failure record and the ``error`` event it came from, or an engine
failure's ``error`` and its failed ``response.done``): they are reported once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..protocol.errors import Category, classify_error_payload
from ..protocol.json_depth import parse_untrusted
from ..protocol.server_rules import ANY_EVENT, RULES
from .trace_events import EventIndex, text
from .trace_hints import CLEAN_CLOSES, CLOSE_HINTS, hint_for
from .trace_input import Record
from .trace_model import FailureFinding

_CATEGORIES = frozenset(str(category) for category in Category)
FINDINGS_KEPT = 1000
_RECENT = 8  # findings a new one is compared with: one failure's records come together
SAME_WITHIN_S = 2.0
"""Records of one failure come together (the error, then the failed response.done)."""


class FailureFinder:
    """Fed every record in order; keeps each failure once, the first FINDINGS_KEPT of them."""

    def __init__(self, index: EventIndex) -> None:
        self.index = index
        self.found: list[FailureFinding] = []
        self.more = 0  # failures past FINDINGS_KEPT, counted only

    def add(self, record: Record) -> None:
        for finding in _classify(record, self.index):
            if any(_same(finding, earlier) for earlier in self.found[-_RECENT:]):
                continue
            if len(self.found) < FINDINGS_KEPT:
                self.found.append(finding)
            else:
                self.more += 1


def _classify(record: Record, index: EventIndex) -> Iterator[FailureFinding]:
    if record.kind == "failure":
        yield _failure_record(record, index)
    elif record.kind == "close":
        yield from _close(record)
    elif record.kind == "event":
        yield from _event(record, index)


def _failure_record(record: Record, index: EventIndex) -> FailureFinding:
    data = record.data
    category = text(data.get("category")) or "protocol"
    code = text(data.get("code"))
    if category not in _CATEGORIES:
        category = "protocol"
    message = text(data.get("message")) or "(no message)"
    if code is None and category == "tool":
        code = _tool_code(message)
    hint = hint_for(code, category)
    event_id = text(data.get("event_id"))
    refused = index.client_event_type(event_id)
    about = f" answering {refused} {event_id}" if refused else ""
    return FailureFinding(
        category=category,
        code=code,
        what=hint.what,
        message=message,
        rule=f"failure record, code {code or 'none'}{about}",
        next_step=hint.next_step,
        t=record.t,
        where=record.where,
        origin=text(data.get("origin")),
        server_rule=_server_rule(code, refused, text(_mapping(data.get("detail")).get("param"))),
    )


def _close(record: Record) -> Iterator[FailureFinding]:
    code = record.data.get("code")
    by = text(record.data.get("by")) or "transport"
    if code is None and by != "transport":
        return  # closed by a side with no code given: the side chose to end
    number = code if type(code) is int else 1006
    if number in CLEAN_CLOSES or (number not in CLOSE_HINTS and number < 3000):
        return
    category, hint = CLOSE_HINTS.get(number, ("connection", hint_for(None, "connection")))
    reason = text(record.data.get("reason")) or "no reason given"
    yield FailureFinding(
        category=category,
        code=f"close_{number}",
        what=hint.what,
        message=f"closed {number} by {by}: {reason}",
        rule=f"close record, code {number}" + (" (none received)" if code is None else ""),
        next_step=hint.next_step,
        t=record.t,
        where=record.where,
    )


def _event(record: Record, index: EventIndex) -> Iterator[FailureFinding]:
    event = record.event
    if event is None:
        if "raw" in record.data:
            yield _unparseable(record)
        return
    kind = record.event_type
    if kind == "error":
        yield _error_event(record, event, index)
    elif kind == "response.done":
        yield from _failed_response(record, event)
    elif kind == "conversation.item.input_audio_transcription.failed":
        yield _failed_transcription(record, event)
    elif kind == "conversation.item.create":
        yield from _tool_output(record, event, index)


def _error_event(record: Record, event: Mapping[str, Any], index: EventIndex) -> FailureFinding:
    error = _mapping(event.get("error"))
    error_type, code = text(error.get("type")), text(error.get("code"))
    category = str(classify_error_payload(error_type, code))
    event_id = text(error.get("event_id"))
    refused = index.client_event_type(event_id)
    hint = hint_for(code, category)
    about = f" answering {refused} {event_id}" if refused else ""
    return FailureFinding(
        category=category,
        code=code,
        what=hint.what,
        message=text(error.get("message")) or "(no message)",
        rule=f"error event, type {error_type or 'none'}, code {code or 'none'}{about}",
        next_step=hint.next_step,
        t=record.t,
        where=record.where,
        origin="local" if error_type == "invalid_request_error" else "remote",
        server_rule=_server_rule(code, refused, text(error.get("param"))),
    )


def _failed_response(record: Record, event: Mapping[str, Any]) -> Iterator[FailureFinding]:
    response = _mapping(event.get("response"))
    if response.get("status") != "failed":
        return
    error = _mapping(_mapping(response.get("status_details")).get("error"))
    error_type, code = text(error.get("type")), text(error.get("code"))
    category = str(classify_error_payload(error_type or "server_error", code))
    hint = hint_for(code, category)
    yield FailureFinding(
        category=category,
        code=code,
        what=hint.what,
        message=text(error.get("message")) or "(no message)",
        rule=f"response.done with status failed, code {code or 'none'}",
        next_step=hint.next_step,
        t=record.t,
        where=record.where,
        origin="remote",
        response_id=text(response.get("id")),
    )


def _failed_transcription(record: Record, event: Mapping[str, Any]) -> FailureFinding:
    error = _mapping(event.get("error"))
    code = text(error.get("code")) or "transcription_failed"
    hint = hint_for(code, "model")
    return FailureFinding(
        category="model",  # the speech-to-text engine failed, whatever the code says
        code=code,
        what=hint.what,
        message=text(error.get("message")) or "(no message)",
        rule="conversation.item.input_audio_transcription.failed event",
        next_step=hint.next_step,
        t=record.t,
        where=record.where,
        origin="remote",
    )


def _tool_output(
    record: Record, event: Mapping[str, Any], index: EventIndex
) -> Iterator[FailureFinding]:
    """A function_call_output whose output is ``{"error": ...}``: how both tool runners report."""
    item = _mapping(event.get("item"))
    if item.get("type") != "function_call_output":
        return
    try:
        output = parse_untrusted(text(item.get("output")) or "")
    except ValueError:
        return
    message = text(output.get("error")) if isinstance(output, dict) else None
    if message is None:
        return
    call_id = text(item.get("call_id"))
    code = _tool_code(message)
    hint = hint_for(code, "tool")
    name = index.tool_names.get(call_id or "", "an unknown tool")
    yield FailureFinding(
        category="tool",
        code=code,
        what=hint.what,
        message=message,
        rule=f"function_call_output of call {call_id} ({name}) carries an error",
        next_step=hint.next_step,
        t=record.t,
        where=record.where,
        origin="local",
    )


def _unparseable(record: Record) -> FailureFinding:
    hint = hint_for("invalid_json", "protocol")
    raw = text(record.data.get("raw")) or ""
    return FailureFinding(
        category="protocol",
        code="invalid_json",
        what=hint.what,
        message=f"{record.data.get('dir', '?')} frame is not an event: {raw[:120]}",
        rule="event record with no parseable event",
        next_step=hint.next_step,
        t=record.t,
        where=record.where,
    )


def _tool_code(message: str) -> str:
    """The tool runner's code for its error output (its messages are fixed phrases)."""
    if "timed out after" in message:
        return "tool_timeout"
    if "there is no tool" in message or "is disabled for agent" in message:
        return "unknown_tool"
    if message.startswith("arguments"):
        return "invalid_arguments"
    return "tool_failed"


def _server_rule(code: str | None, event_type: str | None, param: str | None) -> str | None:
    """The server rules table's condition that refuses ``event_type`` with ``code``."""
    if code is None:
        return None
    rules = (*ANY_EVENT, *RULES.get(event_type or "", ()))
    matching = [rule for rule in rules if rule.code == code]
    best = next((rule for rule in matching if rule.param == param), None)
    rule = best or (matching[0] if matching else None)
    if rule is None:
        return None
    return f"{event_type or 'every event'}: refused when {rule.when}"


def _same(new: FailureFinding, old: FailureFinding) -> bool:
    """Whether ``new`` tells of the failure ``old`` already reported."""
    if new.category != old.category or new.t - old.t > SAME_WITHIN_S:
        return False
    if new.code != old.code and None not in (new.code, old.code):
        return False  # a record with no code (a tool's failure record) matches by message
    return new.message in old.message or old.message in new.message


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
