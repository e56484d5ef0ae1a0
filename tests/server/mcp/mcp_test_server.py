"""A real MCP server for the tests: the official ``mcp`` package's MCPServer over streamable HTTP.

It runs in the test's event loop on a free 127.0.0.1 port (uvicorn), with a
few tools: ``add`` (read-only), ``lookup_order``, ``fail`` (reports a tool
error), ``slow`` (sleeps, for timeouts). Every HTTP request's headers are
recorded, so a test can see what the rtagents server sent.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations


@dataclass
class McpTestServer:
    url: str
    headers_seen: list[dict[str, str]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)


def _tools(seen: McpTestServer) -> MCPServer:
    server = MCPServer("rtagents-test-tools")

    @server.tool(annotations=ToolAnnotations(readOnlyHint=True))
    def add(a: int, b: int) -> int:
        """Add two integers."""
        seen.calls.append("add")
        return a + b

    @server.tool()
    def lookup_order(order_number: str) -> str:
        """Look up an order by its number."""
        seen.calls.append("lookup_order")
        return f"Order {order_number} shipped on Monday."

    @server.tool()
    def fail() -> str:
        """Always reports an error."""
        seen.calls.append("fail")
        raise ToolError("the order database is down")

    @server.tool()
    async def slow(seconds: float) -> str:
        """Answers after ``seconds``."""
        seen.calls.append("slow")
        await asyncio.sleep(seconds)
        return "finally"

    return server


def _recording(app: Any, seen: McpTestServer) -> Any:
    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            seen.headers_seen.append(
                {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
            )
        await app(scope, receive, send)

    return asgi


@asynccontextmanager
async def mcp_test_server() -> AsyncIterator[McpTestServer]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    seen = McpTestServer(url=f"http://127.0.0.1:{port}/mcp")
    app = _tools(seen).streamable_http_app()
    server = uvicorn.Server(
        uvicorn.Config(_recording(app, seen), log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield seen
    finally:
        server.should_exit = True
        await task
        sock.close()


def free_port_url() -> str:
    """A loopback URL where nothing listens (the port was free a moment ago)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/mcp"
