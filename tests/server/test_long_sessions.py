"""Long sessions stay exact: text and voice, over WebSocket and WebRTC, end to end.

Each test runs one long conversation against the real server (scripted model)
through the rtagents client, checks every reply answers its own turn, and at
the end checks that both ends agree exactly (see :mod:`exactness`): the
client's mirror, the server's state, ``retrieve`` and the announced order are
equal, every event id is unique, and every event the server emitted reached
the client's handlers exactly once, in order.

``RTAGENTS_SOAK=1`` runs the full sizes (``make soak``); the default sizes
fit CI and still cross the id count at which the old id generator repeated
its first id (3,225 ids).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from exactness import ClientTap, ServerTap, assert_exact

from rtagents import connect
from rtagents.engines.scripted import MS_PER_CHAR, scripted_engines, scripted_speech, speakable
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server
from rtagents.testing.spoken import stream_speech

SOAK = os.environ.get("RTAGENTS_SOAK") == "1"
TEXT_TURNS = 500 if SOAK else 120
VOICE_WS_MINUTES = 30.0 if SOAK else 5.0  # of user speech and silence sent
VOICE_WEBRTC_SECONDS = 1800.0 if SOAK else 12.0  # of real-time call audio sent
# Over WebRTC a user item's audio must fit one data-channel message when
# retrieved (256 KiB, about 4 s); larger ones arrive as a documented error.
SHORT = 2
TRAILING_SILENCE_MS = 1000  # server_vad's default 500 ms window, plus slack
WORDS = "apple river stone cloud maple tiger violet copper meadow lantern".split()

pytestmark = pytest.mark.timeout(3600 if SOAK else 120)

VOICE = {
    "type": "realtime",
    "output_modalities": ["audio"],
    "audio": {
        "input": {
            "turn_detection": {"type": "server_vad"},
            "transcription": {"model": "whisper-1"},
        }
    },
}


@pytest.fixture
async def server() -> AsyncIterator[tuple[RunningServer, ServerTap]]:
    tap = ServerTap()
    config = ServerConfig(port=0, webrtc_loopback=True, observers=[tap.observer])
    async with running_server(config, scripted_engines()) as running:
        yield running, tap


def phrase(turn: int, length: int = 10) -> str:
    """A user line naming its turn, ``length`` words more, different every turn."""
    words = [WORDS[(turn * 7 + i * 3) % len(WORDS)] for i in range(length)]
    return f"turn {turn}: " + " ".join(words)


def reply_text(item: Any) -> str:
    part = item.content[0]
    return str(part.text if part.type == "output_text" else part.transcript)


async def test_a_long_text_conversation_over_websocket_stays_exact(
    server: tuple[RunningServer, ServerTap],
) -> None:
    running, server_tap = server
    began = time.perf_counter()
    connector = connect(running.ws_url, credentials=running.api_key)
    tap = ClientTap(connector.session)  # before opening: session.created counts too
    async with connector as session:
        for turn in range(TEXT_TURNS):
            done = asyncio.ensure_future(session.wait_for("response.done", timeout=30))
            await session.send_text(phrase(turn))
            await session.create_response(output_modalities=["text"])
            response = (await done).response
            assert response.status == "completed", (turn, response.status_details)
            assert reply_text(response.output[0]) == f"You said: {phrase(turn)}", turn
            assert session.conversation.item_ids[-1] == response.output[0].id, turn
        await assert_exact(session, tap, server_tap)
        emitted = len(server_tap.emitted[server_tap.host_of(session)])
    assert len(session.conversation) == 2 * TEXT_TURNS
    assert emitted > 3_225  # past where the old ids repeated
    report("text over WebSocket", turns=TEXT_TURNS, events=emitted, began=began)


async def voice_turn(session: Any, turn: int, send: Any, *, length: int = 10) -> float:
    """Say turn ``turn``; check the transcript and that the reply answers it.

    Returns the seconds of audio sent. ``send(pcm16)`` carries the speech and
    the trailing silence, paced as the transport allows.
    """
    said = phrase(turn, length)
    heard = asyncio.ensure_future(
        session.wait_for("conversation.item.input_audio_transcription.completed", timeout=60)
    )
    done = asyncio.ensure_future(session.wait_for("response.done", timeout=60))
    speech = scripted_speech(said)
    await send(speech)
    transcript = (await heard).transcript
    response = (await done).response
    assert transcript == said, (turn, transcript)
    assert response.status == "completed", (turn, response.status_details)
    item = response.output[0]
    assert reply_text(item) == f"You said: {speakable(said)}", turn
    return len(speech) / 48_000 + TRAILING_SILENCE_MS / 1000


async def test_a_long_voice_conversation_over_websocket_stays_exact(
    server: tuple[RunningServer, ServerTap],
) -> None:
    """server_vad on tone-coded speech, sent as fast as the socket takes it."""
    running, server_tap = server
    began = time.perf_counter()

    connector = connect(running.ws_url, credentials=running.api_key, session=VOICE)
    tap = ClientTap(connector.session)
    async with connector as session:

        async def send(speech: bytes) -> None:
            await stream_speech(
                session,
                speech,
                chunk_ms=100,
                trailing_silence_ms=TRAILING_SILENCE_MS,
                realtime=False,
            )

        sent_s, turn = 0.0, 0
        while sent_s < VOICE_WS_MINUTES * 60:
            sent_s += await voice_turn(session, turn, send)
            last = session.conversation.items[-1]
            assert last.id is not None
            # Audio and words agree: the tone code is exactly MS_PER_CHAR per character.
            spoken_ms = session.conversation.audio_ms(last.id)
            assert spoken_ms == len(reply_text(last)) * MS_PER_CHAR, turn
            turn += 1
        await assert_exact(session, tap, server_tap)
        emitted = len(server_tap.emitted[server_tap.host_of(session)])
        replies = reply_minutes(session)
    report(
        "voice over WebSocket",
        turns=turn,
        events=emitted,
        began=began,
        audio_s=sent_s,
        reply_min=replies,
    )


async def test_a_voice_conversation_over_webrtc_stays_exact(
    server: tuple[RunningServer, ServerTap],
) -> None:
    """The same over a call: audio both ways on the Opus tracks, in real time."""
    from rtagents.client.webrtc_call import WebRTCCall

    running, server_tap = server
    began = time.perf_counter()
    call = WebRTCCall(loopback=True, session=VOICE)
    connector = connect(running.http_url, credentials=running.api_key, transport=call)
    tap = ClientTap(connector.session)
    async with connector as session:
        drain = asyncio.ensure_future(_discard(call))  # what the call plays to us

        async def send(speech: bytes) -> None:
            stopped = asyncio.ensure_future(
                session.wait_for("output_audio_buffer.stopped", timeout=60)
            )
            await call.send_audio(speech + bytes(48 * TRAILING_SILENCE_MS))
            await stopped  # the reply has played out before the next turn begins

        sent_s, turn = 0.0, 0
        while sent_s < VOICE_WEBRTC_SECONDS:
            sent_s += await voice_turn(session, turn, send, length=SHORT)
            turn += 1
        await assert_exact(session, tap, server_tap)
        emitted = len(server_tap.emitted[server_tap.host_of(session)])
        replies = reply_minutes(session)
        drain.cancel()
    report(
        "voice over WebRTC",
        turns=turn,
        events=emitted,
        began=began,
        audio_s=sent_s,
        reply_min=replies,
    )


async def _discard(call: Any) -> None:
    async for _ in call.audio():
        pass


def reply_minutes(session: Any) -> float:
    """Minutes of reply speech: the tone code spends MS_PER_CHAR on every character."""
    items = [i for i in session.conversation.items if i.role == "assistant"]
    return sum(len(reply_text(i)) for i in items) * MS_PER_CHAR / 60_000


def report(
    name: str, *, turns: int, events: int, began: float, audio_s: float = 0.0, reply_min: float = 0
) -> None:
    """One line for docs/reliability.md (shown with ``-s``)."""
    audio = f", {audio_s / 60:.1f} min of user audio" if audio_s else ""
    audio += f", {reply_min:.1f} min of reply audio" if reply_min else ""
    took = time.perf_counter() - began
    print(f"\n{name}: {turns} turns, {events} server events{audio}, {took:.1f} s")
