"""The outbox: frame numbering, the byte-bounded resend ring and the send queue."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtagents.client.outbox import Outbox
from rtagents.protocol.errors import Category, ConnectionFailure


def test_frames_are_numbered_from_one_and_resent_after_what_the_server_got() -> None:
    box = Outbox(queue_bytes=100, ring_bytes=1000)
    assert [box.number(t) for t in ("a", "b", "c")] == [1, 2, 3]
    assert box.unacknowledged(3) == []
    assert box.unacknowledged(1) == ["b", "c"]
    assert box.unacknowledged(0) == ["a", "b", "c"]


def test_a_gap_the_ring_no_longer_covers_is_reported_not_papered_over() -> None:
    box = Outbox(queue_bytes=0, ring_bytes=10)
    for text in ("aaaa", "bbbb", "cccc"):  # 12 bytes: "aaaa" is dropped
        box.number(text)
    assert box.unacknowledged(1) == ["bbbb", "cccc"]
    assert box.unacknowledged(0) is None
    assert box.unacknowledged(4) is None  # the server claims more than we sent
    assert box.unacknowledged(-1) is None


def test_restart_begins_a_new_numbering() -> None:
    box = Outbox(queue_bytes=0, ring_bytes=100)
    box.number("x")
    box.restart()
    assert box.sent == 0 and box.unacknowledged(0) == []
    assert box.number("y") == 1


def test_the_queue_refuses_what_does_not_fit_and_keeps_the_rest() -> None:
    box = Outbox(queue_bytes=10, ring_bytes=0)
    box.enqueue("input_audio_buffer.append", "evt_1", "12345678")
    with pytest.raises(ConnectionFailure) as full:
        box.enqueue("input_audio_buffer.append", "evt_2", "123")
    error = full.value
    assert error.category is Category.CONNECTION and error.code == "send_queue_full"
    assert error.event_id == "evt_2" and "send_queue_bytes" in error.message
    assert box.queued == 1 and box.queued_bytes == 8
    box.enqueue("response.create", "evt_3", "12")  # exactly full is fine
    assert box.pop_queued() == ("input_audio_buffer.append", "evt_1", "12345678")
    assert box.drain_queue() == [("response.create", "evt_3", "12")]
    assert box.pop_queued() is None and box.queued_bytes == 0


@given(st.lists(st.text(min_size=1, max_size=20), max_size=40), st.integers(1, 200))
def test_the_ring_never_holds_more_than_its_bound(frames: list[str], bound: int) -> None:
    box = Outbox(queue_bytes=0, ring_bytes=bound)
    for text in frames:
        box.number(text)
    kept = box.unacknowledged(box.sent - 1) if frames else []
    assert box.sent == len(frames)
    if kept is not None and frames:
        assert kept == frames[-1:] or len(frames[-1]) > bound
    for received in range(len(frames) + 1):
        tail = box.unacknowledged(received)
        if tail is not None:
            assert tail == frames[received:]
            assert sum(len(t) for t in tail) <= max(bound, 0) or not tail
