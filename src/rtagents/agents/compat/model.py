"""``RtagentsRealtimeModel``: openai-agents' ``RealtimeModel`` on the rtagents client session.

openai-agents' WebSocket model does all the translating (its session events,
tool calls, handoffs, playback and interrupts) over one raw WebSocket that
dies for good on the first network error. This model keeps all of that and
swaps only the socket for an rtagents :class:`~rtagents.client.Session` with
reconnect: a dropped connection resumes (or is rebuilt) underneath, events
are validated both ways, and a session that finally fails reports one
classified :class:`~rtagents.protocol.errors.RealtimeError` as the model's
exception event.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any, Literal

from agents.realtime.model import RealtimeModelConfig
from agents.realtime.openai_realtime import OpenAIRealtimeWebSocketModel, TransportConfig

from ...client import Credentials, ReconnectPolicy, Session, TransportOpener, connect
from ...protocol.errors import RealtimeError

log = logging.getLogger("rtagents.agents.compat")


class RtagentsRealtimeModel(OpenAIRealtimeWebSocketModel):
    """Pass as ``RealtimeRunner(agent, model=RtagentsRealtimeModel(...))``.

    ``url`` and ``credentials`` (a key, an ``ek_`` secret, or a callable that
    mints one per connect) default to what the runner's ``model_config`` gives
    (its ``url`` and ``api_key``). ``reconnect`` is on by default.
    """

    def __init__(
        self,
        *,
        url: str | None = None,
        credentials: Credentials | None = None,
        reconnect: ReconnectPolicy | bool = True,
        transport: Literal["websocket", "webrtc"] | TransportOpener = "websocket",
        transport_config: TransportConfig | None = None,
        **connect_options: Any,
    ) -> None:
        super().__init__(transport_config=transport_config)
        self.url = url
        self.credentials = credentials
        self.reconnect = reconnect
        self.transport = transport
        self.connect_options = connect_options
        self.session: Session | None = None
        """The rtagents session of the current connection (reconnects, errors, playback)."""

    async def connect(self, options: RealtimeModelConfig) -> None:
        """As the base class, but our ``credentials`` stand in for its ``api_key``."""
        if self.credentials is not None and options.get("headers") is None:
            options = {**options, "headers": {}}  # the base class then asks for no key
        await super().connect(options)

    async def _create_websocket_connection(  # type: ignore[override]
        self,
        url: str,
        headers: dict[str, str],
        transport_config: TransportConfig | None = None,
    ) -> _SessionSocket:
        """The rtagents session, shaped like the websocket the base class reads and writes."""
        extra = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        credentials = self.credentials
        if credentials is None:
            bearer = headers.get("Authorization") or headers.get("authorization") or ""
            credentials = bearer.removeprefix("Bearer ").strip()
        session = connect(
            self.url or url,
            credentials=credentials,
            model=None if "model=" in (self.url or url) else self.model,
            transport=self.transport,
            headers=extra,
            reconnect=self.reconnect,
            **self.connect_options,
        ).session
        await session.open()
        self.session = session
        return _SessionSocket(session)


class _SessionSocket:
    """``send``/``close``/``async for`` over a client session, JSON text in and out."""

    def __init__(self, session: Session) -> None:
        self.session = session

    async def send(self, payload: str | bytes) -> None:
        """Validated and sent by the session (queued while it reconnects)."""
        await self.session.send(json.loads(payload))

    async def close(self) -> None:
        await self.session.close()

    def __aiter__(self) -> AsyncIterator[str]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[str]:
        async for event in self.session:
            etype = getattr(event, "type", None)
            if isinstance(etype, str) and etype.startswith("rtagents."):
                error = getattr(event, "error", None)
                if etype == "rtagents.failed" and isinstance(error, RealtimeError):
                    raise error  # the base class reports it as the model's exception event
                continue  # reconnecting/resumed/lifecycle: invisible to openai-agents
            yield _as_json(event)


def _as_json(event: Any) -> str:
    raw = getattr(event, "raw", None)
    if isinstance(raw, bytes | bytearray):
        return bytes(raw).decode("utf-8", errors="replace")
    dump = getattr(event, "model_dump_json", None)
    if callable(dump):
        return str(dump(exclude_unset=True))
    data = getattr(event, "data", None)
    return json.dumps(dict(data) if isinstance(data, Mapping) else {"type": "unknown"})
