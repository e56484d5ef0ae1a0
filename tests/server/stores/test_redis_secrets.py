"""Client secrets and mint rates in a real Redis, shared by two nodes (two clients, two issuers).

Each "node" here is what ``--redis`` gives one server process: its own Redis
connection, store, rate and issuer. A secret minted through one is valid
through the other, with its config, expiry and session count; the store's
bounds and the mint rate hold across both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis_kit import redis_server, redis_url  # noqa: F401  (fixtures)
from server_harness import mint, session

from rtagents.server.auth import Authenticator, Refusal
from rtagents.server.config import ServerConfig
from rtagents.server.serving import running_server
from rtagents.server.stores.client_secrets import SecretIssuer, SecretRejected, StoreFull
from rtagents.server.stores.mint_rate import RateLimited
from rtagents.server.stores.redis_node import RedisNode
from rtagents.server.stores.redis_secrets import RedisMintRate, RedisSecretStore
from rtagents.testing.clock import FakeClock


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:  # noqa: F811
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_a_secret_minted_on_one_node_opens_sessions_on_another(redis: Redis) -> None:
    clock = FakeClock(1_000_000.0)
    node_a = SecretIssuer(b"k" * 32, RedisSecretStore(redis, clock), clock)
    other = Redis.from_url(_url(redis))
    node_b = SecretIssuer(b"k" * 32, RedisSecretStore(other, clock), clock)
    secret = await node_a.mint({"type": "realtime", "model": "m"}, 60, minted_by="api_key", size=9)

    found = await node_b.verify(secret.value)
    assert found == secret
    # sessions_per_secret is counted across nodes: one on each makes two
    assert await node_b.open_session(secret.value) == 1
    assert await node_a.open_session(secret.value) == 2
    auth = Authenticator("sk", node_b)
    principal = await auth.authenticate(_credential(secret.value))
    with pytest.raises(Refusal) as refused:
        await auth.admit_session(principal)
    assert refused.value.code == "secret_already_used"

    clock.advance(61)
    with pytest.raises(SecretRejected) as expired:
        await node_b.verify(secret.value)
    assert expired.value.reason == "expired"
    assert 0 < await redis.ttl(f"rtagents:secret:{secret.ident}") <= 61  # Redis forgets it too
    await other.aclose()


async def test_a_forged_or_foreign_value_never_matches_a_stored_secret(redis: Redis) -> None:
    clock = FakeClock(1_000_000.0)
    store = RedisSecretStore(redis, clock)
    secret = await SecretIssuer(b"k" * 32, store, clock).mint({}, 60)
    same_id_other_body = secret.value[:27] + "f" * (len(secret.value) - 27)
    assert await store.get(same_id_other_body) is None
    assert await store.open_session(same_id_other_body) == 1  # counts nothing for it
    assert await store.open_session(secret.value) == 1


async def test_the_shared_store_is_bounded_in_count_and_bytes(redis: Redis) -> None:
    clock = FakeClock(1_000_000.0)
    issuer = SecretIssuer(b"k" * 32, RedisSecretStore(redis, clock, max_secrets=2), clock)
    await issuer.mint({}, 30)
    await issuer.mint({}, 60)
    with pytest.raises(StoreFull) as full:
        await issuer.mint({}, 60)
    assert full.value.retry_after_s == 30 and "holds 2 secrets" in full.value.message
    clock.advance(31)  # the first expired: its room is free again
    await issuer.mint({}, 60)

    small = SecretIssuer(b"k" * 32, RedisSecretStore(redis, clock, max_bytes=100), clock)
    await redis.flushall()
    await small.mint({}, 60, size=60)
    with pytest.raises(StoreFull) as too_big:
        await small.mint({}, 60, size=60)
    assert "60 of 100 bytes" in too_big.value.message


async def test_the_mint_rate_is_counted_across_nodes(redis: Redis) -> None:
    clock = FakeClock(1_000_000.0)
    node_a = RedisMintRate(redis, clock, per_minute=3)
    node_b = RedisMintRate(redis, clock, per_minute=3)
    await node_a.take("api_key")
    await node_b.take("api_key")
    await node_a.take("api_key")
    with pytest.raises(RateLimited) as limited:
        await node_b.take("api_key")
    assert limited.value.retry_after_s == 20
    await node_b.take("console:127.0.0.2")  # another minter has its own bucket
    clock.advance(20)
    await node_b.take("api_key")
    assert 0 < await redis.ttl("rtagents:mint_rate:api_key") <= 61  # idle buckets expire


async def test_nodes_agree_on_the_signing_key(redis_url: str) -> None:  # noqa: F811
    clock = FakeClock(1_000_000.0)
    issuers = []
    nodes = []
    for own_key in (b"a" * 32, b"b" * 32):
        node = RedisNode(redis_url, ServerConfig(secret_signing_key=own_key, clock=clock))
        issuer = SecretIssuer(own_key, node.secret_store(), clock)
        await node.start(issuer)
        issuers.append(issuer)
        nodes.append(node)
    secret = await issuers[1].mint({}, 60)
    assert (await issuers[0].verify(secret.value)).value == secret.value
    assert await nodes[1].alive(nodes[0].node_id)
    for node in nodes:
        await node.close()
    observer = RedisNode(redis_url, ServerConfig())
    assert not await observer.alive(nodes[0].node_id)  # a node that stopped is gone at once
    await observer.redis.aclose()


async def test_two_servers_on_one_redis_mint_on_one_and_connect_on_the_other(
    redis_url: str,  # noqa: F811
) -> None:
    async with (
        running_server(ServerConfig(port=0, redis_url=redis_url)) as node_a,
        running_server(ServerConfig(port=0, redis_url=redis_url)) as node_b,
    ):
        minted = await mint(node_a, {"session": {"type": "realtime", "instructions": "hi"}})
        assert minted.status_code == 200
        value = minted.json()["value"]
        async with session(node_b, key=value, greet=False) as client:
            created = await client.recv()
            assert created.type == "session.created" and created.session.instructions == "hi"
        refused = await mint(node_b, key=value)  # a secret still cannot mint
        assert refused.status_code == 403


def _credential(value: str) -> object:
    from rtagents.server.auth import Credential

    return Credential(value, "header")


def _url(redis: Redis) -> str:
    kwargs = redis.get_connection_kwargs()
    return f"redis://{kwargs['host']}:{kwargs['port']}/{kwargs.get('db', 0)}"


async def test_a_full_redis_refuses_a_mint_with_a_retry_not_a_crash(redis: Redis) -> None:
    clock = FakeClock(1_000_000.0)
    issuer = SecretIssuer(b"k" * 32, RedisSecretStore(redis, clock), clock)
    await redis.config_set("maxmemory", "1")  # every write is refused (OOM)
    try:
        with pytest.raises(StoreFull) as full:
            await issuer.mint({"instructions": "x" * 1000}, 60)
    finally:
        await redis.config_set("maxmemory", "0")
    assert full.value.retry_after_s == 5 and "maxmemory" in full.value.message
