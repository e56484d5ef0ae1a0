"""Resume on another node (two in-process servers, one real Redis), with a raw client.

Node A's "death" here is its liveness stopping (heartbeat cancelled, key
gone) while its process, and the session's host in it, live on: so these
tests also pin the fencing, since A must stop sending once B owns the session.
The kill -9 version, with real processes, is tests/server/test_cross_node_kill.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from redis_kit import redis_server, redis_url  # noqa: F401  (fixtures)
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from rtagents.engines.scripted import Rule, Say, scripted_engines
from rtagents.server.app import server_state
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server
from rtagents.server.stores import redis_takeover
from rtagents.server.stores.redis_resume import MirroredFrameLog, SharedResumeRegistry

TIMEOUT_S = 10.0
PUSH_TO_TALK = {"audio": {"input": {"turn_detection": None}}}
LONG = " ".join(f"word{i}" for i in range(150))  # streams for over a second
RULES = [Rule(when="slowly", then=Say(LONG, token_delay_s=0.01))]


@pytest.fixture
async def nodes(redis_url: str) -> AsyncIterator[tuple[RunningServer, RunningServer]]:  # noqa: F811
    def config() -> ServerConfig:
        return ServerConfig(
            port=0, resume_grace_s=30, redis_url=redis_url, redis_node_ttl_s=0.5, api_key="sk-x"
        )

    async with (
        running_server(config(), scripted_engines(RULES)) as node_a,
        running_server(config(), scripted_engines(RULES)) as node_b,
    ):
        yield node_a, node_b


async def open_ws(server: RunningServer, headers: Mapping[str, str]) -> ClientConnection:
    all_headers = {"Authorization": f"Bearer {server.api_key}", **headers}
    return await connect(
        server.ws_url + "?model=gpt-realtime", additional_headers=all_headers, open_timeout=10
    )


async def until(ws: ClientConnection, event_type: str, into: list[str]) -> None:
    while True:
        frame = await asyncio.wait_for(ws.recv(), TIMEOUT_S)
        assert isinstance(frame, str)
        into.append(frame)
        if json.loads(frame)["type"] == event_type:
            return


def user_text(text: str) -> str:
    content = [{"type": "input_text", "text": text}]
    item = {"type": "message", "role": "user", "content": content}
    return json.dumps({"type": "conversation.item.create", "item": item})


async def stop_liveness(server: RunningServer) -> None:
    """The node stops renewing its liveness key and the key goes: to others it is dead."""
    shared = server_state(server.app).shared
    assert shared is not None and shared._heartbeat is not None
    shared._heartbeat.cancel()
    await asyncio.gather(shared._heartbeat, return_exceptions=True)
    # A renewal sent just before the cancel travels on another pooled connection
    # and may reach Redis after the first delete (seen from a fresh clone on a
    # busy machine: the node still looked live); the second delete comes later.
    key = shared.node_key(shared.node_id)
    await shared.redis.delete(key)
    await asyncio.sleep(0.05)
    await shared.redis.delete(key)


def types(frames: list[str]) -> list[str]:
    return [json.loads(frame)["type"] for frame in frames]


async def test_a_session_resumes_on_another_node_with_nothing_lost_or_twice(
    nodes: tuple[RunningServer, RunningServer],
) -> None:
    node_a, node_b = nodes
    ws = await open_ws(node_a, {"X-Rtagents-Resume": "1"})
    token = ws.response.headers["X-Rtagents-Resume-Token"]
    session_id = ws.response.headers["X-Rtagents-Session-Id"]
    seen: list[str] = []
    await until(ws, "conversation.created", seen)
    session = {"type": "realtime", "instructions": "Be brief.", **PUSH_TO_TALK}
    await ws.send(json.dumps({"type": "session.update", "session": session}))
    await ws.send(user_text("hello there"))
    await ws.send(json.dumps({"type": "response.create"}))
    await until(ws, "response.done", seen)
    ws.transport.abort()
    await stop_liveness(node_a)
    kept = len(seen) - 3  # as if the last three frames were lost on the way
    headers = {"X-Rtagents-Resume-Token": token, "X-Rtagents-Last-Seq": str(kept)}
    async with await open_ws(node_b, headers) as again:
        assert again.response.headers["X-Rtagents-Session-Id"] == session_id
        assert again.response.headers["X-Rtagents-Received"] == "3"
        assert again.response.headers["X-Rtagents-Resume-Token"] not in ("", token)
        replayed = [await asyncio.wait_for(again.recv(), TIMEOUT_S) for _ in range(3)]
        assert replayed == seen[kept:]  # exactly the missed frames, byte for byte
        # the session goes on on B, with A's conversation
        await again.send(
            json.dumps({"type": "conversation.item.retrieve", "item_id": _first(seen)})
        )
        later: list[str] = []
        await until(again, "conversation.item.retrieved", later)
        retrieved = json.loads(later[-1])["item"]
        assert retrieved["content"][0]["text"] == "hello there"
        await again.send(user_text("and again"))
        await again.send(json.dumps({"type": "response.create"}))
        await until(again, "response.done", later)
        assert "session.created" not in types(later)
        host_b = [h for h in server_state(node_b.app).sessions if h.id == session_id]
        assert len(host_b) == 1 and len(host_b[0].conversation.items) == 4
        config = host_b[0].backend.config  # type: ignore[attr-defined]
        assert config.instructions == "Be brief."  # A's last session.updated, as it was
        assert config.data["audio"]["input"]["turn_detection"] is None  # push-to-talk kept


async def test_a_response_streaming_on_the_dead_node_ends_failed_on_the_new_one(
    nodes: tuple[RunningServer, RunningServer],
) -> None:
    node_a, node_b = nodes
    ws = await open_ws(node_a, {"X-Rtagents-Resume": "1"})
    token = ws.response.headers["X-Rtagents-Resume-Token"]
    seen: list[str] = []
    await until(ws, "conversation.created", seen)
    await ws.send(user_text("please answer slowly"))
    await ws.send(json.dumps({"type": "response.create"}))
    await until(ws, "response.output_audio_transcript.delta", seen)
    ws.transport.abort()
    await stop_liveness(node_a)
    headers = {"X-Rtagents-Resume-Token": token, "X-Rtagents-Last-Seq": str(len(seen))}
    async with await open_ws(node_b, headers) as again:
        after: list[str] = []
        await until(again, "response.done", after)
        done = json.loads(after[-1])["response"]
        assert done["status"] == "failed"
        assert done["status_details"]["error"]["code"] == "node_lost"
        # every frame A had made durable came through, in order, before the failure
        numbered = seen + after
        assert types(numbered).count("response.created") == 1
    # A was fenced: its next write found B owning the session, and it sends nothing more
    (host_a,) = [h for h in server_state(node_a.app).sessions if h.resume is not None]
    assert isinstance(host_a.resume.log, MirroredFrameLog)  # type: ignore[union-attr]
    shared = host_a.resume.log.shared  # type: ignore[union-attr]
    for _ in range(500):
        if shared.lost:
            break
        await asyncio.sleep(0.01)
    assert shared.lost and await shared.durable(shared.durable_seq + 1) is False


async def test_a_live_node_keeps_its_session(nodes: tuple[RunningServer, RunningServer]) -> None:
    node_a, node_b = nodes
    ws = await open_ws(node_a, {"X-Rtagents-Resume": "1"})
    token = ws.response.headers["X-Rtagents-Resume-Token"]
    seen: list[str] = []
    await until(ws, "conversation.created", seen)
    ws.transport.abort()
    headers = {"X-Rtagents-Resume-Token": token, "X-Rtagents-Last-Seq": str(len(seen))}
    with pytest.raises(InvalidStatus) as refused:
        await open_ws(node_b, headers)
    assert refused.value.response.status_code == 503  # the client retries: resume, not rebuild
    body: dict[str, Any] = json.loads(refused.value.response.body or b"")
    assert body["error"]["code"] == "session_on_live_node"
    async with await open_ws(node_a, headers) as again:  # its own node still resumes it
        assert again.response.headers["X-Rtagents-Received"] == "0"


async def test_only_the_owner_resumes_elsewhere(
    nodes: tuple[RunningServer, RunningServer],
) -> None:
    node_a, node_b = nodes
    minted = await _mint(node_a)
    ws = await connect(
        node_a.ws_url + "?model=gpt-realtime",
        additional_headers={"Authorization": f"Bearer {minted}", "X-Rtagents-Resume": "1"},
    )
    token = ws.response.headers["X-Rtagents-Resume-Token"]
    await until(ws, "conversation.created", [])
    ws.transport.abort()
    await stop_liveness(node_a)
    headers = {"X-Rtagents-Resume-Token": token, "X-Rtagents-Last-Seq": "2"}
    with pytest.raises(InvalidStatus) as refused:
        await open_ws(node_b, headers)  # the API key did not open it
    assert refused.value.response.status_code == 403
    async with await connect(
        node_b.ws_url + "?model=gpt-realtime",
        additional_headers={"Authorization": f"Bearer {minted}", **headers},
    ) as again:
        assert again.response.headers["X-Rtagents-Received"] == "0"


async def _mint(server: RunningServer) -> str:
    import httpx

    async with httpx.AsyncClient(base_url=server.http_url) as http:
        answer = await http.post(
            "/v1/realtime/client_secrets",
            json={},
            headers={"Authorization": f"Bearer {server.api_key}"},
        )
    value: str = answer.json()["value"]
    return value


def _first(frames: list[str]) -> str:
    for frame in frames:
        event = json.loads(frame)
        if event["type"] == "conversation.item.added":
            item_id: str = event["item"]["id"]
            return item_id
    raise AssertionError("no item was added")


async def test_a_handed_off_session_resumes_elsewhere_at_once(
    nodes: tuple[RunningServer, RunningServer],
) -> None:
    """A drain's move: node A (alive) hands the session off and closes 1012; B takes it."""
    node_a, node_b = nodes
    ws = await open_ws(node_a, {"X-Rtagents-Resume": "1"})
    token = ws.response.headers["X-Rtagents-Resume-Token"]
    session_id = ws.response.headers["X-Rtagents-Session-Id"]
    seen: list[str] = []
    await until(ws, "conversation.created", seen)
    await ws.send(user_text("hello there"))
    await until(ws, "conversation.item.done", seen)
    state_a = server_state(node_a.app)
    (host_a,) = [h for h in state_a.sessions if h.id == session_id]
    assert host_a.resume is not None
    registry = state_a.resumes
    assert isinstance(registry, SharedResumeRegistry)
    assert await registry.hand_off(host_a.resume)
    await host_a.shutdown(1012, "server draining")
    with pytest.raises(ConnectionClosed):
        while True:
            seen.append(str(await asyncio.wait_for(ws.recv(), TIMEOUT_S)))
    assert ws.close_code == 1012
    headers = {"X-Rtagents-Resume-Token": token, "X-Rtagents-Last-Seq": str(len(seen))}
    async with await open_ws(node_b, headers) as again:  # A is alive: no liveness wait
        assert again.response.headers["X-Rtagents-Received"] == "1"
        await again.send(json.dumps({"type": "response.create"}))
        after: list[str] = []
        await until(again, "response.done", after)
        assert json.loads(after[-1])["response"]["status"] == "completed"
    assert await registry.hand_off(host_a.resume) is False  # ended: nothing to hand off


