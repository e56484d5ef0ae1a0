"""An ended relayed session is freed by reference counting alone, as a local one is.

A gateway serves many short sessions. One whose objects sit in reference
cycles waits for a full collection, which stops every session of the process
(tests/server/host/test_session_cycles.py says why). So with the collector
off, the relay's host must be gone as soon as its session ends, after a plain
turn and after an upstream drop and rebuild alike, and a collection must then
find none of the server's objects in cycles.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest
from relay_harness import RelayRig, relay_rig, until
from server_harness import RawClient, session

from rtagents.server.host.session_host import SessionHost
from rtagents.testing.faults import Fault


@pytest.fixture
def collector_off() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def cyclic_server_objects() -> list[str]:
    """Types of the server's objects that only a collection could free."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    gc.collect()
    found = {type(o) for o in gc.garbage}
    gc.set_debug(0)
    gc.garbage.clear()
    return sorted(
        f"{kind.__module__}.{kind.__qualname__}"
        for kind in found
        if kind.__module__.startswith("rtagents.server")
    )


async def ended_and_freed(host: weakref.ref[SessionHost]) -> tuple[bool, list[str]]:
    """Whether the host is still held once its session ended, and what sits in cycles."""
    live = host()
    if live is not None:
        await asyncio.wait_for(live.wait_closed(), 10)
    del live
    for _ in range(30):  # the connection's handler and the relay's tasks wind down
        await asyncio.sleep(0.01)
    held = host() is not None  # before any collection: reference counting alone
    return held, cyclic_server_objects()


def the_host(rig: RelayRig) -> weakref.ref[SessionHost]:
    [live] = rig.relay_hosts()
    return weakref.ref(live)


async def test_an_ended_relayed_session_is_freed_without_the_collector(
    collector_off: None,
) -> None:
    async with relay_rig() as rig:
        async with session(rig.relay) as client:
            host = the_host(rig)
            await client.user_text("hello")
            await client.respond()
        assert await ended_and_freed(host) == (False, [])


async def test_a_session_whose_upstream_was_rebuilt_is_freed_too(collector_off: None) -> None:
    async with relay_rig(proxy=True) as rig:
        async with session(rig.relay) as client:
            host = the_host(rig)
            await client.user_text("tell me something long")
            await cut_mid_response(rig, client)
            metrics = rig.relay.config.metrics
            await until(lambda: metrics.upstream_rebuilds._metrics != {}, "a rebuild")
            await client.user_text("and now?")
            await client.respond()
        assert await ended_and_freed(host) == (False, [])


async def cut_mid_response(rig: RelayRig, client: RawClient) -> None:
    """Cut the upstream connection a little way into an audio response's events."""
    assert rig.proxy is not None
    connection = await rig.proxy.connection(0)
    cut_at = connection.down.read_bytes + 4000  # past response.created, inside the audio
    connection.down.pending.append(Fault.cut(at_byte=cut_at, direction="down"))
    await client.send({"type": "response.create"})
    await client.until("response.done")
    assert connection.was_cut
