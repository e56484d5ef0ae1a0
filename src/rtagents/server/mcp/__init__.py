"""MCP tools (``type: "mcp"``): the server is the MCP client, as the hosted API is.

:mod:`.allowlist` (which URLs may be reached), :mod:`.tool_spec` (one MCP
tool's settings), :mod:`.remote` (the official ``mcp`` client, imported
lazily), :mod:`.listing` (per-session listings and their events),
:mod:`.turn` and :mod:`.writers` (what a response does with MCP),
:mod:`.history_view` (MCP items for the LLM), :mod:`.approvals`.
See docs/mcp.md.
"""
