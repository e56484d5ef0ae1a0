"""A TCP proxy on loopback that breaks connections on purpose.

Put :class:`FaultProxy` between a client and a server (point the client at
``proxy.port``) and give each new connection a plan of :class:`Fault`\\ s: cut
it (both sides reset), half-close one direction, stall forwarding (for a while
or forever), add latency to every chunk, or split writes into tiny pieces,
each at a byte offset in its direction or at a time after the connection
opened. :class:`RandomFaults` draws plans from a seeded ``random.Random``, so a
chaos run that fails is replayed exactly by its seed. Every connection is also
controllable live (``proxy.connections[-1].cut()``).

Bytes are only moved, never parsed: what a WebSocket peer sees is what a real
network would do to it (RST, FIN, silence, jitter, fragmentation).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from collections.abc import Sequence
from dataclasses import dataclass

from .fault_pipes import ProxiedConnection, reset
from .fault_plan import Direction, Fault, FaultKind

__all__ = ["Direction", "Fault", "FaultKind", "FaultProxy", "RandomFaults"]


@dataclass(kw_only=True)
class RandomFaults:
    """Plans drawn from ``rng``: each connection gets one fault with ``probability``.

    The draws happen in connection order, so the same seed gives the same
    plans for the same sequence of connections.
    """

    rng: random.Random
    probability: float = 0.5
    kinds: Sequence[FaultKind] = ("cut", "stall", "delay", "fragment")
    max_byte: int = 65536
    max_stall_ms: float = 500.0
    max_delay_ms: float = 50.0

    def plan(self) -> list[Fault]:
        if self.rng.random() >= self.probability:
            return []
        kind = self.rng.choice(list(self.kinds))
        direction: Direction = self.rng.choice(["up", "down", "both"])
        at_byte = self.rng.randrange(self.max_byte)
        if kind == "cut":
            return [Fault.cut(at_byte=at_byte, direction=direction)]
        if kind == "half_close":
            return [Fault.half_close(self.rng.choice(["up", "down"]), at_byte=at_byte)]
        if kind == "stall":
            ms = self.rng.uniform(0, self.max_stall_ms)
            return [Fault.stall(ms, direction=direction, at_byte=at_byte)]
        if kind == "delay":
            ms = self.rng.uniform(0, self.max_delay_ms)
            return [Fault.delay(ms, direction=direction, at_byte=at_byte)]
        return [Fault.fragment(self.rng.randint(1, 64), direction=direction, at_byte=at_byte)]


class FaultProxy:
    """Listens on ``host:port`` (0: a free port) and forwards to ``target``.

    Use ``async with FaultProxy(("127.0.0.1", server_port)) as proxy``. Plans
    added with :meth:`plan_next` go to new connections in order; after them,
    ``chaos`` (if given) draws one, else connections run clean.
    """

    def __init__(
        self,
        target: tuple[str, int],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        chaos: RandomFaults | None = None,
    ) -> None:
        self.target = target
        self.host = host
        self.port = port
        self.chaos = chaos
        self.connections: list[ProxiedConnection] = []
        self._plans: list[list[Fault]] = []
        self._server: asyncio.Server | None = None
        self._arrived = asyncio.Condition()

    async def __aenter__(self) -> FaultProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    def plan_next(self, *faults: Fault) -> None:
        """The faults of the next connection not yet planned (none: a clean one)."""
        self._plans.append(list(faults))

    async def connection(self, index: int = -1) -> ProxiedConnection:
        """Connection ``index`` (-1: the latest, the first if none yet), once it exists."""
        async with self._arrived:
            await self._arrived.wait_for(lambda: len(self.connections) > max(index, 0))
        return self.connections[index]

    def url(self, scheme: str = "ws", path: str = "/v1/realtime") -> str:
        return f"{scheme}://{self.host}:{self.port}{path}"

    async def close(self) -> None:
        """Stop listening, reset every connection, and wait for all proxy tasks to end."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for connection in self.connections:
            connection.cut()
        await asyncio.gather(*(c.wait_closed() for c in self.connections))

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        plan = self._plans.pop(0) if self._plans else (self.chaos.plan() if self.chaos else [])
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            reset(writer)
            return
        if self._server is None:  # closed while this connection was being made
            reset(writer)
            reset(up_writer)
            return
        for w in (writer, up_writer):
            with contextlib.suppress(OSError):
                w.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection = ProxiedConnection(
            len(self.connections), (reader, writer), (up_reader, up_writer), plan
        )
        self.connections.append(connection)
        async with self._arrived:
            self._arrived.notify_all()
        await connection.run()
