"""The MCP servers of one session: checked when configured, listed once, the listings cached.

When a session (``session.update``) or a response (``response.create``)
gets an MCP tool, the server lists that server's tools as the hosted API
does: an ``mcp_list_tools`` item is added, ``mcp_list_tools.in_progress``,
then ``.completed`` (the item done with the tools) or ``.failed`` (the item
done empty, plus an ``error`` event of category tool saying why, since the
failed event carries no reason). A listing is cached per session by server
label, URL and credentials, so later updates and responses reuse it; a
failed one is forgotten, so the next use tries again. Responses wait for a
listing still in flight. Bounded: at most :data:`MAX_SERVERS` listings kept
or in flight, and no listing item past the conversation's item limit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Coroutine, Mapping, Sequence
from typing import Any, Protocol

from openai.types.realtime import (
    ConversationItemAdded,
    ConversationItemDone,
    McpListToolsCompleted,
    McpListToolsFailed,
    McpListToolsInProgress,
)

from ...protocol.conversation import Conversation
from ...protocol.errors import Origin, RealtimeError, RemoteProtocolError, ToolError
from ...protocol.limit_refusals import conversation_full_refusal
from .. import ids
from ..host.wire_events import build
from . import remote
from .allowlist import McpAllowlist
from .remote import McpFailure, RemoteTool
from .tool_spec import McpServerSpec, is_mcp, mcp_specs

log = logging.getLogger("rtagents.server.mcp")
MAX_SERVERS = 16  # MCP servers one session may list (each listing is cached)
Listing = asyncio.Future[list[RemoteTool] | None]


class SessionPort(Protocol):
    """What listing uses of a session (its :class:`SessionContext`)."""

    @property
    def state(self) -> Any: ...

    @property
    def conversation(self) -> Conversation: ...

    def emit(self, event: Any) -> Awaitable[bool]: ...

    def reply_error(self, error: RealtimeError, *, error_type: str = ...) -> Awaitable[None]: ...

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]: ...


class McpSession:
    """One session's MCP servers and their cached tool listings."""

    def __init__(self, ctx: SessionPort) -> None:
        self._ctx = ctx
        config = ctx.state.config
        self._allowlist = McpAllowlist(getattr(config, "mcp_allow", ()))
        self.timeout_s: float = getattr(config, "mcp_timeout_s", 20.0)
        self._listings: dict[str, Listing] = {}

    def accept(self, tools: Sequence[Mapping[str, Any]], param: str) -> list[McpServerSpec]:
        """The MCP servers among ``tools``, or a refusal naming the field (nothing listed yet)."""
        specs = mcp_specs(tools, self._allowlist, param)
        if specs:
            remote.require_mcp_package(param)
        new = [spec for spec in specs if spec.cache_key not in self._listings]
        in_flight = sum(1 for listing in self._listings.values() if not listing.done())
        if in_flight + len(new) > MAX_SERVERS:
            raise RemoteProtocolError(
                f"At most {MAX_SERVERS} MCP servers may be listed at once in a session "
                f"({in_flight} are being listed, {len(new)} more asked); wait for "
                "mcp_list_tools.completed or .failed, or use fewer servers.",
                code="invalid_value",
                param=param,
            )
        return specs

    async def list_initial(self, tools: Sequence[Mapping[str, Any]]) -> None:
        """A new session's MCP tools (a client secret's config): listed, or an error saying why."""
        if not any(is_mcp(tool) for tool in tools):
            return
        try:
            specs = self.accept(tools, "session.tools")
        except RemoteProtocolError as refusal:
            await self._ctx.reply_error(refusal)
            return
        self.list_in_background(specs)

    def list_in_background(self, specs: Sequence[McpServerSpec]) -> None:
        """Start listing every server not listed yet (a session.update's tools)."""
        for spec in specs:
            self._listing(spec)

    async def tools_of(self, spec: McpServerSpec) -> list[RemoteTool] | None:
        """The server's tools (waiting for a listing in flight); None when listing failed."""
        return await asyncio.shield(self._listing(spec))

    def _listing(self, spec: McpServerSpec) -> Listing:
        listing = self._listings.get(spec.cache_key)
        if listing is None:
            if len(self._listings) >= MAX_SERVERS:
                self._forget_oldest()
            listing = asyncio.get_running_loop().create_future()
            self._listings[spec.cache_key] = listing
            self._ctx.spawn(self._list(spec, listing), f"mcp-list-{spec.label}")
        return listing

    def _forget_oldest(self) -> None:
        """Make room: the oldest finished listing goes (listed again if used again)."""
        for key, listing in list(self._listings.items()):
            if listing.done():
                del self._listings[key]
                return

    async def _list(self, spec: McpServerSpec, listing: Listing) -> None:
        try:
            tools: list[RemoteTool] | None = await self._announced_listing(spec)
        except BaseException:
            self._listings.pop(spec.cache_key, None)
            if not listing.done():
                listing.set_result(None)
            raise
        if tools is None:
            self._listings.pop(spec.cache_key, None)  # the next use tries again
        listing.set_result(tools)

    async def _announced_listing(self, spec: McpServerSpec) -> list[RemoteTool] | None:
        ctx = self._ctx
        limit = ctx.state.config.limits.conversation_items
        if len(ctx.conversation) >= limit:  # the mcp_list_tools item would not fit
            await ctx.reply_error(conversation_full_refusal(limit, None).to_error())
            return None
        item_id = ids.item_id()
        item: dict[str, Any] = {
            "id": item_id,
            "type": "mcp_list_tools",
            "server_label": spec.label,
            "tools": [],
        }
        previous = ctx.conversation.last_item_id
        await ctx.emit(build(ConversationItemAdded, previous_item_id=previous, item=item))
        await ctx.emit(build(McpListToolsInProgress, item_id=item_id))
        try:
            tools = await remote.list_tools(spec, self.timeout_s)
        except McpFailure as failure:
            log.warning("MCP list_tools failed: %s", failure.message)
            await ctx.emit(build(McpListToolsFailed, item_id=item_id))
            await self._item_done(item)
            code = "tool_timeout" if failure.timed_out else "tool_failed"
            error = ToolError(
                f"Listing the tools of MCP server {spec.label!r} failed: {failure.message}",
                origin=Origin.REMOTE,
                code=code,
            )
            await ctx.reply_error(error, error_type="server_error")
            return None
        item["tools"] = [
            tool.item_entry() for tool in tools if spec.allows(tool.name, tool.annotations)
        ]
        await ctx.emit(build(McpListToolsCompleted, item_id=item_id))
        await self._item_done(item)
        return tools

    async def _item_done(self, item: dict[str, Any]) -> None:
        conversation = self._ctx.conversation
        if item["id"] not in conversation:
            return  # deleted meanwhile
        previous = conversation.previous_item_id(item["id"])
        await self._ctx.emit(build(ConversationItemDone, previous_item_id=previous, item=item))
