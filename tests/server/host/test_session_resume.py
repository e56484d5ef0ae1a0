"""Session resume on the server (docs/reliability.md), driven by a raw ``websockets`` client.

The client here is deliberately hand-made: it numbers nothing itself, aborts
TCP connections the hard way (``transport.abort()``), and checks frames
against the server's own log, so the server's half of the contract is pinned
without the SDK's reconnect logic in the way.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from types import SimpleNamespace
from typing import Any, cast

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from rtagents.engines.scripted import Rule, Say, scripted_engines
from rtagents.server.app import server_state
from rtagents.server.config import ServerConfig
from rtagents.server.host.session_host import SessionHost
from rtagents.server.host.session_resume import FrameLog, ResumeRegistry
from rtagents.server.serving import RunningServer, running_server
from rtagents.transports.memory import memory_pair

TIMEOUT_S = 5.0
LONG = " ".join(f"word{i}" for i in range(40))
RULES = [Rule(when="slowly", then=Say(LONG, token_delay_s=0.01))]


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    config = ServerConfig(port=0, resume_grace_s=30)
    async with running_server(config, scripted_engines(RULES)) as running:
        yield running


async def open_ws(
    server: RunningServer, headers: Mapping[str, str], *, query: str = "?model=gpt-realtime"
) -> ClientConnection:
    all_headers = {"Authorization": f"Bearer {server.api_key}", **headers}
    return await connect(
        server.ws_url + query, additional_headers=all_headers, open_timeout=TIMEOUT_S
    )


async def recv_json(ws: ClientConnection) -> dict[str, Any]:
    frame = await asyncio.wait_for(ws.recv(), TIMEOUT_S)
    assert isinstance(frame, str)
    result: dict[str, Any] = json.loads(frame)
    return result


async def until(ws: ClientConnection, event_type: str, into: list[str]) -> None:
    """Read raw frames into ``into`` up to and including the first of ``event_type``."""
    while True:
        frame = await asyncio.wait_for(ws.recv(), TIMEOUT_S)
        assert isinstance(frame, str)
        into.append(frame)
        if json.loads(frame)["type"] == event_type:
            return


def host_of(server: RunningServer, session_id: str) -> SessionHost:
    (host,) = [h for h in server_state(server.app).sessions if h.id == session_id]
    return host


def drop(ws: ClientConnection) -> None:
    """Lose the connection with no close frame, as a dead network does."""
    ws.transport.abort()


async def resume(server: RunningServer, token: str, last_seq: int) -> ClientConnection:
    return await open_ws(
        server, {"X-Rtagents-Resume-Token": token, "X-Rtagents-Last-Seq": str(last_seq)}
    )


def user_text(text: str) -> str:
    content = [{"type": "input_text", "text": text}]
    item = {"type": "message", "role": "user", "content": content}
    return json.dumps({"type": "conversation.item.create", "item": item})


async def test_opt_in_header_gets_session_token_and_grace(server: RunningServer) -> None:
    async with await open_ws(server, {"X-Rtagents-Resume": "1"}) as ws:
        created = await recv_json(ws)
        headers = ws.response.headers
        assert headers["X-Rtagents-Session-Id"] == created["session"]["id"]
        assert len(headers["X-Rtagents-Resume-Token"]) >= 22  # >= 128 bits of base64
        assert headers["X-Rtagents-Resume-Grace"] == "30"
        assert "X-Rtagents-Received" not in headers


async def test_stock_client_sees_no_resume_headers(server: RunningServer) -> None:
    async with await open_ws(server, {}) as ws:
        await recv_json(ws)
        assert not [name for name in ws.response.headers if name.lower().startswith("x-rtagents")]
    assert len(server_state(server.app).resumes) == 0


async def test_resume_disabled_by_zero_grace() -> None:
    config = ServerConfig(port=0, resume_grace_s=0)
    async with running_server(config) as running:
        async with await open_ws(running, {"X-Rtagents-Resume": "1"}) as ws:
            await recv_json(ws)
            assert "X-Rtagents-Resume-Token" not in ws.response.headers


async def test_drop_mid_response_then_resume_gets_exactly_the_missed_frames(
    server: RunningServer,
) -> None:
    ws = await open_ws(server, {"X-Rtagents-Resume": "1"})
    token = ws.response.headers["X-Rtagents-Resume-Token"]
    session_id = ws.response.headers["X-Rtagents-Session-Id"]
    seen: list[str] = []
    await until(ws, "conversation.created", seen)
    await ws.send(user_text("please answer slowly"))
    await ws.send(json.dumps({"type": "response.create"}))
    await until(ws, "response.output_audio.delta", seen)
    drop(ws)
    host = host_of(server, session_id)
    await asyncio.sleep(0.1)  # the response goes on while no one is connected
    async with await resume(server, token, len(seen)) as again:
        assert again.response.headers["X-Rtagents-Resume-Token"] != token  # rotated
        assert again.response.headers["X-Rtagents-Session-Id"] == session_id
        assert again.response.headers["X-Rtagents-Received"] == "2"
        after: list[str] = []
        await until(again, "rate_limits.updated", after)  # the last frame of a response
        assert host.resume is not None
        assert seen + after == host.resume.log.after(0)  # nothing lost, repeated or reordered
        types = [json.loads(frame)["type"] for frame in after]
        assert "session.created" not in types
        # and the session is live on the new connection
        await again.send(json.dumps({"type": "input_audio_buffer.clear"}))
        assert (await recv_json(again))["type"] == "input_audio_buffer.cleared"
    assert resumes(server) == {"resumed": 1.0, "refused": None}


async def test_client_frames_after_the_received_count_are_processed_once(
    server: RunningServer,
) -> None:
    ws = await open_ws(server, {"X-Rtagents-Resume": "1"})
    token = ws.response.headers["X-Rtagents-Resume-Token"]
    seen: list[str] = []
    await until(ws, "conversation.created", seen)
    sent = [user_text(f"note {n}") for n in range(1, 6)]
    for frame in sent:  # some may still be in flight when the connection dies
        await ws.send(frame)
    drop(ws)
    async with await resume(server, token, len(seen)) as again:
        received = int(again.response.headers["X-Rtagents-Received"])
        assert 0 <= received <= len(sent)
        for frame in sent[received:]:  # the client re-sends what the server did not get
            await again.send(frame)
        frames: list[str] = []
        for _ in range(len(sent)):
            await until(again, "conversation.item.done", frames)
        host = host_of(server, ws.response.headers["X-Rtagents-Session-Id"])
        texts = [item.content[0].text for item in host.conversation.items]  # type: ignore[union-attr]
        assert texts == [f"note {n}" for n in range(1, 6)]
        assert host.received_frames == len(sent)


async def test_unknown_token_is_refused_with_404(server: RunningServer) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await resume(server, "not-a-token", 0)
    assert refused.value.response.status_code == 404
    body = json.loads(refused.value.response.body or b"")
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["code"] == "resume_unknown"
    assert resumes(server) == {"resumed": None, "refused": 1.0}  # the client must rebuild


def resumes(server: RunningServer) -> dict[str, float | None]:
    """The server's rtagents_resumes_total by result (None: never counted)."""
    registry = server.config.metrics.registry
    return {
        result: registry.get_sample_value("rtagents_resumes_total", {"result": result})
        for result in ("resumed", "refused")
    }


