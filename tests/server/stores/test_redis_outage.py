"""When the shared Redis goes away: sessions go on, requests that need it get 503, never a crash.

A Redis of its own (the other tests share one per module), stopped in the
middle: the live session on node A keeps answering (its log stops, so it can
no longer move), a resume on its own node still works, and what needs Redis
(a mint, a client secret, a resume on node B) is refused 503
``shared_state_unavailable`` or ``secret_store_full`` with Retry-After. Once
Redis is back (empty: no persistence) a resume on B is 404 and the client
rebuilds.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from redis_kit import own_redis  # noqa: F401  (fixture)
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server
from rtagents.testing.redis_server import RedisServer

TIMEOUT_S = 10.0


@pytest.fixture
async def nodes(
    own_redis: RedisServer,  # noqa: F811
) -> AsyncIterator[tuple[RunningServer, RunningServer]]:
    def config() -> ServerConfig:
        return ServerConfig(port=0, redis_url=own_redis.url, redis_node_ttl_s=0.5, api_key="sk-o")

    async with running_server(config()) as node_a, running_server(config()) as node_b:
        yield node_a, node_b


async def open_ws(
    server: RunningServer, headers: dict[str, str], key: str = ""
) -> ClientConnection:
    auth = {"Authorization": f"Bearer {key or server.api_key}"}
    return await connect(
        server.ws_url + "?model=gpt-realtime", additional_headers={**auth, **headers}
    )


async def until(ws: ClientConnection, event_type: str) -> list[str]:
    frames: list[str] = []
    while True:
        frame = await asyncio.wait_for(ws.recv(), TIMEOUT_S)
        assert isinstance(frame, str)
        frames.append(frame)
        if json.loads(frame)["type"] == event_type:
            return frames


def refusal(caught: pytest.ExceptionInfo[InvalidStatus]) -> tuple[int, str]:
    body = json.loads(caught.value.response.body or b"")
    return caught.value.response.status_code, body["error"]["code"]


async def test_a_redis_outage_costs_moving_not_the_session(
    own_redis: RedisServer,  # noqa: F811
    nodes: tuple[RunningServer, RunningServer],
) -> None:
    node_a, node_b = nodes
    async with httpx.AsyncClient() as http:
        minted = await http.post(
            f"{node_a.http_url}/v1/realtime/client_secrets",
            json={},
            headers={"Authorization": f"Bearer {node_a.api_key}"},
        )
    secret = minted.json()["value"]
    ws = await open_ws(node_a, {"X-Rtagents-Resume": "1"})
    token = ws.response.headers["X-Rtagents-Resume-Token"]
    seen = await until(ws, "conversation.created")
    await asyncio.to_thread(own_redis.stop)

    await ws.send(json.dumps({"type": "response.create"}))  # the session goes on
    seen += await until(ws, "response.done")
    assert json.loads(seen[-1])["response"]["status"] == "completed"
    async with httpx.AsyncClient() as http:
        refused_mint = await http.post(
            f"{node_b.http_url}/v1/realtime/client_secrets",
            json={},
            headers={"Authorization": f"Bearer {node_b.api_key}"},
        )
    assert refused_mint.status_code == 503 and "Retry-After" in refused_mint.headers
    with pytest.raises(InvalidStatus) as by_secret:
        await open_ws(node_b, {}, key=secret)
    assert refusal(by_secret) == (503, "shared_state_unavailable")

    ws.transport.abort()
    resume = {"X-Rtagents-Resume-Token": token, "X-Rtagents-Last-Seq": str(len(seen))}
    with pytest.raises(InvalidStatus) as elsewhere:
        await open_ws(node_b, resume)
    assert refusal(elsewhere) == (503, "shared_state_unavailable")  # the client retries
    async with await open_ws(node_a, resume) as again:  # its own node still resumes it
        token = again.response.headers["X-Rtagents-Resume-Token"]
        await again.send(json.dumps({"type": "input_audio_buffer.clear"}))
        cleared = await until(again, "input_audio_buffer.cleared")
        assert json.loads(cleared[-1])["type"] == "input_audio_buffer.cleared"
        again.transport.abort()

    await asyncio.to_thread(own_redis.start)  # back, but empty (no persistence)
    resume["X-Rtagents-Resume-Token"] = token
    with pytest.raises(InvalidStatus) as forgotten:
        await open_ws(node_b, resume)
    assert refusal(forgotten) == (404, "resume_unknown")  # the client rebuilds
