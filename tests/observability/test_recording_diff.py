"""Comparing replayed server events with recorded ones: what is ignored, grouping, ids carried."""

from __future__ import annotations

from typing import Any

from rtagents.observability.recording_diff import (
    IdMap,
    compare,
    first_difference,
    group_events,
    normalize,
)


def _delta(response: str, text: str, event_id: str = "evt_1") -> dict[str, Any]:
    return {
        "type": "response.output_text.delta",
        "event_id": event_id,
        "response_id": response,
        "item_id": f"item_{response}",
        "delta": text,
    }


def _created(response: str) -> dict[str, Any]:
    return {"type": "response.created", "response": {"id": response, "status": "in_progress"}}


def test_ids_times_and_audio_are_ignored() -> None:
    event = {
        "type": "response.output_audio.delta",
        "event_id": "evt_9",
        "response_id": "resp_1",
        "delta": {"elided": True, "bytes": 960, "crc32": "00000000"},
        "created_at": 12,
        "output_index": 0,
    }
    assert normalize(event) == {"type": "response.output_audio.delta", "output_index": 0}


def test_the_first_difference_names_the_field() -> None:
    recorded = {"a": {"b": [1, {"c": "x"}]}, "same": 1}
    assert first_difference(recorded, {"a": {"b": [1, {"c": "y"}]}, "same": 1}) == (
        "a.b[1].c: recorded 'x', replayed 'y'"
    )
    assert first_difference({"a": 1}, {}) == "a: recorded 1, missing in the replay"
    assert first_difference({}, {"z": 2}) == "z: not in the recording, replayed 2"
    assert first_difference([1], [1, 2]) == ": 1 entries recorded, 2 replayed"
    assert first_difference(recorded, recorded) is None


def test_events_group_by_response_in_the_order_responses_started() -> None:
    events = [
        {"type": "session.created"},
        _created("resp_a"),
        {"type": "response.output_item.added", "response_id": "resp_a", "item": {"id": "i1"}},
        {"type": "conversation.item.added", "item": {"id": "i1"}},  # no response id: its item's
        {"type": "error", "error": {"message": "engine broke", "event_id": None}},
        {"type": "response.done", "response": {"id": "resp_a"}},
        {"type": "error", "error": {"message": "bad event", "event_id": "evt_c"}},
    ]
    groups = group_events(events)
    assert [g.label for g in groups] == ["session", "response 1"]
    assert [e["type"] for e in groups[1].events] == [
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "error",  # a model failure during the response belongs to it
        "response.done",
    ]
    assert [e["type"] for e in groups[0].events] == ["session.created", "error"]


def test_compare_reports_the_first_divergence_of_each_response_only() -> None:
    recorded = [
        _created("r1"),
        _delta("r1", "a"),
        _delta("r1", "b"),
        _created("r2"),
        _delta("r2", "c"),
    ]
    replayed = [
        _created("x1"),
        _delta("x1", "a"),
        _delta("x1", "B"),
        _created("x2"),
        _delta("x2", "c"),
    ]
    [divergence] = compare(recorded, replayed)
    assert divergence.describe() == (
        "response 1 (recorded as r1): event 3 response.output_text.delta: "
        "delta: recorded 'b', replayed 'B'"
    )
    assert (
        compare(
            recorded,
            [_created("y"), _delta("y", "a"), _delta("y", "b"), _created("z"), _delta("z", "c")],
        )
        == []
    )


def test_missing_extra_and_retyped_events_are_divergences() -> None:
    recorded = [_created("r1"), _delta("r1", "a")]
    assert "the replay has no more events here" in compare(recorded, [_created("x")])[0].detail
    longer = compare(recorded, [_created("x"), _delta("x", "a"), _delta("x", "b")])
    assert longer[0].detail.startswith("the replay has more events here")
    other = [_created("x"), {"type": "response.done", "response_id": "x"}]
    assert compare(recorded, other)[0].detail == (
        "recorded response.output_text.delta, replayed response.done"
    )
    extra = compare([], [_created("x")])
    assert extra[0].group == "response 1" and extra[0].detail == "not in the recording"


def test_ids_learnt_from_paired_events_are_carried_into_client_events() -> None:
    ids = IdMap()
    ids.learn(
        {"type": "response.output_item.added", "item": {"id": "item_old", "call_id": "call_old"}},
        {"type": "response.output_item.added", "item": {"id": "item_new", "call_id": "call_new"}},
    )
    output = {
        "type": "conversation.item.create",
        "event_id": "evt_client",
        "previous_item_id": "item_old",
        "item": {"type": "function_call_output", "call_id": "call_old", "output": "item_old"},
    }
    assert ids.translate(output) == {
        "type": "conversation.item.create",
        "event_id": "evt_client",
        "previous_item_id": "item_new",
        # only id fields are rewritten: text that happens to equal an id is not
        "item": {"type": "function_call_output", "call_id": "call_new", "output": "item_old"},
    }
