"""Frames on their way to the server: the resend ring of a server session, and the send queue.

Every text frame the client puts on a connection gets the next sequence number
(1, 2, 3 ... for the whole server session, as the resume protocol counts them)
and is kept in a byte-bounded :class:`ResendRing` until it is old enough to
drop. When a resumed server says it received ``m`` frames,
:meth:`ResendRing.unacknowledged` gives back ``m+1 ...`` in order. The ring
belongs to the server session (a :class:`~.connection.Connection` carries it,
a resume hands it on, a rebuild starts a new one). Frames the app sends while
no connection is up wait in the session's byte-bounded :class:`SendQueue`; a
frame that does not fit is refused with a ``connection`` error, never dropped
silently.
"""

from __future__ import annotations

from collections import deque

from ..protocol.errors import ConnectionFailure, Origin


def _size(text: str) -> int:
    # Frames are mostly ASCII JSON (base64 audio); len() is the cheap exact bound
    # for those and within 4x for the rest, which is enough for a memory bound.
    return len(text)


class ResendRing:
    """Sequence numbers of one server session, and its newest frames for a resend."""

    def __init__(self, ring_bytes: int) -> None:
        self.ring_bytes = ring_bytes
        self.sent = 0
        """Frames put on a connection so far (the last sequence number used)."""
        self._ring: deque[tuple[int, str]] = deque()
        self._ring_size = 0

    def number(self, text: str) -> int:
        """Give ``text`` the next sequence number and keep it for a resend."""
        self.sent += 1
        self._ring.append((self.sent, text))
        self._ring_size += _size(text)
        while self._ring_size > self.ring_bytes and self._ring:
            _, dropped = self._ring.popleft()
            self._ring_size -= _size(dropped)
        return self.sent

    def unacknowledged(self, received: int) -> list[str] | None:
        """Frames ``received+1 ..`` in order; None if some of them were dropped already.

        ``received`` beyond what was sent is also None: the server and client
        disagree, and only a rebuild can repair that.
        """
        if received > self.sent or received < 0:
            return None
        missing = self.sent - received
        if missing == 0:
            return []
        if missing > len(self._ring) or self._ring[-missing][0] != received + 1:
            return None
        return [text for _, text in list(self._ring)[-missing:]]


class SendQueue:
    """Frames the app sent while no connection took them, in order, bounded in bytes."""

    def __init__(self, queue_bytes: int) -> None:
        self.queue_bytes = queue_bytes
        self._queue: deque[tuple[str, str, str]] = deque()
        self._queue_size = 0

    def enqueue(self, event_type: str, event_id: str, text: str) -> None:
        """Hold a frame until a connection is up; refuse it if the queue is full."""
        size = _size(text)
        if self._queue_size + size > self.queue_bytes:
            raise ConnectionFailure(
                f"cannot queue {event_type!r} ({size} bytes) while reconnecting: the send "
                f"queue holds {self._queue_size} of {self.queue_bytes} bytes. Wait for the "
                "'rtagents.resumed' event, or raise ReconnectPolicy.send_queue_bytes",
                origin=Origin.LOCAL,
                code="send_queue_full",
                event_id=event_id,
            )
        self._queue.append((event_type, event_id, text))
        self._queue_size += size

    def pop(self) -> tuple[str, str, str] | None:
        """The oldest queued frame (type, event id, text), or None."""
        if not self._queue:
            return None
        entry = self._queue.popleft()
        self._queue_size -= _size(entry[2])
        return entry

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def queued_ids(self) -> set[str]:
        """Event ids of the frames waiting for a connection."""
        return {event_id for _, event_id, _ in self._queue}

    @property
    def queued_bytes(self) -> int:
        return self._queue_size

    def drain(self) -> list[tuple[str, str, str]]:
        """Everything still queued (the session ended: report, do not send)."""
        entries = list(self._queue)
        self._queue.clear()
        self._queue_size = 0
        return entries
