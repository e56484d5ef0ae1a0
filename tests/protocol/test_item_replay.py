"""What a rebuilt session is sent: items the replay restores, and the ones it cannot."""

from __future__ import annotations

from types import SimpleNamespace

from rtagents.protocol.item_replay import NO_TRANSCRIPT, replay_config, replay_events, replay_item


def _part(kind: str, **fields: str) -> SimpleNamespace:
    return SimpleNamespace(type=kind, **fields)


def test_parts_that_cannot_be_replayed_leave_an_empty_text_of_the_role() -> None:
    item = SimpleNamespace(
        id="item_1",
        type="message",
        role="assistant",
        content=[_part("input_image", image_url="data:..."), _part("something_new")],
    )
    assert replay_item(item) == {
        "id": "item_1",
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": ""}],
    }


def test_audio_without_any_transcript_says_so() -> None:
    item = SimpleNamespace(id="i", type="message", role="user", content=[_part("input_audio")])
    assert replay_item(item) == {
        "id": "i",
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": NO_TRANSCRIPT}],
    }


def test_items_without_an_id_or_of_unknown_kinds_are_skipped() -> None:
    assert replay_item(SimpleNamespace(type="message", id=None)) is None
    unknown = SimpleNamespace(id="mcp_1", type="mcp_call")
    kept = SimpleNamespace(id="fc_out", type="function_call_output", call_id="c1", output="ok")
    events = replay_events([unknown, kept])
    assert [e["item"]["id"] for e in events] == ["fc_out"]
    assert events[0]["previous_item_id"] == "root"


def test_an_empty_config_restores_nothing_and_fixed_fields_are_left_out() -> None:
    assert replay_config(None) is None
    assert replay_config({"model": "m", "id": "s", "instructions": "hi"}) == {
        "instructions": "hi",
        "type": "realtime",
    }
