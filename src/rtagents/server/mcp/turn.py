"""What one response does with MCP: offer the tools, route the model's calls, run approved ones.

The model sees each allowed MCP tool as a function (same name, the listed
input schema), so the scripted engine's rules, scenario rules and an LLM
behind ``--llm-url`` call it like any other. A call of an MCP tool becomes
an ``mcp_call`` item run by the server, or, when the tool needs approval, an
``mcp_approval_request`` item that ends the model's turn. Approved requests
(an ``mcp_approval_response`` with ``approve: true``) are run at the start of
the next response, as the hosted Responses API does, and the model then
speaks about the output. After a round with calls, the model gets another
round to use the outputs (at most :data:`MAX_ROUNDS` per response).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...engines.base import ToolSpec
from ...protocol.errors import RemoteProtocolError
from ..host.wire_events import item_dict
from .remote import RemoteTool
from .tool_spec import McpServerSpec
from .writers import ApprovalRequestWriter, McpCallWriter

if TYPE_CHECKING:
    from ..local.response_output import ResponseView
    from .listing import McpSession

log = logging.getLogger("rtagents.server.mcp")
MAX_ROUNDS = 4  # model passes per response: calls, then what the model says of their outputs
McpWriter = McpCallWriter | ApprovalRequestWriter


@dataclass(frozen=True, slots=True)
class _Offered:
    spec: McpServerSpec
    tool: RemoteTool


class McpTurn:
    """One response's MCP tools (empty and inert when the response has none)."""

    def __init__(
        self, session: McpSession, run: ResponseView, tools: Sequence[Mapping[str, Any]]
    ) -> None:
        self.session = session
        self.run = run
        self._specs = _usable(session, tools)
        self._functions = {
            str(t.get("name")) for t in tools if t.get("type", "function") == "function"
        }
        self._offered: dict[str, _Offered] = {}
        self._round: list[McpWriter] = []
        self._client_call_pending = False  # the model called a function this round
        self.rounds = 0

    async def prepare(self) -> None:
        """List (or reuse the listing of) every MCP server the response may use."""
        for spec in self._specs:
            tools = await self.session.tools_of(spec)
            for tool in tools or ():
                if not spec.allows(tool.name, tool.annotations):
                    continue
                if tool.name in self._functions or tool.name in self._offered:
                    log.info("MCP tool %r of %r hidden: the name is taken", tool.name, spec.label)
                    continue
                self._offered[tool.name] = _Offered(spec, tool)

    def tool_specs(self) -> list[ToolSpec]:
        return [
            ToolSpec(
                name=name,
                description=offered.tool.description or "",
                parameters=offered.tool.input_schema,
            )
            for name, offered in self._offered.items()
        ]

    def owns(self, name: str) -> bool:
        """Whether the model's call of ``name`` is an MCP call.

        Asked once per call the model opens; a call of anything else (a
        function the client must answer) is noted, since the model must not
        get another round before the client has answered it.
        """
        if name in self._offered:
            return True
        self._client_call_pending = True
        return False

    def writer_for(self, output_index: int, name: str, engine_call_id: str) -> McpWriter:
        """The item the model's call of MCP tool ``name`` becomes."""
        offered = self._offered[name]
        writer: McpWriter
        if offered.spec.needs_approval(name, offered.tool.annotations):
            writer = ApprovalRequestWriter(
                self.run, output_index, spec=offered.spec, name=name, engine_call_id=engine_call_id
            )
        else:
            writer = McpCallWriter(
                self.run,
                output_index,
                session=self.session,
                spec=offered.spec,
                name=name,
                engine_call_id=engine_call_id,
            )
        self._round.append(writer)
        return writer

    def approved_calls(self, first_index: int) -> list[McpCallWriter]:
        """Writers for the approved requests not run yet whose server this response has."""
        items = [item_dict(item) for item in self.run.ctx.conversation.items]
        answered = {
            str(i.get("approval_request_id")): bool(i.get("approve"))
            for i in items
            if i.get("type") == "mcp_approval_response"
        }
        ran = {i.get("approval_request_id") for i in items if i.get("type") == "mcp_call"}
        specs = {spec.label: spec for spec in self._specs}
        writers: list[McpCallWriter] = []
        for item in items:
            request_id = item.get("id")
            if item.get("type") != "mcp_approval_request" or request_id in ran:
                continue
            spec = specs.get(str(item.get("server_label")))
            offered = self._offered.get(str(item.get("name")))
            if spec is None or offered is None or offered.spec is not spec:
                continue  # not this response's tool (any more): it stays pending
            if not answered.get(str(request_id)):
                continue
            writer = McpCallWriter(
                self.run,
                first_index + len(writers),
                session=self.session,
                spec=spec,
                name=str(item.get("name")),
                arguments=str(item.get("arguments") or ""),
                approval_request_id=str(request_id),
            )
            writers.append(writer)
        return writers

    async def end_round(self, last: object) -> bool:
        """Run the round's last MCP call (still open), then say if the model speaks again.

        It does when MCP calls ran this round and none awaits approval or
        the client's output of a function call.
        """
        if isinstance(last, McpCallWriter | ApprovalRequestWriter) and not last.closed:
            await last.close("completed")
        writers, self._round = self._round, []
        waiting = self._client_call_pending
        self._client_call_pending = False
        self.rounds += 1
        if self.rounds >= MAX_ROUNDS or waiting:
            return False
        if any(isinstance(w, ApprovalRequestWriter) for w in writers):
            return False
        return any(isinstance(w, McpCallWriter) and w.ran for w in writers)


def _usable(session: McpSession, tools: Sequence[Mapping[str, Any]]) -> list[McpServerSpec]:
    """The MCP servers a response may use (a response's own tools were checked by its plan).

    Only a session's initial config (a client secret's) can hold MCP tools
    the allowlist refuses; the session was told when it started, and its
    responses go on without them.
    """
    try:
        return session.accept(tools, "session.tools")
    except RemoteProtocolError as refusal:
        log.warning("MCP tools unused: %s", refusal.message)
        return []
