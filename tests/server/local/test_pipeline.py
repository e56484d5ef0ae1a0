"""The local backend's media side, as a WebRTC call uses it: PCM in, PCM out to a sink.

A real host and local backend over the memory transport; the sink is a test
double of the call's track that records what it was handed.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
import pytest

from rtagents.protocol.audio import PCM_RATE
from rtagents.protocol.codec import decode_server_event, encode_event
from rtagents.server.config import ServerConfig
from rtagents.server.host.backend import MediaBackend
from rtagents.server.host.session_host import SessionHost
from rtagents.server.local.pipeline import LocalBackend, local_backend
from rtagents.server.local.session_config import SessionConfig
from rtagents.server.serving import running_server
from rtagents.transports.memory import MemoryTransport, memory_pair

TIMEOUT_S = 10.0
CALL_RATE = 48_000


class RecordingSink:
    """Stands for a call's audio track: keeps every chunk it is asked to play."""

    def __init__(self) -> None:
        self.played: list[tuple[int, str, str, int]] = []  # (rate, response, item, bytes)
        self.cleared = 0

    def play(self, pcm16: bytes, rate: int, response_id: str, item_id: str) -> None:
        self.played.append((rate, response_id, item_id, len(pcm16)))

    async def clear(self) -> None:
        self.cleared += 1


class Peer:
    def __init__(self, host: SessionHost, wire: MemoryTransport) -> None:
        self.host, self.wire = host, wire
        self.seen: list[Any] = []

    @property
    def backend(self) -> LocalBackend:
        assert isinstance(self.host.backend, LocalBackend)
        return self.host.backend

    async def send(self, event: dict[str, Any]) -> None:
        await self.wire.send(encode_event(event))

    async def until(self, kind: str) -> list[Any]:
        events = []
        while True:
            event = decode_server_event(await asyncio.wait_for(self.wire.recv(), TIMEOUT_S))
            events.append(event)
            self.seen.append(event)
            if event.type == kind:
                return events


@asynccontextmanager
async def local_session() -> AsyncIterator[Peer]:
    async with running_server(ServerConfig(port=0)) as server:
        state = server.app.state.rtagents
        ours, theirs = memory_pair()
        config = SessionConfig.initial("realtime", "gpt-realtime")
        host = SessionHost(ours, state.config, local_backend(state, config))
        task = asyncio.create_task(host.run())
        peer = Peer(host, theirs)
        await peer.until("conversation.created")
        try:
            yield peer
        finally:
            await theirs.close()
            await asyncio.wait_for(task, TIMEOUT_S)


def tone(hz: float, seconds: float, rate: int) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * hz * t) * 12_000).astype("<i2").tobytes()


