"""The stall watchdog and the proactive rollover before the session cap."""

from __future__ import annotations

import asyncio
from typing import Any

from resilience_kit import FAST, TEXT, host_of, items, proxied, until

from rtagents import connect
from rtagents.client import ReconnectPolicy, ResumedEvent
from rtagents.protocol.lifecycle import State
from rtagents.server.app import server_state
from rtagents.testing.faults import Fault


async def test_a_silent_server_mid_response_is_reported_and_resumed() -> None:
    async with proxied() as (server, proxy):
        async with connect(
            proxy.url(),
            credentials=server.api_key,
            session=TEXT,
            reconnect=FAST,
            stall_timeout=0.3,
        ) as session:
            stalled = asyncio.create_task(session.wait_for("rtagents.stalled", timeout=10))
            done = asyncio.create_task(session.wait_for("response.done", timeout=10))
            await asyncio.sleep(0)
            (await proxy.connection()).stall(None, "down")  # silence, the socket stays up
            await session.send_text("hello")
            await session.create_response()
            error = (await stalled).error
            assert error.code == "response_stalled" and error.category == "connection"
            assert (await done).response.status == "completed"
            assert len(proxy.connections) == 2


async def test_without_reconnect_a_stall_is_reported_and_the_session_stays() -> None:
    async with proxied() as (server, proxy):
        async with connect(
            proxy.url(), credentials=server.api_key, session=TEXT, stall_timeout=0.2
        ) as session:
            (await proxy.connection()).stall(None, "down")
            await session.create_response()
            error = (await session.wait_for("rtagents.stalled", timeout=5)).error
            assert error.code == "response_stalled"
            assert session.state is State.ACTIVE
            (await proxy.connection()).resume()
            await session.wait_for("response.done", timeout=5)


async def test_the_session_rolls_over_before_the_cap_at_a_quiet_moment() -> None:
    policy = ReconnectPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05, rollover_margin=2.0)
    async with proxied(session_cap_s=3.0) as (server, proxy):
        async with connect(
            proxy.url(), credentials=server.api_key, session=TEXT, reconnect=policy
        ) as session:
            first_id = session.session_id
            rolled: list[Any] = []
            session.on("rtagents.resumed", rolled.append)
            await session.send_text("before the cap")
            await until(lambda: bool(rolled), "a rollover", limit_s=10)
            event = rolled[0]
            assert isinstance(event, ResumedEvent) and event.reason == "rollover" and event.rebuilt
            assert session.session_id != first_id and session.state is State.ACTIVE
            host = host_of(server, session.session_id)
            assert items(host.conversation) == items(session.conversation)
            assert len(host.conversation) == 1

            def live_ids() -> set[str]:
                return {h.id for h in server_state(server.app).sessions}

            await until(lambda: first_id not in live_ids(), "the old session to end (1000)")


async def test_close_during_a_rollover_lets_go_of_the_old_connection() -> None:
    policy = ReconnectPolicy(max_attempts=3, base_delay=0.01, rollover_margin=59.5)
    async with proxied(session_cap_s=60.0) as (server, proxy):
        session = await connect(
            proxy.url(), credentials=server.api_key, session=TEXT, reconnect=policy
        )
        proxy.plan_next(Fault.stall(None, direction="down"))  # the rollover's never answers
        await proxy.connection(1)  # the rollover is waiting for session.created
        await session.close()
        # The old connection was no longer current when close() ran: the rollover
        # must drop it rather than leave it open for the rest of the session cap.
        await asyncio.wait_for(proxy.connections[0].wait_closed(), 5)


async def test_a_cap_shorter_than_the_margin_rolls_over_once_not_forever() -> None:
    policy = ReconnectPolicy(max_attempts=3, base_delay=0.01, rollover_margin=10.0)
    async with proxied(session_cap_s=3.0) as (server, proxy):
        async with connect(
            proxy.url(), credentials=server.api_key, session=TEXT, reconnect=policy
        ) as session:
            await session.wait_for("rtagents.resumed", timeout=5)  # due at once: one rollover
            await asyncio.sleep(0.5)
            assert len(proxy.connections) == 2 and session.state is State.ACTIVE
