"""The conformance suite itself: it passes a good transport and names the rule a bad one breaks.

The suite's runs over every real transport are in
tests/transports/test_transport_conformance.py; here it is pointed at
deliberately broken transports, to show each check can fail.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest

from rtagents.testing.conformance import (
    CHECKS,
    Backpressure,
    ConformanceError,
    Guarantees,
    NotApplicable,
    TransportPair,
    run_conformance,
)
from rtagents.testing.conformance_checks import check_local_close, check_peer_close
from rtagents.testing.conformance_flood import check_backpressure
from rtagents.transports.memory import MemoryTransport, memory_pair


def _pair(
    max_queue: int, guarantees: Guarantees
) -> contextlib.AbstractAsyncContextManager[TransportPair]:
    @contextlib.asynccontextmanager
    async def make() -> AsyncIterator[TransportPair]:
        near, far = memory_pair(max_queue=max_queue)
        yield TransportPair(near, far, guarantees, abort=near.abort, far_send_binary=far.send)

    return make()


async def test_a_conforming_transport_passes_and_hears_which_checks_did_not_apply() -> None:
    results = await run_conformance(lambda: _pair(2, Guarantees(flood_bytes=2**20)))
    assert list(results) == [check.__name__ for check in CHECKS]
    assert results["check_backpressure"] == "passed"
    assert (
        results["check_oversized_incoming"] == "not applicable: no limit on incoming message size"
    )


async def test_an_unbounded_sender_that_promised_backpressure_is_caught() -> None:
    promise = Guarantees(backpressure=Backpressure.SENDER_WAITS, flood_bytes=2**20)
    with pytest.raises(ConformanceError, match="send\\(\\) never waited: 1048576 bytes"):
        await check_backpressure(lambda: _pair(0, promise))
    with pytest.raises(NotApplicable, match="unbounded by design"):
        await check_backpressure(lambda: _pair(0, Guarantees(backpressure=None)))


async def test_a_receiver_that_promised_to_close_but_never_does_is_caught() -> None:
    promise = Guarantees(backpressure=Backpressure.RECEIVER_CLOSES, flood_bytes=2**20)
    with pytest.raises(ConformanceError, match="recv\\(\\) past its unread limit returned"):
        await check_backpressure(lambda: _pair(0, promise))


class _Forgetful(MemoryTransport):
    """Breaks the latch: once closed, recv returns an empty message instead of raising."""

    async def recv(self) -> str | bytes:
        return "" if self.closed else await super().recv()


def _forgetful_pair() -> contextlib.AbstractAsyncContextManager[TransportPair]:
    @contextlib.asynccontextmanager
    async def make() -> AsyncIterator[TransportPair]:
        near, far = memory_pair()
        near.__class__ = _Forgetful
        yield TransportPair(near, far)

    return make()


async def test_a_transport_that_forgets_it_closed_is_caught() -> None:
    with pytest.raises(ConformanceError, match="recv\\(\\) after a local close returned ''"):
        await check_local_close(_forgetful_pair)
    with pytest.raises(ConformanceError, match="after a peer close recv\\(\\) gave ''"):
        await check_peer_close(_forgetful_pair)
