"""A real redis-server for the tests that need one (never a fake), and a clean slate per test.

``redis_url`` starts one redis-server per test module on a free loopback port
(skipped, with the reason, where the binary is missing) and flushes it before
each test, so tests sharing it see none of each other's keys. ``own_redis`` is
one per test, for a test that stops it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from rtagents.testing.redis_server import MISSING_REASON, RedisServer, redis_binary


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    if redis_binary() is None:
        pytest.skip(MISSING_REASON)
    with RedisServer() as server:
        yield server


@pytest.fixture
async def redis_url(redis_server: RedisServer) -> AsyncIterator[str]:
    from redis.asyncio import Redis

    client = Redis.from_url(redis_server.url)
    await client.flushall()
    await client.aclose()
    yield redis_server.url


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server for this test alone, which it may stop and start again (an outage)."""
    if redis_binary() is None:
        pytest.skip(MISSING_REASON)
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
