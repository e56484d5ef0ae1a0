"""The client's WebRTC transport: a call to ``/v1/realtime/calls``, OpenAI's or ours.

:class:`WebRTCCall` is a transport opener (pass it as ``transport=`` to
:func:`rtagents.connect`, or pass ``transport="webrtc"`` for events only):
it makes the peer connection with the ``oai-events`` data channel and an
audio track, POSTs the SDP offer exactly as the hosted API documents it
(``application/sdp`` with an ``ek_`` secret; ``multipart/form-data`` with
``sdp`` and ``session`` when a session config or model goes along), applies
the answer and waits for the channel. The session then runs on the channel
unchanged. The same object sends audio into the call (numpy arrays, pcm16
bytes, WAV files; paced in real time) and yields what the call plays back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from functools import partial
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import httpx
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from ..protocol.audio import PCM_RATE
from ..protocol.errors import ConnectionFailure, Origin
from ..transports.base import ABNORMAL_CLOSURE, NORMAL_CLOSURE, Transport, TransportClosed
from ..transports.webrtc import (
    EVENTS_CHANNEL,
    DataChannelTransport,
    IceServer,
    describe_connection,
    loopback_candidates,
    rtc_configuration,
    wait_open,
)
from ..transports.webrtc_audio import PacedAudioTrack, pcm16_frames
from .audio_sources import AudioSource, to_pcm16

# Received audio kept for a consumer that is not reading (then the oldest goes).
RECEIVED_BUFFER_FRAMES = 1500  # 30 s of 20 ms frames
_HTTP_SCHEMES = {"ws": "http", "wss": "https", "http": "http", "https": "https"}


def calls_url(url: str) -> str:
    """``wss://host/v1/realtime?model=m`` -> ``https://host/v1/realtime/calls`` (query dropped)."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if not path.endswith("/calls"):
        path = (path or "/v1/realtime") + "/calls"
    scheme = _HTTP_SCHEMES.get(parts.scheme.lower(), parts.scheme)
    return urlunsplit((scheme, parts.netloc, path, "", ""))


class ClientCallTransport(DataChannelTransport):
    """The client end of a call's events channel: closing it, or the peer going away,
    hangs the call up."""

    def __init__(
        self,
        pc: RTCPeerConnection,
        channel: Any,
        *,
        hang_up: Callable[[], Coroutine[Any, Any, None]],
    ) -> None:
        super().__init__(channel)
        self.pc = pc
        # Bound to this call's own track and audio queue: a reconnect replaces the opener's.
        self._hang_up_call = hang_up
        self._hangup: asyncio.Task[None] | None = None

    def lost(self, code: int, reason: str) -> TransportClosed:
        closed = super().lost(code, reason)
        self._hang_up()  # the server hung up or the network failed: free the call now
        return closed

    async def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        await super().close(code, reason)
        await self._hang_up()

    def _hang_up(self) -> asyncio.Task[None]:
        if self._hangup is None:
            self._hangup = asyncio.get_running_loop().create_task(self._hang_up_call())
        return self._hangup


