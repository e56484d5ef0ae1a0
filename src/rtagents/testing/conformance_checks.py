"""Conformance checks of closing, ordering and message errors (backpressure: conformance_flood)."""

from __future__ import annotations

import asyncio

from ..protocol.errors import Origin
from ..transports.base import ABNORMAL_CLOSURE, MESSAGE_TOO_BIG, Transport
from .transport_pair import (
    CLOSE_CODE,
    CLOSE_REASON,
    PEER_CODE,
    PEER_REASON,
    NotApplicable,
    PairFactory,
    closed_error,
    expect,
    expect_close,
    shown,
    within,
)


async def check_is_a_transport(make_pair: PairFactory) -> None:
    async with make_pair() as pair:
        expect(isinstance(pair.near, Transport), "near does not implement the Transport protocol")
        expect(not pair.near.closed, "a fresh transport says it is closed")


async def check_messages_cross_in_order(make_pair: PairFactory) -> None:
    texts = [f'{{"n":{n},"text":"héllo ✓"}}' for n in range(50)] + ["x" * 65_536]
    async with make_pair() as pair:
        for sender, receiver, way in ((pair.near, pair.far, "out"), (pair.far, pair.near, "in")):
            received = await within(exchange(sender, receiver, texts), f"sending 51 messages {way}")
            expect(received == texts, f"messages {way} arrived changed or out of order")


async def exchange(sender: Transport, receiver: Transport, texts: list[str]) -> list[str | bytes]:
    """Send ``texts`` while the receiver reads them (a bounded link needs both at once)."""

    async def send_all() -> None:
        for text in texts:
            await sender.send(text)

    sending = asyncio.ensure_future(send_all())
    try:
        received = [await receiver.recv() for _ in texts]
        await sending
    finally:
        sending.cancel()
    return received


async def check_local_close(make_pair: PairFactory) -> None:
    async with make_pair() as pair:
        near = pair.near
        await within(pair.far.send("unread"), "the peer's send()")  # a local close drops it
        await within(near.close(CLOSE_CODE, CLOSE_REASON), "close()")
        expect(near.closed, "closed is False after close()")
        await within(near.close(1000, "again"), "a second close()")
        for _ in range(2):
            for step, call in (("recv()", near.recv), ("send()", lambda: near.send("late"))):
                closed = await closed_error(call(), f"{step} after a local close")
                expect_close(closed, CLOSE_CODE, CLOSE_REASON, Origin.LOCAL, step)
        peer_saw = await closed_error(pair.far.recv(), "the peer's recv() after our close")
        if pair.guarantees.carries_close_codes:
            expect_close(peer_saw, CLOSE_CODE, CLOSE_REASON, Origin.REMOTE, "the peer's recv()")
        await within(pair.far.close(), "the peer's close() after ours")


async def check_peer_close(make_pair: PairFactory) -> None:
    async with make_pair() as pair:
        near, far = pair.near, pair.far
        for text in ("first", "second"):
            await within(far.send(text), "the peer's send()")
        # A close handshake may need this end to read (a WebSocket server reads
        # nothing more until the app takes its messages): close while reading.
        closing = asyncio.ensure_future(far.close(PEER_CODE, PEER_REASON))
        await asyncio.sleep(0)
        for text in ("first", "second"):
            got = await within(near.recv(), "recv() of a message sent before the peer closed")
            expect(got == text, f"after a peer close recv() gave {shown(got)}, expected {text!r}")
        codes = pair.guarantees.carries_close_codes
        for attempt in range(3):
            closed = await closed_error(near.recv(), f"recv() #{attempt + 1} after a peer close")
            expect_close(
                closed,
                PEER_CODE if codes else closed.close_code,
                PEER_REASON if codes else None,
                Origin.REMOTE,
                "recv() after a peer close",
            )
        expect(near.closed, "closed is False after recv() reported the peer's close")
        await closed_error(near.send("late"), "send() after a peer close")
        await within(near.close(), "close() after the peer closed")
        await within(closing, "the peer's close()")


async def check_close_wakes_waiters(make_pair: PairFactory) -> None:
    async with make_pair() as pair:
        waiting = [asyncio.ensure_future(end.recv()) for end in (pair.near, pair.far)]
        await asyncio.sleep(0)
        await within(pair.near.close(), "close() with receivers waiting")
        for end, task in zip(("near", "far"), waiting, strict=True):
            await closed_error(task, f"the {end} end's pending recv() after close()")


