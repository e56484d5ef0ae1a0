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

A call ends when either side hangs up, the connection fails, it never
connects within ``call_connect_timeout_s``, or nothing arrives from a
connected caller for ``call_peer_timeout_s`` (it vanished without hanging
up); a failure is sent as ``webrtc_connection_failed`` to whoever still
listens (the channel, the sidebands). Then everything it started — host,
tasks, tracks, peer connection — is stopped, and it leaves the roster.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Coroutine
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

from aiortc import RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from ...protocol.errors import ConnectionFailure, LocalProtocolError, Origin, RealtimeError
from ...transports.base import ABNORMAL_CLOSURE, NORMAL_CLOSURE
from ...transports.webrtc import (
    EVENTS_CHANNEL,
    describe_connection,
    loopback_candidates,
    rtc_configuration,
)
from ...transports.webrtc_audio import OPUS_RATE, PacedAudioTrack, pcm16_frames
from ..host.backend import MediaBackend
from ..host.session_host import SessionHost
from ..local.session_config import SessionConfig
from ..session_backend import session_backend
from .call_audio import CallAudio
from .events_channel import DataChannelWithSidebands
from .peer_guard import (
    close_quietly,
    contained,
    packets_received,
    unanswerable,
    with_max_message_size,
)
from .sctp_guard import bound_association

if TYPE_CHECKING:
    from ..state import ServerState

log = logging.getLogger("rtagents.server.webrtc.call")


class BadOffer(Exception):
    """The SDP offer cannot be answered; the message says why and what to change."""


def new_call_id() -> str:
    """Unguessable (it is what a sideband attaches by), shaped like the hosted ``rtc_…``."""
    return "rtc_" + secrets.token_hex(16)


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
        # Why the call failed, once it has (a sideband that attached too late is told).
        self.failure: RealtimeError | None = None
        self._ending = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._host_task: asyncio.Task[None] | None = None
        self.pc.on("datachannel", self._on_datachannel)
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._on_connection_state)

    async def answer(self, offer_sdp: str) -> str:
        """The SDP answer; :class:`BadOffer` (with the call closed) if there is none."""
        pc = self.pc
        try:
            offer = RTCSessionDescription(sdp=offer_sdp, type="offer")
            await contained(pc, pc.setRemoteDescription(offer), self.id)
            if pc.sctp is not None:
                limit = self.state.config.limits.datachannel_message_bytes
                bound_association(pc.sctp, limit)
            if any(t.kind == "audio" for t in pc.getTransceivers()):
                pc.addTrack(self.track)
            answer = await contained(pc, pc.createAnswer(), self.id)
            with loopback_candidates() if self.state.config.webrtc_loopback else nullcontext():
                await contained(pc, pc.setLocalDescription(answer), self.id)
        except asyncio.CancelledError:  # the request went away: free the peer connection
            await self.end(NORMAL_CLOSURE, "the offer was abandoned")
            raise
        except Exception as exc:  # aiortc raises ValueError, KeyError, ... on bad SDP
            await self.end(NORMAL_CLOSURE, "bad offer")
            raise BadOffer(unanswerable(exc)) from exc
        self._spawn(self._watch_connect(), "connect-timeout")
        limit = self.state.config.limits.datachannel_message_bytes
        return with_max_message_size(str(pc.localDescription.sdp), limit)

    # -- connecting -----------------------------------------------------------------

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        if channel.label != EVENTS_CHANNEL or self.transport is not None:
            log.info("call %s: ignoring data channel %r", self.id, channel.label)
            return
        limit = self.state.config.limits.datachannel_message_bytes
        self.transport = DataChannelWithSidebands(
            channel, max_inbound=limit, refuse=self._refuse_message
        )
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
        if self.state.config.call_peer_timeout_s > 0:
            self._spawn(self._watch_peer(self.state.config.call_peer_timeout_s), "peer-watch")
        log.info("call %s connected (session %s)", self.id, host.id)

    def _new_host(self, transport: DataChannelWithSidebands) -> SessionHost:
        """A session answered by the local backend (or the relay), as a WebSocket's would be."""
        factory = session_backend(self.state, self.config)
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

    async def _watch_peer(self, silent_s: float) -> None:
        """Fail the call once nothing has come from the caller for ``silent_s`` seconds.

        A caller that is killed or drops off the network says nothing; ICE
        consent would notice only after about 35 s. A live one always sends
        something (audio, receiver reports, data channel acks). A server
        stalled past the check's interval (an overloaded loop) did not read
        the caller meanwhile either, so the count starts over instead.
        """
        loop = asyncio.get_running_loop()
        interval = silent_s / 4
        count, heard_at = await packets_received(self.pc), loop.time()
        while True:
            slept_from = loop.time()
            await asyncio.sleep(interval)
            now, latest = loop.time(), await packets_received(self.pc)
            if latest != count or now - slept_from > 2 * interval:
                count, heard_at = latest, now
            elif now - heard_at >= silent_s:
                message = (
                    f"The caller went silent: nothing arrived from it for {silent_s:g} s "
                    "(call_peer_timeout_s), so the call was ended. It closed without hanging "
                    f"up (POST /v1/realtime/calls/{self.id}/hangup) or lost its network."
                )
                await self._fail("media", message, reason="the caller went silent")
                return

    async def _fail(self, step: str, message: str, *, reason: str = "") -> None:
        """Log, tell whoever still listens (data channel, sidebands), then end the call."""
        log.warning("call %s: %s", self.id, message, extra={"step": step, "outcome": "failed"})
        error = ConnectionFailure(message, origin=Origin.REMOTE, code="webrtc_connection_failed")
        self.failure = error
        await self._notify(error)
        await self.end(ABNORMAL_CLOSURE, reason or f"{step} failed")

    async def _notify(self, error: RealtimeError) -> None:
        if self.host is not None and not self.host.closing:
            await self.host.reply_error(error, error_type="server_error")

    async def _refuse_message(self, error: RealtimeError) -> None:
        """Answer a caller's message the channel refused unread (it is over the size limit)."""
        if self.host is not None:
            await self.host.reply_error(error)

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
        await close_quietly(self.pc, self.id)
        self.state.calls.pop(self.id, None)
        self.ended.set()
        log.info("call %s ended: %s", self.id, reason)

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=f"{self.id}-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
