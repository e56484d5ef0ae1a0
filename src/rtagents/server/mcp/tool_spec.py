"""One ``type: "mcp"`` tool of a session or response, read and checked.

The ``openai`` models already checked the shape; this adds what the server
decides: the URL may be reached (:mod:`.allowlist`), connectors and tunnels
are not served (there is no OpenAI connector behind this server), labels are
unique, and the ``allowed_tools`` / ``require_approval`` filters are read
into plain predicates. ``require_approval`` defaults to ``"always"`` as on
the hosted API: nothing a user says leaves for a remote server unasked
unless the developer said ``"never"``. A tool matching neither side of a
filter object needs approval too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...protocol.client_text import quoted
from ...protocol.errors import RemoteProtocolError
from .allowlist import McpAllowlist


@dataclass(frozen=True, slots=True)
class ToolFilter:
    """``tool_names`` and/or ``read_only``: a tool matches when every given part does."""

    tool_names: frozenset[str] | None = None
    read_only: bool | None = None

    def matches(self, name: str, annotations: Mapping[str, Any] | None) -> bool:
        if self.tool_names is None and self.read_only is None:
            return False  # an empty filter names nothing
        if self.tool_names is not None and name not in self.tool_names:
            return False
        if self.read_only is not None:
            return bool((annotations or {}).get("readOnlyHint")) == self.read_only
        return True


@dataclass(frozen=True, slots=True, kw_only=True)
class McpServerSpec:
    """Where one MCP server is, how to reach it, and which of its tools the model may use."""

    label: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    allowed: ToolFilter | None = None  # None: every tool the server lists
    approval_always: bool = True  # the mode for tools no filter names
    approval_never: ToolFilter | None = None
    approval_needed: ToolFilter | None = None

    @property
    def cache_key(self) -> str:
        """Same server, same credentials: the same listing (credentials only as a digest)."""
        secret = json.dumps(sorted(self.headers.items())).encode()
        return f"{self.label}\n{self.url}\n{hashlib.sha256(secret).hexdigest()}"

    def allows(self, name: str, annotations: Mapping[str, Any] | None) -> bool:
        return self.allowed is None or self.allowed.matches(name, annotations)

    def needs_approval(self, name: str, annotations: Mapping[str, Any] | None) -> bool:
        if self.approval_never is not None and self.approval_never.matches(name, annotations):
            return False
        if self.approval_needed is not None and self.approval_needed.matches(name, annotations):
            return True
        return self.approval_always


def is_mcp(tool: Mapping[str, Any]) -> bool:
    return tool.get("type") == "mcp"


def mcp_specs(
    tools: Sequence[Mapping[str, Any]], allowlist: McpAllowlist, param: str
) -> list[McpServerSpec]:
    """The MCP tools among ``tools``, checked (a refusal names ``param[i].field``)."""
    specs: list[McpServerSpec] = []
    labels: set[str] = set()
    for index, tool in enumerate(tools):
        if not is_mcp(tool):
            continue
        spec = read_spec(tool, allowlist, f"{param}[{index}]")
        if spec.label in labels:
            raise RemoteProtocolError(
                f"Two MCP tools are labelled {quoted(spec.label)}; server_label must be unique.",
                code="invalid_value",
                param=f"{param}[{index}].server_label",
            )
        labels.add(spec.label)
        specs.append(spec)
    return specs


def read_spec(tool: Mapping[str, Any], allowlist: McpAllowlist, where: str) -> McpServerSpec:
    label = tool.get("server_label")
    if not label:
        raise RemoteProtocolError(
            "An MCP tool needs a 'server_label' (how items and events name the server).",
            code="missing_required_parameter",
            param=f"{where}.server_label",
        )
    for unsupported in ("connector_id", "tunnel_id"):
        if tool.get(unsupported):
            raise RemoteProtocolError(
                f"MCP {unsupported}s are not available on this server (no OpenAI connector or "
                "tunnel behind it); give the 'server_url' of a streamable HTTP MCP server.",
                code="unsupported_tool_type",
                param=f"{where}.{unsupported}",
            )
    url = allowlist.check(tool.get("server_url"), f"{where}.server_url")
    headers = {str(k): str(v) for k, v in (tool.get("headers") or {}).items()}
    authorization = tool.get("authorization")
    if authorization:
        value = str(authorization)
        headers["Authorization"] = value if " " in value else f"Bearer {value}"
    always, never, needed = _approval(tool.get("require_approval"))
    return McpServerSpec(
        label=str(label),
        url=url,
        headers=headers,
        allowed=_allowed(tool.get("allowed_tools")),
        approval_always=always,
        approval_never=never,
        approval_needed=needed,
    )


def _filter(value: Any) -> ToolFilter | None:
    if not isinstance(value, Mapping):
        return None
    names = value.get("tool_names")
    read_only = value.get("read_only")
    return ToolFilter(
        tool_names=frozenset(str(n) for n in names) if names is not None else None,
        read_only=bool(read_only) if read_only is not None else None,
    )


def _allowed(value: Any) -> ToolFilter | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return _filter(value) or ToolFilter()
    return ToolFilter(tool_names=frozenset(str(name) for name in value))


def _approval(value: Any) -> tuple[bool, ToolFilter | None, ToolFilter | None]:
    """(the mode for unnamed tools, the never filter, the always filter)."""
    if value == "never":
        return False, None, None
    if isinstance(value, Mapping):
        return True, _filter(value.get("never")), _filter(value.get("always"))
    return True, None, None  # "always", or unset: the hosted default
