"""Responses as the conversation tracks them: active, out of band, ended once."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rtagents.protocol import responses as responses_module
from rtagents.protocol.codec import InvalidEvent, decode_server_event
from rtagents.protocol.conversation import Conversation


def test_active_response_is_tracked_until_done(server_events: Any) -> None:
    ev, conv = server_events, Conversation()
    conv.apply(ev.response_created("r1"))
    assert conv.active_response_id == "r1"
    conv.apply(ev.response_done("r1", status="cancelled"))
    assert conv.active_response_id is None
    assert conv.responses["r1"].status == "cancelled"


def test_out_of_band_responses_stay_out_of_the_conversation(server_events: Any) -> None:
    ev, conv = server_events, Conversation()
    conv.apply(ev.response_created("oob", conversation_id=None))
    assert conv.responses["oob"].conversation == "none"
    assert conv.active_response_id is None
    conv.apply(ev.output_item_added(ev.assistant("a9"), response_id="oob"))
    conv.apply(ev.text_delta("a9", "summary"))
    assert conv.item_ids == [] and conv.transcript("a9") == "summary"
    assert conv.responses["oob"].output_item_ids == ["a9"]


def test_in_band_response_is_active_while_an_out_of_band_one_runs(server_events: Any) -> None:
    ev, conv = server_events, Conversation()
    conv.apply(ev.response_created("main"))
    conv.apply(ev.response_created("oob", conversation_id=None))
    assert conv.active_response_id == "main"


def test_a_finished_response_never_restarts(server_events: Any) -> None:
    ev, conv = server_events, Conversation()
    conv.apply(ev.response_created("r"))
    conv.apply(ev.response_done("r"))
    conv.apply(ev.response_created("r"))  # a new event id: not a replay, still ignored
    assert conv.responses["r"].status == "completed" and conv.active_response_id is None


def test_response_done_without_created_is_recorded(server_events: Any) -> None:
    ev, conv = server_events, Conversation()
    usage = {"total_tokens": 3, "input_tokens": 1, "output_tokens": 2}
    conv.apply(ev.response_done("r", status="incomplete", usage=usage))
    record = conv.responses["r"]
    assert record.status == "incomplete" and record.usage.total_tokens == 3


def test_a_malformed_response_done_still_ends_the_response(server_events: Any) -> None:
    conv = Conversation()
    conv.apply(server_events.response_created("r"))
    bad = decode_server_event(
        json.dumps({"type": "response.done", "event_id": "e", "response": {"id": "r", "status": 7}})
    )
    assert isinstance(bad, InvalidEvent)
    conv.apply(bad)
    assert conv.responses["r"].status == "failed" and conv.active_response_id is None


@pytest.mark.parametrize(
    "data",
    [
        None,
        {"type": "response.done", "response": "nope"},
        {"type": "response.done", "response": {"status": "completed"}},
    ],
)
def test_other_invalid_events_are_ignored(server_events: Any, data: Any) -> None:
    conv = Conversation()
    conv.apply(server_events.response_created("r"))
    error = decode_server_event(b"{").error  # type: ignore[union-attr]
    etype = None if data is None else data["type"]
    conv.apply(InvalidEvent(type=etype, event_id="e", data=data, raw=b"", error=error))
    conv.apply(InvalidEvent(type="response.created", event_id="f", data={}, raw=b"", error=error))
    assert conv.active_response_id == "r"


def test_a_replayed_invalid_response_done_is_ignored(server_events: Any) -> None:
    conv = Conversation()
    error = decode_server_event(b"{").error  # type: ignore[union-attr]
    data = {"type": "response.done", "response": {"id": "r", "status": "cancelled"}}
    event = InvalidEvent(type="response.done", event_id="e", data=data, raw=b"", error=error)
    conv.apply(event)
    conv.apply(server_events.response_created("r2"))
    conv.apply(event)
    assert conv.responses["r"].status == "cancelled"


def test_old_finished_responses_are_forgotten(
    server_events: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(responses_module, "MAX_RESPONSES", 3)
    ev, conv = server_events, Conversation()
    conv.apply(ev.response_created("running"))
    conv.apply(ev.response_done("old"))
    conv.apply(ev.response_done("newer"))
    conv.apply(ev.response_done("newest"))
    assert set(conv.responses) == {"running", "newer", "newest"}
    assert conv.active_response_id == "running"


def test_responses_in_progress_outlive_finished_ones(
    server_events: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(responses_module, "MAX_RESPONSES", 1)
    ev, conv = server_events, Conversation()
    conv.apply(ev.response_created("first"))
    conv.apply(ev.response_created("second"))
    assert set(conv.responses) == {"first", "second"}
    assert conv.active_response_id == "second"


def test_a_peer_that_never_ends_responses_cannot_grow_them_forever(
    server_events: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(responses_module, "MAX_IN_PROGRESS", 2)
    ev, conv = server_events, Conversation()
    for name in ("a", "b", "c", "d"):
        conv.apply(ev.response_created(name))
    assert set(conv.responses) == {"c", "d"}
    assert conv.active_response_id == "d"
