"""A WebRTC call to the relay, answered by a WebSocket upstream: the host transcodes.

The caller's Opus audio goes upstream as appends; the upstream's audio deltas
play on the call's track (none reach the data channel), and what the caller
hears decodes to the upstream's reply.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "webrtc"))

from relay_harness import relay_rig, until  # noqa: E402
from webrtc_peer import RawCall  # noqa: E402

from rtagents.engines.scripted import (  # noqa: E402
    Rule,
    Say,
    decode_audio,
    scripted_engines,
    scripted_speech,
)
from rtagents.server.config import ServerConfig  # noqa: E402
from rtagents.server.local.pipeline import LocalBackend  # noqa: E402

LONG_REPLY = "This reply is long enough to be interrupted while it is still playing out."
PTT = {
    "type": "realtime",
    "audio": {
        "input": {
            "format": {"type": "audio/pcm", "rate": 24000},
            "turn_detection": None,
            "transcription": {},
        }
    },
}


G711 = {
    "type": "realtime",
    "audio": {
        "input": {"format": {"type": "audio/pcmu"}, "turn_detection": None, "transcription": {}},
        "output": {"format": {"type": "audio/pcmu"}},
    },
}


@pytest.mark.parametrize("config", [PTT, G711], ids=["pcm16", "g711-ulaw"])
async def test_a_call_through_the_relay_is_heard_and_answered_on_the_track(
    config: dict[str, Any],
) -> None:
    """The session's formats are the upstream hop's: pcm16, or G.711 both ways."""
    relay_config = ServerConfig(port=0, webrtc_loopback=True)
    async with relay_rig(relay_config=relay_config) as rig:
        call = await RawCall.open(rig.relay, session=config)
        try:
            await call.until("conversation.created")
            call.track.enqueue(scripted_speech("hello there") + bytes(4800 * 2 * 5))
            await call.track.drained()
            await call.send({"type": "input_audio_buffer.commit"})
            await call.send({"type": "response.create"})
            events = await call.until("response.done")
            types = [e.type for e in events]
            assert "response.output_audio.delta" not in types
            assert "response.output_audio.done" in types
            reply = events[-1].response.output[0].content[0].transcript
            assert reply == "You said: hello there"
            await call.until("output_audio_buffer.stopped")
            await asyncio.sleep(0.3)  # what is in flight (jitter buffer) arrives
            assert decode_audio(bytes(call.heard)) == reply
            (upstream,) = rig.upstream_hosts()
            (relayed,) = rig.relay_hosts()
            assert upstream.conversation.item_ids == relayed.conversation.item_ids
            assert isinstance(upstream.backend, LocalBackend)
            wire = config["audio"]["input"]["format"]["type"]
            assert upstream.backend.config.input_format.to_wire()["type"] == wire
        finally:
            await call.close()


async def test_clearing_a_relayed_call_truncates_the_item_upstream_too() -> None:
    """The call cuts playback where it stopped; the upstream's copy is cut at the same place."""
    engines = scripted_engines([Rule("interrupt", Say(LONG_REPLY))])
    relay_config = ServerConfig(port=0, webrtc_loopback=True)
    async with relay_rig(relay_config=relay_config, engines=engines) as rig:
        call = await RawCall.open(rig.relay, session=PTT)
        try:
            await call.until("conversation.created")
            call.track.enqueue(scripted_speech("interrupt me") + bytes(4800 * 2 * 5))
            await call.track.drained()
            await call.send({"type": "input_audio_buffer.commit"})
            await call.send({"type": "response.create"})
            await call.until("output_audio_buffer.started")
            await asyncio.sleep(0.6)
            await call.send({"type": "output_audio_buffer.clear"})
            events = await call.until("conversation.item.truncated")
            truncated = events[-1]
            assert 0 < truncated.audio_end_ms < len(LONG_REPLY) * 50
            (upstream,) = rig.upstream_hosts()
            await until(
                lambda: upstream.conversation.truncated_ms(truncated.item_id) is not None,
                "the upstream's truncate",
            )
            assert upstream.conversation.truncated_ms(truncated.item_id) == truncated.audio_end_ms
            await asyncio.sleep(0.3)  # the upstream's own truncated would be here by now
            later = [getattr(e, "type", None) for e in await _drain(call)]
            assert "conversation.item.truncated" not in later  # absorbed: the call said it
        finally:
            await call.close()


async def _drain(call: RawCall) -> list[object]:
    drained = []
    while not call.events.empty():
        drained.append(await call.recv())
    return drained
