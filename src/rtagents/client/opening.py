"""Where a session connects to: the URL, the transport that opens it, and the dialer.

The same URL forms work for OpenAI and for rtagents (only host and key
differ): ``wss://api.openai.com/v1/realtime`` or
``ws://127.0.0.1:8000/v1/realtime``, with ``?model=…`` added when asked for.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TypeAlias
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..protocol.errors import ConnectionFailure, Origin
from ..transports.base import Transport
from .credentials import Credentials, resolve_credentials
from .resume_ticket import TOKEN

TransportOpener: TypeAlias = Callable[[str, Mapping[str, str], float], Awaitable[Transport]]
"""``(url, headers, open_timeout) -> Transport``: how a session opens its pipe."""

_SCHEMES = {"ws": "ws", "wss": "wss", "http": "ws", "https": "wss"}


def realtime_url(url: str, model: str | None = None, *, call_id: str | None = None) -> str:
    """``url`` as a WebSocket URL, with ``model`` (or ``call_id``) in the query unless there.

    ``http(s)://`` is accepted and turned into ``ws(s)://``; anything else is a
    :class:`ConnectionFailure` that says what a valid URL looks like.
    ``call_id`` makes it a sideband URL (``?call_id=rtc_…``) attached to a call.
    """
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise _invalid(url, str(exc)) from exc
    scheme = _SCHEMES.get(parts.scheme.lower())
    if scheme is None or not parts.netloc:
        raise _invalid(url, "it needs a ws://, wss://, http:// or https:// scheme and a host")
    query = parse_qsl(parts.query, keep_blank_values=True)
    if model is not None and not any(key == "model" for key, _ in query):
        query.append(("model", model))
    if call_id is not None and not any(key == "call_id" for key, _ in query):
        query.append(("call_id", call_id))
    return urlunsplit((scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def sideband_call_id(url: str) -> str | None:
    """The call a sideband URL attaches to (its ``call_id`` query), or None."""
    for key, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        if key == "call_id":
            return value
    return None


def _invalid(url: str, why: str) -> ConnectionFailure:
    return ConnectionFailure(
        f"{url!r} is not a Realtime URL: {why} "
        "(for example wss://api.openai.com/v1/realtime or ws://127.0.0.1:8000/v1/realtime)",
        origin=Origin.LOCAL,
        code="invalid_url",
    )


async def open_transport(url: str, headers: Mapping[str, str], open_timeout: float) -> Transport:
    """The default opener: a WebSocket."""
    from ..transports.websocket import connect_websocket

    return await connect_websocket(url, headers=headers, open_timeout=open_timeout)


class Dialer:
    """How one session reaches its server: URL, credentials, headers and opener.

    Every dial that opens a new server session resolves the credentials
    again, so a callable that mints an ``ek_`` secret is asked for a fresh
    one on each connect and rebuild. A resume (a dial carrying a resume
    token) presents the key that opened the session instead: an rtagents
    server resumes a session only for the credential that opened it.
    """

    def __init__(
        self,
        url: str,
        *,
        credentials: Credentials,
        headers: Mapping[str, str] | None = None,
        opener: TransportOpener = open_transport,
        open_timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.credentials = credentials
        self.headers = dict(headers or {})
        self.opener = opener
        self.open_timeout = open_timeout
        # The key of the last dial that opened a new server session.
        self.session_key: str | None = None

    async def dial(
        self, extra: Mapping[str, str], *, authenticated: Callable[[], object] | None = None
    ) -> Transport:
        """A new transport, with ``extra`` handshake headers; ``authenticated`` is called
        once the credentials resolved (before the transport is opened)."""
        resuming = TOKEN in extra and self.session_key is not None
        if resuming and self.session_key is not None:
            key = self.session_key
        else:
            key = await resolve_credentials(self.credentials)
        if authenticated is not None:
            authenticated()
        headers = {**self.headers, **extra, "Authorization": f"Bearer {key}"}
        transport = await self.opener(self.url, headers, self.open_timeout)
        if not resuming:
            self.session_key = key
        return transport
