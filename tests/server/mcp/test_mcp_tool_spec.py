"""Reading one ``type: "mcp"`` tool: labels, URLs, credentials, allowed tools, approvals."""

from __future__ import annotations

from typing import Any

import pytest

from rtagents.protocol.errors import RemoteProtocolError
from rtagents.server.mcp.allowlist import McpAllowlist
from rtagents.server.mcp.tool_spec import ToolFilter, mcp_specs

URL = "http://127.0.0.1:8123/mcp"


def spec(**tool: Any) -> Any:
    (only,) = mcp_specs(
        [{"type": "mcp", "server_label": "s", "server_url": URL, **tool}],
        McpAllowlist(),
        "session.tools",
    )
    return only


def test_function_tools_are_left_alone() -> None:
    tools = [
        {"type": "function", "name": "f"},
        {"type": "mcp", "server_label": "s", "server_url": URL},
    ]
    (only,) = mcp_specs(tools, McpAllowlist(), "session.tools")
    assert (only.label, only.url) == ("s", URL)


def test_approval_defaults_to_always_as_hosted() -> None:
    assert spec().needs_approval("add", None)
    assert spec(require_approval="always").needs_approval("add", None)
    assert not spec(require_approval="never").needs_approval("add", None)


@pytest.mark.conformance(
    "tools[mcp].require_approval.never.tool_names",
    "tools[mcp].require_approval.never.read_only",
    "tools[mcp].require_approval.always.tool_names",
    status="supported",
    client="none",
    transport="in-process",
    note="unit level: which tools ask",
)
def test_approval_filters() -> None:
    never_add = spec(require_approval={"never": {"tool_names": ["add"]}})
    assert not never_add.needs_approval("add", None)
    assert never_add.needs_approval("fail", None)  # unnamed: approval, the safe side
    read_only = spec(require_approval={"never": {"read_only": True}})
    assert not read_only.needs_approval("add", {"readOnlyHint": True})
    assert read_only.needs_approval("drop", {"readOnlyHint": False})
    always_fail = spec(
        require_approval={"always": {"tool_names": ["fail"]}, "never": {"tool_names": ["add"]}}
    )
    assert always_fail.needs_approval("fail", None)
    assert not always_fail.needs_approval("add", None)


@pytest.mark.conformance(
    "tools[mcp].require_approval.always.read_only",
    status="supported",
    client="none",
    transport="in-process",
    note="unit level: read and applied; tools it does not name ask too (the default)",
)
def test_an_always_filter_on_read_only_asks_for_the_tools_it_names() -> None:
    always_read_only = spec(require_approval={"always": {"read_only": True}})
    assert always_read_only.approval_needed == ToolFilter(read_only=True)
    assert always_read_only.needs_approval("look", {"readOnlyHint": True})
    assert always_read_only.needs_approval("drop", {"readOnlyHint": False})  # unnamed: asks
    # Beside a never filter: the tools it names ask, the never filter's do not.
    mixed = spec(require_approval={"always": {"read_only": False}, "never": {"read_only": True}})
    assert mixed.needs_approval("drop", {"readOnlyHint": False})
    assert mixed.needs_approval("drop", None)  # no annotations: not read-only
    assert not mixed.needs_approval("look", {"readOnlyHint": True})


@pytest.mark.conformance(
    "tools[mcp].allowed_tools.read_only",
    status="supported",
    client="none",
    transport="in-process",
    note="unit level: matched against the readOnlyHint annotation",
)
def test_allowed_tools_as_a_list_or_a_filter() -> None:
    assert spec().allows("anything", None)
    listed = spec(allowed_tools=["add"])
    assert listed.allows("add", None) and not listed.allows("fail", None)
    read_only = spec(allowed_tools={"read_only": True})
    assert read_only.allows("add", {"readOnlyHint": True})
    assert not read_only.allows("fail", None)
    assert not spec(allowed_tools={}).allows("add", None)  # an empty filter names nothing


@pytest.mark.conformance(
    "tools[mcp].authorization",
    "tools[mcp].headers",
    status="supported",
    client="none",
    transport="in-process",
    note="unit level; that they reach the MCP server: test_mcp_remote.py",
)
def test_authorization_becomes_a_bearer_header_and_the_cache_key_hides_it() -> None:
    with_token = spec(authorization="tok123", headers={"X-Tenant": "a"})
    assert with_token.headers == {"X-Tenant": "a", "Authorization": "Bearer tok123"}
    assert "tok123" not in with_token.cache_key
    assert with_token.cache_key != spec().cache_key
    assert spec(authorization="Basic abc").headers["Authorization"] == "Basic abc"


@pytest.mark.parametrize(
    ("tool", "param", "code"),
    [
        ({"server_url": URL}, "session.tools[0].server_label", "missing_required_parameter"),
        (
            {"server_label": "s", "connector_id": "connector_gmail"},
            "session.tools[0].connector_id",
            "unsupported_tool_type",
        ),
        ({"server_label": "s"}, "session.tools[0].server_url", "missing_required_parameter"),
        (
            {"server_label": "s", "server_url": "http://192.168.1.1/mcp"},
            "session.tools[0].server_url",
            "mcp_server_url_not_allowed",
        ),
    ],
)
@pytest.mark.conformance(
    "tools[mcp].connector_id=connector_gmail",
    status="refused",
    client="none",
    transport="in-process",
    note="unsupported_tool_type: no connectors behind this server",
)
def test_refusals_name_the_field(tool: dict[str, Any], param: str, code: str) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        mcp_specs([{"type": "mcp", **tool}], McpAllowlist(), "session.tools")
    assert (caught.value.param, caught.value.code) == (param, code)


def test_labels_must_be_unique() -> None:
    tools = [{"type": "mcp", "server_label": "s", "server_url": URL}] * 2
    with pytest.raises(RemoteProtocolError) as caught:
        mcp_specs(tools, McpAllowlist(), "response.tools")
    assert caught.value.param == "response.tools[1].server_label"
