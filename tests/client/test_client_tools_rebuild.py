"""Tool calls across a rebuild: each call in the conversation ends with exactly one output.

A real scripted server behind a fault proxy; the client cannot resume
(``resume=False``), so every drop is a rebuild on a fresh server session.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from resilience_kit import fast_opener, host_of, proxied, until

from rtagents import connect
from rtagents.client import ReconnectPolicy, Session
from rtagents.engines.scripted import CallTool, Rule, scripted_engines
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server
from rtagents.testing.faults import FaultProxy

WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}}
TEXT = {"type": "realtime", "output_modalities": ["text"]}
# A slow first retry gives the tool time to finish while no connection is current.
SLOW_REBUILD = ReconnectPolicy(
    max_attempts=6, base_delay=0.4, max_delay=0.4, rollover_margin=None, resume=False
)


def _outputs(items: Any, call_id: str) -> int:
    return sum(1 for i in items if i.type == "function_call_output" and i.call_id == call_id)


async def test_an_output_queued_while_disconnected_lands_once_after_a_rebuild() -> None:
    release = asyncio.Event()
    async with proxied() as (server, proxy):
        session: Session
        async with connect(
            proxy.url(),
            credentials=server.api_key,
            session=TEXT,
            reconnect=SLOW_REBUILD,
            transport=fast_opener,
        ) as session:
            rebuilt: list[bool] = []
            session.on("rtagents.resumed", lambda e: rebuilt.append(e.rebuilt))

            @session.tools.register(parameters=WEATHER)
            async def get_weather(city: str) -> str:
                await release.wait()
                return f"sunny in {city}"

            await session.update_session({"type": "realtime", "tools": session.tools.definitions()})
            await session.send_text("weather please")
            await session.create_response()
            await until(lambda: session.tools.running == 1, "the tool to start")
            (await proxy.connection()).cut()
            await until(lambda: session.connection is None, "the drop to be noticed")
            release.set()  # the output is sent while no connection is current
            await until(lambda: rebuilt == [True], "the rebuild")
            [call_id] = [i.call_id for i in session.conversation.items if i.type == "function_call"]
            await until(lambda: _outputs(session.conversation.items, call_id) >= 1, "the output")
            await session.send_text("hello again")
            await session.create_response()
            await session.wait_for("response.done", timeout=10)
            host = host_of(server, session.session_id)
            assert _outputs(host.conversation.items, call_id) == 1
            assert _outputs(session.conversation.items, call_id) == 1
            assert list(session.tools.runs.values()) == [1]


@asynccontextmanager
async def _slow_call_server() -> AsyncIterator[tuple[RunningServer, FaultProxy]]:
    """A scripted server whose model streams a call's arguments a second apart."""
    slow = CallTool("get_weather", {"city": "Paris"}, token_delay_s=1.0)
    engines = scripted_engines([Rule(when=re.compile("weather"), then=slow)], vad=False)
    async with running_server(ServerConfig(port=0), engines) as server:
        port = urlsplit(server.ws_url).port
        assert port is not None
        async with FaultProxy(("127.0.0.1", port)) as proxy:
            yield server, proxy


async def test_a_call_cut_short_by_a_lost_session_is_answered_not_run() -> None:
    fast_rebuild = ReconnectPolicy(
        max_attempts=6, base_delay=0.01, max_delay=0.05, rollover_margin=None, resume=False
    )
    async with _slow_call_server() as (server, proxy):
        async with connect(
            proxy.url(),
            credentials=server.api_key,
            session=TEXT,
            reconnect=fast_rebuild,
            transport=fast_opener,
        ) as session:
            rebuilt: list[bool] = []
            session.on("rtagents.resumed", lambda e: rebuilt.append(e.rebuilt))
            calls: list[str] = []
            session.on(
                "response.output_item.added",
                lambda e: calls.append(e.item.call_id) if e.item.type == "function_call" else None,
            )

            @session.tools.register(parameters=WEATHER)
            async def get_weather(city: str) -> str:
                return f"sunny in {city}"

            await session.update_session({"type": "realtime", "tools": session.tools.definitions()})
            await session.send_text("weather please")
            await session.create_response()
            await until(lambda: bool(calls), "the call to start streaming")
            (await proxy.connection()).cut()  # its arguments are not complete yet
            await until(lambda: rebuilt == [True], "the rebuild")
            [call_id] = calls
            await until(lambda: _outputs(session.conversation.items, call_id) == 1, "the answer")
            host = host_of(server, session.session_id)
            await until(lambda: _outputs(host.conversation.items, call_id) == 1, "the server")
            [output] = [i for i in session.conversation.items if i.type == "function_call_output"]
            assert "interrupted" in output.output and "did not run" in output.output
            assert dict(session.tools.runs) == {}
