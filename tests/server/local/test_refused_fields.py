"""MCP features that need something this server does not have are refused, naming the field.

Connectors and tunnels reach OpenAI-hosted services, and an MCP ``tool_choice``
is not served; each is answered with ``unsupported_tool_type`` and the param,
and the session goes on.
"""

from __future__ import annotations

from typing import Any

import pytest
from server_harness import RawClient

CONNECTORS = [
    "connector_dropbox",
    "connector_gmail",
    "connector_googlecalendar",
    "connector_googledrive",
    "connector_microsoftteams",
    "connector_outlookcalendar",
    "connector_outlookemail",
    "connector_sharepoint",
]


@pytest.mark.conformance(
    "tools[mcp].connector_id=connector_dropbox",
    "tools[mcp].connector_id=connector_gmail",
    "tools[mcp].connector_id=connector_googlecalendar",
    "tools[mcp].connector_id=connector_googledrive",
    "tools[mcp].connector_id=connector_microsoftteams",
    "tools[mcp].connector_id=connector_outlookcalendar",
    "tools[mcp].connector_id=connector_outlookemail",
    "tools[mcp].connector_id=connector_sharepoint",
    "tools[mcp].tunnel_id",
    "tool_choice[mcp]",
    "tool_choice[mcp].name",
    "tool_choice[mcp].server_label",
    status="refused",
    client="raw",
    transport="in-process",
    note="unsupported_tool_type naming the field (no OpenAI connector or tunnel here)",
)
@pytest.mark.parametrize(
    ("fields", "param"),
    [
        *[
            (
                {"tools": [{"type": "mcp", "server_label": "s", "connector_id": connector}]},
                "session.tools[0].connector_id",
            )
            for connector in CONNECTORS
        ],
        (
            {"tools": [{"type": "mcp", "server_label": "s", "tunnel_id": "tunnel_1"}]},
            "session.tools[0].tunnel_id",
        ),
        (
            {"tool_choice": {"type": "mcp", "server_label": "s", "name": "add"}},
            "session.tool_choice.type",
        ),
    ],
)
async def test_mcp_features_without_a_server_here_are_refused(
    client: RawClient, fields: dict[str, Any], param: str
) -> None:
    update = {"type": "session.update", "session": {"type": "realtime", **fields}}
    error = await client.error(update)
    assert (error.code, error.param) == ("unsupported_tool_type", param)
    still = {"type": "session.update", "session": {"type": "realtime", "instructions": "Hi."}}
    await client.roundtrip(still, "session.updated")  # the session goes on