async def test_seq_beyond_what_was_sent_is_refused_with_409(server: RunningServer) -> None:
    async with await open_ws(server, {"X-Rtagents-Resume": "1"}) as ws:
        token = ws.response.headers["X-Rtagents-Resume-Token"]
        await until(ws, "conversation.created", [])
        with pytest.raises(InvalidStatus) as refused:
            await resume(server, token, 3)
        assert refused.value.response.status_code == 409
        assert json.loads(refused.value.response.body or b"")["error"]["code"] == "resume_gap"
        # a refused resume leaves the session where it was
        await ws.send(json.dumps({"type": "input_audio_buffer.clear"}))
        assert (await recv_json(ws))["type"] == "input_audio_buffer.cleared"


async def test_trimmed_frames_are_refused_with_409() -> None:
    config = ServerConfig(port=0, resume_log_bytes=4096)
    async with running_server(config, scripted_engines(RULES)) as running:
        ws = await open_ws(running, {"X-Rtagents-Resume": "1"})
        token = ws.response.headers["X-Rtagents-Resume-Token"]
        await until(ws, "conversation.created", [])
        await ws.send(json.dumps({"type": "response.create"}))
        await until(ws, "response.done", [])
        drop(ws)
        with pytest.raises(InvalidStatus) as refused:
            await resume(running, token, 2)
        assert refused.value.response.status_code == 409


@pytest.mark.parametrize("last_seq", ["", "-1", "two"])
async def test_malformed_last_seq_is_refused_with_400(server: RunningServer, last_seq: str) -> None:
    headers = {"X-Rtagents-Resume-Token": "x", "X-Rtagents-Last-Seq": last_seq}
    with pytest.raises(InvalidStatus) as refused:
        await open_ws(server, headers)
    assert refused.value.response.status_code == 400


async def test_resume_needs_credentials(server: RunningServer) -> None:
    async with await open_ws(server, {"X-Rtagents-Resume": "1"}) as ws:
        token = ws.response.headers["X-Rtagents-Resume-Token"]
        headers = {"X-Rtagents-Resume-Token": token, "X-Rtagents-Last-Seq": "0"}
        with pytest.raises(InvalidStatus) as refused:
            await connect(server.ws_url, additional_headers=headers, open_timeout=TIMEOUT_S)
        assert refused.value.response.status_code == 401


