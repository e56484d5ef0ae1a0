"""The MCP client side against a real MCP server (the official package's, on loopback)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator

import pytest
from mcp_test_server import McpTestServer, free_port_url, mcp_test_server

from rtagents.protocol.errors import RemoteProtocolError
from rtagents.server.mcp import remote
from rtagents.server.mcp.remote import McpFailure
from rtagents.server.mcp.tool_spec import McpServerSpec

TIMEOUT_S = 20.0


@pytest.fixture
async def tools_server() -> AsyncIterator[McpTestServer]:
    async with mcp_test_server() as server:
        yield server


def spec_for(url: str, **headers: str) -> McpServerSpec:
    return McpServerSpec(label="shop", url=url, headers=headers)


async def test_lists_tools_with_schemas_and_annotations(tools_server: McpTestServer) -> None:
    tools = await remote.list_tools(spec_for(tools_server.url), TIMEOUT_S)
    by_name = {tool.name: tool for tool in tools}
    assert set(by_name) == {"add", "lookup_order", "fail", "slow"}
    add = by_name["add"]
    assert add.description == "Add two integers."
    assert set(add.input_schema["properties"]) == {"a", "b"}
    assert add.annotations == {"readOnlyHint": True}
    assert add.item_entry()["input_schema"] == dict(add.input_schema)


async def test_calls_a_tool_and_sends_the_headers(tools_server: McpTestServer) -> None:
    spec = spec_for(tools_server.url, Authorization="Bearer tok123", **{"X-Tenant": "t1"})
    assert await remote.call_tool(spec, "add", {"a": 2, "b": 3}, TIMEOUT_S) == "5"
    assert tools_server.calls == ["add"]
    assert all(h.get("authorization") == "Bearer tok123" for h in tools_server.headers_seen)
    assert all(h.get("x-tenant") == "t1" for h in tools_server.headers_seen)


async def test_a_tool_error_is_a_tool_execution_error(tools_server: McpTestServer) -> None:
    with pytest.raises(McpFailure) as caught:
        await remote.call_tool(spec_for(tools_server.url), "fail", {}, TIMEOUT_S)
    error = caught.value.item_error()
    assert error["type"] == "tool_execution_error"
    assert error["message"].endswith("the order database is down")
    assert set(error) == {"type", "message"}  # no code: the GA shape of this error


async def test_an_unknown_tool_is_reported_by_the_server(tools_server: McpTestServer) -> None:
    with pytest.raises(McpFailure) as caught:
        await remote.call_tool(spec_for(tools_server.url), "nope", {}, TIMEOUT_S)
    assert caught.value.kind == "tool_execution_error"
    assert "nope" in caught.value.message


async def test_a_slow_tool_times_out(tools_server: McpTestServer) -> None:
    with pytest.raises(McpFailure) as caught:
        await remote.call_tool(spec_for(tools_server.url), "slow", {"seconds": 30}, 1.0)
    error = caught.value.item_error()
    assert error["type"] == "protocol_error" and error["code"] == remote.TIMED_OUT
    assert "did not answer within 1 s" in error["message"]
    assert caught.value.timed_out


async def test_an_unreachable_server_is_an_http_error() -> None:
    url = free_port_url()
    with pytest.raises(McpFailure) as caught:
        await remote.list_tools(spec_for(url), TIMEOUT_S)
    error = caught.value.item_error()
    assert (error["type"], error["code"]) == ("http_error", remote.UNREACHABLE)
    assert "could not be reached" in error["message"] and url in error["message"]


async def test_a_path_that_is_no_mcp_endpoint_fails_clearly(tools_server: McpTestServer) -> None:
    with pytest.raises(McpFailure) as caught:
        await remote.list_tools(spec_for(tools_server.url + "/wrong"), TIMEOUT_S)
    assert caught.value.kind in ("protocol_error", "http_error")
    assert "'shop'" in caught.value.message


def test_without_the_extra_mcp_tools_are_refused_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(remote, "mcp_installed", lambda: False)
    with pytest.raises(RemoteProtocolError) as caught:
        remote.require_mcp_package("session.tools")
    assert (caught.value.code, caught.value.param) == ("unsupported_tool_type", "session.tools")
    assert "rtagents[mcp]" in caught.value.message


def test_the_server_imports_the_mcp_package_only_when_a_session_uses_it() -> None:
    code = (
        "import sys, rtagents.server.app, rtagents.server.local.pipeline; "
        "assert 'mcp' not in sys.modules, 'mcp imported at startup'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
