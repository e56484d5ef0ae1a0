"""The in-process secret store: bounded in count and config bytes, expired secrets purged.

Issue 11, hole 3: each stored secret kept its session config (up to 1 MiB)
for up to two hours with no bound at all. These tests drive the store past
each bound on a FakeClock; ``test_mint_rate.py`` and
``test_client_secrets.py`` check the same bounds over HTTP.
"""

from __future__ import annotations

import pytest

from rtagents.server.stores.client_secrets import IssuedSecret, SecretIssuer, StoreFull
from rtagents.server.stores.memory_secrets import InMemorySecretStore
from rtagents.testing.clock import FakeClock


def secret(value: str, clock: FakeClock, *, ttl_s: int = 60, size: int = 0) -> IssuedSecret:
    return IssuedSecret(
        value=value, created_at=clock.now, expires_at=int(clock.now) + ttl_s, size=size
    )


async def test_the_store_refuses_past_its_count_and_says_when_room_frees() -> None:
    clock = FakeClock()
    store = InMemorySecretStore(clock, max_secrets=2)
    await store.put(secret("a", clock, ttl_s=60))
    clock.advance(5)
    await store.put(secret("b", clock, ttl_s=60))
    with pytest.raises(StoreFull) as full:
        await store.put(secret("c", clock))
    assert "holds 2 secrets (limits.stored_secrets)" in full.value.message
    assert full.value.retry_after_s == 55  # "a" expires first, 55 s from now
    assert len(store) == 2 and await store.get("c") is None


async def test_the_store_refuses_past_its_config_bytes() -> None:
    clock = FakeClock()
    store = InMemorySecretStore(clock, max_bytes=1000)
    await store.put(secret("a", clock, size=600))
    with pytest.raises(StoreFull) as full:
        await store.put(secret("b", clock, size=401))
    assert "600 of 1000 bytes" in full.value.message
    assert "limits.stored_secrets_bytes" in full.value.message
    await store.put(secret("c", clock, size=400))  # exactly at the bound fits
    assert store.bytes == 1000


async def test_expired_secrets_are_purged_to_make_room() -> None:
    clock = FakeClock()
    store = InMemorySecretStore(clock, max_secrets=2, max_bytes=100)
    await store.put(secret("short", clock, ttl_s=10, size=60))
    await store.put(secret("long", clock, ttl_s=100, size=30))
    clock.advance(10)
    await store.put(secret("new", clock, size=60))  # "short" expired: its room is free
    assert await store.get("short") is None
    assert (len(store), store.bytes) == (2, 90)


async def test_sessions_are_counted_per_stored_secret_and_forgotten_with_it() -> None:
    clock = FakeClock()
    store = InMemorySecretStore(clock)
    await store.put(secret("a", clock, ttl_s=10))
    assert [await store.open_session("a") for _ in range(3)] == [1, 2, 3]
    assert await store.open_session("unknown") == 1  # nothing is kept for it
    assert await store.open_session("unknown") == 1
    clock.advance(10)
    store.purge()
    assert await store.open_session("a") == 1  # gone with its secret


async def test_the_issuer_mints_into_a_bounded_store() -> None:
    clock = FakeClock()
    issuer = SecretIssuer(b"k" * 32, InMemorySecretStore(clock, max_secrets=1), clock)
    first = await issuer.mint({"model": "gpt-realtime"}, 60, minted_by="console:127.0.0.1")
    assert first.minted_by == "console:127.0.0.1"
    assert first.ident == first.value[3:27]
    with pytest.raises(StoreFull):
        await issuer.mint({}, 60)
    assert issuer.identify(first.value) == first.ident
    clock.advance(60)  # expired and purged: its signature still names it
    second = await issuer.mint({}, 60)
    assert issuer.identify(first.value) == first.ident != second.ident
