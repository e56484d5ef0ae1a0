"""Per-key quotas counted across nodes in a real Redis: exact, atomic, and self-healing.

Each "node" is a :class:`RedisNode` as ``serve --redis`` makes one (its own
connection, liveness key and quota book), several of them on one Redis. The
checks: a principal's open sessions and window starts are counted over all
nodes; concurrent admissions never take more places than the quota; a node
that stops gives its places back; while Redis is away a node counts on its
own, and it writes its counts back once Redis returns.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from redis.asyncio import Redis
from redis_kit import own_redis, redis_server, redis_url  # noqa: F401  (fixtures)

from rtagents.server.auth import Refusal
from rtagents.server.config import ServerConfig
from rtagents.server.held_place import HeldPlace
from rtagents.server.policy.table import Policy
from rtagents.server.stores import redis_quotas
from rtagents.server.stores.client_secrets import SecretIssuer
from rtagents.server.stores.redis_node import RedisNode
from rtagents.server.stores.redis_quotas import OPEN_TTL_S
from rtagents.testing.clock import FakeClock
from rtagents.testing.redis_server import RedisServer

OPEN = "rtagents:quota:open:"


@asynccontextmanager
async def nodes(
    url: str, policy: Policy, count: int = 2, clock: FakeClock | None = None
) -> AsyncIterator[list[RedisNode]]:
    """``count`` started nodes on ``url`` with ``policy``; closed at the end."""
    clock = clock or FakeClock(1_000_000.0)
    started: list[RedisNode] = []
    try:
        for _ in range(count):
            config = ServerConfig(policy=policy, clock=clock)
            node = RedisNode(url, config)
            await node.start(SecretIssuer(config.secret_signing_key, node.secret_store(), clock))
            started.append(node)
        yield started
    finally:
        for node in started:
            await node.close()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:  # noqa: F811
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def open_counts(redis: Redis, principal: str) -> dict[str, int]:
    fields = await redis.hgetall(OPEN + principal)
    return {node.decode(): int(count) for node, count in fields.items()}


async def test_open_sessions_are_counted_over_every_node(redis_url: str, redis: Redis) -> None:  # noqa: F811
    async with nodes(redis_url, Policy(concurrent_sessions=2)) as (node_a, node_b):
        first = await node_a.quotas.take("api_key")
        await node_b.quotas.take("api_key")
        with pytest.raises(Refusal) as refused:
            await node_a.quotas.take("api_key")
        assert (refused.value.status, refused.value.code) == (
            429,
            "concurrent_session_quota_exceeded",
        )
        assert refused.value.headers["Retry-After"] == "1"
        assert (
            "already holds 2 open session(s) (counted across every server" in refused.value.message
        )
        assert (await node_b.quotas.take("secret:other")).held  # another principal: its own count

        first.release()
        first.release()  # twice gives back one place
        await node_a.quotas.settle()
        assert await open_counts(redis, "api_key") == {node_b.node_id: 1}
        assert (await node_b.quotas.take("api_key")).held
        assert await open_counts(redis, "api_key") == {node_b.node_id: 2}
        assert 0 < await redis.pttl(OPEN + "api_key") <= OPEN_TTL_S * 1000


async def test_the_window_is_counted_over_every_node(redis_url: str, redis: Redis) -> None:  # noqa: F811
    clock = FakeClock(1_000_000.0)
    policy = Policy(sessions_per_window=3, quota_window_s=60)
    async with nodes(redis_url, policy, clock=clock) as (node_a, node_b):
        (await node_a.quotas.take("secret:s")).release()
        clock.advance(20)
        await node_b.quotas.take("secret:s")
        await node_a.quotas.take("secret:s")
        with pytest.raises(Refusal) as refused:
            await node_b.quotas.take("secret:s")
        assert (refused.value.code, refused.value.headers["Retry-After"]) == (
            "session_quota_exceeded",
            "40",  # the first start leaves the window 60 s after it, 20 s ago
        )
        assert "This client secret opened 3 sessions in the last 60 s (counted across" in (
            refused.value.message
        )
        clock.advance(40)
        assert (await node_b.quotas.take("secret:s")).held
        assert await redis.zcard("rtagents:quota:starts:secret:s") == 3  # the first one left
        assert 0 < await redis.ttl("rtagents:quota:starts:secret:s") <= 61
        assert await redis.exists(OPEN + "secret:s") == 0  # no concurrent quota: nothing open


async def test_concurrent_admissions_on_two_nodes_take_exactly_the_quota(
    redis_url: str,  # noqa: F811
    redis: Redis,
) -> None:
    async with nodes(redis_url, Policy(concurrent_sessions=5)) as (node_a, node_b):

        async def admit(node: RedisNode) -> HeldPlace | None:
            try:
                return await node.quotas.take("api_key")
            except Refusal:
                return None

        tickets = await asyncio.gather(*(admit(node) for node in (node_a, node_b) * 20))
        held = [ticket for ticket in tickets if ticket is not None]
        assert len(held) == 5
        counts = await open_counts(redis, "api_key")
        assert sum(counts.values()) == 5
        assert counts == {
            node.node_id: node.quotas.open_here("api_key")
            for node in (node_a, node_b)
            if node.quotas.open_here("api_key")
        }


async def test_random_admissions_and_releases_keep_redis_equal_to_the_nodes(
    redis_url: str,  # noqa: F811
    redis: Redis,
) -> None:
    generator = random.Random(20261207)
    principals = ["api_key", "secret:a", "secret:b"]
    async with nodes(redis_url, Policy(concurrent_sessions=3), count=3) as started:
        held: list[tuple[str, HeldPlace]] = []
        for _ in range(300):
            if held and generator.random() < 0.45:
                _, ticket = held.pop(generator.randrange(len(held)))
                ticket.release()
                # Written before the next admission (which may be on another node).
                await asyncio.gather(*(node.quotas.settle() for node in started))
                continue
            principal = generator.choice(principals)
            node = generator.choice(started)
            try:
                held.append((principal, await node.quotas.take(principal)))
            except Refusal:
                assert sum(1 for p, _ in held if p == principal) == 3  # refused only when full
            assert sum(1 for p, _ in held if p == principal) <= 3  # never more than the quota
        for node in started:
            await node.quotas.settle()
        for principal in principals:
            expected = {
                node.node_id: node.quotas.open_here(principal)
                for node in started
                if node.quotas.open_here(principal)
            }
            assert await open_counts(redis, principal) == expected
            assert sum(expected.values()) == sum(1 for p, _ in held if p == principal)


async def test_a_place_released_on_a_node_is_free_there_at_once(redis_url: str) -> None:  # noqa: F811
    async with nodes(redis_url, Policy(concurrent_sessions=1), count=1) as (node,):
        for _ in range(20):
            (await node.quotas.take("api_key")).release()  # not written to Redis yet
        assert (await node.quotas.take("api_key")).held


async def test_an_admission_cancelled_midway_is_not_left_counted(
    redis_url: str,  # noqa: F811
    redis: Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with nodes(redis_url, Policy(concurrent_sessions=5), count=1) as (node,):
        script = node.quotas._take

        async def ran_then_cancelled(**arguments: Any) -> Any:
            await script(**arguments)  # Redis took the place...
            raise asyncio.CancelledError  # ...and the admission was cancelled before the answer

        monkeypatch.setattr(node.quotas, "_take", ran_then_cancelled)
        with pytest.raises(asyncio.CancelledError):
            await node.quotas.take("api_key")
        await node.quotas.settle()  # the count here, written again
        assert await open_counts(redis, "api_key") == {}  # as the node counts: none open


async def test_a_stopped_nodes_places_come_back(redis_url: str, redis: Redis) -> None:  # noqa: F811
    policy = Policy(concurrent_sessions=1)
    async with nodes(redis_url, policy, count=1) as (node_b,):
        async with nodes(redis_url, policy, count=1) as (node_a,):
            await node_a.quotas.take("api_key")  # never released: its sessions die with it
            with pytest.raises(Refusal):
                await node_b.quotas.take("api_key")
        # node_a stopped: its liveness key is gone, so its field no longer counts
        assert (await node_b.quotas.take("api_key")).held
        assert await open_counts(redis, "api_key") == {node_b.node_id: 1}


async def test_the_refresh_writes_back_what_redis_lost(redis_url: str, redis: Redis) -> None:  # noqa: F811
    async with nodes(redis_url, Policy(concurrent_sessions=4), count=1) as (node,):
        await node.quotas.take("api_key")
        await node.quotas.take("api_key")
        await redis.flushall()  # a Redis restarted without persistence
        await node.quotas.refresh()
        assert await open_counts(redis, "api_key") == {node.node_id: 2}
        assert 0 < await redis.pttl(OPEN + "api_key") <= OPEN_TTL_S * 1000


async def test_without_redis_a_node_counts_its_own_and_writes_them_back_later(
    own_redis: RedisServer,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with nodes(own_redis.url, Policy(concurrent_sessions=2), count=1) as (node,):
        own_redis.stop()
        first = await node.quotas.take("api_key")
        await node.quotas.take("api_key")
        with pytest.raises(Refusal) as refused:
            await node.quotas.take("api_key")  # the quota holds on this node's own count
        assert "counted across" not in refused.value.message
        assert sum("cannot count quotas in Redis" in r.getMessage() for r in caplog.records) == 1
        first.release()
        await node.quotas.settle()
        assert node.quotas.open_here("api_key") == 1

        own_redis.start()  # back, and empty
        await node.quotas.refresh()
        client = Redis.from_url(own_redis.url)
        try:
            assert await open_counts(client, "api_key") == {node.node_id: 1}
        finally:
            await client.aclose()
        assert (await node.quotas.take("api_key")).held  # shared again: 1 + 1 of 2
        with pytest.raises(Refusal) as shared:
            await node.quotas.take("api_key")
        assert "counted across every server" in shared.value.message


async def test_while_redis_fails_admissions_ask_it_once_and_nothing_piles_up(
    own_redis: RedisServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(redis_quotas, "MAX_STALE", 5)
    async with nodes(own_redis.url, Policy(concurrent_sessions=2), count=1) as (node,):
        book = node.quotas
        script, asked = book._take, []

        async def counted(**arguments: Any) -> Any:
            asked.append(1)
            return await script(**arguments)

        monkeypatch.setattr(book, "_take", counted)
        own_redis.stop()
        for index in range(40):
            (await book.take(f"secret:{index}")).release()
        assert len(asked) == 1  # then counted here until REFRESH_S has passed
        assert not book._releases  # no write task per release while Redis fails
        assert len(book._stale) <= 5 + 1  # principals with nothing open here are forgotten
