"""WebRTC calls against a live server: offer/answer, a spoken turn, barge-in, refusals.

A raw aiortc peer (``webrtc_peer``) stands in for the browser. The scripted
engine's tone code survives Opus at 48 kHz exactly (checked here: the reply
heard off the track decodes to the reply's text), so the turns are real voice
turns end to end, not text shortcuts.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from aiortc import RTCPeerConnection
from webrtc_peer import RawCall, make_offer, post_offer

from rtagents.engines.scripted import Rule, Say, decode_audio, scripted_engines, scripted_speech
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server
from rtagents.testing.clock import FakeClock
from rtagents.transports.webrtc import rtc_configuration

LONG_REPLY = "This reply is long enough to be interrupted while it is still playing out."
PTT = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def server(clock: FakeClock) -> AsyncIterator[RunningServer]:
    engines = scripted_engines([Rule("interrupt", Say(LONG_REPLY))])
    config = ServerConfig(port=0, webrtc_loopback=True, clock=clock, call_connect_timeout_s=2.0)
    async with running_server(config, engines) as running:
        yield running


@pytest.fixture
async def call(server: RunningServer) -> AsyncIterator[RawCall]:
    opened = await RawCall.open(server, session=PTT)
    try:
        yield opened
    finally:
        await opened.close()


async def speak(call: RawCall, text: str) -> None:
    """Say ``text`` into the call's track, then commit once the track has played it."""
    call.track.enqueue(scripted_speech(text) + bytes(48_00 * 2 * 5))  # + 0.5 s of silence
    await call.track.drained()
    await call.send({"type": "input_audio_buffer.commit"})


@pytest.mark.conformance(
    "session.created",
    "conversation.created",
    "session.update",
    "session.updated",
    "input_audio_buffer.commit",
    "response.create",
    "response.output_audio_transcript.delta",
    "response.output_audio.done",
    "response.output_audio_transcript.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.done",
    "conversation.item.input_audio_transcription.completed",
    "output_audio_buffer.started",
    "output_audio_buffer.stopped",
    status="supported",
    client="raw",
    transport="webrtc",
    note="reply audio on the Opus track (no output_audio.delta), events on oai-events",
)
async def test_a_spoken_turn_is_heard_and_answered_with_audio_on_the_track(call: RawCall) -> None:
    first = await call.until("conversation.created")
    assert [e.type for e in first] == ["session.created", "conversation.created"]
    await call.send(
        {"type": "session.update", "session": {**PTT, "audio": {"input": {"transcription": {}}}}}
    )
    await call.until("session.updated")
    await speak(call, "hello there")
    await call.send({"type": "response.create"})
    events = await call.until("response.done")
    types = [e.type for e in events]
    assert "response.output_audio.delta" not in types  # audio goes on the track
    # Everything else the hosted API sends about the reply comes on the channel.
    for kind in (
        "response.output_audio_transcript.delta",
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
    ):
        assert kind in types, kind
    done = [e for e in events if e.type == "conversation.item.input_audio_transcription.completed"]
    assert done and done[0].transcript == "hello there"
    reply = events[-1].response.output[0].content[0].transcript
    assert reply == "You said: hello there"
    after = await call.until("output_audio_buffer.stopped")
    started = [e for e in events + after if e.type == "output_audio_buffer.started"]
    assert started[0].response_id == events[-1].response.id == after[-1].response_id
    await asyncio.sleep(0.3)  # what is in flight (jitter buffer) arrives
    assert decode_audio(bytes(call.heard)) == reply


@pytest.mark.conformance(
    "audio.input.turn_detection[server_vad]",
    status="supported",
    client="raw",
    transport="webrtc",
    note="the default of a new realtime session, as hosted: a bare offer's caller is answered",
)
async def test_a_call_from_a_bare_offer_answers_when_the_caller_talks(
    server: RunningServer,
) -> None:
    """The browser quickstart: an SDP offer and nothing else; the caller just talks."""
    call = await RawCall.open(server)  # application/sdp, no session config
    try:
        created = (await call.until("session.created"))[-1]
        assert created.session.audio.input.turn_detection.type == "server_vad"
        call.track.enqueue(scripted_speech("good evening") + bytes(48_00 * 2 * 10))  # + 1 s quiet
        events = await call.until("response.done")
        types = [e.type for e in events]
        for kind in ("speech_started", "speech_stopped", "committed"):
            assert f"input_audio_buffer.{kind}" in types
        reply = events[-1].response.output[0].content[0].transcript
        assert reply == "You said: good evening"
    finally:
        await call.close()


