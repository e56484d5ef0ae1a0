"""The data channel as a Transport, the ICE configuration, the loopback switch, diagnoses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aioice.ice
import pytest
import transport_pairs
from aiortc import RTCPeerConnection

from rtagents.transports.base import TransportClosed
from rtagents.transports.webrtc import (
    EVENTS_CHANNEL,
    DataChannelTransport,
    describe_connection,
    loopback_candidates,
    rtc_configuration,
    wait_open,
)


def test_the_ice_configuration_is_empty_unless_servers_are_given() -> None:
    assert rtc_configuration().iceServers == []
    servers = rtc_configuration(
        ["stun:stun.example:3478", {"urls": "turn:t.example", "username": "u", "credential": "p"}]
    ).iceServers
    assert servers is not None
    assert [s.urls for s in servers] == ["stun:stun.example:3478", "turn:t.example"]
    assert (servers[1].username, servers[1].credential) == ("u", "p")


def test_loopback_candidates_is_opt_in_counted_and_restored() -> None:
    original = aioice.ice.get_host_addresses
    assert "127.0.0.1" not in original(True, False)
    with loopback_candidates():
        with loopback_candidates():
            assert "127.0.0.1" in aioice.ice.get_host_addresses(True, False)
        assert "127.0.0.1" in aioice.ice.get_host_addresses(True, False)  # still one user
    assert aioice.ice.get_host_addresses is original


@pytest.fixture
async def pair() -> AsyncIterator[tuple[DataChannelTransport, DataChannelTransport]]:
    """Two connected peers' ends of one ``oai-events`` channel."""
    a, b = RTCPeerConnection(rtc_configuration()), RTCPeerConnection(rtc_configuration())
    remote: asyncio.Future[DataChannelTransport] = asyncio.get_running_loop().create_future()
    b.on("datachannel", lambda channel: remote.set_result(DataChannelTransport(channel)))
    channel = a.createDataChannel(EVENTS_CHANNEL)
    with loopback_candidates():
        await a.setLocalDescription(await a.createOffer())
        await b.setRemoteDescription(a.localDescription)
        await b.setLocalDescription(await b.createAnswer())
    await a.setRemoteDescription(b.localDescription)
    await asyncio.wait_for(wait_open(channel), 5)
    try:
        yield DataChannelTransport(channel), await asyncio.wait_for(remote, 5)
    finally:
        await a.close()
        await b.close()


async def test_messages_cross_in_order_both_ways(
    pair: tuple[DataChannelTransport, DataChannelTransport],
) -> None:
    left, right = pair
    for n in range(20):
        await left.send(f'{{"n":{n}}}')
    assert [await right.recv() for _ in range(20)] == [f'{{"n":{n}}}' for n in range(20)]
    await right.send("x" * 100_000)  # fragmented by SCTP, whole on arrival
    assert await left.recv() == "x" * 100_000
    assert left.max_message_size == 262_144  # what aiortc's SDP announces


async def test_a_peer_close_reads_as_1000_everywhere_and_close_is_idempotent(
    pair: tuple[DataChannelTransport, DataChannelTransport],
) -> None:
    left, right = pair
    await left.send("last")
    await left.close(1000, "bye")
    await left.close()
    assert left.closed and left.close_code == 1000 and left.close_reason == "bye"
    assert await right.recv() == "last"  # what was in flight is still read
    for _ in range(2):
        with pytest.raises(TransportClosed) as closed:
            await asyncio.wait_for(right.recv(), 5)
        assert closed.value.close_code == 1000
        assert closed.value.reason == "the peer closed the data channel"
    with pytest.raises(TransportClosed):
        await right.send("too late")
    right.deliver("ignored")  # nothing is queued once closed
    with pytest.raises(TransportClosed):
        await left.recv()


async def test_lost_wakes_a_waiting_reader(
    pair: tuple[DataChannelTransport, DataChannelTransport],
) -> None:
    left, _ = pair
    reader = asyncio.create_task(left.recv())
    await asyncio.sleep(0)
    left.lost(1006, "ICE failed")
    with pytest.raises(TransportClosed) as closed:
        await reader
    assert (closed.value.close_code, closed.value.reason) == (1006, "ICE failed")


async def test_the_diagnosis_names_the_step_reached() -> None:
    fresh = RTCPeerConnection(rtc_configuration())
    assert describe_connection(fresh)[0] == "setup"
    await fresh.close()
    a, b = RTCPeerConnection(rtc_configuration()), RTCPeerConnection(rtc_configuration())
    a.createDataChannel("not-events")
    with loopback_candidates():
        await a.setLocalDescription(await a.createOffer())
        await b.setRemoteDescription(a.localDescription)
        await b.setLocalDescription(await b.createAnswer())
    await a.setRemoteDescription(b.localDescription)
    connected = asyncio.Event()
    b.on("datachannel", lambda _: connected.set())
    await asyncio.wait_for(connected.wait(), 5)
    step, details = describe_connection(b)
    assert step == "data channel"
    assert "'oai-events'" in details and "createDataChannel" in details
    await a.close()
    await b.close()


async def test_a_receiver_that_falls_behind_closes_with_1011_and_stops_the_sender() -> None:
    async with transport_pairs.webrtc() as pair:
        with pytest.raises(TransportClosed):
            for _ in range(1000):  # 64 MiB: far past the receiver's 2 MiB unread limit
                await asyncio.wait_for(pair.near.send("x" * 65_536), 10)
        far = pair.far
        assert isinstance(far, DataChannelTransport)
        assert far.close_code == 1011 and "the reader fell behind" in (far.close_reason or "")
