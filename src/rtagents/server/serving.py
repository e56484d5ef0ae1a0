"""Run the server inside the current event loop (tests, embedding, the demo).

``running_server`` binds a socket itself (port 0 picks a free port), starts
uvicorn on it in this loop, waits until it accepts connections, and on exit
closes every open session with 1001 before uvicorn shuts down, so nothing is
left running and no warning is printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette

from ..engines.base import Engines
from ..transports.base import GOING_AWAY
from .app import create_app, server_state
from .config import ServerConfig
from .uvicorn_protocols import PromptCloseWebSocketProtocol, http_protocol

_STARTUP_POLL_S = 0.005
_TICK_S = 0.1  # uvicorn's housekeeping tick (the Date header)
_SHUTDOWN_GRACE_S = 5.0


@dataclass
class RunningServer:
    """Where a running server listens, and how to authenticate to it."""

    http_url: str
    ws_url: str
    api_key: str
    app: Starlette
    config: ServerConfig


class _InLoopServer(uvicorn.Server):
    """uvicorn embedded in a running loop.

    No signal handlers (the embedding program owns signals), and a prompt
    stop: uvicorn's own loop polls for exit every 100 ms and its shutdown
    waits in 100 ms steps, which adds up over a test suite.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._exit_requested = asyncio.Event()

    def request_exit(self) -> None:
        self.should_exit = True
        self._exit_requested.set()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864_000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._exit_requested.wait(), _TICK_S)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for listener in self.servers:
            listener.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        deadline = asyncio.get_running_loop().time() + _SHUTDOWN_GRACE_S
        state = self.server_state
        # uvicorn offers no event for "all connections gone": poll its sets.
        while (state.connections or state.tasks) and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(_STARTUP_POLL_S)
        lingering = list(state.tasks)
        for task in lingering:
            task.cancel()
        await asyncio.gather(*lingering, return_exceptions=True)
        for listener in self.servers:
            await listener.wait_closed()


@contextlib.asynccontextmanager
async def running_server(
    config: ServerConfig | None = None, engines: Engines | None = None
) -> AsyncIterator[RunningServer]:
    """Serve on ``config.host:config.port`` (port 0 by default) until the block exits."""
    config = config if config is not None else ServerConfig(port=0)
    app = create_app(config, engines)
    # IPPROTO_TCP, not 0: accepted sockets inherit it, and asyncio turns Nagle
    # off (TCP_NODELAY) only on sockets that say TCP. With Nagle on, the second
    # of two events sent back to back waited for the peer's delayed ACK (~40 ms).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if config.reuse_port:  # --workers: the kernel spreads connections over the siblings
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((config.host, config.port))
        port = sock.getsockname()[1]
        # --redis: checked before the port listens. A node that cannot share its
        # state must not take connections first (with --workers the kernel would
        # hand it some) and then exit.
        await server_state(app).start_shared()
        try:
            server = _uvicorn(app, config)
            task = asyncio.create_task(server.serve(sockets=[sock]), name="rtagents-uvicorn")
            warmup = server_state(app).warmup
            try:
                await _until_started(server, task)
                warmup.start()  # lifespan is off here; the port is already open
                base = f"{config.host}:{port}"
                yield RunningServer(
                    http_url=f"http://{base}",
                    ws_url=f"ws://{base}/v1/realtime",
                    api_key=config.effective_api_key,
                    app=app,
                    config=config,
                )
            finally:
                await warmup.stop()
                await server_state(app).close_all(GOING_AWAY, "server shutting down")
                server.request_exit()
                await task
        finally:
            await server_state(app).close_shared()
            await asyncio.to_thread(config.telemetry.shutdown)  # flush buffered spans
    finally:
        sock.close()


def _uvicorn(app: Starlette, config: ServerConfig) -> _InLoopServer:
    return _InLoopServer(
        uvicorn.Config(
            app,
            # h11 and websockets-sansio, with a header read timeout and closes
            # that never wait on a client that stopped reading.
            http=http_protocol(config.limits.header_read_timeout_s),
            ws=PromptCloseWebSocketProtocol,
            ws_max_size=config.limits.frame_bytes,
            ws_ping_interval=None,
            lifespan="off",
            log_config=None,
            access_log=False,
        )
    )


async def _until_started(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    while not server.started:
        if task.done():
            task.result()  # re-raise why it could not start
            raise RuntimeError("uvicorn stopped before it started serving")
        await asyncio.sleep(_STARTUP_POLL_S)