@pytest.mark.conformance(
    "output_audio_buffer.clear",
    "output_audio_buffer.cleared",
    "conversation.item.truncated",
    status="supported",
    client="raw",
    transport="webrtc",
    note="clear stops the track and truncates where it stopped; a second clear says nothing",
)
async def test_clear_stops_playback_and_truncates_where_it_stopped(
    server: RunningServer, call: RawCall
) -> None:
    await speak(call, "interrupt me")
    await call.send({"type": "response.create"})
    await call.until("output_audio_buffer.started")
    await asyncio.sleep(0.6)
    await call.send({"type": "output_audio_buffer.clear"})
    events = await call.until("conversation.item.truncated")
    cleared = [e for e in events if e.type == "output_audio_buffer.cleared"]
    truncated = events[-1]
    assert cleared and cleared[0].response_id
    assert 0 < truncated.audio_end_ms < len(LONG_REPLY) * 50
    await asyncio.sleep(0.4)
    heard = decode_audio(bytes(call.heard))
    # What the track played is what was heard: the reply's first characters,
    # one per 50 ms, up to the truncation point (+-1 for the character it cut).
    assert LONG_REPLY.startswith(heard.rstrip("\ufffd"))
    assert abs(len(heard) - truncated.audio_end_ms / 50) <= 1.5
    later = [call.events.get_nowait() for _ in range(call.events.qsize())]
    assert not any("output_audio_buffer.stopped" in raw for raw in later)  # cleared instead
    # The cleared response leaves no bookkeeping behind once it is done (barge-ins
    # must not pile up over a long call).
    live = server.app.state.rtagents.calls[call.call_id]
    assert live.host is not None and live.audio is not None
    for _ in range(100):  # the response (its audio already generated) ends promptly
        if live.host.conversation.active_response_id is None:
            break
        await asyncio.sleep(0.05)
    audio = live.audio
    assert not (audio._items or audio._cut or audio._started or audio._done)
    assert not audio._resamplers
    # A second clear with nothing playing cut nothing, so it says nothing (no
    # `.cleared` naming the response already cleared); the next event is answered.
    await call.send({"type": "output_audio_buffer.clear"})
    await call.send({"type": "input_audio_buffer.clear"})
    after = await call.until("input_audio_buffer.cleared")
    assert "output_audio_buffer.cleared" not in [e.type for e in after]


@pytest.mark.conformance(
    "audio.input.turn_detection[server_vad]",
    "input_audio_buffer.speech_started",
    "output_audio_buffer.cleared",
    "conversation.item.truncated",
    status="supported",
    client="raw",
    transport="webrtc",
)
async def test_speech_while_the_reply_plays_barges_in(server: RunningServer) -> None:
    vad = {"type": "realtime", "audio": {"input": {"turn_detection": {"type": "server_vad"}}}}
    call = await RawCall.open(server, session=vad)
    try:
        call.track.enqueue(scripted_speech("interrupt me") + bytes(24_000 * 2))
        await call.until("output_audio_buffer.started")
        await asyncio.sleep(0.5)
        call.track.enqueue(scripted_speech("stop") + bytes(24_000))
        events = await call.until("conversation.item.truncated")
        types = [e.type for e in events]
        assert types.index("input_audio_buffer.speech_started") < types.index(
            "output_audio_buffer.cleared"
        )
        assert 0 < events[-1].audio_end_ms < len(LONG_REPLY) * 50
    finally:
        await call.close()


@pytest.mark.conformance(
    "audio.input.turn_detection[server_vad].interrupt_response",
    "output_audio_buffer.stopped",
    status="supported",
    client="raw",
    transport="webrtc",
)
async def test_speech_does_not_cut_the_reply_when_interrupt_response_is_off(
    server: RunningServer,
) -> None:
    detection = {"type": "server_vad", "interrupt_response": False, "create_response": False}
    session = {"type": "realtime", "audio": {"input": {"turn_detection": detection}}}
    call = await RawCall.open(server, session=session)
    try:
        call.track.enqueue(scripted_speech("interrupt me") + bytes(24_000))
        await call.until("input_audio_buffer.committed")
        await call.send({"type": "response.create"})
        events = await call.until("output_audio_buffer.started")
        call.track.enqueue(scripted_speech("stop") + bytes(24_000))
        events += await call.until("input_audio_buffer.speech_started")
        events += await call.until("output_audio_buffer.stopped")  # played to the end
        types = [e.type for e in events]
        assert "output_audio_buffer.cleared" not in types
        assert "conversation.item.truncated" not in types
    finally:
        await call.close()


