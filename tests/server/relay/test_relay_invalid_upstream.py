"""An upstream newer than this server: unknown events pass, an unreadable response.done ends.

The upstream here is a few lines of ``websockets`` that speak just enough GA
to open a session and then send what no rtagents server would: a
``response.done`` with a status the schema does not know (an upstream whose
schema moved on). The relay must not pass on what it cannot read, and must
not leave the client's response hanging either.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

from server_harness import session
from websockets.asyncio.server import ServerConnection, serve

from rtagents.server.config import ServerConfig
from rtagents.server.relay.response_failure import INVALID_CODE
from rtagents.server.relay.upstream_settings import UpstreamSettings
from rtagents.server.serving import running_server

CREATED = {
    "type": "session.created",
    "event_id": "up_1",
    "session": {"type": "realtime", "id": "sess_up", "object": "realtime.session"},
}
RESPONSE = {"id": "resp_up", "object": "realtime.response"}


NEW_KIND = {"type": "session.something_new", "event_id": "up_new", "detail": {"n": 1}}


async def _drifted_upstream(connection: ServerConnection) -> None:
    await connection.send(json.dumps(CREATED))
    await connection.send(json.dumps(NEW_KIND))  # right away: it must follow the greeting
    async for message in connection:
        if json.loads(message).get("type") == "response.create":
            created = {"type": "response.created", "event_id": "up_2", "response": RESPONSE}
            await connection.send(
                json.dumps({**created, "response": {**RESPONSE, "status": "in_progress"}})
            )
            done = {"type": "response.done", "event_id": "up_3"}
            await connection.send(json.dumps({**done, "response": {**RESPONSE, "status": "new"}}))


@asynccontextmanager
async def _upstream() -> AsyncIterator[str]:
    async with serve(_drifted_upstream, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/v1/realtime"


async def test_an_unreadable_response_done_ends_the_response_as_failed() -> None:
    async with _upstream() as url:
        settings = UpstreamSettings(url=url, api_key="sk-upstream")
        config = replace(ServerConfig(port=0), upstream=settings)
        async with running_server(config) as relay, session(relay, greet=False) as client:
            assert (await client.recv()).type == "session.created"
            assert (await client.recv()).type == "conversation.created"
            passed_on = await asyncio.wait_for(client.recv_raw(), 10)
            assert json.loads(passed_on) == NEW_KIND  # passed on as it came
            await client.send({"type": "response.create"})
            created = await client.recv()
            assert created.type == "response.created"
            done = await client.recv()
            assert done.type == "response.done"
            assert done.response.id == created.response.id == "resp_up"
            assert done.response.status == "failed"
            assert done.response.status_details.error.code == INVALID_CODE
            await client.send({"type": "response.create"})  # no longer active: accepted again
            assert (await client.recv()).type == "response.created"
