"""What each failure code means in a trace, and the next step to take.

The codes are the ones rtagents already speaks (``docs/errors.md``: the wire
``error.code`` values, the client's connection failure codes, the tool
runner's codes); the categories come from
:func:`rtagents.protocol.errors.classify_error_payload`, never from here. This
table only adds the words a person needs: what happened, and what to check.
"""

from __future__ import annotations

from typing import Final, NamedTuple


class Hint(NamedTuple):
    what: str  # what happened, in a few words
    next_step: str


_CREDENTIALS = (
    "mint a fresh client secret (ek_ secrets expire after their TTL) and check the "
    "key the Authorization header carries"
)

HINTS: Final[dict[str, Hint]] = {
    # connection: opening the transport
    "tls_failed": Hint(
        "TLS handshake failed",
        "check the server's certificate chain and host name, the trust store "
        "(SSL_CERT_FILE) and that the port speaks TLS (wss:// vs ws://)",
    ),
    "connection_refused": Hint(
        "connection refused",
        "is the server running and listening on that host and port? check the URL's port",
    ),
    "dns_failed": Hint("host name did not resolve", "check the URL's host and the DNS resolver"),
    "timeout": Hint(
        "no answer in time",
        "check that the host is reachable (proxy, firewall); raise open_timeout on slow links",
    ),
    "connection_failed": Hint(
        "could not connect", "check the URL and that the host is reachable from here"
    ),
    "connect_failed": Hint(
        "could not reach the server", "check the URL and that the host is reachable from here"
    ),
    "handshake_failed": Hint(
        "WebSocket handshake failed",
        "check the URL path (/v1/realtime) and that any proxy passes the Upgrade header",
    ),
    "missing_credentials": Hint("no credentials sent", _CREDENTIALS),
    "invalid_api_key": Hint("key or secret refused", _CREDENTIALS),
    "invalid_client_secret": Hint("client secret refused", _CREDENTIALS),
    "invalid_credentials": Hint("credentials unusable", _CREDENTIALS),
    "insufficient_permissions": Hint(
        "an ek_ secret may not do this", "mint client secrets with the API key, server side"
    ),
    # doctor: allow-beta-begin (names the beta header to explain it)
    "beta_protocol_retired": Hint(
        "beta protocol refused",
        "drop the OpenAI-Beta: realtime=v1 header and use the GA shapes (docs/errors.md)",
    ),
    # doctor: allow-beta-end
    "too_many_connections": Hint(
        "server at its connection cap", "retry after Retry-After, or raise the server's cap"
    ),
    "webrtc_connection_failed": Hint(
        "WebRTC call did not connect (ICE/DTLS)",
        "check UDP reachability between the peers, STUN/TURN servers, and the server's "
        "candidate addresses (docs/webrtc.md)",
    ),
    "session_expired": Hint(
        "session hit its duration cap", "start a new session; long calls plan a rebuild"
    ),
    "session_closed": Hint(
        "event sent to a closing session", "stop sending once close() has begun; await close()"
    ),
    "response_stalled": Hint(
        "response stalled: no event for too long",
        "check the server's health and engine load; the connection may be half-open",
    ),
    # protocol: refusals of the server rules table and the codec
    "conversation_already_has_active_response": Hint(
        "response.create while a response was active",
        "wait for response.done, or send through the client's response gate "
        "(Session.create_response sequences them)",
    ),
    "response_cancel_not_active": Hint(
        "response.cancel with nothing active",
        "cancel only between response.created and response.done; after a barge-in race "
        "this error is harmless",
    ),
    "input_audio_buffer_commit_empty": Hint(
        "commit with under 100 ms of audio",
        "append at least 100 ms before committing, or let server VAD commit",
    ),
    "invalid_json": Hint("a frame that is not JSON", "send one JSON object per text frame"),
    "invalid_event": Hint(
        "an event the server does not know",
        "use the GA event names; `rtagents doctor scan` finds beta usage",
    ),
    "invalid_value": Hint("a field with a bad value", "fix the field named by param"),
    "invalid_type": Hint("a field of the wrong type", "fix the field named by param"),
    "missing_required_parameter": Hint("a required field missing", "add the field named by param"),
    "unknown_parameter": Hint(
        "a field the GA schema lacks", "remove it or move it where the message says (GA layout)"
    ),
    "cannot_update_voice": Hint(
        "voice changed after audio was produced", "set the voice before the first audio response"
    ),
    "cannot_update_model": Hint(
        "session.update changed the model", "choose the model when connecting"
    ),
    "unsupported_turn_detection": Hint(
        "turn detection on an engine without VAD", "set turn_detection to null and commit yourself"
    ),
    "unsupported_tool_type": Hint(
        "a tool type the server lacks", "use function tools, or MCP tools with a server_url"
    ),
    "mcp_server_url_not_allowed": Hint(
        "an MCP server_url outside the allowlist", "run `rtagents serve --mcp-allow URL_PREFIX`"
    ),
    "unsupported_on_websocket": Hint(
        "output_audio_buffer.clear on a WebSocket", "truncate the item instead (the client plays)"
    ),
    "input_audio_too_large": Hint("audio event over the limit", "send smaller appends"),
    "input_audio_buffer_full": Hint(
        "input buffer full", "commit or clear the buffer more often, or enable turn detection"
    ),
    "message_too_large": Hint("frame over the size limit", "send smaller events"),
    "item_not_found": Hint("an item id that does not exist", "use ids the server announced"),
    "duplicate_item_id": Hint("an item id already taken", "give each item its own id"),
    "conversation_full": Hint(
        "conversation at its item limit", "delete old items, or start a new session"
    ),
    "session_memory_exceeded": Hint(
        "session memory limit reached", "delete old items or audio; start a new session"
    ),
    # model
    "engine_failure": Hint(
        "the model engine failed",
        "read the hint in the message (model file, engine process, upstream); "
        "the prompt is not the cause",
    ),
    "internal_error": Hint(
        "server bug while generating", "report it with this recording; retry the response"
    ),
    "transcription_failed": Hint(
        "input transcription failed", "check the STT engine; the turn went on without text"
    ),
    "rate_limit_exceeded": Hint("rate limited", "back off and retry; check the account's limits"),
    "model_not_found": Hint("model not available", "check the model name in the URL"),
    # tool
    "tool_timeout": Hint(
        "tool call timed out",
        "make the tool faster or raise its timeout; the model was told it timed out",
    ),
    "tool_failed": Hint("tool raised", "fix the tool (its exception is in the message)"),
    "unknown_tool": Hint(
        "model called a tool that is not registered",
        "register the tool, or remove it from the session's tools",
    ),
    "invalid_arguments": Hint(
        "tool arguments unusable", "tighten the tool's JSON schema or its description"
    ),
}

