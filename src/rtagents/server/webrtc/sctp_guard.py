"""A call's SCTP association, bounded: a caller cannot make the server hold a huge message.

aiortc reassembles every data channel message whole, whatever its size (the
receive window it advertises is not enforced), and then decodes it; so a
caller that ignores the answer's ``a=max-message-size`` could make the server
hold any amount, and one message that is not UTF-8 stops the association's
receiving for good. Here the fragments held for reassembly, over all streams
of the association together, are bounded by ``limit + RECEIVE_WINDOW`` (a
peer that keeps to the advertised window never comes near it); fragments past
it keep their place in the sequence but not their bytes, and the message they
belong to is delivered as :class:`TooLarge` (what arrived of its start) for
the channel to refuse. A text message that is not UTF-8 is delivered as
:class:`NotText`. Both go through aiortc's seams on one association object
(``_get_inbound_stream``, ``_receive``), as no public API exists for them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from aiortc.rtcsctptransport import WEBRTC_STRING, InboundStream, RTCSctpTransport

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


class _BoundedStream(InboundStream):
    """An inbound stream whose fragments count against the association's budget."""

    def __init__(self, budget: _Budget) -> None:
        super().__init__()
        self.budget = budget

    def add_chunk(self, chunk: Any) -> None:
        if self.budget.held + len(chunk.user_data) > self.budget.bound:
            chunk.user_data = b""  # keeps its sequence place, not its bytes
            chunk.protocol = CUT_PPID
        self.budget.held += len(chunk.user_data)
        super().add_chunk(chunk)

    def pop_messages(self) -> Iterator[tuple[int, int, bytes]]:
        for message in super().pop_messages():
            self.budget.held -= len(message[2])
            yield message

    def prune_chunks(self, tsn: int) -> int:
        size = super().prune_chunks(tsn)
        self.budget.held -= size
        return size


def bound_association(sctp: RTCSctpTransport, limit: int) -> None:
    """Bound what ``sctp`` holds for reassembly, and check text messages, for this call."""
    budget = _Budget(limit + RECEIVE_WINDOW)
    streams: dict[int, InboundStream] = sctp._inbound_streams

    def inbound_stream(stream_id: int) -> InboundStream:
        if stream_id not in streams:
            streams[stream_id] = _BoundedStream(budget)
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