async def test_the_official_sdk_creates_a_call_that_connects(server: RunningServer) -> None:
    from openai import AsyncOpenAI

    pc = RTCPeerConnection(rtc_configuration())
    channel, _ = await make_offer(pc)
    opened = asyncio.Event()
    channel.on("open", opened.set)
    sdk = AsyncOpenAI(api_key=server.api_key, base_url=f"{server.http_url}/v1")
    try:
        answer = await sdk.realtime.calls.create(sdp=pc.localDescription.sdp)
        from aiortc import RTCSessionDescription

        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer.text, type="answer"))
        await asyncio.wait_for(opened.wait(), 5)
        assert answer.response.status_code == 201
        assert answer.response.headers["location"].startswith("/v1/realtime/calls/rtc_")
    finally:
        await sdk.close()
        await pc.close()


async def test_multipart_session_and_secret_configs_are_used(server: RunningServer) -> None:
    call = await RawCall.open(server, session={"type": "realtime", "instructions": "Be brief."})
    created = (await call.until("session.created"))[-1]
    assert created.session.instructions == "Be brief."
    await call.close()
    async with httpx.AsyncClient() as http:
        minted = await http.post(
            f"{server.http_url}/v1/realtime/client_secrets",
            json={"session": {"type": "realtime", "instructions": "From the secret."}},
            headers={"Authorization": f"Bearer {server.api_key}"},
        )
    call = await RawCall.open(server, key=minted.json()["value"])
    created = (await call.until("session.created"))[-1]
    assert created.session.instructions == "From the secret."
    await call.close()


async def _offer_sdp() -> str:
    pc = RTCPeerConnection(rtc_configuration())
    await make_offer(pc)
    sdp: str = pc.localDescription.sdp
    await pc.close()
    return sdp


@pytest.mark.parametrize(
    ("body", "status", "code", "words"),
    [
        ("hello", 400, "invalid_offer", "not an SDP offer"),
        ("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n", 400, "invalid_offer", "no data channel"),
        ("v=0\r\nm=application 9 nonsense\r\n", 400, "invalid_offer", "not a valid m= line"),
    ],
)
async def test_bad_offers_are_refused_with_the_reason(
    server: RunningServer, body: str, status: int, code: str, words: str
) -> None:
    reply = await post_offer(server, body)
    assert reply.status_code == status
    error = reply.json()["error"]
    assert error["code"] == code and words in error["message"]
    assert not server.app.state.rtagents.calls