CATEGORY_HINTS: Final[dict[str, Hint]] = {
    "connection": Hint("connection failure", "check the network path, URL and credentials"),
    "protocol": Hint("protocol violation", "fix the event named by event_id and param"),
    "model": Hint("model failure", "check the engine or upstream; not the prompt"),
    "tool": Hint("tool failure", "fix or speed up the tool"),
}

# WebSocket close codes (RFC 6455 and ours) that end a session badly.
CLOSE_HINTS: Final[dict[int, tuple[str, Hint]]] = {
    1001: ("connection", Hint("peer going away", "the server shut down or restarted; reconnect")),
    1006: (
        "connection",
        Hint(
            "dropped without a close frame",
            "network, proxy idle timeout or a crashed peer; enable resume to ride it out",
        ),
    ),
    1008: (
        "connection",
        Hint(
            "closed for policy (e.g. client not reading)",
            "read events promptly; the reason names the limit",
        ),
    ),
    1009: ("connection", Hint("frame too big", "send smaller events")),
    1011: (
        "connection",
        Hint("keepalive timeout or server error", "check the server's log and ping settings"),
    ),
    4000: (
        "protocol",
        Hint("beta API shape refused", "use the GA shapes; `rtagents doctor scan` finds them"),
    ),
}
CLEAN_CLOSES: Final = frozenset({1000})


def hint_for(code: str | None, category: str) -> Hint:
    """The hint for ``code``, else the category's generic one."""
    if code is not None and code in HINTS:
        return HINTS[code]
    return CATEGORY_HINTS.get(category, CATEGORY_HINTS["protocol"])
