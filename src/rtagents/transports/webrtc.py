"""WebRTC (aiortc) behind the :class:`Transport` seam: events on a data channel.

A Realtime call carries its JSON events as raw text messages on the data
channel named ``oai-events`` (no envelope: a stock browser client reads them)
and its audio as Opus tracks (see :mod:`.webrtc_audio`). This module holds
what the server and the client share: the channel as a transport, the ICE
configuration, the loopback switch for tests, and the words for an ICE/DTLS
failure that say which step failed and what to check.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import aioice.ice
from aiortc import RTCConfiguration, RTCDataChannel, RTCIceServer, RTCPeerConnection

from ..protocol.errors import Origin
from .base import (
    INTERNAL_ERROR,
    MESSAGE_TOO_BIG,
    NORMAL_CLOSURE,
    ClosedLatch,
    TransportClosed,
    frameless,
)

log = logging.getLogger("rtagents.transports.webrtc")

EVENTS_CHANNEL = "oai-events"
# Past this many bytes queued on the channel, send() waits for the peer to read.
SEND_HIGH_WATER = 1 * 2**20
SEND_LOW_WATER = 256 * 2**10
CLOSE_DRAIN_TIMEOUT_S = 2.0
# A data channel cannot make its peer wait: past this many unread characters or
# bytes the receiving end closes (1011) instead of queueing without bound.
MAX_UNREAD = 16 * 2**20

IceServer = str | Mapping[str, Any]
"""A STUN/TURN URL, or ``{"urls": ..., "username": ..., "credential": ...}``."""


def rtc_configuration(ice_servers: Sequence[IceServer] = ()) -> RTCConfiguration:
    """An explicit ICE configuration; empty unless servers are given.

    aiortc's default configuration contacts a public STUN host, which an
    offline or firewalled machine cannot reach (and should not try to).
    """
    servers = []
    for server in ice_servers:
        if isinstance(server, str):
            servers.append(RTCIceServer(urls=server))
        else:
            servers.append(
                RTCIceServer(
                    urls=server["urls"],
                    username=server.get("username"),
                    credential=server.get("credential"),
                )
            )
    return RTCConfiguration(iceServers=servers)


_original_host_addresses = aioice.ice.get_host_addresses
_loopback_users = 0


def _with_loopback(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    addresses = _original_host_addresses(use_ipv4, use_ipv6)
    if use_ipv4 and "127.0.0.1" not in addresses:
        addresses.append("127.0.0.1")
    return addresses


@contextlib.contextmanager
def loopback_candidates() -> Iterator[None]:
    """While open, ICE also offers 127.0.0.1 as a host candidate (opt-in, process-wide).

    aioice leaves the loopback address out of its host candidates, so two
    peers in a network namespace that has only ``lo`` (a CI sandbox) find no
    pair to connect. Tests, and a server whose ``webrtc_loopback`` setting is
    on, enable this; nested and concurrent users are counted, and the original
    behaviour returns when the last one leaves. Never needed across machines.
    """
    global _loopback_users
    _loopback_users += 1
    aioice.ice.get_host_addresses = _with_loopback
    try:
        yield
    finally:
        _loopback_users -= 1
        if _loopback_users == 0:
            aioice.ice.get_host_addresses = _original_host_addresses


class DataChannelTransport:
    """Implements ``transports.base.Transport`` over an open ``RTCDataChannel``.

    The channel has no close codes: a close by the peer reads as 1000 with a
    reason saying so; :meth:`lost` records a harder failure (ICE/DTLS).
    :meth:`deliver` lets the owner inject messages from elsewhere (the
    server's sideband connections) into the same receive order.

    Backpressure: ``send`` waits while more than ``SEND_HIGH_WATER`` bytes are
    queued on the channel; a receiver cannot slow its peer down, so past
    ``max_unread`` unread characters/bytes it closes with 1011. A message over
    the peer's ``max-message-size`` ends the connection with 1009, as a
    WebSocket peer would.
    """

    def __init__(self, channel: RTCDataChannel, *, max_unread: int = MAX_UNREAD) -> None:
        self.channel = channel
        self._inbox: asyncio.Queue[str | bytes | None] = asyncio.Queue()
        self._max_unread = max_unread
        self._unread = 0
        self._latch = ClosedLatch()
        self._drained = asyncio.Event()
        channel.bufferedAmountLowThreshold = SEND_LOW_WATER
        channel.on("message", self.deliver)
        channel.on("close", self._on_channel_close)
        channel.on("bufferedamountlow", self._drained.set)

    @property
    def closed(self) -> bool:
        return self._latch.closed

    @property
    def close_code(self) -> int | None:
        return self._latch.code

    @property
    def close_reason(self) -> str | None:
        return self._latch.reason

    def deliver(self, message: str | bytes) -> None:
        """Queue ``message`` for :meth:`recv` (the channel's own messages come here)."""
        if self._latch.closed:
            return
        self._unread += len(message)
        if self._unread > self._max_unread:
            self._mark(INTERNAL_ERROR, f"over {self._max_unread} unread: the reader fell behind")
            if self.channel.readyState in ("connecting", "open"):
                self.channel.close()
            return
        self._inbox.put_nowait(message)

    @property
    def max_message_size(self) -> int:
        """The largest message the peer accepts (its SDP ``max-message-size``)."""
        size: int = getattr(self.channel.transport, "_remote_max_message_size", 0)
        return size or 2**31

    async def send(self, message: str) -> None:
        self._latch.raise_if_closed()
        if self.channel.readyState != "open":
            raise self.lost(NORMAL_CLOSURE, "the data channel is closed")
        limit = self.max_message_size
        if len(message) * 4 > limit and len(message.encode()) > limit:
            reason = f"a {len(message.encode())}-byte message is over the peer's limit of {limit}"
            await self.close(MESSAGE_TOO_BIG, reason)
            raise self._latch.record(MESSAGE_TOO_BIG, reason, origin=Origin.LOCAL)
        try:
            self.channel.send(message)
        except Exception as exc:  # aiortc raises InvalidStateError/ConnectionError when gone
            raise self.lost(NORMAL_CLOSURE, f"the data channel failed: {exc}") from frameless(exc)
        if self.channel.bufferedAmount > SEND_HIGH_WATER:
            self._drained.clear()
            await self._drained.wait()

    async def recv(self) -> str | bytes:
        if self._inbox.empty():
            self._latch.raise_if_closed()
        message = await self._inbox.get()
        if message is None:
            self._inbox.put_nowait(None)  # wake any other reader too
            self._latch.raise_if_closed()
        assert message is not None  # None is queued only once the latch is set
        self._unread -= len(message)
        return message

    async def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        """Send what is queued (briefly), then close the channel; idempotent."""
        if self._latch.closed:
            return
        self._mark(code, reason, Origin.LOCAL)
        if self.channel.readyState == "open" and self.channel.bufferedAmount > 0:
            self.channel.bufferedAmountLowThreshold = 0
            self._drained.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained.wait(), CLOSE_DRAIN_TIMEOUT_S)
        if self.channel.readyState in ("connecting", "open"):
            self.channel.close()

    def lost(self, code: int, reason: str) -> TransportClosed:
        """Record that the connection under the channel is gone (wakes readers)."""
        if not self._latch.closed:
            self._mark(code, reason, Origin.REMOTE)
        return self._latch.record(code, reason)

    def _drop_unread(self) -> None:
        while not self._inbox.empty():
            self._inbox.get_nowait()
        self._unread = 0

    def _on_channel_close(self) -> None:
        self.lost(NORMAL_CLOSURE, "the peer closed the data channel")

    def _mark(self, code: int, reason: str, origin: Origin = Origin.LOCAL) -> None:
        self._latch.record(code, reason, origin=origin)
        if origin is Origin.LOCAL:  # after a local close nothing more is read
            self._drop_unread()
        self._drained.set()
        self._inbox.put_nowait(None)


async def wait_open(channel: RTCDataChannel) -> None:
    """Wait until ``channel`` is open (the caller bounds the wait)."""
    if channel.readyState == "open":
        return
    opened = asyncio.Event()
    channel.on("open", opened.set)
    try:
        await opened.wait()
    finally:
        channel.remove_listener("open", opened.set)


def describe_connection(pc: RTCPeerConnection) -> tuple[str, str]:
    """``(step, details)`` of where connecting stands or failed: which step, and what to check.

    Steps in order: ICE gathering, ICE connectivity checks, DTLS handshake,
    data channel. The details name the candidates and pairs, since "ICE
    failed" alone is what makes WebRTC failures so hard to debug.
    """
    ice = _ice_transport(pc)
    if ice is None:
        return "setup", "no transport was negotiated; the SDP offer had no usable m= section."
    gatherer = ice.iceGatherer
    local = gatherer.getLocalCandidates()
    remote = ice.getRemoteCandidates()
    summary = (
        f"{len(local)} local candidate(s) ({_addresses(local)}), "
        f"{len(remote)} remote candidate(s) ({_addresses(remote)})"
    )
    if gatherer.state != "completed" or not local:
        return "ICE gathering", (
            f"gathering is '{gatherer.state}' with {summary}. Check the network interfaces "
            "and the configured ICE servers (STUN/TURN reachable?); on a loopback-only "
            "host enable loopback candidates."
        )
    if ice.state in ("new", "checking", "failed"):
        pairs = _pairs(ice)
        return "ICE connectivity checks", (
            f"ICE is '{ice.state}': {summary}; {pairs}. Check that the peers can reach each "
            "other over UDP at those addresses (firewall, NAT: configure a TURN server in "
            "ice_servers), and that the offer's candidates are not stale."
        )
    dtls = _dtls_state(pc)
    if dtls != "connected":
        return "DTLS handshake", (
            f"ICE is '{ice.state}' but DTLS is '{dtls}'. Check that the SDP fingerprints "
            "were not altered in transit and that both sides agree on a=setup roles."
        )
    return "data channel", (
        f"the connection is up (ICE '{ice.state}', DTLS connected) but the "
        f"'{EVENTS_CHANNEL}' data channel never opened. The offer must create a data "
        f"channel named '{EVENTS_CHANNEL}' (browsers: pc.createDataChannel('{EVENTS_CHANNEL}'))."
    )


def _ice_transport(pc: RTCPeerConnection) -> Any:
    for transceiver in pc.getTransceivers():
        return transceiver.sender.transport.transport
    sctp = pc.sctp
    return sctp.transport.transport if sctp is not None else None


def _dtls_state(pc: RTCPeerConnection) -> str:
    for transceiver in pc.getTransceivers():
        return str(transceiver.sender.transport.state)
    return str(pc.sctp.transport.state) if pc.sctp is not None else "new"


def _addresses(candidates: Sequence[Any]) -> str:
    shown = [f"{c.type} {c.ip}:{c.port}" for c in candidates[:4]]
    more = f", +{len(candidates) - 4} more" if len(candidates) > 4 else ""
    return ", ".join(shown) + more if shown else "none"


def _pairs(ice: Any) -> str:
    connection = getattr(ice, "_connection", None)
    pairs = list(getattr(connection, "_check_list", []) or [])
    if not pairs:
        return "no candidate pairs were formed (no remote candidates arrived?)"
    states: dict[str, int] = {}
    for pair in pairs:
        name = getattr(getattr(pair, "state", None), "name", "unknown").lower()
        states[name] = states.get(name, 0) + 1
    tally = ", ".join(f"{count} {state}" for state, count in sorted(states.items()))
    return f"{len(pairs)} candidate pair(s) tried ({tally}), none succeeded"
