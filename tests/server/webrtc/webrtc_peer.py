"""A raw WebRTC caller for server tests: aiortc, httpx and the codec, nothing else.

Like ``server_harness`` for WebSockets, it is deliberately not the SDK: it
makes the offer (``oai-events`` channel + an audio track), POSTs it, and reads
the data channel's raw JSON events, so the tests pin the server's wire shape.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
from aiortc import RTCPeerConnection, RTCSessionDescription
from server_harness import EventReader

from rtagents.protocol.codec import encode_event
from rtagents.server.serving import RunningServer
from rtagents.transports.webrtc import loopback_candidates, rtc_configuration
from rtagents.transports.webrtc_audio import PacedAudioTrack, pcm16_frames

TIMEOUT_S = 10.0


@contextlib.asynccontextmanager
async def no_background_errors() -> AsyncIterator[list[dict[str, Any]]]:
    """Fail if anything in the block leaves an error only the loop saw.

    "Task exception was never retrieved" is reported when the failed task is
    collected, so the block's garbage is collected before the check.
    """
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    seen: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: seen.append(context))
    try:
        yield seen
        await asyncio.sleep(0.1)
        gc.collect()
        await asyncio.sleep(0)
        assert not seen, [(c.get("message"), c.get("exception")) for c in seen]
    finally:
        loop.set_exception_handler(previous)


async def make_offer(pc: RTCPeerConnection, *, audio: bool = True) -> tuple[Any, PacedAudioTrack]:
    """The events channel and (unless ``audio`` is off) a paced track, offered."""
    channel = pc.createDataChannel("oai-events")
    track = PacedAudioTrack()
    if audio:
        pc.addTrack(track)
    with loopback_candidates():
        await pc.setLocalDescription(await pc.createOffer())
    return channel, track


async def post_offer(
    server: RunningServer,
    sdp: str,
    *,
    key: str | None = None,
    session: Mapping[str, Any] | None = None,
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key or server.api_key}"}
    async with httpx.AsyncClient() as http:
        if session is None:
            headers["Content-Type"] = "application/sdp"
            return await http.post(
                f"{server.http_url}/v1/realtime/calls", content=sdp, headers=headers
            )
        files = {
            "sdp": (None, sdp.encode(), "application/sdp"),
            "session": (None, json.dumps(session).encode(), "application/json"),
        }
        return await http.post(f"{server.http_url}/v1/realtime/calls", files=files, headers=headers)


class RawCall(EventReader):
    """One connected call: events from the channel as models, audio heard as pcm16."""

    timeout_s = TIMEOUT_S  # a call's first events wait for ICE and DTLS

    def __init__(self, pc: RTCPeerConnection, channel: Any, track: PacedAudioTrack) -> None:
        self.pc = pc
        self.channel = channel
        self.track = track
        self.call_id = ""
        self.heard = bytearray()
        self.events: asyncio.Queue[Any] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        channel.on("message", lambda raw: self.events.put_nowait(raw))
        pc.on("track", self._on_track)

    @classmethod
    async def open(cls, server: RunningServer, **kwargs: Any) -> RawCall:
        pc = RTCPeerConnection(rtc_configuration())
        channel, track = await make_offer(pc)
        reply = await post_offer(server, pc.localDescription.sdp, **kwargs)
        assert reply.status_code == 201, reply.text
        call = cls(pc, channel, track)
        call.call_id = reply.headers["location"].rsplit("/", 1)[-1]
        await pc.setRemoteDescription(RTCSessionDescription(sdp=reply.text, type="answer"))
        return call

    def _on_track(self, track: Any) -> None:
        self._tasks.append(asyncio.create_task(self._hear(track)))

    async def _hear(self, track: Any) -> None:
        async for chunk in pcm16_frames(track):
            self.heard += chunk

    async def send(self, event: Mapping[str, Any]) -> None:
        self.channel.send(encode_event(event))

    async def recv_raw(self) -> str | bytes:
        return await self.events.get()

    async def close(self) -> None:
        self.track.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.pc.close()
