"""Reconnect against a real rtagents server on loopback, through a fault proxy."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from resilience_kit import FAST, TEXT, fast_opener, host_of, items, proxied, until

from rtagents import connect
from rtagents.client import FailedEvent, ReconnectingEvent, ReconnectPolicy, ResumedEvent
from rtagents.protocol.errors import Category, ConnectionFailure
from rtagents.protocol.lifecycle import State, Trigger
from rtagents.testing.faults import Fault


async def _turn(session: Any, text: str) -> Any:
    done = asyncio.create_task(session.wait_for("response.done", timeout=10))
    await asyncio.sleep(0)
    await session.send_text(text)
    await session.create_response()
    return await done


async def test_a_cut_mid_response_resumes_with_nothing_lost_or_doubled() -> None:
    async with proxied() as (server, proxy):
        proxy.plan_next(Fault.cut(direction="down", at_byte=1700))  # inside the 2nd reply
        proxy.plan_next()
        delivered: Counter[str] = Counter()
        async with connect(
            proxy.url(), credentials=server.api_key, session=TEXT, reconnect=FAST
        ) as session:
            session.on("*", lambda e: delivered.update([e.event_id] if e.event_id else []))
            await _turn(session, "first")
            resumed = asyncio.create_task(session.wait_for("rtagents.resumed", timeout=10))
            await asyncio.sleep(0)
            await session.send_text("second")
            await session.create_response()
            event = await resumed
            assert isinstance(event, ResumedEvent) and not event.rebuilt and event.attempts == 1
            await until(
                lambda: (
                    len(session.conversation.responses) == 2
                    and not session.conversation.active_response_id
                ),
                "the second reply",
            )
            host = host_of(server, session.session_id)
            live = session.connection
            assert live is not None
            await until(lambda: live.received == host.frames_emitted, "all frames")
            assert items(session.conversation) == items(host.conversation)
            assert live.sent == host.received_frames
            assert [i for i, n in delivered.items() if n > 1] == []
            triggers = [t.trigger for t in session.lifecycle.history]
            assert triggers[-3:] == [Trigger.RETRY, Trigger.TRANSPORT_OPENED, Trigger.RESUMED]
            assert len(proxy.connections) == 2


async def test_a_server_without_resume_gets_the_conversation_rebuilt() -> None:
    async with proxied(resume_grace_s=0) as (server, proxy):
        async with connect(
            proxy.url(), credentials=server.api_key, session=TEXT, reconnect=FAST
        ) as session:
            await _turn(session, "remember the word apple")
            before = items(session.conversation)
            old_id = session.session_id
            added: list[str] = []
            session.on("conversation.item.added", lambda e: added.append(e.item.id))
            (await proxy.connection()).cut()
            event = await session.wait_for("rtagents.resumed", timeout=10)
            assert event.rebuilt and session.session_id != old_id
            assert added == []  # the replay's echoes are not delivered again
            host = host_of(server, session.session_id)
            assert host.conversation.item_ids == [i["id"] for i in before]
            assert items(host.conversation) == items(session.conversation)
            assert session.config.output_modalities == ["text"]  # the config came back too
            done = await _turn(session, "and now?")
            assert done.response.status == "completed"
            assert len(host.conversation) == len(before) + 2


async def test_giving_up_fails_the_session_and_wakes_everyone() -> None:
    calls: list[int] = []
    async with proxied() as (server, proxy):

        def credentials() -> str:
            calls.append(1)
            return server.api_key

        session = await connect(proxy.url(), credentials=credentials, session=TEXT, reconnect=FAST)
        seen: list[Any] = []
        waiter = asyncio.create_task(session.wait_for("response.done", timeout=None))
        reader = asyncio.create_task(_collect(session, seen))
        await asyncio.sleep(0)
        await proxy.close()  # the server is unreachable from now on
        await asyncio.wait_for(reader, 10)
        with pytest.raises(ConnectionFailure) as woke:
            await waiter
        assert woke.value.code == "reconnect_failed"
        assert session.state is State.FAILED and session.closed
        failure = session.failure
        assert failure is not None and failure.category is Category.CONNECTION
        assert "after 4 attempt(s)" in failure.message and "attempt 4:" in failure.message
        attempts = [e for e in seen if isinstance(e, ReconnectingEvent)]
        assert [e.attempt for e in attempts] == [1, 2, 3, 4]
        assert all(0 <= e.delay <= FAST.max_delay for e in attempts)
        assert isinstance(seen[-1], FailedEvent) or any(isinstance(e, FailedEvent) for e in seen)
        # every attempt was a resume: it presents the key that opened the session
        # (an rtagents server resumes only for it), so the callable is not asked again
        assert len(calls) == 1
        with pytest.raises(ConnectionFailure, match="gave up"):
            await session.send_text("anyone?")
        await session.close()  # idempotent after failing


async def _collect(session: Any, seen: list[Any]) -> None:
    async for event in session:
        seen.append(event)


async def test_a_deliberate_close_is_never_retried() -> None:
    async with proxied() as (server, proxy):
        session = await connect(proxy.url(), credentials=server.api_key, reconnect=FAST)
        host = host_of(server, session.session_id)
        await host.transport.close(1008, "policy")
        await asyncio.wait_for(_collect(session, []), 5)
        assert session.state is State.FAILED or session.state is State.CLOSED
        assert len(proxy.connections) == 1 and session.close_code == 1008
        await session.close()


async def test_sends_while_reconnecting_queue_up_to_the_bound() -> None:
    policy = ReconnectPolicy(
        max_attempts=3, base_delay=0.3, max_delay=0.3, send_queue_bytes=4000, random=lambda: 1.0
    )
    async with proxied() as (server, proxy):
        async with connect(
            proxy.url(), credentials=server.api_key, session=TEXT, reconnect=policy
        ) as session:
            (await proxy.connection()).cut()
            await session.wait_for("rtagents.reconnecting", timeout=5)
            await session.send_text("queued while away")
            with pytest.raises(ConnectionFailure) as full:
                await session.send_text("y" * 5000)
            assert full.value.code == "send_queue_full"
            await session.wait_for("rtagents.resumed", timeout=5)
            host = host_of(server, session.session_id)
            await until(lambda: len(host.conversation) == 1, "the queued message")
            assert "queued while away" in host.conversation.transcript(
                host.conversation.item_ids[0]
            )


async def test_close_while_reconnecting_ends_iteration_and_stops_retrying() -> None:
    policy = ReconnectPolicy(max_attempts=50, base_delay=0.05, max_delay=0.05)
    async with proxied() as (server, proxy):
        session = await connect(proxy.url(), credentials=server.api_key, reconnect=policy)
        reader = asyncio.create_task(_collect(session, []))
        await proxy.close()
        await session.wait_for("rtagents.reconnecting", timeout=5)
        await session.close()
        await asyncio.wait_for(reader, 5)
        assert session.state is State.CLOSED and not session._tasks


async def test_opening_retries_a_connection_that_fails_during_the_handshake() -> None:
    async with proxied() as (server, proxy):
        proxy.plan_next(Fault.cut(at_byte=10))
        proxy.plan_next()
        async with connect(
            proxy.url(),
            credentials=server.api_key,
            session=TEXT,
            reconnect=FAST,
            transport=fast_opener,
        ) as session:
            assert session.state is State.ACTIVE and len(proxy.connections) == 2
            assert session.config.output_modalities == ["text"]


async def test_a_refused_resume_falls_back_to_a_rebuild() -> None:
    slow = ReconnectPolicy(
        max_attempts=3, base_delay=0.4, max_delay=0.4, random=lambda: 1.0, rollover_margin=None
    )
    async with proxied(resume_grace_s=0.1) as (server, proxy):
        async with connect(
            proxy.url(), credentials=server.api_key, session=TEXT, reconnect=slow
        ) as session:
            await _turn(session, "keep this")
            (await proxy.connection()).cut()  # back only after the grace window
            event = await session.wait_for("rtagents.resumed", timeout=10)
            assert event.rebuilt and event.attempts == 2  # 404 resume_unknown, then rebuild
            host = host_of(server, session.session_id)
            assert items(host.conversation) == items(session.conversation)
            assert len(host.conversation) == 2


async def test_the_session_cap_closing_with_1001_is_rebuilt_not_resumed() -> None:
    async with proxied(session_cap_s=1.0) as (server, proxy):
        async with connect(
            proxy.url(), credentials=server.api_key, session=TEXT, reconnect=FAST
        ) as session:
            first = session.session_id
            await _turn(session, "before the cap")
            event = await session.wait_for("rtagents.resumed", timeout=10)
            assert event.rebuilt and event.attempts == 1 and session.session_id != first
            assert len(host_of(server, session.session_id).conversation) == 2


async def test_a_bug_while_reconnecting_fails_the_session_instead_of_hanging_it() -> None:
    def broken_jitter() -> float:
        raise RuntimeError("no entropy today")

    policy = ReconnectPolicy(max_attempts=3, random=broken_jitter)
    async with proxied() as (server, proxy):
        session = await connect(proxy.url(), credentials=server.api_key, reconnect=policy)
        reader = asyncio.create_task(_collect(session, []))
        (await proxy.connection()).cut()
        await asyncio.wait_for(reader, 5)  # async for ends
        assert session.state is State.FAILED and session.failure is not None
        assert "no entropy today" in session.failure.message
        await session.close()
