"""Where a session connects to: the URL, and the transport that opens it.

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

TransportOpener: TypeAlias = Callable[[str, Mapping[str, str], float], Awaitable[Transport]]
"""``(url, headers, open_timeout) -> Transport``: how a session opens its pipe."""

_SCHEMES = {"ws": "ws", "wss": "wss", "http": "ws", "https": "wss"}


def realtime_url(url: str, model: str | None = None) -> str:
    """``url`` as a WebSocket URL, with ``model`` in the query unless one is there.

    ``http(s)://`` is accepted and turned into ``ws(s)://``; anything else is a
    :class:`ConnectionFailure` that says what a valid URL looks like.
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
    return urlunsplit((scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


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
