"""``doctor connect --webrtc``: a Realtime call checked one step at a time.

The offer is made the way :class:`rtagents.client.WebRTCCall` makes it (the
``oai-events`` channel and an audio track), but each stage is waited for and
reported on its own: ICE gathering, the HTTP auth and SDP exchange
(``POST /v1/realtime/calls``), the ICE pair chosen, DTLS, the data channel.
Then the session steps run on the channel exactly as over a WebSocket.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiortc import RTCPeerConnection, RTCSessionDescription

from ..client.webrtc_call import calls_url
from ..protocol.errors import Category
from ..transports.webrtc import (
    EVENTS_CHANNEL,
    DataChannelTransport,
    describe_connection,
    loopback_candidates,
    rtc_configuration,
    wait_open,
)
from ..transports.webrtc_audio import PacedAudioTrack
from .doctor_auth import auth_failure, auth_headers
from .doctor_session import check_session_created, check_text_turn
from .doctor_steps import ConnectStep, StepFailed

_SHOWN_CANDIDATES = 3


@dataclass
class WebRTCCheck:
    """The WebRTC steps after the network ones; holds the peer connection."""

    url: str
    credential: str | None
    timeout_s: float
    loopback: bool = False
    pc: RTCPeerConnection = field(default_factory=lambda: RTCPeerConnection(rtc_configuration()))
    transport: DataChannelTransport | None = None
    reply: httpx.Response | None = None
    _track: PacedAudioTrack | None = None

    def steps(self) -> list[ConnectStep]:
        where = self._where
        return [
            ConnectStep("ICE gathering", Category.CONNECTION, self._gather, where),
            ConnectStep(
                "HTTP auth",
                Category.CONNECTION,
                self._post,
                "no answer to the SDP offer's "
                "POST: a proxy or a hung server? check the server's logs",
            ),
            ConnectStep(
                "SDP exchange", Category.CONNECTION, self._answer, "the answer did not apply"
            ),
            ConnectStep("ICE connectivity", Category.CONNECTION, self._ice, where),
            ConnectStep("DTLS", Category.CONNECTION, self._dtls, where),
            ConnectStep("data channel", Category.CONNECTION, self._channel, where),
            ConnectStep(
                "session.created",
                Category.PROTOCOL,
                self._created,
                "the data channel opened but no session.created came: check the server's logs",
            ),
            ConnectStep(
                "text turn",
                Category.MODEL,
                self._turn,
                "no response.done: the model or "
                "engine is slow or stuck; check the server's logs (or raise --timeout)",
            ),
        ]

    def _where(self) -> str:
        return describe_connection(self.pc)[1]

    async def _gather(self) -> str:
        channel = self.pc.createDataChannel(EVENTS_CHANNEL)
        self.transport = DataChannelTransport(channel)
        self._track = PacedAudioTrack()
        self.pc.addTrack(self._track)
        offer = await self.pc.createOffer()
        with loopback_candidates() if self.loopback else contextlib.nullcontext():
            await self.pc.setLocalDescription(offer)
        candidates = _candidates(self.pc.localDescription.sdp)
        if not candidates:
            raise StepFailed(
                "no local ICE candidate was gathered",
                "check the network interfaces and ICE servers; on a loopback-only host "
                "pass --loopback",
            )
        return f"{len(candidates)} local candidate(s): {_shown(candidates)}"

    async def _post(self) -> str:
        target = calls_url(self.url)
        headers = {
            **auth_headers(self.credential),
            "Content-Type": "application/sdp",
            "Accept": "application/sdp",
        }
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as http:
                self.reply = await http.post(
                    target, content=self.pc.localDescription.sdp.encode(), headers=headers
                )
        except httpx.HTTPError as exc:
            raise StepFailed(
                f"POST {target} got no HTTP answer: {exc!r}",
                "the port did not answer HTTP: is this the server's HTTP port?",
            ) from exc
        status = self.reply.status_code
        if status in (401, 403):
            raise auth_failure(status, f"HTTP {status}: {_message(self.reply)}", self.credential)
        accepted = status in (200, 201) and self.credential is not None
        return "credential accepted" if accepted else f"not refused (HTTP {status})"

    async def _answer(self) -> str:
        reply = self.reply
        assert reply is not None
        if reply.status_code not in (200, 201) or not reply.text.startswith("v="):
            raise _offer_refused(reply)
        answer = RTCSessionDescription(sdp=reply.text, type="answer")
        await self.pc.setRemoteDescription(answer)
        call = reply.headers.get("location", "no Location header")
        remote = _candidates(reply.text)
        return f"HTTP {reply.status_code}, {call}; {len(remote)} remote candidate(s)"

    async def _ice(self) -> str:
        pc = self.pc
        settled = ("completed", "connected", "failed", "closed")
        await _until(pc, "iceconnectionstatechange", lambda: pc.iceConnectionState in settled)
        if pc.iceConnectionState not in ("completed", "connected"):
            raise StepFailed(f"ICE is '{pc.iceConnectionState}'", self._where())
        return f"pair chosen: {_chosen_pair(pc)}"

    async def _dtls(self) -> str:
        pc = self.pc
        settled = ("connected", "failed", "closed")
        await _until(pc, "connectionstatechange", lambda: pc.connectionState in settled)
        if pc.connectionState != "connected":
            raise StepFailed(f"the connection is '{pc.connectionState}'", self._where())
        return "DTLS connected (the peer's certificate matched the SDP fingerprint)"

    async def _channel(self) -> str:
        assert self.transport is not None
        await wait_open(self.transport.channel)
        return f"'{EVENTS_CHANNEL}' is open"

    async def _created(self) -> str:
        assert self.transport is not None
        return await check_session_created(self.transport)

    async def _turn(self) -> str:
        assert self.transport is not None
        return await check_text_turn(self.transport)

    async def close(self) -> None:
        if self.transport is not None:
            await self.transport.close()
        if self._track is not None:
            self._track.stop()
        await self.pc.close()


async def _until(pc: RTCPeerConnection, event: str, done: Callable[[], bool]) -> None:
    """Wait for ``pc``'s ``event`` until ``done()`` (the step's timeout bounds the wait)."""
    changed = asyncio.Event()
    pc.on(event, changed.set)
    try:
        while not done():
            changed.clear()
            await changed.wait()
    finally:
        pc.remove_listener(event, changed.set)


def _candidates(sdp: str) -> list[str]:
    """``type address:port`` of each ``a=candidate`` line."""
    found = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            fields = line.split()
            if len(fields) >= 8:
                found.append(f"{fields[7]} {fields[4]}:{fields[5]}")
    return found


def _shown(candidates: list[str]) -> str:
    more = len(candidates) - _SHOWN_CANDIDATES
    return ", ".join(candidates[:_SHOWN_CANDIDATES]) + (f", +{more} more" if more > 0 else "")


def _chosen_pair(pc: RTCPeerConnection) -> str:
    """The nominated pair from aioice's connection (private, so read defensively)."""
    sctp: Any = pc.sctp
    ice = sctp.transport.transport if sctp is not None else None
    nominated = getattr(getattr(ice, "_connection", None), "_nominated", None) or {}
    for pair in nominated.values():
        local, remote = pair.local_candidate, pair.remote_candidate
        return (
            f"local {local.type} {local.host}:{local.port} <-> "
            f"remote {remote.type} {remote.host}:{remote.port}"
        )
    return "connected (the pair is not visible)"


def _message(reply: httpx.Response) -> str:
    try:
        error = reply.json().get("error") or {}
        return str(error.get("message") or reply.text[:300])
    except (ValueError, AttributeError):
        return reply.text[:300] or reply.reason_phrase


def _offer_refused(reply: httpx.Response) -> StepFailed:
    status = reply.status_code
    detail = f"HTTP {status} to the SDP offer: {_message(reply)}"
    if status == 404:
        fix = "no /v1/realtime/calls here: is this a Realtime server with WebRTC enabled?"
    elif status == 400:
        fix = "the server refused the offer; its message names the part (audio, data channel)"
    elif status in (200, 201):
        fix = "the answer is not SDP: is this a Realtime server? check the URL"
    elif status in (429, 503):
        fix = "the server is at a limit (busy or rate-limited): retry later"
    else:
        fix = "check the server's logs"
    category = Category.PROTOCOL if status == 400 else None
    return StepFailed(detail, fix, category=category)
