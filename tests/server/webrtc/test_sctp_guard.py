"""A hostile caller's data channel: the server never holds a huge message, nor stalls on bad text.

The caller ignores the answer's ``a=max-message-size`` and aiortc's receive
window (it pokes its own SCTP transport); the server must keep what it holds
for reassembly bounded, refuse the message with its ``event_id`` (read from
the start that arrived), and go on receiving.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from aiortc.rtcsctptransport import (
    SCTP_DATA_FIRST_FRAG,
    SCTP_DATA_LAST_FRAG,
    WEBRTC_STRING,
    DataChunk,
)
from webrtc_peer import RawCall, no_background_errors

from rtagents.engines.scripted import scripted_engines
from rtagents.server.config import ServerConfig
from rtagents.server.host.limits import KIB, Limits
from rtagents.server.serving import RunningServer, running_server
from rtagents.server.webrtc.sctp_guard import CUT_PPID, RECEIVE_WINDOW, bound_association

LIMIT = 64 * KIB
PTT = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    limits = Limits(datachannel_message_bytes=LIMIT)
    config = ServerConfig(port=0, webrtc_loopback=True, limits=limits)
    async with running_server(config, scripted_engines()) as running:
        yield running


@pytest.fixture
async def call(server: RunningServer) -> AsyncIterator[RawCall]:
    opened = await RawCall.open(server, session=PTT)
    await opened.until("conversation.created")
    opened.pc.sctp._remote_max_message_size = 64 * 2**20  # ignores what the server said
    try:
        yield opened
    finally:
        await opened.close()


def _held(server: RunningServer, call: RawCall) -> int:
    """Bytes the server's side of the call holds for reassembly, over all streams."""
    sctp = server.app.state.rtagents.calls[call.call_id].pc.sctp
    held: int = next(iter(sctp._inbound_streams.values())).budget.held
    return held


async def _session_goes_on(call: RawCall) -> None:
    await call.send({"type": "session.update", "event_id": "evt_after", "session": PTT})
    await call.until("session.updated")


async def test_a_message_past_the_bound_is_cut_while_arriving_and_refused(
    server: RunningServer, call: RawCall
) -> None:
    text = "x" * (LIMIT + 2 * RECEIVE_WINDOW)
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    event = {"event_id": "evt_huge", "type": "conversation.item.create", "item": item}
    async with no_background_errors():
        call.channel.send(json.dumps(event))
        error = (await call.until("error"))[-1]
    assert (error.error.code, error.error.event_id) == ("message_too_large", "evt_huge")
    assert "cut while it arrived" in error.error.message
    assert _held(server, call) == 0  # nothing of it is left behind
    await _session_goes_on(call)


async def test_text_that_is_not_utf8_is_refused_and_receiving_goes_on(call: RawCall) -> None:
    sctp = call.pc.sctp
    async with no_background_errors():
        sctp._data_channel_queue.append((call.channel, WEBRTC_STRING, b'{"type": "\xff\xfe"}'))
        await sctp._data_channel_flush()
        error = (await call.until("error"))[-1]
    assert error.error.code == "invalid_event" and "UTF-8" in error.error.message
    await _session_goes_on(call)


def _fragments(first_tsn: int, seq: int, payload: bytes, size: int) -> list[Any]:
    """One ordered message on stream 1 as SCTP DATA chunks of ``size`` bytes."""
    pieces = [payload[at : at + size] for at in range(0, len(payload), size)]
    chunks = []
    for index, piece in enumerate(pieces):
        flags = (SCTP_DATA_FIRST_FRAG if index == 0 else 0) | (
            SCTP_DATA_LAST_FRAG if index == len(pieces) - 1 else 0
        )
        chunk = DataChunk(flags=flags)
        chunk.tsn, chunk.stream_id, chunk.stream_seq = first_tsn + index, 1, seq
        chunk.protocol, chunk.user_data = WEBRTC_STRING, piece
        chunks.append(chunk)
    return chunks


def test_only_the_oversized_message_is_cut_when_fragments_arrive_out_of_order() -> None:
    """A lost fragment of a huge message must not get the messages after it cut too."""
    sctp: Any = SimpleNamespace(_inbound_streams={}, _receive=None, _data_channels={})
    bound_association(sctp, limit=1000)
    stream = sctp._get_inbound_stream(1)
    huge = _fragments(2**32 - 5, 0, b"h" * (3 * RECEIVE_WINDOW), 1000)  # TSNs wrap too
    after = [_fragments(huge[-1].tsn + 1 + 3 * n, n + 1, b"s" * 2500, 1000) for n in range(3)]
    late = huge.pop(len(huge) // 2)  # lost, retransmitted after the rest
    for chunk in [*huge, *(c for message in after for c in message), late]:
        chunk.tsn %= 2**32
        stream.add_chunk(chunk)
    popped = list(stream.pop_messages())
    assert [protocol for _, protocol, _ in popped] == [CUT_PPID, *[WEBRTC_STRING] * 3]
    assert len(popped[0][2]) <= 1000 + RECEIVE_WINDOW + 1000  # what was kept of the huge one
    assert [data for _, _, data in popped[1:]] == [b"s" * 2500] * 3  # the others whole
    assert stream.budget.held == 0
