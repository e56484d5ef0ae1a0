"""What the transport conformance suite runs on: a pair of connected transports and its promises.

A *pair factory* is an async context manager yielding a :class:`TransportPair`
(``near``, the transport under test, connected to a ``far`` peer) with the
:class:`Guarantees` near makes beyond the common rules, and the helpers the
checks share to say which rule broke.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from enum import Enum
from typing import TypeVar

from ..protocol.errors import Origin
from ..transports.base import Transport, TransportClosed

T = TypeVar("T")
STEP_TIMEOUT_S = 10.0  # a hang guard for one step, never a timing assertion
CLOSE_CODE, CLOSE_REASON = 4000, "conformance: done"
PEER_CODE, PEER_REASON = 4001, "conformance: bye"


class ConformanceError(AssertionError):
    """The transport broke a rule of the seam; the message says which."""


class NotApplicable(Exception):
    """The check needs something this pair does not offer (the message says what)."""


class Backpressure(Enum):
    """How a transport stops a sender whose peer does not read."""

    SENDER_WAITS = "sender_waits"
    """``send`` waits until the peer reads (WebSocket, bounded memory pair)."""
    RECEIVER_CLOSES = "receiver_closes"
    """The receiver cannot push back (a data channel); past its unread limit it closes."""


@dataclass(frozen=True)
class Guarantees:
    """What the transport under test promises beyond the common rules."""

    carries_close_codes: bool = True
    """The peer reads our close code and reason (a data channel carries neither)."""
    max_recv_size: int | None = None
    """A larger incoming message ends the connection with 1009 (``None``: no limit)."""
    max_send_size: int | None = None
    """``send`` of a larger message ends the connection with 1009 (``None``: no limit)."""
    backpressure: Backpressure | None = Backpressure.SENDER_WAITS
    """``None``: unbounded by design (the check is then not applicable)."""
    flood_bytes: int = 64 * 2**20
    """A sender facing a peer that never reads must be stopped before sending this much."""
    flood_chunk: int = 64 * 2**10


@dataclass
class TransportPair:
    """Two connected transports: ``near`` is under test, ``far`` is its peer."""

    near: Transport
    far: Transport
    guarantees: Guarantees = field(default_factory=Guarantees)
    abort: Callable[[], None] | None = None
    """Drops near's connection with no close handshake (``None``: it cannot)."""
    far_send_binary: Callable[[bytes], Awaitable[None]] | None = None
    """Has the peer send a binary frame to near (``None``: the link has none)."""


PairFactory = Callable[[], AbstractAsyncContextManager[TransportPair]]
Check = Callable[[PairFactory], Awaitable[None]]


def expect(condition: bool, rule: str) -> None:
    if not condition:
        raise ConformanceError(rule)


async def within(awaitable: Awaitable[T], step: str, timeout_s: float = STEP_TIMEOUT_S) -> T:
    """``awaitable``'s result, or :class:`ConformanceError` if ``step`` hangs."""
    try:
        return await asyncio.wait_for(awaitable, timeout_s)
    except TimeoutError:
        raise ConformanceError(f"{step} did not finish within {timeout_s:g} s") from None


def shown(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for messages about large payloads."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


async def closed_error(call: Awaitable[object], step: str) -> TransportClosed:
    """The :class:`TransportClosed` that ``call`` must raise."""
    try:
        result = await within(call, step)
    except TransportClosed as closed:
        return closed
    raise ConformanceError(f"{step} returned {shown(result)} instead of raising TransportClosed")


def expect_close(
    closed: TransportClosed, code: int, reason: str | None, origin: Origin, step: str
) -> None:
    """``closed`` says ``code``/``origin`` (and ``reason`` unless None)."""
    said = (closed.close_code, closed.reason, closed.origin)
    expect(closed.close_code == code, f"{step}: close code {closed.close_code}, expected {code}")
    expect(reason is None or closed.reason == reason, f"{step}: {said}, expected reason {reason!r}")
    expect(closed.origin is origin, f"{step}: origin {closed.origin}, expected {origin}")
