"""The MCP URL allowlist: loopback by default, operator prefixes compared on parsed parts."""

from __future__ import annotations

import pytest

from rtagents.protocol.errors import RemoteProtocolError
from rtagents.server.mcp.allowlist import McpAllowlist

PARAM = "session.tools[0].server_url"


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8000/mcp", "http://localhost/mcp", "https://[::1]:9/x", "http://127.9.9.9/"],
)
def test_loopback_urls_pass_by_default(url: str) -> None:
    assert McpAllowlist().check(url, PARAM) == url


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://10.0.0.5/mcp", "only loopback"),
        ("http://169.254.169.254/latest/meta-data", "only loopback"),
        ("http://127.0.0.1.evil.example/mcp", "only loopback"),
        ("https://tools.example.com/mcp", "only loopback"),
        ("ftp://127.0.0.1/mcp", "not an http(s) URL"),
        ("http:///mcp", "not an http(s) URL"),
        ("http://127.0.0.1:99999/mcp", "not an http(s) URL"),
        ("http://user:pw@127.0.0.1/mcp", "credentials"),
    ],
)
def test_other_urls_are_refused_naming_the_field(url: str, why: str) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        McpAllowlist().check(url, PARAM)
    assert caught.value.param == PARAM
    assert caught.value.code == "mcp_server_url_not_allowed"
    assert why in caught.value.message
    assert "--mcp-allow" in caught.value.message or why != "only loopback"


def test_a_missing_url_is_a_missing_parameter() -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        McpAllowlist().check(None, PARAM)
    assert caught.value.code == "missing_required_parameter"
    assert caught.value.param == PARAM


def test_prefixes_match_scheme_host_port_and_path() -> None:
    allow = McpAllowlist(["https://tools.example.com/mcp", "http://10.1.2.3:8080/"])
    assert allow.check("https://tools.example.com/mcp", PARAM)
    assert allow.check("https://tools.example.com:443/mcp/orders", PARAM)
    assert allow.check("http://10.1.2.3:8080/anything", PARAM)
    for refused in (
        "https://tools.example.com/mcpx",  # a sibling path, not under the prefix
        "http://tools.example.com/mcp",  # another scheme
        "https://tools.example.com:8443/mcp",  # another port
        "https://tools.example.com.evil.example/mcp",  # a string prefix would pass this
        "http://127.0.0.1/mcp",  # with a list, loopback is not implied
    ):
        with pytest.raises(RemoteProtocolError, match="none of the allowed prefixes"):
            allow.check(refused, PARAM)
    assert allow.describe() == "https://tools.example.com/mcp, http://10.1.2.3:8080/"
    assert McpAllowlist().describe() == "loopback only"


@pytest.mark.parametrize("prefix", ["tools.example.com", "https://u:p@h/mcp", "http://h/?q=1"])
def test_bad_prefixes_fail_at_startup(prefix: str) -> None:
    with pytest.raises(ValueError, match="not a usable MCP URL prefix"):
        McpAllowlist([prefix])
