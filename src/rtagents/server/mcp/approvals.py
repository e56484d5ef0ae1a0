"""The client's answer to an MCP approval request, checked before it joins the conversation.

An ``mcp_approval_response`` must answer an ``mcp_approval_request`` that is
in the conversation and not answered yet; anything else is refused naming
``item.approval_request_id``, and the session goes on.
"""

from __future__ import annotations

from typing import Any

from ...protocol.client_text import quoted
from ...protocol.conversation import Conversation
from ...protocol.errors import RemoteProtocolError

PARAM = "item.approval_request_id"


def check_approval_response(conversation: Conversation, item: Any) -> None:
    """Refuse an approval response that answers nothing, or answers a second time."""
    if getattr(item, "type", None) != "mcp_approval_response":
        return
    request_id = str(item.approval_request_id)
    request = conversation.get(request_id)
    if request is None or getattr(request, "type", None) != "mcp_approval_request":
        raise RemoteProtocolError(
            f"approval_request_id {quoted(request_id)} names no mcp_approval_request item in "
            "the conversation; answer the id of the request the server sent.",
            code="invalid_value",
            param=PARAM,
        )
    for other in conversation.items:
        if (
            getattr(other, "type", None) == "mcp_approval_response"
            and getattr(other, "approval_request_id", None) == request_id
        ):
            raise RemoteProtocolError(
                f"The MCP approval request {quoted(request_id)} was already answered "
                f"(item {quoted(str(other.id))}); an answer cannot be changed.",
                code="invalid_value",
                param=PARAM,
            )
