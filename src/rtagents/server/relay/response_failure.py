"""What the downstream client hears when the upstream drops in the middle of a response.

The upstream session that was writing the response is gone, and with it the
rest of that response: each response still in progress ends with a
``response.done`` of status ``failed`` whose ``status_details.error`` says why
(``upstream_connection_lost``), carrying the output items as far as they got
(status ``incomplete``), and one ``error`` event says it in words. The items
stay in the conversation as they are and are replayed into the rebuilt
upstream, so the model knows what it had said.
"""

from __future__ import annotations

from typing import Any

from openai.types.realtime import RealtimeErrorEvent, ResponseDoneEvent
from pydantic import BaseModel

from ...protocol.conversation import Conversation
from ...protocol.errors import ConnectionFailure, Origin
from ..host.wire_events import build, item_dict

LOST_CODE = "upstream_connection_lost"
# The upstream sent a response.done this server cannot read (its schema moved on?).
INVALID_CODE = "upstream_invalid_event"


def lost_error(reason: str) -> ConnectionFailure:
    return ConnectionFailure(
        f"The relay lost its upstream connection ({reason}) while a response was running; "
        "that response ended as failed. The relay is rebuilding the upstream session with "
        "the same conversation; this session stays open: ask again (response.create).",
        origin=Origin.REMOTE,
        code=LOST_CODE,
    )


def failed_responses(
    conversation: Conversation, error: ConnectionFailure, conversation_id: str
) -> list[BaseModel]:
    """``response.done`` (failed) for each response in progress, then one ``error``; or none."""
    running = [r for r in conversation.responses.values() if r.status == "in_progress"]
    events: list[BaseModel] = [
        failed_response(conversation, record.id, LOST_CODE, conversation_id) for record in running
    ]
    if events:
        events.append(
            build(
                RealtimeErrorEvent,
                error={"type": "server_error", "code": error.code, "message": error.message},
            )
        )
    return events


def failed_response(
    conversation: Conversation, response_id: str, code: str, conversation_id: str
) -> ResponseDoneEvent:
    """A ``response.done`` that ends ``response_id`` as failed with ``code``, items as they are."""
    record = conversation.responses.get(response_id)
    item_ids = record.output_item_ids if record is not None else []
    output = [_incomplete(conversation, item_id) for item_id in item_ids]
    out_of_band = record is not None and record.conversation == "none"
    response = {
        "id": response_id,
        "object": "realtime.response",
        "status": "failed",
        "status_details": {"type": "failed", "error": {"type": "server_error", "code": code}},
        "output": [item for item in output if item is not None],
        "conversation_id": None if out_of_band else conversation_id,
        "usage": None,
    }
    return build(ResponseDoneEvent, response=response)


def _incomplete(conversation: Conversation, item_id: str) -> dict[str, Any] | None:
    item = conversation.get(item_id)
    if item is None:
        return None
    data = item_dict(item)
    if "status" in data:
        data["status"] = "incomplete"
    return data
