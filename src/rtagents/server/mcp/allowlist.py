"""Which MCP server URLs this server may reach: loopback by default, else an operator's list.

An MCP tool makes *this server* open HTTP connections to a URL a client
chose. Left open, any client holding a secret could make it probe the
operator's private network or a cloud metadata endpoint (server-side
request forgery). So a URL is reached only when it matches the allowlist:
with none configured, loopback hosts only (127.0.0.0/8, ::1, localhost);
with ``--mcp-allow URL_PREFIX`` (repeatable), only URLs under one of those
prefixes — same scheme, host and port, path under the prefix's path. The
comparison is on parsed parts, never on raw string prefixes, so
``http://127.0.0.1.evil.example`` does not pass for ``http://127.0.0.1``.
URLs carrying credentials (``user:pass@``) are refused: send them in
``authorization`` or ``headers`` instead.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from ...protocol.client_text import quoted
from ...protocol.errors import RemoteProtocolError

SCHEMES = ("http", "https")
LOOPBACK_NAMES = frozenset({"localhost"})


@dataclass(frozen=True, slots=True)
class _Prefix:
    scheme: str
    host: str
    port: int
    path: str


class McpAllowlist:
    """The URLs MCP tools may point at (empty: loopback only)."""

    def __init__(self, prefixes: Iterable[str] = ()) -> None:
        self.prefixes = tuple(prefixes)
        self._parsed = tuple(_parse_prefix(prefix) for prefix in self.prefixes)

    def check(self, url: object, param: str) -> str:
        """``url`` if it may be reached; else a refusal naming ``param``."""
        if not isinstance(url, str) or not url:
            raise RemoteProtocolError(
                "An MCP tool needs a 'server_url' (a streamable HTTP endpoint, e.g. "
                "http://127.0.0.1:8000/mcp).",
                code="missing_required_parameter",
                param=param,
            )
        parts = _split(url)
        if parts is None:
            raise _refused(url, param, "it is not an http(s) URL with a host")
        if parts.username is not None or parts.password is not None:
            raise _refused(url, param, "it carries credentials; send them in 'authorization'")
        if not self._parsed:
            if not _is_loopback(parts.hostname or ""):
                raise _refused(
                    url,
                    param,
                    "only loopback MCP servers are allowed here (the operator can allow "
                    "others with `rtagents serve --mcp-allow URL_PREFIX`)",
                )
            return url
        if not any(_under(parts, prefix) for prefix in self._parsed):
            allowed = ", ".join(quoted(prefix) for prefix in self.prefixes)
            raise _refused(url, param, f"it is under none of the allowed prefixes ({allowed})")
        return url

    def describe(self) -> str:
        """The allowlist in words, for logs and /healthz."""
        return ", ".join(self.prefixes) if self.prefixes else "loopback only"


def _refused(url: str, param: str, why: str) -> RemoteProtocolError:
    return RemoteProtocolError(
        f"The MCP server_url {quoted(url)} may not be reached from this server: {why}.",
        code="mcp_server_url_not_allowed",
        param=param,
    )


def _split(url: str) -> SplitResult | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return None
    if parts.scheme not in SCHEMES or not parts.hostname:
        return None
    return parts


def _port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def _parse_prefix(prefix: str) -> _Prefix:
    parts = _split(prefix)
    if parts is None or parts.username is not None or parts.query or parts.fragment:
        raise ValueError(
            f"{prefix!r} is not a usable MCP URL prefix: give an http(s) URL with a host and "
            "no credentials, query or fragment, e.g. https://tools.example.com/mcp"
        )
    path = parts.path or "/"
    return _Prefix(parts.scheme, (parts.hostname or "").lower(), _port(parts), path)


def _under(parts: SplitResult, prefix: _Prefix) -> bool:
    if (parts.scheme, (parts.hostname or "").lower(), _port(parts)) != (
        prefix.scheme,
        prefix.host,
        prefix.port,
    ):
        return False
    path = parts.path or "/"
    if prefix.path.endswith("/"):
        return path.startswith(prefix.path) or path == prefix.path.rstrip("/")
    return path == prefix.path or path.startswith(prefix.path + "/")


def _is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
