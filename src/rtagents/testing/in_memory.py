"""A client ``Session`` joined to a server session host in memory: no socket, no port, no HTTP.

Like h11's ``ConnectionPair``: both real ends of a Realtime session, the
client SDK's :class:`~rtagents.client.Session` and the server's
:class:`~rtagents.server.host.session_host.SessionHost` with its local
pipeline, talk over :func:`~rtagents.transports.memory.memory_pair`. The
engines are the scripted ones unless given, so a test is deterministic and
fast; everything but the socket is the production code. What the socket
itself does (the handshake, auth, headers, resume over the wire, WebRTC)
needs a real server (:func:`rtagents.server.serving.running_server`).

Each time the client opens a connection (the first time, and on every
reconnect) a fresh memory link and a fresh host are made; :meth:`SessionPair.drop`
cuts the current link the way a network does, so reconnects can be tested
without sockets too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..client import ReconnectPolicy, Session, connect
from ..engines.base import Engines
from ..server.app import create_app, server_state
from ..server.config import ServerConfig
from ..server.host.session_host import SessionHost
from ..server.local.pipeline import local_backend
from ..server.local.session_config import SessionConfig
from ..server.state import ServerState
from ..transports.base import NORMAL_CLOSURE
from ..transports.memory import MemoryTransport, memory_pair

MEMORY_URL = "ws://memory.invalid/v1/realtime"
"""The URL the client is given; nothing resolves it, the opener answers in memory."""
HOST_END_TIMEOUT_S = 10.0


@dataclass
class SessionPair:
    """The two ends of one in-memory Realtime session, and the server they share."""

    client: Session
    state: ServerState
    hosts: list[SessionHost] = field(default_factory=list)
    """Every host the client connected to, oldest first (one per connection)."""
    links: list[MemoryTransport] = field(default_factory=list)
    """The client's end of each connection, oldest first."""

    @property
    def host(self) -> SessionHost:
        """The host of the current (latest) connection."""
        return self.hosts[-1]

    @property
    def config(self) -> ServerConfig:
        return self.state.config

    def drop(self) -> None:
        """Cut the current connection as a network would (both ends see 1006)."""
        self.links[-1].abort()


class MemoryServer:
    """Opens sessions into ``state`` with no socket: a memory link, a new host on its far end.

    :meth:`open` is a client transport opener (``(url, headers, open_timeout)``);
    raw-protocol tests call it directly and speak events over the link it returns.
    """

    def __init__(self, state: ServerState, max_queue: int = 0) -> None:
        self.state = state
        self.max_queue = max_queue
        self.hosts: list[SessionHost] = []
        self.links: list[MemoryTransport] = []
        self.runs: list[asyncio.Task[None]] = []

    async def open(
        self,
        url: str = MEMORY_URL,
        headers: Mapping[str, str] | None = None,
        open_timeout: float = 0,
    ) -> MemoryTransport:
        """A new session: the client's end of its link (its host runs until the link closes)."""
        client_end, server_end = memory_pair(max_queue=self.max_queue)
        backend = local_backend(self.state, self._initial_config(url))
        host = SessionHost(server_end, self.state.config, backend, roster=self.state.sessions)
        self.hosts.append(host)
        self.links.append(client_end)
        self.runs.append(asyncio.create_task(host.run(), name=f"{host.id}-memory-host"))
        return client_end

    def _initial_config(self, url: str) -> SessionConfig:
        """As the WebSocket endpoint picks it: ``?model=`` and ``?intent=transcription``."""
        query = parse_qs(urlsplit(url).query)
        model = query.get("model", [None])[0] or self.state.config.model
        intent = query.get("intent", [None])[0]
        return SessionConfig.initial(
            "transcription" if intent == "transcription" else "realtime",
            model,
            vad_available=self.state.vad_available,
        )

    async def close(self) -> None:
        """Close every link this server opened, wait for its hosts; re-raise a host's crash."""
        for link in self.links:
            await link.close(NORMAL_CLOSURE, "memory server closed")
        if not self.runs:
            return
        done, pending = await asyncio.wait(self.runs, timeout=HOST_END_TIMEOUT_S)
        for run in pending:
            run.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for run in done:
            error = None if run.cancelled() else run.exception()
            if error is not None:
                raise error


@contextlib.asynccontextmanager
async def session_pair(
    *,
    engines: Engines | None = None,
    config: ServerConfig | None = None,
    session: Mapping[str, Any] | None = None,
    model: str | None = None,
    reconnect: ReconnectPolicy | bool | None = None,
    stall_timeout: float | None = 30.0,
    max_queue: int = 0,
    **connect_options: Any,
) -> AsyncIterator[SessionPair]:
    """Open a client session on an in-memory server; close both on exit.

    ``engines`` default to :func:`~rtagents.testing.scripted_engines`;
    ``config`` is the server's (its ``clock``/``sleep`` take a
    :class:`~rtagents.testing.FakeClock`); ``session``, ``model``,
    ``reconnect``, ``stall_timeout`` and ``connect_options`` go to
    :func:`rtagents.connect`. ``max_queue`` > 0 bounds each direction of the
    link (backpressure), as a socket's buffers would.
    """
    server_config = config if config is not None else ServerConfig(port=0)
    state = server_state(create_app(server_config, engines))
    server = MemoryServer(state, max_queue)
    connector = connect(
        MEMORY_URL,
        credentials=server_config.effective_api_key or "sk-memory",
        model=model,
        session=session,
        transport=server.open,
        reconnect=reconnect,
        stall_timeout=stall_timeout,
        **connect_options,
    )
    try:
        async with connector as client:
            yield SessionPair(client, state, server.hosts, server.links)
    finally:
        await server.close()