async def test_grace_expiry_ends_the_session() -> None:
    config = ServerConfig(port=0, resume_grace_s=0.2)
    async with running_server(config) as running:
        ws = await open_ws(running, {"X-Rtagents-Resume": "1"})
        token = ws.response.headers["X-Rtagents-Resume-Token"]
        host = host_of(running, ws.response.headers["X-Rtagents-Session-Id"])
        await until(ws, "conversation.created", [])
        drop(ws)
        await asyncio.wait_for(host.wait_closed(), TIMEOUT_S)
        with pytest.raises(InvalidStatus) as refused:
            await resume(running, token, 2)
        assert refused.value.response.status_code == 404


async def test_normal_close_ends_the_session_at_once(server: RunningServer) -> None:
    ws = await open_ws(server, {"X-Rtagents-Resume": "1"})
    token = ws.response.headers["X-Rtagents-Resume-Token"]
    host = host_of(server, ws.response.headers["X-Rtagents-Session-Id"])
    await until(ws, "conversation.created", [])
    await ws.close(1000)
    await asyncio.wait_for(host.wait_closed(), TIMEOUT_S)  # the grace is 30 s
    with pytest.raises(InvalidStatus) as refused:
        await resume(server, token, 2)
    assert refused.value.response.status_code == 404


async def test_resume_while_old_connection_is_open_takes_over(server: RunningServer) -> None:
    async with await open_ws(server, {"X-Rtagents-Resume": "1"}) as old:
        token = old.response.headers["X-Rtagents-Resume-Token"]
        seen: list[str] = []
        await until(old, "conversation.created", seen)
        async with await resume(server, token, len(seen)) as new:
            await asyncio.wait_for(old.wait_closed(), TIMEOUT_S)
            assert old.close_code == 1001
            await new.send(json.dumps({"type": "input_audio_buffer.clear"}))
            assert (await recv_json(new))["type"] == "input_audio_buffer.cleared"
            # and a second drop is resumable again, from the new count, with the new token
            drop(new)
            rotated = new.response.headers["X-Rtagents-Resume-Token"]
            async with await resume(server, rotated, len(seen) + 1) as third:
                assert third.response.headers["X-Rtagents-Received"] == "1"
                await third.send(json.dumps({"type": "input_audio_buffer.clear"}))
                assert (await recv_json(third))["type"] == "input_audio_buffer.cleared"


async def test_session_detached_at_shutdown_ends_cleanly() -> None:
    async with running_server(ServerConfig(port=0)) as running:
        ws = await open_ws(running, {"X-Rtagents-Resume": "1"})
        await until(ws, "conversation.created", [])
        drop(ws)
        await asyncio.sleep(0.05)
    assert not server_state(running.app).sessions


def test_frame_log_keeps_the_newest_frames_within_its_bound() -> None:
    log = FrameLog(limit_bytes=10)
    for text in ("aaaa", "bbbb", "cccc", "dé"):  # "dé" costs 3 bytes (UTF-8)
        log.append(text)
    assert (log.first_seq, log.last_seq, log.size) == (3, 4, 7)
    assert log.after(2) == ["cccc", "dé"]
    assert log.after(4) == []
    assert [log.holds_after(n) for n in (1, 2, 3, 4, 5, -1)] == [
        False,
        True,
        True,
        True,
        False,
        False,
    ]


def test_empty_frame_log_holds_only_the_start() -> None:
    log = FrameLog(limit_bytes=0)
    assert log.holds_after(0)
    log.append("x")  # over the bound at once: nothing is held
    assert not log.holds_after(0) and log.holds_after(1) and log.after(1) == []


async def test_a_resume_accepted_after_the_session_ended_is_released_at_once() -> None:
    # The grace window can run out while a resume is being accepted: the
    # connection must be let go of (and closed), not left waiting forever.
    host = SimpleNamespace(id="sess_gone", limits=ServerConfig(port=0))
    resumable = ResumeRegistry().open(cast(Any, host), "api_key")
    resumable.end()
    ours, _theirs = memory_pair()
    attachment = resumable.offer(ours, 0)
    assert attachment.released.is_set()


async def test_the_registry_forgets_every_session_that_ended() -> None:
    config = ServerConfig(port=0, resume_grace_s=0.2)
    async with running_server(config) as running:
        for _ in range(5):
            ws = await open_ws(running, {"X-Rtagents-Resume": "1"})
            host = host_of(running, ws.response.headers["X-Rtagents-Session-Id"])
            await until(ws, "conversation.created", [])
            drop(ws)
            await asyncio.wait_for(host.wait_closed(), TIMEOUT_S)
        assert len(server_state(running.app).resumes) == 0
