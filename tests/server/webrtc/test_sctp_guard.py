"""A hostile caller's data channel: the server never holds a huge message, nor stalls on bad text.

The caller ignores the answer's ``a=max-message-size`` and aiortc's receive
window (it pokes its own SCTP transport); the server must keep what it holds
for reassembly bounded, refuse the message with its ``event_id`` (read from
the start that arrived), and go on receiving.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from aiortc.rtcsctptransport import WEBRTC_STRING
from webrtc_peer import RawCall, no_background_errors

from rtagents.engines.scripted import scripted_engines
from rtagents.server.config import ServerConfig
from rtagents.server.host.limits import KIB, Limits
from rtagents.server.serving import RunningServer, running_server
from rtagents.server.webrtc.sctp_guard import RECEIVE_WINDOW

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
