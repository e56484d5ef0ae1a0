"""Mints per minute, per minter: token buckets on a FakeClock, then over HTTP (429 + Retry-After).

Issue 11, hole 3: nothing limited how fast secrets were minted, the
console's unauthenticated loopback endpoint included. Over HTTP the bound
applies per API key and per console client address.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from server_harness import mint

from rtagents.server.config import ServerConfig
from rtagents.server.host.limits import Limits
from rtagents.server.serving import RunningServer, running_server
from rtagents.server.stores.mint_rate import MintRateLimiter, RateLimited
from rtagents.testing.clock import FakeClock

CONSOLE_PATH = "/console/client_secret"


def test_a_minter_gets_its_rate_then_waits_for_a_refill() -> None:
    clock = FakeClock()
    limiter = MintRateLimiter(clock, per_minute=3)
    for _ in range(3):
        limiter.take("api_key")
    with pytest.raises(RateLimited) as limited:
        limiter.take("api_key")
    assert limited.value.retry_after_s == 20  # one mint comes back every 20 s
    assert "at most 3 per minute" in limited.value.message
    assert "limits.mints_per_minute" in limited.value.message
    limiter.take("console:127.0.0.1")  # another minter has its own bucket
    clock.advance(19)
    with pytest.raises(RateLimited) as limited:
        limiter.take("api_key")
    assert limited.value.retry_after_s == 1
    clock.advance(1)
    limiter.take("api_key")


def test_the_buckets_are_bounded_and_idle_ones_forgotten() -> None:
    clock = FakeClock()
    limiter = MintRateLimiter(clock, per_minute=1, max_minters=2)
    limiter.take("a")
    limiter.take("b")
    with pytest.raises(RateLimited) as limited:  # both still refilling: no room for "c"
        limiter.take("c")
    assert limited.value.retry_after_s == 60
    clock.advance(60)  # "a" and "b" are full again: nothing to remember
    limiter.take("c")
    assert len(limiter) == 1


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def server(clock: FakeClock) -> AsyncIterator[RunningServer]:
    config = ServerConfig(port=0, clock=clock, limits=Limits(mints_per_minute=2))
    async with running_server(config) as running:
        yield running


async def test_the_api_key_is_told_to_retry_after_its_rate(
    server: RunningServer, clock: FakeClock
) -> None:
    assert [(await mint(server)).status_code for _ in range(2)] == [200, 200]
    refused = await mint(server)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "30"
    error = refused.json()["error"]
    assert error["code"] == "rate_limit_exceeded"
    assert "at most 2 per minute" in error["message"]
    clock.advance(30)
    assert (await mint(server)).status_code == 200


async def test_the_console_endpoint_is_limited_per_client_address(
    server: RunningServer, clock: FakeClock
) -> None:
    async def mint_from(address: str) -> httpx.Response:
        transport = httpx.AsyncHTTPTransport(local_address=address)
        async with httpx.AsyncClient(base_url=server.http_url, transport=transport) as http:
            return await http.post(CONSOLE_PATH, json={})

    assert [(await mint_from("127.0.0.1")).status_code for _ in range(2)] == [200, 200]
    refused = await mint_from("127.0.0.1")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert int(refused.headers["Retry-After"]) == 30
    assert (await mint_from("127.0.0.2")).status_code == 200  # another client, its own rate
    assert (await mint(server)).status_code == 200  # and the API key is not touched
