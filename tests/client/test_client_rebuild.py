"""What a rebuild sends: the merged config and the conversation as item creates."""

from __future__ import annotations

from openai.types.realtime import ConversationItem
from pydantic import TypeAdapter

from rtagents.client.rebuild import (
    NO_TRANSCRIPT,
    merge_config,
    replay_config,
    replay_events,
    replay_item,
)
from rtagents.protocol.codec import validate_client_event

ITEM = TypeAdapter(ConversationItem)


def test_updates_merge_like_the_server_merges_them() -> None:
    first = {"type": "realtime", "instructions": "a", "audio": {"output": {"voice": "alloy"}}}
    second = {"audio": {"input": {"turn_detection": None}}, "instructions": "b"}
    merged = merge_config(merge_config(None, first), second)
    assert merged == {
        "type": "realtime",
        "instructions": "b",
        "audio": {"output": {"voice": "alloy"}, "input": {"turn_detection": None}},
    }


def test_the_replayed_config_drops_server_fields_and_names_its_type() -> None:
    assert replay_config(None) is None and replay_config({}) is None
    config = replay_config({"id": "sess_1", "model": "m", "expires_at": 5, "instructions": "x"})
    assert config == {"instructions": "x", "type": "realtime"}


def test_audio_turns_come_back_as_their_transcripts() -> None:
    user = ITEM.validate_python(
        {
            "id": "item_u",
            "type": "message",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": "hi there"}],
        }
    )
    assistant = ITEM.validate_python(
        {
            "id": "item_a",
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_audio", "transcript": None}],
        }
    )
    assert replay_item(user) == {
        "id": "item_u",
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "hi there"}],
    }
    heard = replay_item(assistant, transcript="You said")
    assert heard is not None and heard["content"] == [{"type": "output_text", "text": "You said"}]
    unknown = replay_item(assistant)
    assert unknown is not None and unknown["content"][0]["text"] == NO_TRANSCRIPT


def test_tool_calls_and_outputs_keep_their_call_ids_and_everything_chains() -> None:
    items = [
        ITEM.validate_python(data)
        for data in (
            {
                "id": "i1",
                "type": "message",
                "role": "system",
                "content": [{"type": "input_text", "text": "be brief"}],
            },
            {"id": "i2", "type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"id": "i3", "type": "function_call_output", "call_id": "c1", "output": "42"},
            {
                "id": "i4",
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "It is 42."}],
            },
        )
    ]
    events = replay_events(items)
    assert [e["previous_item_id"] for e in events] == ["root", "i1", "i2", "i3"]
    assert events[1]["item"] == {
        "id": "i2",
        "type": "function_call",
        "call_id": "c1",
        "name": "f",
        "arguments": "{}",
    }
    assert events[2]["item"]["output"] == "42"
    for event in events:  # every replay is a valid GA client event
        validate_client_event(event)


def test_items_it_cannot_replay_are_skipped_not_faked() -> None:
    class Odd:
        type = "mcp_call"
        id = "i9"

    assert replay_item(Odd()) is None
    assert replay_events([Odd()]) == []