async def test_a_long_log_is_read_in_chunks(
    nodes: tuple[RunningServer, RunningServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new node rebuilds from the log a few entries at a time (memory stays bounded)."""
    monkeypatch.setattr(redis_takeover, "READ_CHUNK", 5)
    node_a, node_b = nodes
    ws = await open_ws(node_a, {"X-Rtagents-Resume": "1"})
    token = ws.response.headers["X-Rtagents-Resume-Token"]
    seen: list[str] = []
    await until(ws, "conversation.created", seen)
    for turn in range(3):
        await ws.send(user_text(f"turn {turn}"))
        await ws.send(json.dumps({"type": "response.create"}))
        await until(ws, "response.done", seen)
    ws.transport.abort()
    await stop_liveness(node_a)
    headers = {"X-Rtagents-Resume-Token": token, "X-Rtagents-Last-Seq": str(len(seen) - 4)}
    async with await open_ws(node_b, headers) as again:
        replayed = [await asyncio.wait_for(again.recv(), TIMEOUT_S) for _ in range(4)]
        assert replayed == seen[-4:]
        (host_b,) = [h for h in server_state(node_b.app).sessions]
        texts = [
            item.content[0].text  # type: ignore[union-attr]
            for item in host_b.conversation.items
            if getattr(item, "role", None) == "user"
        ]
        assert texts == ["turn 0", "turn 1", "turn 2"]
        assert host_b.resume is not None  # numbering goes on where A's log ends
        assert host_b.frames_emitted == host_b.resume.log.last_seq >= len(seen)


async def test_a_log_trimmed_past_its_first_frame_cannot_move(redis_url: str) -> None:  # noqa: F811
    config = ServerConfig(
        port=0, resume_grace_s=30, redis_url=redis_url, redis_node_ttl_s=0.5, resume_log_frames=10
    )
    async with (
        running_server(config, scripted_engines(RULES)) as node_a,
        running_server(ServerConfig(port=0, redis_url=redis_url, api_key=config.api_key)) as node_b,
    ):
        ws = await open_ws(node_a, {"X-Rtagents-Resume": "1"})
        token = ws.response.headers["X-Rtagents-Resume-Token"]
        seen: list[str] = []
        await until(ws, "conversation.created", seen)
        await ws.send(user_text("please answer slowly"))
        await ws.send(json.dumps({"type": "response.create"}))
        await until(ws, "response.done", seen)
        assert len(seen) > 300  # MAXLEN ~ trims whole blocks of about a hundred entries
        ws.transport.abort()
        await stop_liveness(node_a)
        headers = {"X-Rtagents-Resume-Token": token, "X-Rtagents-Last-Seq": str(len(seen))}
        with pytest.raises(InvalidStatus) as refused:
            await open_ws(node_b, headers)
        assert refused.value.response.status_code == 409  # the client rebuilds
        body = json.loads(refused.value.response.body or b"")
        assert body["error"]["code"] == "resume_gap" and "first frame" in body["error"]["message"]
