"""One upstream session's WebSocket: client events out as JSON, server events in decoded.

The transport is the project's own WebSocket transport and the codec its own,
so an upstream that closes, drops or sends garbage surfaces here as the same
:class:`TransportClosed` / :class:`InvalidEvent` the client SDK sees.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from ...protocol.codec import Decoded, UnknownEvent, decode_server_event, encode_event
from ...protocol.errors import ConnectionFailure
from ...transports.base import NORMAL_CLOSURE, Transport
from ...transports.websocket import connect_websocket
from .upstream_settings import UpstreamSettings

DIAL_FAILURES = (ConnectionFailure, OSError)  # TransportClosed is a ConnectionFailure


class UpstreamLink:
    """An open upstream session: ``send`` client events, ``recv`` decoded server events."""

    def __init__(self, transport: Transport, number: int) -> None:
        self.transport = transport
        self.number = number  # 1 for the first upstream session of a relayed session

    @classmethod
    async def open(
        cls, settings: UpstreamSettings, model: str | None, number: int, intent: str | None = None
    ) -> UpstreamLink:
        """Dial the upstream with the server-held key (raises ConnectionFailure on failure)."""
        transport = await connect_websocket(
            settings.session_url(model, intent),
            headers={"Authorization": f"Bearer {settings.api_key}"},
            open_timeout=settings.open_timeout_s,
            close_timeout=settings.close_timeout_s,
            compression="deflate" if settings.compress else None,
        )
        return cls(transport, number)

    @property
    def closed(self) -> bool:
        return self.transport.closed

    async def send(self, event: BaseModel | UnknownEvent | Mapping[str, Any]) -> None:
        await self.transport.send(encode_event(event))

    async def send_text(self, text: str) -> None:
        await self.transport.send(text)

    async def recv(self) -> Decoded:
        """The next server event (a binary frame decodes to an InvalidEvent naming it)."""
        return decode_server_event(await self.transport.recv())

    async def close(self, reason: str) -> None:
        await self.transport.close(NORMAL_CLOSURE, reason)