def share_above(pcm16: bytes, rate: int, hz: float) -> float:
    """The share of the signal's energy above ``hz``."""
    spectrum = np.abs(np.fft.rfft(np.frombuffer(pcm16, dtype="<i2").astype(float))) ** 2
    freqs = np.fft.rfftfreq(len(pcm16) // 2, 1 / rate)
    return float(spectrum[freqs > hz].sum() / spectrum.sum())


async def test_the_local_backend_is_a_media_backend() -> None:
    async with local_session() as peer:
        assert isinstance(peer.host.backend, MediaBackend)


async def test_call_audio_on_a_pcmu_session_is_buffered_full_band() -> None:
    async with local_session() as peer:
        pcmu = {"audio": {"input": {"format": {"type": "audio/pcmu"}}}}
        await peer.send({"type": "session.update", "session": {"type": "realtime", **pcmu}})
        await peer.until("session.updated")
        call_audio = tone(6_000, 0.5, CALL_RATE)  # above G.711's 4 kHz band
        for start in range(0, len(call_audio), 1920):  # 20 ms frames, as from the track
            await peer.backend.receive_pcm(call_audio[start : start + 1920], CALL_RATE)
        buffered = peer.backend.input.peek()
        expected = len(call_audio) // 2  # 48 -> 24 kHz; the resampler holds back < 20 ms
        assert expected - 20 * 48 <= len(buffered) <= expected
        assert share_above(buffered[2000:], PCM_RATE, 4_000) > 0.9


async def test_a_call_hears_response_audio_as_pcm_and_no_delta_is_built() -> None:
    async with local_session() as peer:
        sink = RecordingSink()
        peer.backend.set_audio_out(sink)
        assert peer.backend.facts().plays_audio
        await peer.send({"type": "response.create"})
        events = await peer.until("response.done")
        assert "response.output_audio.delta" not in [e.type for e in events]
        done = events[-1].response
        (item,) = done.output
        assert sink.played and {p[1:3] for p in sink.played} == {(done.id, item.id)}
        rate = sink.played[0][0]
        played_ms = sum(p[3] / 2 / rate * 1000 for p in sink.played)
        assert abs(peer.host.conversation.audio_ms(item.id) - played_ms) < 1e-6
        assert peer.backend.facts().audio_produced
        await peer.send({"type": "output_audio_buffer.clear"})
        await peer.send(
            {
                "type": "conversation.item.truncate",
                "item_id": item.id,
                "content_index": 0,
                "audio_end_ms": int(played_ms) + 50,
                "event_id": "too_far",
            }
        )
        (error,) = [e for e in await peer.until("error") if e.type == "error"]
        assert (error.error.param, error.error.event_id) == ("audio_end_ms", "too_far")
        assert sink.cleared == 1


async def test_without_a_sink_response_audio_goes_out_as_deltas() -> None:
    async with local_session() as peer:
        await peer.send({"type": "response.create"})
        events = await peer.until("response.done")
        deltas = [e for e in events if e.type == "response.output_audio.delta"]
        assert deltas
        item_id = deltas[0].item_id
        wire_ms = sum(len(base64.b64decode(d.delta)) / 48 for d in deltas)  # pcm16 24 kHz
        assert abs(peer.host.conversation.audio_ms(item_id) - wire_ms) < 1e-6


@pytest.mark.conformance(
    "audio.output.voice.id",
    status="refused",
    client="raw",
    transport="in-process",
    note="no engine speaks a custom voice: unsupported_voice",
)
@pytest.mark.conformance(
    "audio.output.voice",
    status="supported",
    client="raw",
    transport="in-process",
    note="a voice the engine cannot speak is refused (unsupported_voice) listing those it can",
)
async def test_a_voice_the_engine_cannot_speak_is_refused_and_the_session_goes_on() -> None:
    async with local_session() as peer:
        for voice in ("nova", {"id": "voice_1234"}):
            update = {"type": "realtime", "audio": {"output": {"voice": voice}}}
            await peer.send({"type": "session.update", "event_id": "v", "session": update})
            (error,) = [e for e in await peer.until("error") if e.type == "error"]
            assert (error.error.param, error.error.code) == (
                "session.audio.output.voice",
                "unsupported_voice",
            )
            assert "alloy, ash, ballad" in error.error.message and "cedar" in error.error.message
        await peer.send(
            {"type": "session.update", "session": {"type": "realtime", "instructions": "Hi."}}
        )
        updated = (await peer.until("session.updated"))[-1]
        assert updated.session.audio.output.voice == "alloy"  # the refused ones left no trace
        marin = {"type": "realtime", "audio": {"output": {"voice": "marin"}}}
        await peer.send({"type": "session.update", "session": marin})
        assert (await peer.until("session.updated"))[-1].session.audio.output.voice == "marin"
        nova = {"output_modalities": ["text"], "audio": {"output": {"voice": "nova"}}}
        await peer.send({"type": "response.create", "response": nova})
        (error,) = [e for e in await peer.until("error") if e.type == "error"]
        assert error.error.param == "response.audio.output.voice"
