"""A sideband on another node: the call's media on node A, its sideband WebSocket on node B.

Two in-process servers share one real Redis (``--redis``); the call is a real
aiortc peer connection to A. B finds A in the call registry and bridges the
sideband to it over Redis pub/sub (server/stores/redis_calls.py): the
sideband sees the call's events and steers the call as on A itself, and
learns when the call ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from redis_kit import redis_server, redis_url  # noqa: F401  (fixtures)
from webrtc_peer import RawCall
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from rtagents.engines.scripted import scripted_engines
from rtagents.protocol.codec import decode_server_event, encode_event
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server
from rtagents.testing.redis_server import RedisServer
from rtagents.testing.server_process import ServerProcess

PTT = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}


@pytest.fixture
async def nodes(redis_url: str) -> AsyncIterator[tuple[RunningServer, RunningServer]]:  # noqa: F811
    def config() -> ServerConfig:
        return ServerConfig(port=0, webrtc_loopback=True, redis_url=redis_url, api_key="sk-n")

    async with (
        running_server(config(), scripted_engines()) as node_a,
        running_server(config(), scripted_engines()) as node_b,
    ):
        yield node_a, node_b


@pytest.fixture
async def call(nodes: tuple[RunningServer, RunningServer]) -> AsyncIterator[RawCall]:
    opened = await RawCall.open(nodes[0], session=PTT)
    await opened.until("conversation.created")
    try:
        yield opened
    finally:
        await opened.close()


async def _next(ws: object, event_type: str) -> object:
    while True:
        event = decode_server_event(await asyncio.wait_for(ws.recv(), 10))  # type: ignore[attr-defined]
        if event.type == event_type:  # type: ignore[union-attr]
            return event


async def _attached(node_a: RunningServer, call_id: str) -> None:
    """Until the call's node counts the bridged sideband among the call's sidebands."""
    live = node_a.app.state.rtagents.calls[call_id]
    for _ in range(500):
        if live.transport is not None and live.transport.sidebands:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the remote sideband never attached")


async def test_a_sideband_on_another_node_sees_the_call_and_steers_it(
    nodes: tuple[RunningServer, RunningServer], call: RawCall
) -> None:
    node_a, node_b = nodes
    assert call.call_id not in node_b.app.state.rtagents.calls  # the media is on A only
    headers = {"Authorization": f"Bearer {node_b.api_key}"}
    url = f"{node_b.ws_url}?call_id={call.call_id}"
    async with connect(url, additional_headers=headers) as ws:
        await _attached(node_a, call.call_id)
        update = {"type": "session.update", "session": {**PTT, "instructions": "From node B."}}
        await ws.send(encode_event(update))
        on_sideband = await _next(ws, "session.updated")
        on_call = (await call.until("session.updated"))[-1]
        assert on_call.session.instructions == "From node B."
        assert on_sideband.session.instructions == on_call.session.instructions  # type: ignore[attr-defined]
        await call.send({"type": "conversation.item.create", "item": _user_text("hi")})
        added = await _next(ws, "conversation.item.added")
        assert added.item.content[0].text == "hi"  # type: ignore[attr-defined]
        await ws.send(encode_event({"type": "response.create"}))
        done = await _next(ws, "response.done")
        assert done.response.status == "completed"  # type: ignore[attr-defined]
        assert (await call.until("response.done"))[-1].response.id == done.response.id  # type: ignore[attr-defined]
        async with httpx.AsyncClient() as http:
            await http.post(
                f"{node_a.http_url}/v1/realtime/calls/{call.call_id}/hangup", headers=headers
            )
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
    assert closed.value.rcvd.reason == "call ended: the call was hung up"


async def test_closing_a_remote_sideband_leaves_the_call_running(
    nodes: tuple[RunningServer, RunningServer], call: RawCall
) -> None:
    node_a, node_b = nodes
    headers = {"Authorization": f"Bearer {node_b.api_key}"}
    async with connect(f"{node_b.ws_url}?call_id={call.call_id}", additional_headers=headers):
        await _attached(node_a, call.call_id)
    live = node_a.app.state.rtagents.calls[call.call_id]
    for _ in range(500):  # the detach reaches A
        if not live.transport.sidebands:
            break
        await asyncio.sleep(0.01)
    assert not live.transport.sidebands
    await call.send({"type": "conversation.item.create", "item": _user_text("still here")})
    assert (await call.until("conversation.item.done"))[-1].item.content[0].text == "still here"


async def test_a_call_no_node_holds_is_refused_before_accept(
    nodes: tuple[RunningServer, RunningServer],
) -> None:
    node_b = nodes[1]
    headers = {"Authorization": f"Bearer {node_b.api_key}"}
    with pytest.raises(InvalidStatus) as unknown:
        async with connect(f"{node_b.ws_url}?call_id=rtc_nobody", additional_headers=headers):
            pass
    assert unknown.value.response.status_code == 404


def _user_text(text: str) -> dict[str, object]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


async def test_across_processes_a_sideband_on_b_steers_a_call_on_a(
    tmp_path: Path,
    redis_server: RedisServer,  # noqa: F811
) -> None:
    """The same with two ``rtagents serve --redis`` processes: the bridge crosses processes."""
    args = ["--redis", redis_server.url, "--webrtc-loopback"]
    with (
        ServerProcess(tmp_path / "a.log", api_key="sk-p", args=args) as node_a,
        ServerProcess(tmp_path / "b.log", api_key="sk-p", args=args) as node_b,
    ):
        call = await RawCall.open(node_a, session=PTT)  # type: ignore[arg-type]
        try:
            await call.until("conversation.created")
            headers = {"Authorization": f"Bearer {node_b.api_key}"}
            url = f"{node_b.ws_url}?call_id={call.call_id}"
            async with connect(url, additional_headers=headers) as ws:
                update = {"type": "session.update", "session": {**PTT, "instructions": "B"}}
                # sent at once: the bridge attaches before it relays (pub/sub keeps order)
                await ws.send(encode_event(update))
                on_sideband = await _next(ws, "session.updated")
                assert on_sideband.session.instructions == "B"  # type: ignore[attr-defined]
                on_call = (await call.until("session.updated"))[-1]
                assert on_call.session.instructions == "B"
        finally:
            await call.close()
        for node in (node_a, node_b):
            assert node.crash_lines() == [], node.crash_report()
