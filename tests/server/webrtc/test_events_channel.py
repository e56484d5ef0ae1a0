"""The data channel keeps the size it advertises: a bigger message is refused, never applied.

A hostile caller ignores the answer's ``a=max-message-size`` (here: pokes its
own SCTP transport to send more); the server must answer ``message_too_large``
with the message's ``event_id`` and go on as before.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from webrtc_peer import RawCall

from rtagents.engines.scripted import scripted_engines
from rtagents.server.config import ServerConfig
from rtagents.server.host.limits import KIB, Limits
from rtagents.server.serving import RunningServer, running_server
from rtagents.server.webrtc.events_channel import EVENT_ID_SCAN_TOKENS, event_id_of

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
    opened.pc.sctp._remote_max_message_size = 16 * 2**20  # ignores what the server said
    try:
        yield opened
    finally:
        await opened.close()


def _item_create(text: str, event_id: str, *, id_first: bool = True) -> str:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    event = {"type": "conversation.item.create", "item": item}
    ordered = {"event_id": event_id, **event} if id_first else {**event, "event_id": event_id}
    return json.dumps(ordered, ensure_ascii=False)


async def test_the_answer_advertises_the_configured_limit(call: RawCall) -> None:
    assert f"a=max-message-size:{LIMIT}\r\n" in call.pc.remoteDescription.sdp


@pytest.mark.parametrize("id_first", [True, False], ids=["event_id first", "event_id last"])
async def test_a_message_over_the_limit_is_refused_with_its_event_id_and_the_session_goes_on(
    server: RunningServer, call: RawCall, id_first: bool
) -> None:
    big = _item_create("x" * (LIMIT + 1), "evt_big", id_first=id_first)
    call.channel.send(big)
    error = (await call.until("error"))[-1]
    assert (error.error.code, error.error.event_id) == ("message_too_large", "evt_big")
    assert f"{len(big)} bytes" in error.error.message and str(LIMIT) in error.error.message
    call.channel.send(_item_create("small", "evt_small"))
    added = (await call.until("conversation.item.added"))[-1]
    assert added.item.content[0].text == "small"
    host = server.app.state.rtagents.calls[call.call_id].host
    assert host is not None and len(host.conversation) == 1  # the big one was never applied


async def test_a_message_at_the_limit_is_applied(call: RawCall) -> None:
    characters = (LIMIT - len(_item_create("", "evt_edge"))) // 2  # "é": 2 bytes in UTF-8
    message = _item_create("é" * characters, "evt_edge")
    assert LIMIT - 2 < len(message.encode()) <= LIMIT < len(message) * 2
    call.channel.send(message)
    added = (await call.until("conversation.item.added"))[-1]
    assert len(added.item.content[0].text) == characters


def test_event_ids_are_read_from_the_top_level_only() -> None:
    assert event_id_of('{"event_id": "a\\"b", "audio": "AAAA"}') == 'a"b'
    assert event_id_of('{"type": "x", "audio": "' + "A" * 10**6 + '", "event_id": "e1"}') == "e1"
    assert event_id_of('{"item": {"event_id": "inner"}, "type": "event_id"}') is None
    assert event_id_of('{"event_id": 5}') is None
    assert event_id_of('{"audio": "unterminated') is None
    assert event_id_of('{"event_id": "' + "e" * 600 + '"}') is None  # too long to echo
    flood = "[" * (EVENT_ID_SCAN_TOKENS + 10) + '{"event_id": "deep"}'
    assert event_id_of('{"a": ' + flood) is None  # a bounded scan gives up


def test_an_event_id_that_cannot_be_echoed_is_left_out() -> None:
    assert event_id_of('{"event_id": "a\x01b", "x": 1') is None  # a raw control character
    assert event_id_of('{"event_id": "\\x"}') is None  # a bad escape
    assert event_id_of('{"event_id": "\\ud800"}') is None  # a lone surrogate: not UTF-8


async def test_an_oversized_message_with_a_broken_event_id_costs_that_message_only(
    call: RawCall,
) -> None:
    broken = '{"event_id": "evt\x01", "type": "conversation.item.create", "pad": "'
    call.channel.send(broken + "x" * (LIMIT + 1) + '"}')
    error = (await call.until("error"))[-1]
    assert (error.error.code, error.error.event_id) == ("message_too_large", None)
    call.channel.send(_item_create("after", "evt_after"))  # the channel still delivers
    added = (await call.until("conversation.item.added"))[-1]
    assert added.item.content[0].text == "after"
