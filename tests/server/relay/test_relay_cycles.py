"""An ended relayed session is freed by reference counting alone, as a local one is.

A gateway serves many short sessions. One whose objects sit in reference
cycles waits for a full collection, which stops every session of the process
(tests/server/host/test_session_cycles.py says why). So with the collector
off, the relay's host must be gone as soon as its session ends, after a plain
turn and after an upstream drop and rebuild alike, and a collection must then
find none of the server's objects in cycles.
"""

from __future__ import annotations

import weakref

import pytest
from cycle_kit import collector_off, ended_and_freed, only_host  # noqa: F401  (fixture)
from relay_harness import RelayRig, relay_rig, until
from server_harness import RawClient, session

from rtagents.server.host.session_host import SessionHost
from rtagents.testing.faults import Fault


def the_host(rig: RelayRig) -> weakref.ref[SessionHost]:
    return only_host(rig.relay_hosts())


@pytest.mark.usefixtures("collector_off")
async def test_an_ended_relayed_session_is_freed_without_the_collector() -> None:
    async with relay_rig() as rig:
        async with session(rig.relay) as client:
            host = the_host(rig)
            await client.user_text("hello")
            await client.respond()
        assert await ended_and_freed(host) == (False, [])


@pytest.mark.usefixtures("collector_off")
async def test_a_session_whose_upstream_was_rebuilt_is_freed_too() -> None:
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
