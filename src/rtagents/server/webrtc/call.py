"""One WebRTC call: a peer connection whose data channel hosts a Realtime session.

The call answers the caller's SDP offer, and once the ``oai-events`` data
channel opens it runs an ordinary :class:`SessionHost` over it with the local
backend (the host does not know it is on WebRTC). The call uses the
backend's media side (:class:`MediaBackend`): the caller's track goes to
``receive_pcm`` as PCM at Opus's 48 kHz, whatever the session's input format
(G.711 formats describe WebSocket audio only), and the response's audio
comes to the call's :class:`CallAudio` as PCM at the engine's rate and plays
on our track (:mod:`.call_audio`). Sideband WebSockets attach to the same
host (:mod:`.sideband`).

A call ends when either side hangs up, the connection fails, or it never
connects within ``call_connect_timeout_s``; then everything it started —
host, tasks, tracks, peer connection — is stopped, and it leaves the roster.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from aiortc import RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from ...protocol.codec import encode_event
from ...protocol.errors import ConnectionFailure, LocalProtocolError, Origin, RealtimeError
from ...transports.base import ABNORMAL_CLOSURE, NORMAL_CLOSURE, Transport, TransportClosed
from ...transports.webrtc import (
    EVENTS_CHANNEL,
    DataChannelTransport,
    describe_connection,
    loopback_candidates,
    rtc_configuration,
)
from ...transports.webrtc_audio import OPUS_RATE, PacedAudioTrack, pcm16_frames
from ..host.backend import MediaBackend
from ..host.session_host import SessionHost
from ..host.wire_events import error_event
from ..local.pipeline import local_backend
from ..local.session_config import SessionConfig
from .call_audio import CallAudio

if TYPE_CHECKING:
    from ..state import ServerState

log = logging.getLogger("rtagents.server.webrtc.call")
MAX_CLOSE_REASON_BYTES = 123


class BadOffer(Exception):
    """The SDP offer cannot be answered; the message says why and what to change."""


def new_call_id() -> str:
    """Unguessable (it is what a sideband attaches by), shaped like the hosted ``rtc_…``."""
    return "rtc_" + secrets.token_hex(16)


class DataChannelWithSidebands(DataChannelTransport):
    """The data channel, plus the call's sideband WebSockets.

    Every server event goes to the channel and to each sideband; client events
    from a sideband are :meth:`deliver`\\ ed into the channel's receive order.
    """

    def __init__(self, channel: RTCDataChannel) -> None:
        super().__init__(channel)
        self.sidebands: set[Transport] = set()

    async def send(self, message: str) -> None:
        for sideband in list(self.sidebands):
            try:
                await sideband.send(message)
            except TransportClosed:
                self.sidebands.discard(sideband)
        if len(message.encode()) > self.max_message_size:
            message = _too_large(message, self.max_message_size)
        await super().send(message)

    async def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        why = self.close_reason if self.closed else reason  # the first reason is the real one
        await super().close(code, reason)
        ending = f"call ended: {why or 'closed'}"
        ending = ending.encode()[:MAX_CLOSE_REASON_BYTES].decode(errors="ignore")
        for sideband in list(self.sidebands):
            await sideband.close(NORMAL_CLOSURE, ending)
        self.sidebands.clear()


def _too_large(message: str, limit: int) -> str:
    """What the peer gets instead of an event larger than its data channel accepts."""
    kind = json.loads(message).get("type")  # rare, so parsing it whole is fine
    error = LocalProtocolError(
        f"A '{kind}' event of {len(message.encode())} bytes was not delivered: the data "
        f"channel accepts messages up to {limit} bytes (the offer's a=max-message-size). "
        "Read large payloads (e.g. conversation.item.retrieve audio) over a sideband "
        "WebSocket instead.",
        code="message_too_large",
    )
    return encode_event(error_event(error, error_type="server_error"))


class AnsweredCall:
    """A WebRTC call this server answered, from offer to hangup (in ``state.calls`` meanwhile)."""

    def __init__(
        self, state: ServerState, config: SessionConfig, *, owner: str | None = None
    ) -> None:
        self.id = new_call_id()
        self.state = state
        self.config = config
        # The ek_ secret that opened the call (None: the API key); only it may hang up.
        self.owner = owner
        self.pc = RTCPeerConnection(rtc_configuration(state.config.ice_servers))
        self.track = PacedAudioTrack()
        self.audio: CallAudio | None = None  # the track's player, once the host runs
        self.host: SessionHost | None = None
        self.transport: DataChannelWithSidebands | None = None
        self.connected = asyncio.Event()
        self.ended = asyncio.Event()
        self.end_reason = ""
        self._ending = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._host_task: asyncio.Task[None] | None = None
        self.pc.on("datachannel", self._on_datachannel)
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._on_connection_state)

    async def answer(self, offer_sdp: str) -> str:
        """The SDP answer; :class:`BadOffer` (with the call closed) if there is none."""
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            if any(t.kind == "audio" for t in self.pc.getTransceivers()):
                self.pc.addTrack(self.track)
            answer = await self.pc.createAnswer()
            if self.state.config.webrtc_loopback:
                with loopback_candidates():
                    await self.pc.setLocalDescription(answer)
            else:
                await self.pc.setLocalDescription(answer)
        except asyncio.CancelledError:  # the request went away: free the peer connection
            await self.end(NORMAL_CLOSURE, "the offer was abandoned")
            raise
        except Exception as exc:  # aiortc raises ValueError, KeyError, ... on bad SDP
            await self.end(NORMAL_CLOSURE, "bad offer")
            raise BadOffer(
                f"The SDP offer could not be answered: {exc or type(exc).__name__}."
            ) from exc
        self._spawn(self._watch_connect(), "connect-timeout")
        return str(self.pc.localDescription.sdp)

    # -- connecting -----------------------------------------------------------------

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        if channel.label != EVENTS_CHANNEL or self.transport is not None:
            log.info("call %s: ignoring data channel %r", self.id, channel.label)
            return
        self.transport = DataChannelWithSidebands(channel)
        if channel.readyState == "open":
            self._start_host()
        else:
            channel.on("open", self._start_host)

    def _start_host(self) -> None:
        if self.host is not None or self._ending or self.transport is None:
            return
        host = self._new_host(self.transport)
        backend = host.backend
        if isinstance(backend, MediaBackend):
            self.audio = CallAudio(host, self.track)
            host.add_observer(self.audio)  # before the greeting: it reads the session's config
            backend.set_audio_out(self.audio)
        self.host = host
        self.connected.set()
        self._host_task = self._spawn(self._run_host(host), "host")
        log.info("call %s connected (session %s)", self.id, host.id)

    def _new_host(self, transport: DataChannelWithSidebands) -> SessionHost:
        """A session answered by the local backend, as a WebSocket's would be."""
        factory = local_backend(self.state, self.config)
        return SessionHost(transport, self.state.config, factory, roster=self.state.sessions)

    async def _run_host(self, host: SessionHost) -> None:
        await host.run()
        transport = self.transport
        await self.end(NORMAL_CLOSURE, (transport.close_reason if transport else None) or "")

    async def _watch_connect(self) -> None:
        timeout = self.state.config.call_connect_timeout_s
        try:
            await asyncio.wait_for(self.connected.wait(), timeout)
        except TimeoutError:
            step, details = describe_connection(self.pc)
            message = (
                f"The WebRTC call never connected within {timeout:g} s: {step} failed; {details}"
            )
            await self._fail(step, message)

    def _on_connection_state(self) -> None:
        state = self.pc.connectionState
        if state == "failed" and not self._ending:
            step, details = describe_connection(self.pc)
            message = f"The WebRTC connection failed at {step}: {details}"
            self._spawn(self._fail(step, message), "connection-failed")
        elif state == "closed" and not self._ending:
            self._spawn(self.end(ABNORMAL_CLOSURE, "the peer closed the connection"), "closed")

    async def _fail(self, step: str, message: str) -> None:
        """Log, tell whoever still listens (data channel, sidebands), then end the call."""
        log.warning("call %s: %s", self.id, message, extra={"step": step, "outcome": "failed"})
        error = ConnectionFailure(message, origin=Origin.REMOTE, code="webrtc_connection_failed")
        await self._notify(error)
        await self.end(ABNORMAL_CLOSURE, f"{step} failed")

    async def _notify(self, error: RealtimeError) -> None:
        if self.host is not None and not self.host.closing:
            await self.host.reply_error(error, error_type="server_error")

    # -- audio in -------------------------------------------------------------------

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self._spawn(self._hear(track), "audio-in")

    async def _hear(self, track: MediaStreamTrack) -> None:
        """The caller's audio, to the backend as it arrives (20 ms frames, 48 kHz PCM).

        Never through the session's input format: on a G.711 session that
        would squeeze the caller through 8 kHz for nothing.
        """
        try:
            async for pcm16 in pcm16_frames(track, OPUS_RATE):
                host = self.host
                if host is not None and not host.closing:
                    backend = host.backend
                    if isinstance(backend, MediaBackend):
                        await backend.receive_pcm(pcm16, OPUS_RATE)
        except Exception:  # a bug here must not pass silently: the caller goes unheard
            log.exception("call %s: input audio failed", self.id)
            message = "The server stopped hearing the call's audio (a server bug); call again."
            await self._notify(LocalProtocolError(message, code="internal_error"))

    # -- ending ---------------------------------------------------------------------

    async def end(self, code: int, reason: str) -> None:
        """Hang up: stop the session (it says why), the tasks, the tracks, the connection."""
        if self._ending:
            await self.ended.wait()
            return
        self._ending = True
        self.end_reason = reason
        host, current = self.host, asyncio.current_task()
        if host is not None and self._host_task is not current:
            await host.shutdown(code, reason)
            await host.wait_closed()
        elif self.transport is not None:
            await self.transport.close(code, reason)
        tasks = [t for t in self._tasks if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.track.stop()
        await self.pc.close()
        self.state.calls.pop(self.id, None)
        self.ended.set()
        log.info("call %s ended: %s", self.id, reason)

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=f"{self.id}-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
