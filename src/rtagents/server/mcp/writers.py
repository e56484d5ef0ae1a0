"""The output items of a response that touch an MCP server: a call, or a request for approval.

An :class:`McpCallWriter` streams the model's arguments
(``response.mcp_call_arguments.delta``/``.done``), then runs the call when
the item closes: ``response.mcp_call.in_progress``, the call (bounded by the
session's MCP timeout), ``response.mcp_call.completed`` with the output in
the item, or ``.failed`` with the item's ``error``. An
:class:`ApprovalRequestWriter` gathers the arguments silently and adds one
``mcp_approval_request`` item; the call waits for the client's
``mcp_approval_response``. Both share the message writers' item events
(``output_item.added``/``done``, ``conversation.item.added``/``done``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from openai.types.realtime import (
    ResponseMcpCallArgumentsDelta,
    ResponseMcpCallArgumentsDone,
    ResponseMcpCallCompleted,
    ResponseMcpCallFailed,
    ResponseMcpCallInProgress,
)

from ...protocol.json_depth import parse_untrusted
from ..host.wire_events import build
from ..local.response_output import ResponseView, _Writer
from . import remote
from .remote import McpFailure
from .tool_spec import McpServerSpec

if TYPE_CHECKING:
    from .listing import McpSession

log = logging.getLogger("rtagents.server.mcp")


class McpCallWriter(_Writer):
    """One ``mcp_call`` item: arguments streamed, then the call run on close."""

    def __init__(
        self,
        run: ResponseView,
        output_index: int,
        *,
        session: McpSession,
        spec: McpServerSpec,
        name: str,
        engine_call_id: str = "",
        arguments: str = "",
        approval_request_id: str | None = None,
    ) -> None:
        super().__init__(run, output_index)
        self.session = session
        self.spec = spec
        self.name = name
        self.engine_call_id = engine_call_id
        self.arguments = arguments
        self.approval_request_id = approval_request_id
        self.output: str | None = None
        self.error: dict[str, Any] | None = None
        self.ran = False  # the call was attempted (its outcome is in output or error)
        self._calling = False

    def item(self, status: str) -> dict[str, Any]:
        return {
            "id": self.item_id,
            "type": "mcp_call",
            "server_label": self.spec.label,
            "name": self.name,
            "arguments": self.arguments if status != "in_progress" else "",
            "approval_request_id": self.approval_request_id,
            "output": self.output,
            "error": self.error,
        }

    async def open(self) -> None:
        await self._announce()
        if self.arguments:  # an approved call: its arguments are known already
            await self._emit_delta(self.arguments)

    async def add(self, delta: str) -> None:
        if delta:
            self.arguments += delta
            await self._emit_delta(delta)

    async def _emit_delta(self, delta: str) -> None:
        await self.ctx.emit(build(ResponseMcpCallArgumentsDelta, **self.where, delta=delta))

    async def flush(self) -> None:
        return None

    async def close(self, status: str) -> None:
        if self._calling:  # cancelled while the call ran: it ends failed
            self._calling = False
            self.error = McpFailure(
                "tool_execution_error", "The response was cancelled while the MCP call ran."
            ).item_error()
            await self.ctx.emit(build(ResponseMcpCallFailed, **self._at))
        elif status == "completed" and not self.ran:
            await self._run_call()
        await self._finish_item(status)

    @property
    def _at(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "output_index": self.output_index}

    async def _run_call(self) -> None:
        self.ran = True
        await self.ctx.emit(
            build(ResponseMcpCallArgumentsDone, **self.where, arguments=self.arguments)
        )
        await self.ctx.emit(build(ResponseMcpCallInProgress, **self._at))
        self._calling = True
        try:
            arguments = _arguments(self.arguments)
            self.output = await remote.call_tool(
                self.spec, self.name, arguments, self.session.timeout_s
            )
        except McpFailure as failure:
            log.info("MCP call %s on %r failed: %s", self.name, self.spec.label, failure.message)
            self.error = failure.item_error()
        self._calling = False
        event = ResponseMcpCallFailed if self.error is not None else ResponseMcpCallCompleted
        await self.ctx.emit(build(event, **self._at))


class ApprovalRequestWriter(_Writer):
    """One ``mcp_approval_request`` item, added whole once the arguments are complete."""

    def __init__(
        self,
        run: ResponseView,
        output_index: int,
        *,
        spec: McpServerSpec,
        name: str,
        engine_call_id: str,
    ) -> None:
        super().__init__(run, output_index)
        self.spec = spec
        self.name = name
        self.engine_call_id = engine_call_id
        self.arguments = ""

    def item(self, status: str) -> dict[str, Any]:
        return {
            "id": self.item_id,
            "type": "mcp_approval_request",
            "server_label": self.spec.label,
            "name": self.name,
            "arguments": self.arguments,
        }

    async def open(self) -> None:
        return None  # announced whole on close: a request with half its arguments means nothing

    async def add(self, delta: str) -> None:
        self.arguments += delta

    async def flush(self) -> None:
        return None

    async def close(self, status: str) -> None:
        await self._announce()
        await self._finish_item(status)


def _arguments(text: str) -> dict[str, Any]:
    """The model's arguments as the JSON object an MCP call takes."""
    try:
        value = parse_untrusted(text) if text.strip() else {}
    except ValueError as exc:
        raise McpFailure(
            "tool_execution_error", f"The call's arguments are not valid JSON ({exc})."
        ) from exc
    if not isinstance(value, dict):
        raise McpFailure("tool_execution_error", "The call's arguments must be a JSON object.")
    return value
