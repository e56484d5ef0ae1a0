"""Refusals written at intake quote the client's text escaped and bounded, never echo it whole."""

from __future__ import annotations

from rtagents.protocol.codec import InvalidEvent, UnknownEvent, encode_event
from rtagents.protocol.conversation import Conversation
from rtagents.protocol.errors import RemoteProtocolError
from rtagents.server.host.intake import describe_unknown, read_frame

HUGE = 1_000_000


def _unknown(event_type: str) -> UnknownEvent:
    return UnknownEvent(type=event_type, event_id="evt_1", data={"type": event_type}, raw=b"")


def test_an_unknown_type_is_quoted_escaped_and_cut() -> None:
    error = describe_unknown(_unknown("x\n05:00:00.000 CRITICAL forged" + "y" * HUGE))
    assert (error.code, error.param, error.event_id) == ("invalid_value", "type", "evt_1")
    assert error.message.startswith("Unknown event type 'x\\n05:00:00.000 CRITICAL forged")
    assert f"({HUGE + 30} chars)" in error.message and "\n" not in error.message
    assert len(error.message) < 1000


def test_the_quote_follows_the_configured_bound() -> None:
    error = describe_unknown(_unknown("abcdefgh"), quote_chars=3)
    assert error.message.startswith("Unknown event type 'abc…' (8 chars). Valid client events")


def test_a_short_unknown_type_reads_as_before() -> None:
    error = describe_unknown(_unknown("foo.bar"))
    assert error.message.startswith("Unknown event type 'foo.bar'. Valid client events are: ")


def test_a_retired_beta_type_gets_its_ga_name() -> None:
    error = describe_unknown(_unknown("transcription_session.update"))
    assert "retired beta event" in error.message


def test_a_huge_reference_id_is_quoted_bounded() -> None:
    reference = {"type": "item_reference", "id": "i\r" + "d" * HUGE}
    frame = encode_event({"type": "response.create", "response": {"input": [reference]}})
    event = read_frame(frame, 10 * HUGE, Conversation(), quote_chars=5)
    assert isinstance(event, InvalidEvent) and event.error is not None
    assert event.error.code == "item_not_found"
    assert "references item 'i\\rddd…' (1000002 chars), which is not" in event.error.message


def test_frames_refused_before_decoding_quote_nothing() -> None:
    refusal = read_frame("x" * 100, 10, Conversation())
    assert isinstance(refusal, RemoteProtocolError)
    assert refusal.code == "message_too_large" and "x" not in refusal.message