async def test_bad_credentials_and_configs_are_refused(
    server: RunningServer, clock: FakeClock
) -> None:
    sdp = await _offer_sdp()
    wrong = await post_offer(server, sdp, key="sk-wrong")
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key"
    async with httpx.AsyncClient() as http:
        minted = await http.post(
            f"{server.http_url}/v1/realtime/client_secrets",
            json={"expires_after": {"anchor": "created_at", "seconds": 10}},
            headers={"Authorization": f"Bearer {server.api_key}"},
        )
    clock.advance(11)
    expired = await post_offer(server, sdp, key=minted.json()["value"])
    assert expired.status_code == 401
    assert "expired" in expired.json()["error"]["message"]
    bad = await post_offer(server, sdp, session={"type": "realtime", "voice": "alloy"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "session.voice"
    assert "audio.output.voice" in bad.json()["error"]["message"]
    fast = await post_offer(server, sdp, session={"type": "realtime", "output_modalities": [1]})
    assert (
        fast.status_code == 400 and fast.json()["error"]["param"] == "session.output_modalities[0]"
    )
    assert "POST /v1/realtime/calls" in fast.json()["error"]["message"]
    async with httpx.AsyncClient() as http:
        typed = await http.post(
            f"{server.http_url}/v1/realtime/calls",
            content=b"{}",
            headers={"Authorization": f"Bearer {server.api_key}", "Content-Type": "text/json"},
        )
        hangup = await http.post(
            f"{server.http_url}/v1/realtime/calls/rtc_nope/hangup",
            headers={"Authorization": f"Bearer {server.api_key}"},
        )
    assert typed.status_code == 415
    assert hangup.status_code == 404 and "rtc_nope" in hangup.json()["error"]["message"]


@pytest.mark.parametrize("opener", ["[", '{"a":'])
async def test_a_session_part_nested_too_deep_is_refused_not_crashed(
    server: RunningServer, opener: str
) -> None:
    closer = "]" if opener == "[" else "}"
    nested = (opener * 1000 + "1" + closer * 1000).encode()
    files = {
        "sdp": (None, (await _offer_sdp()).encode(), "application/sdp"),
        "session": (None, nested, "application/json"),
    }
    async with httpx.AsyncClient() as http:
        reply = await http.post(
            f"{server.http_url}/v1/realtime/calls",
            files=files,
            headers={"Authorization": f"Bearer {server.api_key}"},
        )
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["code"] == "invalid_json" and error["param"] == "session"
    assert "nested" in error["message"]
    assert not server.app.state.rtagents.calls


async def test_hangup_ends_the_call_and_frees_everything(server: RunningServer) -> None:
    gc.collect()
    tasks_before = len(asyncio.all_tasks())
    calls = server.app.state.rtagents.calls
    call = await RawCall.open(server, session=PTT)
    await call.until("session.created")
    live = calls[call.call_id]
    closed = asyncio.Event()
    call.channel.on("close", closed.set)
    async with httpx.AsyncClient() as http:
        reply = await http.post(
            f"{server.http_url}/v1/realtime/calls/{call.call_id}/hangup",
            headers={"Authorization": f"Bearer {server.api_key}"},
        )
    assert reply.status_code == 200
    await asyncio.wait_for(closed.wait(), 5)
    await call.close()
    assert not calls and live.ended.is_set()
    assert live.pc.connectionState == "closed" and live.track.readyState == "ended"
    assert live.host is not None and live.host not in server.app.state.rtagents.sessions
    await asyncio.sleep(0.1)
    assert len(asyncio.all_tasks()) <= tasks_before
    del live, call
    gc.collect()
    assert not [o for o in gc.get_objects() if isinstance(o, RTCPeerConnection)]


async def test_a_call_that_never_connects_is_closed_with_a_diagnosis(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    reply = await post_offer(server, await _offer_sdp())  # the offering peer is gone
    assert reply.status_code == 201
    call_id = reply.headers["location"].rsplit("/", 1)[-1]
    call = server.app.state.rtagents.calls[call_id]
    with caplog.at_level(logging.WARNING, logger="rtagents.server.webrtc.call"):
        await asyncio.wait_for(call.ended.wait(), 5)
    message = " ".join(r.getMessage() for r in caplog.records)
    assert "never connected within 2 s" in message
    assert "ICE connectivity checks" in message and "candidate pair(s) tried" in message
    assert call.pc.connectionState == "closed" and not server.app.state.rtagents.calls


async def test_a_client_secret_hangs_up_only_the_calls_it_opened(server: RunningServer) -> None:
    async with httpx.AsyncClient() as http:

        async def mint() -> str:
            reply = await http.post(
                f"{server.http_url}/v1/realtime/client_secrets",
                json={},
                headers={"Authorization": f"Bearer {server.api_key}"},
            )
            value: str = reply.json()["value"]
            return value

        async def hang_up(call_id: str, key: str) -> httpx.Response:
            url = f"{server.http_url}/v1/realtime/calls/{call_id}/hangup"
            return await http.post(url, headers={"Authorization": f"Bearer {key}"})

        owner, other = await mint(), await mint()
        sdp = await _offer_sdp()
        mine = (await post_offer(server, sdp, key=owner)).headers["location"].rsplit("/", 1)[-1]
        keyed = (await post_offer(server, sdp)).headers["location"].rsplit("/", 1)[-1]
        calls = server.app.state.rtagents.calls
        for call_id in (mine, keyed):
            refused = await hang_up(call_id, other)
            assert refused.status_code == 403, refused.text
            assert refused.json()["error"]["code"] == "insufficient_permissions"
            assert call_id in calls and not calls[call_id].ended.is_set()
        assert (await hang_up(mine, owner)).status_code == 200
        assert (await hang_up(keyed, server.api_key)).status_code == 200
    assert mine not in calls and keyed not in calls
