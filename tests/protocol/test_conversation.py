"""The conversation reducer, fed with hand-built GA server events."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from protocol_events import ServerEvents

from rtagents.protocol import conversation as conversation_module
from rtagents.protocol.audio import PCM16_24K, PCMU, AudioFormat
from rtagents.protocol.codec import UnknownEvent, decode_server_event
from rtagents.protocol.conversation import Conversation, ResponseRecord

# 48 000 bytes of PCM16 at 24 kHz is exactly one second.
SECOND = 48_000


def snapshot(conv: Conversation) -> Any:
    """Everything observable, for before/after comparisons."""
    return (
        [item.model_dump() for item in conv.items],
        {i: (conv.audio_ms(i), conv.transcript(i), conv.truncated_ms(i)) for i in conv.item_ids},
        {k: (v.status, v.conversation, list(v.output_item_ids)) for k, v in conv.responses.items()},
        conv.active_response_id,
        conv.output_format,
    )


def spoken_response(ev: Any) -> list[Any]:
    """A complete audio response in the documented GA order."""
    return [
        ev.response_created("r", conversation_id="conv_1"),
        ev.output_item_added(ev.assistant("a1")),
        ev.added(ev.assistant("a1"), previous="u1"),
        ev.part_added("a1", "audio"),
        ev.transcript_delta("a1", "Hello "),
        ev.audio_delta("a1", SECOND),
        ev.transcript_delta("a1", "there."),
        ev.audio_delta("a1", SECOND),
        ev.audio_done("a1"),
        ev.transcript_done("a1", "Hello there."),
        ev.part_done("a1", "audio", transcript="Hello there."),
        ev.output_item_done(ev.assistant("a1", status="completed")),
        ev.done(ev.assistant("a1", status="completed"), previous="u1"),
        ev.response_done("r", output=[ev.assistant("a1", status="completed")]),
    ]


def with_user_turn(ev: Any) -> Conversation:
    conv = Conversation()
    conv.apply(ev.added(ev.user("u1", audio=True)))
    return conv


def test_a_spoken_response_builds_the_assistant_item(server_events: Any) -> None:
    conv = with_user_turn(server_events)
    for event in spoken_response(server_events):
        conv.apply(event)
    assert conv.item_ids == ["u1", "a1"]
    assert conv.transcript("a1") == "Hello there."
    assert conv.audio_ms("a1") == pytest.approx(2000.0)
    item = conv.get("a1")
    assert item is not None and item.status == "completed"
    assert item.content[0].type == "output_audio" and item.content[0].audio is None
    assert conv.responses["r"] == ResponseRecord(
        id="r", status="completed", conversation="auto", output_item_ids=["a1"]
    )
    assert conv.active_response_id is None


def test_text_output_and_replaced_by_done(server_events: Any) -> None:
    ev, conv = server_events, Conversation()
    conv.apply(ev.added(ev.assistant("a1")))
    conv.apply(ev.text_delta("a1", "Hi"))
    conv.apply(ev.text_delta("a1", " you"))
    assert conv.transcript("a1") == "Hi you"
    conv.apply(ev.text_done("a1", "Hi you!"))
    assert conv.get("a1").content[0].text == "Hi you!"  # type: ignore[union-attr]


def test_function_call_arguments_accumulate(server_events: Any) -> None:
    ev, conv = server_events, Conversation()
    conv.apply(ev.output_item_added(ev.call("c1")))
    conv.apply(ev.args_delta("c1", '{"city": '))
    conv.apply(ev.args_delta("c1", '"Oslo"}'))
    assert conv.get("c1").arguments == '{"city": "Oslo"}'  # type: ignore[union-attr]
    conv.apply(ev.args_done("c1", '{"city":"Oslo"}'))
    assert conv.get("c1").arguments == '{"city":"Oslo"}'  # type: ignore[union-attr]
    assert conv.transcript("c1") == ""


def test_input_transcription_may_complete_after_the_response_started(server_events: Any) -> None:
    ev = server_events
    conv = with_user_turn(ev)
    events = spoken_response(ev)
    for event in events[:6]:
        conv.apply(event)
    conv.apply(ev.input_delta("u1", "what "))
    conv.apply(ev.input_delta("u1", "time"))
    assert conv.transcript("u1") == "what time"
    for event in events[6:]:
        conv.apply(event)
    conv.apply(ev.input_completed("u1", "What time is it?"))
    assert conv.item_ids == ["u1", "a1"]
    assert conv.transcript("u1") == "What time is it?"
    assert conv.get("u1").content[0].type == "input_audio"  # type: ignore[union-attr]


def test_input_transcription_failure_is_recorded_then_cleared(server_events: Any) -> None:
    ev = server_events
    conv = with_user_turn(ev)
    conv.apply(ev.input_failed("u1"))
    assert conv.transcription_error("u1") == "no speech"
    conv.apply(ev.input_failed("u1", message=None))
    assert conv.transcription_error("u1") == "stt_failed"
    conv.apply(ev.input_completed("u1", "hello"))
    assert conv.transcription_error("u1") is None
    assert conv.transcription_error("nope") is None


def test_noted_audio_counts_as_the_deltas_it_stands_for(server_events: Any) -> None:
    """A WebRTC call notes its audio instead of sending deltas: same durations, same cuts."""
    ev = server_events
    with_deltas, noted = with_user_turn(ev), with_user_turn(ev)
    for event in spoken_response(ev):
        with_deltas.apply(event)
        if event.type == "response.output_audio.delta":
            noted.note_audio(event.item_id, 1000.0)
        else:
            noted.apply(event)
    assert snapshot(noted) == snapshot(with_deltas)
    assert noted.audio_ms("a1") == pytest.approx(2000.0)
    for conv in (with_deltas, noted):
        conv.apply(ev.truncated("a1", 1500))
    assert noted.transcript("a1") == with_deltas.transcript("a1")
    assert noted.transcript("a1").startswith("Hello ") and noted.transcript("a1") != "Hello there."


def test_audio_noted_before_its_item_is_kept_for_it(server_events: Any) -> None:
    ev, conv = server_events, Conversation()
    conv.note_audio("a1", 250.0)
    assert "a1" not in conv
    conv.apply(ev.output_item_added(ev.assistant("a1")))
    conv.note_audio("a1", 0)
    assert conv.audio_ms("a1") == pytest.approx(250.0)


@pytest.mark.parametrize("ms", [-1.0, float("nan"), float("inf")])
def test_noting_a_duration_that_is_no_duration_is_refused(ms: float) -> None:
    conv = Conversation()
    with pytest.raises(ValueError, match="finite duration"):
        conv.note_audio("a1", ms)
    assert conv.audio_ms("a1") == 0.0


def test_input_delta_without_content_index_targets_the_first_part(server_events: Any) -> None:
    ev = server_events
    conv = with_user_turn(ev)
    conv.apply(ev.input_delta("u1", "hey", content_index=None))
    assert conv.transcript("u1") == "hey"


def test_deltas_before_the_item_are_applied_when_it_arrives(server_events: Any) -> None:
    ev, conv = server_events, Conversation()
    conv.apply(ev.response_created("r"))
    conv.apply(ev.transcript_delta("a1", "early "))
    conv.apply(ev.audio_delta("a1", SECOND // 2))
    assert "a1" not in conv and conv.get("a1") is None and len(conv) == 0
    conv.apply(ev.output_item_added(ev.assistant("a1")))
    conv.apply(ev.transcript_delta("a1", "bird"))
    assert conv.transcript("a1") == "early bird"
    assert conv.audio_ms("a1") == pytest.approx(500.0)


def test_an_item_before_its_predecessor_is_placed_when_it_arrives(server_events: Any) -> None:
    ev, conv = server_events, Conversation()
    conv.apply(ev.added(ev.assistant("c"), previous="b"))
    conv.apply(ev.added(ev.assistant("d"), previous="b"))
    conv.apply(ev.added(ev.assistant("x")))
    assert conv.item_ids == ["x", "c", "d"]  # placed items first, then the waiting block
    conv.apply(ev.added(ev.user("b"), previous="a"))
    conv.apply(ev.added(ev.user("a")))
    assert conv.item_ids == ["x", "a", "b", "c", "d"]
    assert conv.previous_item_id("b") == "a"
    assert conv.previous_item_id("x") is None
    assert conv.last_item_id == "d"


def test_root_inserts_first_and_done_keeps_position(server_events: Any) -> None:
    ev, conv = server_events, Conversation()
    conv.apply(ev.added(ev.user("u1")))
    conv.apply(ev.created(ev.user("u0"), previous="root"))
    assert conv.item_ids == ["u0", "u1"]
    conv.apply(ev.done(ev.user("u0", text="hi")))
    assert conv.item_ids == ["u0", "u1"]
    assert conv.transcript("u0") == "hi"


def test_a_replayed_sequence_changes_nothing(server_events: Any) -> None:
    ev = server_events
    conv = with_user_turn(ev)
    events = spoken_response(ev)
    for event in events:
        conv.apply(event)
    before = snapshot(conv)
    for event in events:
        conv.apply(event)
    assert snapshot(conv) == before


def test_a_replayed_delta_is_ignored_but_a_new_one_applies(server_events: Any) -> None:
    ev, conv = server_events, Conversation()
    conv.apply(ev.added(ev.assistant("a1")))
    delta = ev.text_delta("a1", "ab", event_id="same")
    conv.apply(delta)
    conv.apply(delta)
    conv.apply(ev.text_delta("a1", "ab", event_id="same"))
    assert conv.transcript("a1") == "ab"
    conv.apply(ev.text_delta("a1", "c"))
    assert conv.transcript("a1") == "abc"


def test_the_replay_window_is_bounded(server_events: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conversation_module, "SEEN_EVENT_WINDOW", 2)
    ev, conv = server_events, Conversation()
    conv.apply(ev.added(ev.assistant("a1")))
    first = ev.text_delta("a1", "x")
    conv.apply(first)
    conv.apply(ev.text_delta("a1", "y"))
    conv.apply(ev.text_delta("a1", "z"))
    conv.apply(first)  # forgotten: too old to be recognised as a replay
    assert conv.transcript("a1") == "xyzx"


def test_the_same_item_added_twice_is_a_replace(server_events: Any) -> None:
    ev, conv = server_events, Conversation()
    conv.apply(ev.added(ev.assistant("a1")))
    conv.apply(ev.text_delta("a1", "kept"))
    conv.apply(ev.added(ev.assistant("a1")))  # a new event id, an empty item
    assert conv.item_ids == ["a1"] and conv.transcript("a1") == "kept"


def test_items_are_copied_not_shared(server_events: Any) -> None:
    ev, conv = server_events, Conversation()
    item = ev.user("u1", text="original")
    conv.apply(ev.added(item))
    item.content[0].text = "mutated by the sender"
    assert conv.transcript("u1") == "original"


def test_delete_removes_and_tolerates_unknown_ids(server_events: Any) -> None:
    ev = server_events
    conv = with_user_turn(ev)
    conv.apply(ev.added(ev.assistant("a1")))
    conv.apply(ev.deleted("u1"))
    conv.apply(ev.deleted("never-there"))
    assert conv.item_ids == ["a1"] and conv.get("u1") is None
    assert conv.transcript("u1") == "" and conv.audio_ms("u1") == 0.0
    assert conv.truncated_ms("u1") is None


def test_responses_without_ids_and_items_without_ids_are_ignored(server_events: Any) -> None:
    ev, conv = server_events, Conversation()
    conv.apply(ev.response_created(None))
    conv.apply(ev.response_done(None))
    conv.apply(ev.added(ev.user(None)))
    assert not conv.responses and len(conv) == 0


def test_unknown_and_untracked_events_are_ignored(server_events: Any) -> None:
    conv = Conversation()
    conv.apply(UnknownEvent(type="future.event", event_id="e1", data={}, raw=b"{}"))
    conv.apply(
        decode_server_event(b'{"type":"rate_limits.updated","event_id":"e2","rate_limits":[]}')
    )
    conv.apply(object())
    conv.apply(server_events.audio_done("a1"))
    assert snapshot(conv) == snapshot(Conversation())


def test_session_events_set_the_output_format(server_events: Any) -> None:
    ev, conv = server_events, Conversation()
    conv.apply(ev.session_updated({"type": "audio/pcmu"}, created=True))
    assert conv.output_format == PCMU
    conv.apply(ev.added(ev.assistant("a1")))
    conv.apply(ev.audio_delta("a1", 8000))
    assert conv.audio_ms("a1") == pytest.approx(1000.0)
    conv.apply(ev.session_updated(None))
    assert conv.output_format == PCMU
    conv.set_output_format({"type": "audio/pcm", "rate": 24000})
    assert conv.output_format == AudioFormat("pcm16", 24000)


def test_a_response_measures_its_audio_in_its_own_output_format(server_events: Any) -> None:
    ev, conv = server_events, Conversation()  # the session speaks pcm16 at 24 kHz
    pcmu = {"output": {"format": {"type": "audio/pcmu"}}}
    conv.apply(ev.response_created("r", audio=pcmu))
    conv.apply(ev.added(ev.assistant("a1")))
    conv.apply(ev.audio_delta("a1", 8000))  # 8000 bytes of G.711 are one second
    assert conv.audio_ms("a1") == pytest.approx(1000.0)
    conv.apply(ev.response_done("r"))
    assert conv.output_format == PCM16_24K  # the override did not leak into the session


def test_transcription_sessions_leave_the_format_alone() -> None:
    conv = Conversation(output_format=PCMU)
    conv.apply(
        decode_server_event(
            json.dumps(
                {"type": "session.updated", "event_id": "e", "session": {"type": "transcription"}}
            )
        )
    )
    assert conv.output_format == PCMU


def test_pending_states_are_bounded(server_events: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conversation_module, "MAX_PENDING_ITEMS", 2)
    ev, conv = server_events, Conversation()
    for item_id in ("x1", "x2", "x3"):
        conv.apply(ev.text_delta(item_id, item_id))
    assert conv.transcript("x1") == "" and conv.transcript("x3") == "x3"


def test_content_parts_create_missing_parts(server_events: Any) -> None:
    ev, conv = server_events, Conversation()
    conv.apply(ev.added(ev.assistant("a1")))
    conv.apply(ev.part_added("a1", "text", index=1))
    conv.apply(ev.part_done("a1", "text", index=1, text="second"))
    item = conv.get("a1")
    assert item is not None
    assert [part.type for part in item.content] == [None, "output_text"]
    assert conv.transcript("a1") == "second"


def test_deltas_aimed_at_fields_an_item_lacks_are_ignored(server_events: Any) -> None:
    from openai.types.realtime import RealtimeConversationItemSystemMessage

    ev, conv = server_events, Conversation()
    system = RealtimeConversationItemSystemMessage(
        id="s1", type="message", role="system", content=[{"type": "input_text", "text": "rules"}]
    )
    conv.apply(ev.added(system))
    conv.apply(ev.transcript_delta("s1", "bogus"))
    assert conv.transcript("s1") == "rules"
    conv.apply(ev.added(ev.call("c1", arguments="{}")))
    conv.apply(ev.text_delta("c1", "bogus"))
    assert conv.get("c1").arguments == "{}"  # type: ignore[union-attr]


def test_events_decoded_from_the_wire_apply_like_models() -> None:
    conv = Conversation()
    lines = [
        {
            "type": "conversation.item.added",
            "event_id": "1",
            "previous_item_id": None,
            "item": {"id": "a1", "type": "message", "role": "assistant", "content": []},
        },
        {
            "type": "response.output_audio_transcript.delta",
            "event_id": "2",
            "item_id": "a1",
            "response_id": "r",
            "output_index": 0,
            "content_index": 0,
            "delta": "ok",
        },
    ]
    for line in lines:
        conv.apply(decode_server_event(json.dumps(line)))
    assert conv.transcript("a1") == "ok"


@given(
    deltas=st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=8),
    item_at=st.integers(min_value=0, max_value=8),
    output_at=st.integers(min_value=0, max_value=8),
)
def test_item_events_may_arrive_anywhere_among_deltas(
    deltas: list[str], item_at: int, output_at: int
) -> None:

    ev = ServerEvents()
    stream: list[Any] = [ev.transcript_delta("a1", d) for d in deltas]
    stream.insert(min(item_at, len(stream)), ev.added(ev.assistant("a1")))
    stream.insert(min(output_at, len(stream)), ev.output_item_added(ev.assistant("a1")))
    conv = Conversation()
    for event in stream:
        conv.apply(event)
    assert conv.item_ids == ["a1"] and conv.transcript("a1") == "".join(deltas)
    before = snapshot(conv)
    for event in reversed(stream):
        conv.apply(event)
    assert snapshot(conv) == before


def test_events_without_an_id_cannot_be_recognised_as_replays(server_events: Any) -> None:
    ev, conv = server_events, Conversation()
    conv.apply(ev.added(ev.assistant("a1")))
    anonymous = ev.text_delta("a1", "ha")
    anonymous.event_id = ""
    conv.apply(anonymous)
    conv.apply(anonymous)
    assert conv.transcript("a1") == "haha"


def test_a_deleted_item_stays_deleted_while_its_response_streams(server_events: Any) -> None:
    ev = server_events
    conv = with_user_turn(ev)
    conv.apply(ev.response_created("r", conversation_id="conv_1"))
    conv.apply(ev.output_item_added(ev.assistant("a1")))
    conv.apply(ev.added(ev.assistant("a1"), previous="u1"))
    conv.apply(ev.deleted("a1"))
    conv.apply(ev.transcript_delta("a1", "never heard"))
    conv.apply(ev.output_item_done(ev.assistant("a1", status="completed")))
    conv.apply(ev.done(ev.assistant("a1", status="completed"), previous="u1"))
    conv.apply(ev.response_done("r", output=[ev.assistant("a1", status="completed")]))
    assert conv.item_ids == ["u1"] and conv.get("a1") is None
    assert conv.last_item_id == "u1"
    assert conv.responses["r"].output_item_ids == ["a1"]  # the response still made it


def test_a_deleted_id_comes_back_only_when_added_anew(server_events: Any) -> None:
    ev = server_events
    conv = with_user_turn(ev)
    conv.apply(ev.deleted("u1"))
    conv.apply(ev.output_item_added(ev.assistant("u1")))
    assert conv.item_ids == []
    conv.apply(ev.created(ev.user("u1", text="again")))
    assert conv.item_ids == ["u1"] and conv.transcript("u1") == "again"


def test_the_deleted_window_is_bounded(server_events: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conversation_module, "DELETED_ITEM_WINDOW", 2)
    ev, conv = server_events, Conversation()
    for item_id in ("d1", "d2", "d3"):
        conv.apply(ev.added(ev.user(item_id)))
        conv.apply(ev.deleted(item_id))
    assert list(conv._deleted) == ["d2", "d3"]
    conv.apply(ev.done(ev.user("d1")))  # forgotten as deleted: tolerated like any early done
    conv.apply(ev.done(ev.user("d3")))
    assert conv.item_ids == ["d1"]


def test_fresh_applies_an_event_whose_id_was_seen(server_events: Any) -> None:
    ev, conv = server_events, Conversation()
    conv.apply(ev.added(ev.user("u1"), event_id="same"))
    conv.apply(ev.added(ev.user("u2"), event_id="same"))
    assert conv.item_ids == ["u1"]
    conv.apply(ev.added(ev.user("u2"), event_id="same"), fresh=True)
    assert conv.item_ids == ["u1", "u2"]


def test_fresh_applies_a_malformed_response_done_whose_id_was_seen() -> None:
    conv = Conversation()

    def frame(response_id: str, event_id: str = "same") -> str:
        response = {"id": response_id, "status": "completed", "output": "broken"}
        return json.dumps({"type": "response.done", "event_id": event_id, "response": response})

    for response_id in ("r1", "r2"):
        created = {"type": "response.created", "event_id": f"c_{response_id}"}
        created["response"] = {"id": response_id, "status": "in_progress"}
        conv.apply(decode_server_event(json.dumps(created)))
    conv.apply(decode_server_event(frame("r1")))
    conv.apply(decode_server_event(frame("r2")))
    assert conv.responses["r2"].status == "in_progress"  # taken for a replay
    conv.apply(decode_server_event(frame("r2")), fresh=True)
    assert conv.responses["r2"].status == "completed"


def test_response_formats_of_responses_never_ended_are_bounded(
    server_events: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conversation_module, "MAX_IN_PROGRESS", 2)
    ev, conv = server_events, Conversation()
    pcmu = {"output": {"format": {"type": "audio/pcmu"}}}
    for name in ("r1", "r2", "r3", "r4"):
        conv.apply(ev.response_created(name, audio=pcmu))
    assert list(conv._response_formats) == ["r3", "r4"]


def test_mcp_call_items_and_their_argument_deltas_are_tracked() -> None:
    conv = Conversation()
    call = {"id": "m1", "type": "mcp_call", "server_label": "s", "name": "add", "arguments": ""}
    for event in (
        {
            "type": "response.created",
            "event_id": "e1",
            "response": {"id": "r", "status": "in_progress"},
        },
        {
            "type": "response.output_item.added",
            "event_id": "e2",
            "response_id": "r",
            "output_index": 0,
            "item": call,
        },
        {
            "type": "conversation.item.added",
            "event_id": "e3",
            "previous_item_id": None,
            "item": call,
        },
        {
            "type": "response.mcp_call_arguments.delta",
            "event_id": "e4",
            "response_id": "r",
            "item_id": "m1",
            "output_index": 0,
            "delta": '{"a": ',
        },
        {
            "type": "response.mcp_call_arguments.delta",
            "event_id": "e5",
            "response_id": "r",
            "item_id": "m1",
            "output_index": 0,
            "delta": "1}",
        },
    ):
        conv.apply(decode_server_event(json.dumps(event).encode()))
    assert conv.get("m1").arguments == '{"a": 1}'  # type: ignore[union-attr]
    done = {
        "type": "response.mcp_call_arguments.done",
        "event_id": "e6",
        "response_id": "r",
        "item_id": "m1",
        "output_index": 0,
        "arguments": '{"a":1}',
    }
    conv.apply(decode_server_event(json.dumps(done).encode()))
    assert conv.get("m1").arguments == '{"a":1}'  # type: ignore[union-attr]
