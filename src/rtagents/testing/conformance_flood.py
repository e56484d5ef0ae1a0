"""The conformance check of backpressure: a sender facing a peer that never reads is stopped.

Either ``send`` waits (and, once the peer reads, every message arrives in
order and the waiting send completes), or the receiver, which cannot push
back, closes past its unread limit and the sender's next ``send`` fails. What
must never happen is the sender pouring ``flood_bytes`` into a peer that read
nothing.
"""

from __future__ import annotations

import asyncio
import base64
import random

from ..transports.base import Transport, TransportClosed
from .transport_pair import (
    Backpressure,
    Guarantees,
    NotApplicable,
    PairFactory,
    TransportPair,
    closed_error,
    expect,
    within,
)

POLL_S = 0.05
STALL_POLLS = 6  # this many polls in a row with nothing sent: the sender is waiting
INDEX_DIGITS = 9
FLOOD_TIMEOUT_S = 60.0  # a hang guard for the whole flood on a loaded machine


class _Flood:
    """Sends numbered messages until told to stop, the link fails, or ``flood_bytes`` went."""

    def __init__(self, near: Transport, guarantees: Guarantees) -> None:
        self.near = near
        self.chunk = guarantees.flood_chunk
        self.count = max(1, guarantees.flood_bytes // self.chunk)
        self.sent = 0
        self.stop = False
        self.failed: TransportClosed | None = None

    def message(self, index: int) -> str:
        """Message ``index``: numbered, and random so compression cannot shrink it."""
        noise = base64.b64encode(random.Random(index).randbytes(self.chunk * 3 // 4 + 3))
        return f"{index:0{INDEX_DIGITS}d}" + noise[: self.chunk - INDEX_DIGITS].decode()

    async def run(self) -> None:
        try:
            while self.sent < self.count and not self.stop:
                await self.near.send(self.message(self.sent))
                self.sent += 1
        except TransportClosed as closed:
            self.failed = closed


async def check_backpressure(make_pair: PairFactory) -> None:
    async with make_pair() as pair:
        promise = pair.guarantees.backpressure
        if promise is None:
            raise NotApplicable("the transport is unbounded by design (no backpressure promised)")
        flood = _Flood(pair.near, pair.guarantees)
        task = asyncio.ensure_future(flood.run())
        try:
            if promise is Backpressure.SENDER_WAITS:
                await _until_stopped(task, flood)
                await _sender_waited(pair, flood, task)
            else:
                await _receiver_closed(pair, flood, task)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def _until_stopped(task: asyncio.Future[None], flood: _Flood) -> None:
    """Return once the flood ended or made no progress for ``STALL_POLLS`` polls."""
    still = 0
    while still < STALL_POLLS:
        before = flood.sent
        done, _ = await asyncio.wait({task}, timeout=POLL_S)
        if done:
            return
        still = still + 1 if flood.sent == before else 0


async def _sender_waited(pair: TransportPair, flood: _Flood, task: asyncio.Future[None]) -> None:
    sent_bytes = flood.sent * flood.chunk
    expect(
        not task.done(),
        f"send() never waited: {sent_bytes} bytes went to a peer that read nothing"
        + (f" (then it failed: {flood.failed})" if flood.failed else ""),
    )
    flood.stop = True  # the send now waiting completes once the peer reads, then no more
    received = 0
    while not task.done() or received < flood.sent:
        got = await within(pair.far.recv(), f"the peer reading message {received}")
        expect(got == flood.message(received), f"message {received} arrived changed or late")
        received += 1
    expect(flood.failed is None, f"the waiting send() failed once the peer read: {flood.failed}")


async def _receiver_closed(pair: TransportPair, flood: _Flood, task: asyncio.Future[None]) -> None:
    # The sender may pause on its own send buffer; only its end (failed or done) counts.
    await within(asyncio.shield(task), "the flood", FLOOD_TIMEOUT_S)
    await closed_error(pair.far.recv(), "the receiver's recv() past its unread limit")
    expect(
        flood.failed is not None,
        f"the sender sent all {flood.sent * flood.chunk} bytes to a peer that read nothing",
    )
