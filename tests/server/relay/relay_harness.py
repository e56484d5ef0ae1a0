"""Two real servers on loopback: an upstream rtagents (scripted engine) and a relay to it.

The upstream speaks GA like the hosted API does, so the relay is tested end to
end offline: real sockets, the real host, codec and transports both sides.
Optionally a :class:`FaultProxy` sits between the relay and the upstream.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from rtagents.engines.base import Engines
from rtagents.server.app import server_state
from rtagents.server.config import ServerConfig
from rtagents.server.host.session_host import SessionHost
from rtagents.server.relay.upstream_settings import UpstreamSettings
from rtagents.server.serving import RunningServer, running_server
from rtagents.testing.faults import FaultProxy

TIMEOUT_S = 20.0


@dataclass
class RelayRig:
    upstream: RunningServer
    relay: RunningServer
    proxy: FaultProxy | None = None
    settings: UpstreamSettings = field(init=False)

    def __post_init__(self) -> None:
        settings = self.relay.config.upstream
        assert settings is not None
        self.settings = settings

    def upstream_hosts(self) -> list[SessionHost]:
        return list(server_state(self.upstream.app).sessions)

    def relay_hosts(self) -> list[SessionHost]:
        return list(server_state(self.relay.app).sessions)


@contextlib.asynccontextmanager
async def relay_rig(
    *,
    upstream_config: ServerConfig | None = None,
    relay_config: ServerConfig | None = None,
    engines: Engines | None = None,
    proxy: bool = False,
    **settings: Any,
) -> AsyncIterator[RelayRig]:
    """An upstream server, maybe a fault proxy before it, and a relay pointed at it."""
    async with running_server(upstream_config or ServerConfig(port=0), engines) as upstream:
        async with contextlib.AsyncExitStack() as stack:
            url = upstream.ws_url
            fault_proxy = None
            if proxy:
                port = int(upstream.http_url.rsplit(":", 1)[1])
                fault_proxy = await stack.enter_async_context(FaultProxy(("127.0.0.1", port)))
                url = fault_proxy.url()
            upstream_settings = UpstreamSettings(
                url=url, api_key=upstream.api_key, backoff_s=0.05, **settings
            )
            config = replace(relay_config or ServerConfig(port=0), upstream=upstream_settings)
            relay = await stack.enter_async_context(running_server(config))
            yield RelayRig(upstream, relay, fault_proxy)


async def until(condition: Callable[[], bool], what: str, limit_s: float = TIMEOUT_S) -> None:
    """Wait (following progress on the loop) until ``condition()`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
