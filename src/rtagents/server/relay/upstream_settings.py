"""Where the relay's upstream is and how it is reached: URL, key, timeouts, rebuild budget.

``rtagents serve --upstream URL`` builds one :class:`UpstreamSettings` (the
key comes from ``RTAGENTS_UPSTREAM_API_KEY``); it is held on
``ServerConfig.upstream``, and every session of the server is then answered
by a :class:`~.relay_backend.RelayBackend` instead of the local engines.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

API_KEY_ENV = "RTAGENTS_UPSTREAM_API_KEY"
_SCHEMES = {"ws": "ws", "wss": "wss", "http": "ws", "https": "wss"}


class UpstreamUrlError(ValueError):
    """``--upstream`` is not a Realtime WebSocket URL."""


@dataclass(frozen=True, kw_only=True)
class UpstreamSettings:
    """How every relayed session reaches the upstream server."""

    url: str  # e.g. wss://api.openai.com/v1/realtime, or another rtagents' ws URL
    api_key: str
    open_timeout_s: float = 10.0
    # Closing an upstream waits this long for its close frame (a silent one must not
    # hold up the rebuild that replaces it).
    close_timeout_s: float = 1.0
    # permessage-deflate on the upstream hop. Off by default: it costs the gateway CPU on
    # every event (one process relaying on loopback: ~450 instead of ~700 us per
    # retrieve round trip, docs/relay.md) while audio, most of the bytes, is base64
    # that deflate shrinks little. Turn it on for a thin link.
    compress: bool = False
    # A rebuilt upstream must answer each replayed event within this.
    ack_timeout_s: float = 10.0
    # The upstream session is rolled over this long before its expires_at (the
    # hosted cap is 60 minutes), at the first moment no response is running.
    rollover_margin_s: float = 120.0
    # Dials after a drop before the downstream session is closed (1011), with
    # waits of backoff_s, 2*backoff_s... up to 8 s between them.
    rebuild_tries: int = 5
    backoff_s: float = 0.25
    # Client events held while the upstream is being rebuilt (past it: refused).
    pending_bytes: int = 8 * 2**20

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if _SCHEMES.get(parts.scheme.lower()) is None or not parts.netloc:
            raise UpstreamUrlError(
                f"--upstream {self.url!r} is not a Realtime URL: it needs a ws://, wss://, "
                "http:// or https:// scheme and a host (for example "
                "wss://api.openai.com/v1/realtime)"
            )
        if not self.api_key:
            raise UpstreamUrlError(
                f"relay mode needs the upstream's API key in {API_KEY_ENV} (it is never "
                "sent to clients; they get this server's own ephemeral secrets)"
            )

    def session_url(self, model: str | None, intent: str | None = None) -> str:
        """The WebSocket URL of one upstream session: ``?model=`` unless the URL has one, and
        ``intent=transcription`` for a transcription session."""
        parts = urlsplit(self.url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        if model and not any(key == "model" for key, _ in query):
            query.append(("model", model))
        if intent and not any(key == "intent" for key, _ in query):
            query.append(("intent", intent))
        scheme = _SCHEMES[parts.scheme.lower()]
        return urlunsplit((scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))
