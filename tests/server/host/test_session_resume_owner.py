"""A resume token works only for the principal that opened the session, and once.

Issue 11, hole 4: an ``ek_`` minted by someone else plus the victim's token
resumed the victim's live session, replayed it from ``Last-Seq: 0`` (the
victim's text included), cut the victim off, and the token then worked again.
Here the owner is checked before anything is touched, a refused attempt
leaves the live session exactly as it was, and each successful resume
rotates the token. Real server on loopback, raw ``websockets`` client.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from server_harness import mint
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from rtagents.server.app import server_state
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server
from rtagents.testing.clock import FakeClock

TIMEOUT_S = 5.0
TOKEN = "X-Rtagents-Resume-Token"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def server(clock: FakeClock) -> AsyncIterator[RunningServer]:
    async with running_server(ServerConfig(port=0, clock=clock, resume_grace_s=30)) as running:
        yield running


async def secret(server: RunningServer, instructions: str, ttl_s: int = 600) -> str:
    body = {
        "expires_after": {"seconds": ttl_s},
        "session": {"type": "realtime", "instructions": instructions},
    }
    reply = await mint(server, body)
    assert reply.status_code == 200, reply.text
    value: str = reply.json()["value"]
    return value


async def open_ws(server: RunningServer, key: str, **headers: str) -> ClientConnection:
    all_headers = {"Authorization": f"Bearer {key}", **headers}
    return await connect(server.ws_url, additional_headers=all_headers, open_timeout=TIMEOUT_S)


async def resume(server: RunningServer, key: str, token: str, last_seq: int) -> ClientConnection:
    return await open_ws(server, key, **{TOKEN: token, "X-Rtagents-Last-Seq": str(last_seq)})


async def refused_resume(
    server: RunningServer, key: str, token: str, last_seq: int = 0
) -> tuple[int, str]:
    with pytest.raises(InvalidStatus) as refused:
        await resume(server, key, token, last_seq)
    response = refused.value.response
    return response.status_code, json.loads(response.body or b"")["error"]["code"]


async def recv_json(ws: ClientConnection) -> dict[str, Any]:
    frame = await asyncio.wait_for(ws.recv(), TIMEOUT_S)
    assert isinstance(frame, str)
    result: dict[str, Any] = json.loads(frame)
    return result


async def frames_until(ws: ClientConnection, event_type: str) -> int:
    """Read frames up to and including the first ``event_type``; how many were read."""
    count = 0
    while True:
        count += 1
        if (await recv_json(ws))["type"] == event_type:
            return count


async def still_live(ws: ClientConnection) -> None:
    """The connection answers a request: the session was neither cut nor replayed to."""
    await ws.send(json.dumps({"type": "input_audio_buffer.clear"}))
    assert (await recv_json(ws))["type"] == "input_audio_buffer.cleared"


def user_text(text: str) -> str:
    content = [{"type": "input_text", "text": text}]
    return json.dumps(
        {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "user", "content": content},
        }
    )


async def test_another_secret_cannot_resume_and_the_victim_goes_on(server: RunningServer) -> None:
    victim_key = await secret(server, "Victim's assistant.")
    attacker_key = await secret(server, "Attacker's instructions.")
    victim = await open_ws(server, victim_key, **{"X-Rtagents-Resume": "1"})
    token = victim.response.headers[TOKEN]
    seen = await frames_until(victim, "conversation.created")
    await victim.send(user_text("my private words"))
    seen += await frames_until(victim, "conversation.item.done")
    for key in (attacker_key, server.api_key):  # the API key did not open it either
        assert await refused_resume(server, key, token) == (403, "resume_not_owner")
    # nothing happened to the victim: still connected, live, nothing replayed to anyone
    await still_live(victim)
    seen += 1
    (host,) = server_state(server.app).sessions
    assert host.received_frames == 2 and host.resume is not None
    assert host.resume.token == token  # a refusal does not rotate the token either
    # and the owner can still resume with it (its secret opens no new session by that)
    victim.transport.abort()
    async with await resume(server, victim_key, token, seen) as back:
        assert back.response.headers["X-Rtagents-Received"] == "2"
        await still_live(back)


async def test_the_token_rotates_at_every_resume_and_the_old_one_dies(
    server: RunningServer,
) -> None:
    first = await open_ws(server, server.api_key, **{"X-Rtagents-Resume": "1"})
    tokens = [first.response.headers[TOKEN]]
    seen = await frames_until(first, "conversation.created")
    connection = first
    for _ in range(3):
        connection.transport.abort()
        connection = await resume(server, server.api_key, tokens[-1], seen)
        tokens.append(connection.response.headers[TOKEN])
        await still_live(connection)
        seen += 1
    assert len(set(tokens)) == 4
    for old in tokens[:-1]:
        assert await refused_resume(server, server.api_key, old, seen) == (404, "resume_unknown")
    await still_live(connection)  # the stale attempts did not touch it
    await connection.close()


async def test_an_api_key_session_refuses_a_secret(server: RunningServer) -> None:
    ws = await open_ws(server, server.api_key, **{"X-Rtagents-Resume": "1"})
    token = ws.response.headers[TOKEN]
    await frames_until(ws, "conversation.created")
    stranger = await secret(server, "Someone else.")
    assert await refused_resume(server, stranger, token) == (403, "resume_not_owner")
    await still_live(ws)
    await ws.close()


async def test_the_opening_secret_resumes_after_it_expired(
    server: RunningServer, clock: FakeClock
) -> None:
    key = await secret(server, "Short-lived.", ttl_s=10)
    ws = await open_ws(server, key, **{"X-Rtagents-Resume": "1"})
    token = ws.response.headers[TOKEN]
    seen = await frames_until(ws, "conversation.created")
    clock.advance(11)  # expired (and purged at the next mint): no new session with it
    await secret(server, "Any mint purges the store.")
    ws.transport.abort()
    async with await resume(server, key, token, seen) as back:
        await still_live(back)


async def test_a_forged_secret_cannot_resume(server: RunningServer) -> None:
    key = await secret(server, "Owner.")
    ws = await open_ws(server, key, **{"X-Rtagents-Resume": "1"})
    token = ws.response.headers[TOKEN]
    await frames_until(ws, "conversation.created")
    forged = key[:-1] + ("0" if key[-1] != "0" else "1")
    assert await refused_resume(server, forged, token) == (401, "invalid_client_secret")
    await still_live(ws)
    await ws.close()


async def test_a_lost_resume_answer_leaves_the_presented_token_until_the_new_one_shows(
    server: RunningServer,
) -> None:
    # A reset can eat the handshake answer that carried the new token: the
    # client still holds the one it presented, so that one must work until
    # the client shows it has the new one (a frame, or a resume with it).
    first = await open_ws(server, server.api_key, **{"X-Rtagents-Resume": "1"})
    t1 = first.response.headers[TOKEN]
    seen = await frames_until(first, "conversation.created")
    first.transport.abort()
    lost = await resume(server, server.api_key, t1, seen)
    t2 = lost.response.headers[TOKEN]  # "lost": the client never saw it
    lost.transport.abort()
    again = await resume(server, server.api_key, t1, seen)
    t3 = again.response.headers[TOKEN]
    assert await refused_resume(server, server.api_key, t2, seen) == (404, "resume_unknown")
    await still_live(again)  # a frame on the new connection: the client holds t3
    assert await refused_resume(server, server.api_key, t1, seen + 1) == (404, "resume_unknown")
    again.transport.abort()
    async with await resume(server, server.api_key, t3, seen + 1) as last:
        t4 = last.response.headers[TOKEN]
        last.transport.abort()
    # presenting t4 proves t3's answer arrived: t3 is dead without any frame sent
    final = await resume(server, server.api_key, t4, seen + 1)
    assert await refused_resume(server, server.api_key, t3, seen + 1) == (404, "resume_unknown")
    await still_live(final)
    await final.close()


async def test_credentials_are_checked_before_the_resume_request_is_read(
    server: RunningServer,
) -> None:
    headers = {TOKEN: "anything", "X-Rtagents-Last-Seq": "not a number"}
    with pytest.raises(InvalidStatus) as refused:
        await connect(server.ws_url, additional_headers=headers, open_timeout=TIMEOUT_S)
    assert refused.value.response.status_code == 401