class WebRTCCall:
    """Opens Realtime sessions over WebRTC, and carries their audio both ways.

    ``session`` (a GA session config) and the URL's ``?model=`` go in the
    offer's multipart ``session`` part; with neither, the offer is sent as
    plain ``application/sdp`` (the shape for an ``ek_`` secret, whose config
    the server already holds). ``loopback=True`` offers 127.0.0.1 as an ICE
    candidate (see :func:`loopback_candidates`): for a loopback-only host.
    """

    def __init__(
        self,
        *,
        ice_servers: Sequence[IceServer] = (),
        session: Mapping[str, Any] | None = None,
        loopback: bool = False,
    ) -> None:
        self.ice_servers = list(ice_servers)
        self.session = dict(session) if session is not None else None
        self.loopback = loopback
        self.call_id: str | None = None
        self.location: str | None = None
        self.pc: RTCPeerConnection | None = None
        self._track: PacedAudioTrack | None = None
        self._received: asyncio.Queue[bytes | None] = asyncio.Queue(RECEIVED_BUFFER_FRAMES)
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- opening ----------------------------------------------------------------

    async def __call__(
        self, url: str, headers: Mapping[str, str], open_timeout: float
    ) -> Transport:
        """The opener: offer, answer, and the open ``oai-events`` channel as a transport."""
        pc = RTCPeerConnection(rtc_configuration(self.ice_servers))
        try:
            async with asyncio.timeout(open_timeout):
                return await self._open(pc, url, headers)
        except BaseException as exc:
            await self._hang_up(pc, self._track, self._received)
            if isinstance(exc, TimeoutError):
                step, details = describe_connection(pc)
                raise ConnectionFailure(
                    f"The WebRTC call did not open within {open_timeout:g} s: {step}; {details}",
                    origin=Origin.REMOTE,
                    code="webrtc_connection_failed",
                ) from exc
            raise

    async def _open(self, pc: RTCPeerConnection, url: str, headers: Mapping[str, str]) -> Transport:
        self.pc = pc
        self._received = asyncio.Queue(RECEIVED_BUFFER_FRAMES)
        channel = pc.createDataChannel(EVENTS_CHANNEL)
        self._track = PacedAudioTrack()
        pc.addTrack(self._track)
        pc.on("track", self._on_track)
        offer = await pc.createOffer()
        with loopback_candidates() if self.loopback else contextlib.nullcontext():
            await pc.setLocalDescription(offer)
        answer = await self._post_offer(url, headers, pc.localDescription.sdp)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        hang_up = partial(self._hang_up, pc, self._track, self._received)
        transport = ClientCallTransport(pc, channel, hang_up=hang_up)
        pc.on("connectionstatechange", lambda: self._on_state(pc, transport))
        await wait_open(channel)
        return transport

    async def _post_offer(self, url: str, headers: Mapping[str, str], sdp: str) -> str:
        target = calls_url(url)
        request: dict[str, Any] = {"headers": {**headers, "Accept": "application/sdp"}}
        session = self._session_part(url)
        if session is None:
            request["content"] = sdp.encode()
            request["headers"]["Content-Type"] = "application/sdp"
        else:
            request["files"] = {
                "sdp": (None, sdp.encode(), "application/sdp"),
                "session": (None, json.dumps(session).encode(), "application/json"),
            }
        try:
            async with httpx.AsyncClient() as http:
                reply = await http.post(target, **request)
        except httpx.HTTPError as exc:
            raise ConnectionFailure(
                f"Could not POST the SDP offer to {target}: {exc!r}",
                origin=Origin.REMOTE,
                code="connect_failed",
            ) from exc
        if reply.status_code not in (200, 201):
            raise _refused(target, reply)
        self.location = reply.headers.get("location")
        self.call_id = self.location.rstrip("/").rsplit("/", 1)[-1] if self.location else None
        return reply.text

    def _session_part(self, url: str) -> dict[str, Any] | None:
        model = dict(parse_qsl(urlsplit(url).query)).get("model")
        if self.session is None and model is None:
            return None
        session = {"type": "realtime", **(self.session or {})}
        if model is not None:
            session.setdefault("model", model)
        return session

    def _on_state(self, pc: RTCPeerConnection, transport: ClientCallTransport) -> None:
        if pc.connectionState == "failed":
            step, details = describe_connection(pc)
            transport.lost(ABNORMAL_CLOSURE, f"WebRTC connection failed at {step}: {details}")

    # -- audio ------------------------------------------------------------------

    async def send_audio(self, source: AudioSource, *, sample_rate: int = PCM_RATE) -> None:
        """Play ``source`` into the call, returning once it has all been sent (real time).

        ``source`` is a numpy array (float in [-1, 1] or int16; 2-D means
        frames x channels, mixed to mono), pcm16 bytes, or a WAV file path;
        ``sample_rate`` is the rate of an array or bytes (a WAV says its own).
        """
        track = self._live_track()
        track.enqueue(to_pcm16(source, sample_rate))
        await track.drained()

    def clear_audio(self) -> None:
        """Stop sending: drop the audio queued by :meth:`send_audio`."""
        if self._track is not None:
            self._track.clear()

    async def audio(self) -> AsyncIterator[bytes]:
        """What the call plays to us: pcm16 mono 24 kHz chunks (20 ms), until it ends."""
        while True:
            chunk = await self._received.get()
            if chunk is None:
                self._received.put_nowait(None)  # every reader sees the end
                return
            yield chunk

    def _live_track(self) -> PacedAudioTrack:
        if self._track is None or self._track.readyState != "live":
            raise ConnectionFailure(
                "No live WebRTC call: open the session first (the call sends audio only "
                "while it is connected).",
                origin=Origin.LOCAL,
                code="not_connected",
            )
        return self._track

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            task = asyncio.create_task(self._receive(track), name="rtagents-webrtc-audio-in")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _receive(self, track: MediaStreamTrack) -> None:
        async for chunk in pcm16_frames(track):
            if self._received.full():
                self._received.get_nowait()  # nobody is listening: keep the newest
            self._received.put_nowait(chunk)

    async def _hang_up(
        self,
        pc: RTCPeerConnection,
        track: PacedAudioTrack | None,
        received: asyncio.Queue[bytes | None],
    ) -> None:
        """Close the peer connection and everything on it; idempotent.

        ``track`` and ``received`` are that call's, passed in because a late
        hang-up of a lost call must not stop or end the next call's audio.
        """
        if track is not None:
            track.stop()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await pc.close()
        if received.full():
            received.get_nowait()
        received.put_nowait(None)


def _refused(target: str, reply: httpx.Response) -> ConnectionFailure:
    """The server's own words for a refused offer (status, code, message)."""
    code, message = f"http_{reply.status_code}", reply.text[:500]
    try:
        error = reply.json().get("error") or {}
        code = error.get("code") or code
        message = error.get("message") or message
    except (ValueError, AttributeError):
        pass
    return ConnectionFailure(
        f"POST {target} was refused with HTTP {reply.status_code}: {message}",
        origin=Origin.REMOTE,
        code=code,
    )
