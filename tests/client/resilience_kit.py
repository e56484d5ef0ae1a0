"""Shared by the reconnect tests: a real server behind a fault proxy, and fast settings."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Any
from urllib.parse import urlsplit

from rtagents.client import ReconnectPolicy
from rtagents.engines.scripted import CallTool, Rule, scripted_engines
from rtagents.server.app import server_state
from rtagents.server.config import ServerConfig
from rtagents.server.host.session_host import SessionHost
from rtagents.server.serving import RunningServer, running_server
from rtagents.testing.faults import FaultProxy
from rtagents.transports.base import Transport
from rtagents.transports.websocket import connect_websocket

TEXT = {"type": "realtime", "output_modalities": ["text"]}
FAST = ReconnectPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, rollover_margin=None)
RULES = [Rule(when=re.compile("weather"), then=CallTool("get_weather", {"city": "Paris"}))]


@asynccontextmanager
async def proxied(**config: Any) -> AsyncIterator[tuple[RunningServer, FaultProxy]]:
    """A scripted rtagents server (``config`` overrides ServerConfig) behind a FaultProxy."""
    engines = scripted_engines(RULES, vad=False)
    async with running_server(ServerConfig(port=0, **config), engines) as server:
        port = urlsplit(server.ws_url).port
        assert port is not None
        async with FaultProxy(("127.0.0.1", port)) as proxy:
            yield server, proxy


async def fast_opener(url: str, headers: Mapping[str, str], open_timeout: float) -> Transport:
    """A WebSocket whose keepalive notices a stalled connection within a second."""
    return await connect_websocket(
        url,
        headers=headers,
        open_timeout=open_timeout,
        ping_interval=0.1,
        ping_timeout=0.3,
        close_timeout=0.1,
    )


def fired_faults(proxy: FaultProxy) -> Counter[str]:
    """Faults whose trigger byte was reached, by kind."""
    fired: Counter[str] = Counter()
    for connection in proxy.connections:
        for fault in connection.plan:
            pipes = [p for p in connection.pipes if fault.direction in ("both", p.name)]
            if any(p.forwarded >= (fault.at_byte or 0) for p in pipes) or connection.was_cut:
                fired[fault.kind] += 1
    return fired


@contextmanager
def replayable(seed: int) -> Iterator[None]:
    """A chaos run that fails says how to replay its fault plans (the seed is random)."""
    try:
        yield
    except BaseException as error:
        error.add_note(f"replay the fault plans with RTAGENTS_CHAOS_SEED={seed}")
        raise


def host_of(server: RunningServer, session_id: str | None) -> SessionHost:
    return next(h for h in server_state(server.app).sessions if h.id == session_id)


async def until(check: Callable[[], bool], what: str, limit_s: float = 10.0) -> None:
    deadline = time.monotonic() + limit_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def items(conversation: Any) -> list[dict[str, Any]]:
    return [item.model_dump(exclude_none=True) for item in conversation.items]
