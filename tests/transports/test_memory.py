"""The in-memory pair keeps every closing rule of a WebSocket."""

from __future__ import annotations

import asyncio

import pytest

from rtagents.protocol.errors import Origin
from rtagents.transports.base import Transport, TransportClosed
from rtagents.transports.memory import memory_pair


async def test_messages_flow_both_ways_in_order() -> None:
    client, server = memory_pair()
    assert isinstance(client, Transport) and isinstance(server, Transport)
    for text in ("one", "two"):
        await client.send(text)
    await server.send(b"\x00binary")
    assert [await server.recv(), await server.recv()] == ["one", "two"]
    assert await client.recv() == b"\x00binary"


async def test_after_a_close_the_peer_reads_what_was_in_flight_then_fails_every_time() -> None:
    client, server = memory_pair()
    await server.send("last words")
    await server.close(1001, "session cap reached")
    assert client.closed and server.closed
    assert await client.recv() == "last words"
    for _ in range(2):
        with pytest.raises(TransportClosed) as caught:
            await client.recv()
        assert (caught.value.close_code, caught.value.reason) == (1001, "session cap reached")
        assert caught.value.origin is Origin.REMOTE
    with pytest.raises(TransportClosed) as caught:
        await client.send("too late")
    assert caught.value.origin is Origin.REMOTE


async def test_the_closing_side_fails_locally_and_drops_its_unread_messages() -> None:
    client, server = memory_pair()
    await server.send("unread")
    await client.close()
    for call in (client.recv(), client.send("x")):
        with pytest.raises(TransportClosed) as caught:
            await call
        assert caught.value.close_code == 1000 and caught.value.origin is Origin.LOCAL


async def test_close_is_idempotent_and_the_first_close_wins() -> None:
    client, server = memory_pair()
    await client.close(4000, "first")
    await client.close(1000, "second")
    await server.close(1011, "third")
    assert (server.close_code, server.close_reason) == (4000, "first")


async def test_close_wakes_pending_receivers_on_both_sides() -> None:
    client, server = memory_pair()
    waiting = [asyncio.create_task(t.recv()) for t in (client, server)]
    await asyncio.sleep(0)
    await client.close(1000, "bye")
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, TransportClosed) and r.close_code == 1000 for r in results)


async def test_abort_looks_like_a_dropped_connection() -> None:
    client, server = memory_pair()
    pending = asyncio.create_task(server.recv())
    await asyncio.sleep(0)
    client.abort()
    with pytest.raises(TransportClosed) as caught:
        await pending
    assert (caught.value.close_code, caught.value.reason) == (1006, "")
    client.abort()  # idempotent too
    assert server.close_code == 1006


async def test_a_bounded_queue_applies_backpressure_until_the_peer_reads() -> None:
    client, server = memory_pair(max_queue=1)
    await client.send("first")
    blocked = asyncio.create_task(client.send("second"))
    await asyncio.sleep(0)
    assert not blocked.done()
    assert await server.recv() == "first"
    await blocked
    assert await server.recv() == "second"


async def test_close_releases_a_sender_blocked_by_backpressure() -> None:
    client, server = memory_pair(max_queue=1)
    await client.send("first")
    blocked = asyncio.create_task(client.send("second"))
    await asyncio.sleep(0)
    await server.close(1001)
    with pytest.raises(TransportClosed):
        await blocked


async def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="max_queue"):
        memory_pair(max_queue=-1)
    client, _ = memory_pair()
    with pytest.raises(TypeError, match="str or bytes"):
        await client.send({"type": "x"})  # type: ignore[arg-type]
