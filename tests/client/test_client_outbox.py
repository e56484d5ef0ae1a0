"""The outbox: frame numbering and the byte-bounded resend ring, and the send queue."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtagents.client.outbox import ResendRing, SendQueue
from rtagents.protocol.errors import Category, ConnectionFailure


def test_frames_are_numbered_from_one_and_resent_after_what_the_server_got() -> None:
    ring = ResendRing(1000)
    assert [ring.number(t) for t in ("a", "b", "c")] == [1, 2, 3]
    assert ring.unacknowledged(3) == []
    assert ring.unacknowledged(1) == ["b", "c"]
    assert ring.unacknowledged(0) == ["a", "b", "c"]


def test_a_gap_the_ring_no_longer_covers_is_reported_not_papered_over() -> None:
    ring = ResendRing(10)
    for text in ("aaaa", "bbbb", "cccc"):  # 12 bytes: "aaaa" is dropped
        ring.number(text)
    assert ring.unacknowledged(1) == ["bbbb", "cccc"]
    assert ring.unacknowledged(0) is None
    assert ring.unacknowledged(4) is None  # the server claims more than we sent
    assert ring.unacknowledged(-1) is None


def test_a_new_ring_begins_a_new_numbering() -> None:
    # A new server session (rebuild, rollover) gets a new ring; a resume keeps the old one.
    old = ResendRing(100)
    old.number("x")
    new = ResendRing(100)
    assert new.sent == 0 and new.unacknowledged(0) == []
    assert new.number("y") == 1 and old.sent == 1


def test_the_queue_refuses_what_does_not_fit_and_keeps_the_rest() -> None:
    queue = SendQueue(10)
    queue.enqueue("input_audio_buffer.append", "evt_1", "12345678")
    with pytest.raises(ConnectionFailure) as full:
        queue.enqueue("input_audio_buffer.append", "evt_2", "123")
    error = full.value
    assert error.category is Category.CONNECTION and error.code == "send_queue_full"
    assert error.event_id == "evt_2" and "send_queue_bytes" in error.message
    assert queue.queued == 1 and queue.queued_bytes == 8
    queue.enqueue("response.create", "evt_3", "12")  # exactly full is fine
    assert queue.queued_ids == {"evt_1", "evt_3"}
    assert queue.pop() == ("input_audio_buffer.append", "evt_1", "12345678")
    assert queue.drain() == [("response.create", "evt_3", "12")]
    assert queue.pop() is None and queue.queued_bytes == 0


@given(st.lists(st.text(min_size=1, max_size=20), max_size=40), st.integers(1, 200))
def test_the_ring_never_holds_more_than_its_bound(frames: list[str], bound: int) -> None:
    ring = ResendRing(bound)
    for text in frames:
        ring.number(text)
    kept = ring.unacknowledged(ring.sent - 1) if frames else []
    assert ring.sent == len(frames)
    if kept is not None and frames:
        assert kept == frames[-1:] or len(frames[-1]) > bound
    for received in range(len(frames) + 1):
        tail = ring.unacknowledged(received)
        if tail is not None:
            assert tail == frames[received:]
            assert sum(len(t) for t in tail) <= max(bound, 0) or not tail
