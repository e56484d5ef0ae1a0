"""The in-memory pair: what the conformance suite does not already check.

Ordering, closing, waking, abort and backpressure are checked for every
transport by tests/transports/test_transport_conformance.py.
"""

from __future__ import annotations

import asyncio

import pytest

from rtagents.transports.base import TransportClosed
from rtagents.transports.memory import memory_pair


async def test_close_is_idempotent_and_the_first_close_wins() -> None:
    client, server = memory_pair()
    await client.close(4000, "first")
    await client.close(1000, "second")
    await server.close(1011, "third")
    assert (server.close_code, server.close_reason) == (4000, "first")


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