async def check_both_ends_closing_at_once(make_pair: PairFactory) -> None:
    async with make_pair() as pair:
        first = pair.near.close(CLOSE_CODE, CLOSE_REASON)
        await within(asyncio.gather(first, pair.far.close(PEER_CODE)), "both ends closing")
        expect(pair.near.closed and pair.far.closed, "an end is not closed after both closed")
        await within(pair.near.close(), "a third close()")


async def check_abort(make_pair: PairFactory) -> None:
    async with make_pair() as pair:
        if pair.abort is None:
            raise NotApplicable("the pair offers no abort (no way to drop the link)")
        pending = asyncio.ensure_future(pair.far.recv())
        await asyncio.sleep(0)
        pair.abort()
        pair.abort()  # dropping a dropped link changes nothing
        expect(pair.near.closed, "closed is False after abort()")
        await closed_error(pair.near.send("late"), "send() after abort()")
        peer_saw = await closed_error(pending, "the peer's pending recv() after abort()")
        if pair.guarantees.carries_close_codes:
            expect(peer_saw.close_code == ABNORMAL_CLOSURE, f"the peer read {peer_saw}, not 1006")


async def check_binary_frames(make_pair: PairFactory) -> None:
    async with make_pair() as pair:
        if pair.far_send_binary is None:
            raise NotApplicable("the link carries no binary frames")
        await within(pair.far_send_binary(b"\x00\x01rt"), "the peer sending a binary frame")
        got = await within(pair.near.recv(), "recv() of a binary frame")
        expect(got == b"\x00\x01rt", f"a binary frame arrived as {shown(got)}, not the same bytes")
        await within(pair.far.send("after"), "the peer's send() after a binary frame")
        got = await within(pair.near.recv(), "recv() after a binary frame")
        expect(got == "after", "the link did not carry text after a binary frame")


async def check_oversized_incoming(make_pair: PairFactory) -> None:
    async with make_pair() as pair:
        limit = pair.guarantees.max_recv_size
        if limit is None:
            raise NotApplicable("no limit on incoming message size")
        await within(pair.far.send("a" * limit), "the peer sending a message at the limit")
        got = await within(pair.near.recv(), "recv() of a message at the limit")
        expect(got == "a" * limit, "a message exactly at the size limit did not arrive whole")
        await within(pair.far.send("b" * (limit + 1)), "the peer sending an oversized message")
        closed = await closed_error(pair.near.recv(), "recv() of an oversized message")
        expect(closed.close_code == MESSAGE_TOO_BIG, f"an oversized message gave {closed}")
        expect(pair.near.closed, "closed is False after an oversized message")


async def check_oversized_outgoing(make_pair: PairFactory) -> None:
    async with make_pair() as pair:
        limit = pair.guarantees.max_send_size
        if limit is None:
            raise NotApplicable("no limit on outgoing message size")
        await within(pair.near.send("a" * limit), "send() of a message at the limit")
        got = await within(pair.far.recv(), "the peer's recv() of a message at the limit")
        expect(got == "a" * limit, "a message exactly at the size limit did not arrive whole")
        closed = await closed_error(pair.near.send("b" * (limit + 1)), "an oversized send()")
        expect_close(closed, MESSAGE_TOO_BIG, None, Origin.LOCAL, "an oversized send()")
        expect(pair.near.closed, "closed is False after an oversized send()")
        await closed_error(pair.far.recv(), "the peer's recv() after our oversized send()")


async def check_closed_errors_stay_small(make_pair: PairFactory) -> None:
    """Calls on a closed end keep failing with an error whose traceback does not grow.

    An owner may poll a closed transport in a loop (a writer draining its
    queue, a reader retrying). If each failure re-raises one kept exception
    with its old traceback, every call adds its frames to it: memory grows
    with the calls, and the frames pin whatever they reference.
    """
    async with make_pair() as pair:
        await within(pair.near.close(CLOSE_CODE, CLOSE_REASON), "close()")
        for step, call in (("recv()", pair.near.recv), ("send()", lambda: pair.near.send("x"))):
            first = traceback_depth(await closed_error(call(), f"the first {step} after close()"))
            for _ in range(20):
                later = await closed_error(call(), f"a repeated {step} after close()")
            depth = traceback_depth(later)
            expect(
                depth <= first,
                f"{step} after close(): the error's traceback grew from {first} to {depth} "
                "frames over 20 calls (a kept exception re-raised with its old traceback)",
            )


def traceback_depth(error: BaseException) -> int:
    depth, entry = 0, error.__traceback__
    while entry is not None:
        depth, entry = depth + 1, entry.tb_next
    return depth
