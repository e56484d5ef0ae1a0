"""Talking to one remote MCP server over streamable HTTP: list its tools, call one.

Built on the official ``mcp`` package (the ``mcp`` extra), imported only
when a session first uses an MCP tool, so a server without the extra runs
and refuses MCP tools naming the extra to install. Each operation opens its
own MCP session and is bounded by one deadline covering connect, handshake
and answer. Whatever goes wrong becomes an :class:`McpFailure` whose kind is
one of the three errors a GA ``mcp_call`` item can carry: ``http_error``
(unreachable: code 502; or an HTTP status), ``protocol_error`` (a JSON-RPC
error, or no answer in time: code -32001), ``tool_execution_error`` (the tool
ran and reported an error). What comes back is bounded: at most
:data:`MAX_TOOLS` tools and :data:`MAX_OUTPUT_CHARS` of output.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import importlib.util
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ...protocol.errors import RemoteProtocolError
from .tool_spec import McpServerSpec

if TYPE_CHECKING:
    from mcp import Client

EXTRA_HINT = "install the mcp extra: pip install 'rtagents[mcp]'"
MAX_TOOLS = 256
MAX_OUTPUT_CHARS = 64 * 1024
UNREACHABLE = 502
TIMED_OUT = -32001
INTERNAL = -32603
FailureKind = Literal["http_error", "protocol_error", "tool_execution_error"]


@dataclass(frozen=True, slots=True)
class RemoteTool:
    """A tool as the MCP server listed it (the ``mcp_list_tools`` item's entry)."""

    name: str
    description: str | None
    input_schema: Mapping[str, Any]
    annotations: Mapping[str, Any] | None

    def item_entry(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": dict(self.input_schema),
            "annotations": dict(self.annotations) if self.annotations else None,
        }


class McpFailure(Exception):
    """An MCP operation failed; ``item_error()`` is the ``mcp_call`` item's ``error``."""

    def __init__(self, kind: FailureKind, message: str, code: int = INTERNAL) -> None:
        super().__init__(message)
        self.kind: FailureKind = kind
        self.message = message
        self.code = code

    @property
    def timed_out(self) -> bool:
        return self.kind == "protocol_error" and self.code == TIMED_OUT

    def item_error(self) -> dict[str, Any]:
        if self.kind == "tool_execution_error":
            return {"type": self.kind, "message": self.message}
        return {"type": self.kind, "code": self.code, "message": self.message}


def mcp_installed() -> bool:
    """The mcp package, major version 2 (its client API), is importable."""
    if importlib.util.find_spec("mcp") is None:
        return False
    try:
        return int(importlib.metadata.version("mcp").split(".")[0]) >= 2
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return False


def require_mcp_package(param: str) -> None:
    """Refuse MCP tools up front when the ``mcp`` package is missing."""
    if not mcp_installed():
        raise RemoteProtocolError(
            f"MCP tools need the 'mcp' package 2.x, which this server lacks; {EXTRA_HINT}, "
            "or use function tools.",
            code="unsupported_tool_type",
            param=param,
        )


async def list_tools(spec: McpServerSpec, timeout_s: float) -> list[RemoteTool]:
    """Every tool the server lists (all pages, up to MAX_TOOLS)."""
    async with _session(spec, timeout_s, "list the tools of") as client:
        tools: list[RemoteTool] = []
        cursor: str | None = None
        while len(tools) < MAX_TOOLS:
            page = await client.list_tools(cursor=cursor)
            tools.extend(_remote_tool(tool) for tool in page.tools)
            cursor = page.next_cursor
            if not cursor:
                break
        return tools[:MAX_TOOLS]


async def call_tool(
    spec: McpServerSpec, name: str, arguments: Mapping[str, Any], timeout_s: float
) -> str:
    """The tool's output as text; McpFailure when it could not run or reported an error."""
    async with _session(spec, timeout_s, f"call {name!r} on") as client:
        result = await client.call_tool(name, dict(arguments))
    text = _output_text(result)
    if result.is_error:
        raise McpFailure("tool_execution_error", text or f"the tool {name!r} reported an error")
    return text


@asynccontextmanager
async def _session(spec: McpServerSpec, timeout_s: float, doing: str) -> AsyncIterator[Client]:
    """A connected MCP client under one deadline; whatever fails becomes an McpFailure."""
    import httpx2  # the mcp package's HTTP client
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    try:
        async with asyncio.timeout(timeout_s):
            limits = httpx2.Timeout(timeout_s)
            async with httpx2.AsyncClient(headers=dict(spec.headers), timeout=limits) as http:
                transport = streamable_http_client(spec.url, http_client=http)
                async with Client(transport, read_timeout_seconds=timeout_s, cache=None) as client:
                    yield client
    except McpFailure:
        raise
    except Exception as exc:  # an ExceptionGroup too; a cancellation passes through
        raise _classify(exc, spec, timeout_s, doing) from exc


def _classify(exc: BaseException, spec: McpServerSpec, timeout_s: float, doing: str) -> Exception:
    where = f"{spec.label!r} at {spec.url}"
    leaf = _leaf(exc)
    if isinstance(leaf, McpFailure):
        return leaf
    if isinstance(leaf, TimeoutError):
        return McpFailure(
            "protocol_error",
            f"The MCP server {where} did not answer within {timeout_s:g} s (trying to {doing} it).",
            TIMED_OUT,
        )
    from mcp.shared.exceptions import MCPError

    if isinstance(leaf, MCPError):
        return McpFailure(
            "protocol_error",
            f"The MCP server {where} answered with an error: {leaf.message}",
            leaf.code,
        )
    import httpx2

    if isinstance(leaf, httpx2.HTTPStatusError):
        status = leaf.response.status_code
        return McpFailure("http_error", f"The MCP server {where} answered HTTP {status}.", status)
    if isinstance(leaf, httpx2.HTTPError | OSError):
        return McpFailure(
            "http_error",
            f"The MCP server {where} could not be reached ({type(leaf).__name__}: {leaf}).",
            UNREACHABLE,
        )
    return McpFailure(
        "protocol_error",
        f"Talking to the MCP server {where} failed ({type(leaf).__name__}: {leaf}).",
    )


def _leaf(exc: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups from the SDK's task groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _remote_tool(tool: Any) -> RemoteTool:
    annotations = (
        tool.annotations.model_dump(by_alias=True, exclude_none=True) if tool.annotations else None
    )
    return RemoteTool(
        name=str(tool.name),
        description=tool.description,
        input_schema=dict(tool.input_schema or {}),
        annotations=annotations,
    )


def _output_text(result: Any) -> str:
    pieces: list[str] = []
    for part in result.content or []:
        text = getattr(part, "text", None)
        pieces.append(text if isinstance(text, str) else part.model_dump_json(exclude_none=True))
    text = "\n".join(pieces)
    if not text and result.structured_content is not None:
        text = json.dumps(result.structured_content)
    if len(text) > MAX_OUTPUT_CHARS:
        text = text[:MAX_OUTPUT_CHARS] + f"... [cut at {MAX_OUTPUT_CHARS} characters]"
    return text
