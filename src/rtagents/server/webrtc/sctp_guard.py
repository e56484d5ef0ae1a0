"""A call's SCTP association, bounded: a caller cannot make the server hold a huge message.

aiortc reassembles every data channel message whole, whatever its size (the
receive window it advertises is not enforced), and then decodes it; so a
caller that ignores the answer's ``a=max-message-size`` could make the server
hold any amount, and one message that is not UTF-8 stops the association's
receiving for good. Here a message whose fragments grow past ``limit +
RECEIVE_WINDOW`` (a peer that keeps to the advertised size and window never
comes near it) is cut: its later fragments keep their place in the sequence
but not their bytes, and it is delivered as :class:`TooLarge` (what arrived
of its start) for the channel to refuse. Only that message is cut, not the
ones after it that arrive while it waits for a lost fragment (found by the
fuzz run: they were refused with it). Fragments whose message cannot be told
(they came after a gap) count against a budget of twice that over the whole
association, the backstop against a peer that floods.
A text message that is not UTF-8 is delivered as
:class:`NotText`. Both go through aiortc's seams on one association object
(``_get_inbound_stream``, ``_receive``), as no public API exists for them.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from typing import Any

from aiortc.rtcsctptransport import (
    SCTP_DATA_FIRST_FRAG,
    SCTP_DATA_LAST_FRAG,
    WEBRTC_STRING,
    InboundStream,
    RTCSctpTransport,
)

# aiortc advertises a 1 MiB receive window; a peer that keeps to it never has
# more than that in flight.
RECEIVE_WINDOW = 2**20
# A payload protocol id no WebRTC peer uses: marks a message cut at the bound.
CUT_PPID = 0x72746167


class TooLarge(str):
    """A caller's message that went past the bound: the text of what arrived of its start."""


class NotText(str):
    """A caller's text message that was not UTF-8 (empty: it is not read)."""


class _Budget:
    """Bytes held for reassembly over all of one association's streams."""

    def __init__(self, bound: int) -> None:
        self.bound = bound
        self.held = 0


class _Messages:
    """Which message each fragment of one stream belongs to, from the fragments seen.

    A message's fragments have consecutive TSNs and a stream's messages follow
    one another, so a fragment belongs to the message of the nearest first
    fragment at or before it, unless a last fragment lies between them. That
    holds whatever order the fragments arrive in (SCTP on a busy loop reorders
    and retransmits); a fragment whose first fragment has not arrived yet is
    not known. TSNs are counted from the stream's first one, so they do not wrap.
    """

    def __init__(self) -> None:
        self._base: int | None = None
        self._firsts: list[int] = []  # sorted
        self._lasts: list[int] = []  # sorted
        self.sizes: dict[int, int] = {}  # bytes arrived, by first fragment
        self.cut: set[int] = set()  # messages past the bound

    def of(self, chunk: Any) -> int | None:
        """The first-fragment position of ``chunk``'s message (recording its flags), or None."""
        if self._base is None:
            self._base = chunk.tsn
        at = (chunk.tsn - self._base) % 2**32
        if chunk.flags & SCTP_DATA_FIRST_FRAG:
            bisect.insort(self._firsts, at)
        if chunk.flags & SCTP_DATA_LAST_FRAG:
            bisect.insort(self._lasts, at)
        index = bisect.bisect_right(self._firsts, at)
        if index == 0:
            return None
        first = self._firsts[index - 1]
        ended = bisect.bisect_left(self._lasts, first)
        if ended < len(self._lasts) and self._lasts[ended] < at:
            return None  # its message ended before it: the next first fragment is missing
        return first

    def forget_before(self, tsn: int | None) -> None:
        """Drop what is known of messages wholly before ``tsn`` (None: everything)."""
        if self._base is None:
            return
        if tsn is None:
            self._firsts, self._lasts = [], []
            self.sizes.clear()
            self.cut.clear()
            return
        at = (tsn - self._base) % 2**32
        keep = bisect.bisect_right(self._firsts, at) - 1
        if keep > 0:
            oldest = self._firsts[keep]
            del self._firsts[:keep]
            del self._lasts[: bisect.bisect_left(self._lasts, oldest)]
            self.sizes = {k: v for k, v in self.sizes.items() if k >= oldest}
            self.cut = {k for k in self.cut if k >= oldest}


class _BoundedStream(InboundStream):
    """An inbound stream that cuts a message growing past ``message_bound``.

    Only that message is cut, never the ones after it that arrive while it
    waits for a lost fragment. Fragments whose message is not known yet count
    against the association's budget only, the backstop against a peer that
    floods.
    """

    def __init__(self, budget: _Budget, message_bound: int) -> None:
        super().__init__()
        self.budget = budget
        self.message_bound = message_bound
        self.messages = _Messages()

    def add_chunk(self, chunk: Any) -> None:
        if self._cuts(chunk):
            chunk.user_data = b""  # keeps its sequence place, not its bytes
            chunk.protocol = CUT_PPID
        self.budget.held += len(chunk.user_data)
        super().add_chunk(chunk)

    def _cuts(self, chunk: Any) -> bool:
        messages = self.messages
        message = messages.of(chunk)
        if message is None:
            return self.budget.held + len(chunk.user_data) > self.budget.bound
        if message in messages.cut:
            return True
        size = messages.sizes.get(message, 0) + len(chunk.user_data)
        messages.sizes[message] = size
        if size > self.message_bound:
            messages.cut.add(message)
            return True
        return self.budget.held + len(chunk.user_data) > self.budget.bound

    def pop_messages(self) -> Iterator[tuple[int, int, bytes]]:
        for message in super().pop_messages():
            self.budget.held -= len(message[2])
            yield message
        self.messages.forget_before(self.reassembly[0].tsn if self.reassembly else None)

    def prune_chunks(self, tsn: int) -> int:
        size = super().prune_chunks(tsn)
        self.budget.held -= size
        return size


def bound_association(sctp: RTCSctpTransport, limit: int) -> None:
    """Bound what ``sctp`` holds for reassembly, and check text messages, for this call."""
    message_bound = limit + RECEIVE_WINDOW
    budget = _Budget(2 * message_bound)  # one message being cut, and room for the next
    streams: dict[int, InboundStream] = sctp._inbound_streams

    def inbound_stream(stream_id: int) -> InboundStream:
        if stream_id not in streams:
            streams[stream_id] = _BoundedStream(budget, message_bound)
        return streams[stream_id]

    original = sctp._receive

    async def receive(stream_id: int, pp_id: int, data: bytes) -> None:
        channel = sctp._data_channels.get(stream_id)
        if pp_id == CUT_PPID:
            if channel is not None:
                channel.emit("message", TooLarge(data.decode(errors="ignore")))
            return
        if pp_id == WEBRTC_STRING and channel is not None:
            try:
                text = data.decode()
            except UnicodeDecodeError:
                channel.emit("message", NotText())
                return
            channel.emit("message", text)
            return
        await original(stream_id, pp_id, data)

    sctp._get_inbound_stream = inbound_stream  # type: ignore[method-assign]
    sctp._receive = receive  # type: ignore[method-assign]
