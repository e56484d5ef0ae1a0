"""The server's protocol rules: each refusal, the event adapter, invariants, and the doc."""

from __future__ import annotations

import base64
import re
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtagents.protocol.codec import decode_client_event, encode_event, known_types
from rtagents.protocol.errors import RemoteProtocolError
from rtagents.protocol.server_facts import MIN_COMMIT_MS, Accept
from rtagents.protocol.server_rules import (
    ACCEPT,
    ANY_EVENT,
    RULES,
    Facts,
    Refuse,
    Request,
    decide,
    markdown_table,
    mermaid_diagram,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "server_rules.md"
OPEN = Facts()


def refused(facts: Facts, request: Request) -> tuple[str, str | None]:
    outcome = decide(facts, request)
    assert isinstance(outcome, Refuse), outcome
    return outcome.code, outcome.param


def test_the_table_covers_every_ga_client_event() -> None:
    assert set(RULES) == known_types("client")


def test_a_closing_session_refuses_even_unknown_events() -> None:
    outcome = decide(replace(OPEN, closing=True), Request(type="nonsense"))
    assert outcome == Refuse(
        "session_closed",
        None,
        "The session is closing; no more events are accepted. Open a new session.",
    )
    assert decide(OPEN, Request(type="nonsense")) is ACCEPT


def test_the_voice_is_fixed_once_audio_was_produced() -> None:
    change = Request(type="session.update", session={"audio": {"output": {"voice": "ash"}}})
    spoken = Facts(voice="sage", audio_produced=True)
    assert refused(spoken, change) == ("cannot_update_voice", "session.audio.output.voice")
    assert decide(replace(spoken, voice="ash"), change) is ACCEPT  # the same voice is no change
    assert decide(replace(spoken, audio_produced=False), change) is ACCEPT


def test_type_and_model_never_change() -> None:
    facts = Facts(kind="realtime", model="gpt-realtime")
    retype = Request(type="session.update", session={"type": "transcription"})
    assert refused(facts, retype) == ("invalid_value", "session.type")
    remodel = Request(type="session.update", session={"type": "realtime", "model": "other"})
    assert refused(facts, remodel) == ("cannot_update_model", "session.model")
    same = Request(type="session.update", session={"type": "realtime", "model": "gpt-realtime"})
    assert decide(facts, same) is ACCEPT


def test_turn_detection_needs_a_vad_engine() -> None:
    on = {"audio": {"input": {"turn_detection": {"type": "server_vad"}}}}
    off = {"audio": {"input": {"turn_detection": None}}}
    deaf = Facts(vad_available=False)
    outcome = decide(deaf, Request(type="session.update", session=on))
    assert isinstance(outcome, Refuse) and "'server_vad'" in outcome.message
    assert outcome.code == "unsupported_turn_detection"
    assert decide(deaf, Request(type="session.update", session=off)) is ACCEPT
    assert decide(OPEN, Request(type="session.update", session=on)) is ACCEPT


def test_appends_are_bounded_per_event_and_in_the_buffer() -> None:
    second = 48_000  # one second of pcm16 at 24 kHz
    big = Request(type="input_audio_buffer.append", appended_bytes=second + 1)
    assert refused(Facts(max_append_bytes=second), big) == ("input_audio_too_large", "audio")
    one = Request(type="input_audio_buffer.append", appended_bytes=second)
    full = Facts(buffered_ms=1000.0, buffer_limit_ms=1000.0)
    outcome = decide(full, one)
    assert isinstance(outcome, Refuse) and (outcome.code, outcome.param) == (
        "input_audio_buffer_full",
        "audio",
    )
    assert "1.0 s" in outcome.message and "commit" in outcome.message
    assert "limit input_buffer_bytes" in outcome.message
    assert decide(replace(full, buffered_ms=0.0), one) is ACCEPT  # exactly at the limit
    assert decide(replace(full, turn_detection=True), one) is ACCEPT  # the VAD must hear it
    g711 = replace(full, buffered_ms=0.0, input_bytes_per_ms=8.0)  # 8 kHz, one byte a sample
    assert refused(g711, Request(type="input_audio_buffer.append", appended_bytes=8001))[0] == (
        "input_audio_buffer_full"
    )


def test_a_commit_needs_100_ms() -> None:
    commit = Request(type="input_audio_buffer.commit")
    outcome = decide(Facts(buffered_ms=99.5), commit)
    assert isinstance(outcome, Refuse) and outcome.code == "input_audio_buffer_commit_empty"
    assert "100ms" in outcome.message and "99.50ms" in outcome.message
    assert decide(Facts(buffered_ms=MIN_COMMIT_MS), commit) is ACCEPT


def test_only_a_server_that_plays_audio_clears_it() -> None:
    clear = Request(type="output_audio_buffer.clear")
    code, param = refused(OPEN, clear)
    assert (code, param) == ("unsupported_on_websocket", "type")
    assert decide(Facts(plays_audio=True), clear) is ACCEPT


def test_items_must_exist_and_new_ids_must_be_free() -> None:
    facts = Facts(items=frozenset({"item_a"}))
    for verb in ("retrieve", "truncate", "delete"):
        event_type = f"conversation.item.{verb}"
        assert refused(facts, Request(type=event_type, item_id="nope")) == (
            "item_not_found",
            "item_id",
        )
        assert decide(facts, Request(type=event_type, item_id="item_a")) is ACCEPT
    create = Request(type="conversation.item.create")
    assert refused(facts, create._replace(new_item_id="root")) == ("invalid_value", "item.id")
    assert refused(facts, create._replace(new_item_id="item_a")) == (
        "duplicate_item_id",
        "item.id",
    )
    assert refused(facts, create._replace(previous_item_id="nope")) == (
        "item_not_found",
        "previous_item_id",
    )
    for previous in (None, "root", "item_a"):
        assert decide(facts, create._replace(previous_item_id=previous)) is ACCEPT


def test_one_active_response_but_out_of_band_ones_may_overlap() -> None:
    busy = Facts(active_response="resp_1", responses=frozenset({"resp_1"}))
    outcome = decide(busy, Request(type="response.create"))
    assert isinstance(outcome, Refuse)
    assert outcome.code == "conversation_already_has_active_response"
    assert "resp_1" in outcome.message
    assert decide(busy, Request(type="response.create", conversation="none")) is ACCEPT
    odd = Request(type="response.create", conversation="other")
    assert refused(OPEN, odd) == ("invalid_value", "response.conversation")
    transcribing = Facts(kind="transcription")
    assert refused(transcribing, Request(type="response.create")) == ("invalid_value", "type")


def test_cancel_needs_a_running_response() -> None:
    cancel = Request(type="response.cancel")
    assert refused(OPEN, cancel) == ("response_cancel_not_active", None)
    named = cancel._replace(response_id="resp_nope")
    outcome = decide(OPEN, named)
    assert isinstance(outcome, Refuse) and outcome.param == "response_id"
    assert outcome.message == "Cancellation failed: no active response found with id 'resp_nope'."
    out_of_band = Facts(responses=frozenset({"resp_2"}))
    assert decide(out_of_band, cancel) is ACCEPT
    assert decide(out_of_band, cancel._replace(response_id="resp_2")) is ACCEPT
    assert decide(Facts(active_response="resp_3"), cancel._replace(response_id="resp_3")) is ACCEPT


def test_a_refusal_becomes_the_error_the_server_sends() -> None:
    error = Refuse("item_not_found", "item_id", "gone").to_error("evt_1")
    assert isinstance(error, RemoteProtocolError)
    assert (error.code, error.param, error.event_id, error.message) == (
        "item_not_found",
        "item_id",
        "evt_1",
        "gone",
    )


def test_requests_from_decoded_events_and_wire_dicts() -> None:
    audio = base64.b64encode(bytes(4801)).decode()
    events = [
        {"type": "input_audio_buffer.append", "audio": audio},
        {"type": "conversation.item.delete", "item_id": "item_a"},
        {
            "type": "conversation.item.create",
            "previous_item_id": "root",
            "item": {"type": "message", "role": "user", "id": "mine", "content": []},
        },
        {"type": "response.create", "response": {"conversation": "none"}},
        {"type": "response.cancel", "response_id": "resp_1"},
        {"type": "session.update", "session": {"type": "realtime", "instructions": "hi"}},
    ]
    requests = [Request.from_event(decode_client_event(encode_event(e))) for e in events]
    assert requests == [Request.from_event(e) for e in events]
    append, delete, create, respond, cancel, update = requests
    assert append.appended_bytes == 4801
    assert delete.item_id == "item_a"
    assert (create.new_item_id, create.previous_item_id) == ("mine", "root")
    assert respond.conversation == "none" and cancel.response_id == "resp_1"
    assert dict(update.session) == {"type": "realtime", "instructions": "hi"}
    assert Request.from_event({"type": "input_audio_buffer.commit"}).session == {}


def test_requests_from_wire_dicts_missing_their_fields() -> None:
    """A dict the codec never checked may lack what a rule reads: the request says 'not set'."""
    assert Request.from_event({"type": "conversation.item.create"}).new_item_id is None
    assert Request.from_event({"type": "response.create"}).conversation is None
    assert Request.from_event({"type": "session.update"}).session == {}
    assert Request.from_event({"type": "input_audio_buffer.append"}).appended_bytes == 0


# --- invariants over generated states and events ---------------------------------------

IDS = st.sampled_from(["item_a", "item_b", "root", "resp_1", "resp_2", "other", ""])
MAYBE_IDS = st.none() | IDS
EVENT_TYPES = st.sampled_from(sorted(RULES) + ["not.an.event"])
SESSIONS = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["realtime", "transcription"]),
        "model": st.none() | st.sampled_from(["gpt-realtime", "other"]),
        "audio": st.fixed_dictionaries(
            {},
            optional={
                "output": st.fixed_dictionaries({}, optional={"voice": MAYBE_IDS}),
                "input": st.fixed_dictionaries(
                    {},
                    optional={
                        "turn_detection": st.none() | st.just({"type": "server_vad"}),
                    },
                ),
            },
        ),
        "instructions": st.text(max_size=40),
        "tools": st.lists(st.fixed_dictionaries({"name": st.text(max_size=20)}), max_size=4),
    },
)
FACTS = st.builds(
    Facts,
    closing=st.booleans(),
    kind=st.sampled_from(["realtime", "transcription"]),
    model=st.none() | st.just("gpt-realtime"),
    voice=MAYBE_IDS,
    audio_produced=st.booleans(),
    vad_available=st.booleans(),
    turn_detection=st.booleans(),
    buffered_ms=st.floats(0, 2000),
    buffer_limit_ms=st.floats(0, 2000),
    input_bytes_per_ms=st.sampled_from([8.0, 48.0]),
    max_append_bytes=st.none() | st.integers(0, 100_000),
    active_response=MAYBE_IDS,
    responses=st.frozensets(IDS, max_size=3),
    plays_audio=st.booleans(),
    items=st.frozensets(IDS, max_size=4),
    item_count=st.integers(0, 10),
    max_items=st.none() | st.integers(0, 10),
    max_instructions_bytes=st.none() | st.integers(0, 64),
    max_tools_bytes=st.none() | st.integers(0, 200),
    max_tools=st.none() | st.integers(0, 3),
    memory_held=st.integers(0, 300_000),
    memory_budget=st.none() | st.integers(0, 300_000),
)
REQUESTS = st.builds(
    Request,
    type=EVENT_TYPES,
    item_id=MAYBE_IDS,
    new_item_id=MAYBE_IDS,
    previous_item_id=MAYBE_IDS,
    response_id=MAYBE_IDS,
    conversation=st.none() | st.sampled_from(["auto", "none", "other"]),
    appended_bytes=st.integers(0, 200_000),
    item_bytes=st.integers(0, 100_000),
    session=SESSIONS,
    response=st.fixed_dictionaries(
        {},
        optional={
            "instructions": st.text(max_size=40),
            "tools": st.lists(st.fixed_dictionaries({"name": st.text(max_size=20)}), max_size=4),
        },
    ),
)


@given(FACTS, REQUESTS)
def test_every_outcome_follows_the_table(facts: Facts, request: Request) -> None:
    outcome = decide(facts, request)
    assert outcome == decide(facts, request)  # a pure function of its inputs
    if facts.closing:
        assert isinstance(outcome, Refuse) and outcome.code == "session_closed"
        return
    if isinstance(outcome, Accept):
        assert outcome is ACCEPT and not hasattr(outcome, "code")
        return
    rows = [*ANY_EVENT, *RULES.get(request.type, ())]
    assert (outcome.code, outcome.param) in {(r.code, r.param) for r in rows} | {
        ("response_cancel_not_active", None)  # a cancel without response_id names no param
    }
    assert outcome.message.strip() and outcome.code.islower()


@given(FACTS, REQUESTS)
def test_response_create_beside_an_active_response_is_always_refused(
    facts: Facts, request: Request
) -> None:
    facts = replace(facts, closing=False, kind="realtime", active_response="resp_1")
    request = request._replace(type="response.create", conversation="auto")
    outcome = decide(facts, request)
    assert isinstance(outcome, Refuse)
    assert outcome.code == "conversation_already_has_active_response"


@given(FACTS, REQUESTS)
def test_an_open_session_always_clears_its_input_buffer(facts: Facts, request: Request) -> None:
    outcome = decide(
        replace(facts, closing=False), request._replace(type="input_audio_buffer.clear")
    )
    assert outcome is ACCEPT


@given(FACTS, REQUESTS)
def test_with_turn_detection_the_buffer_never_refuses_appends(
    facts: Facts, request: Request
) -> None:
    facts = replace(facts, closing=False, turn_detection=True, max_append_bytes=None)
    assert decide(facts, request._replace(type="input_audio_buffer.append")) is ACCEPT


# --- the generated doc ------------------------------------------------------------------


def test_the_doc_embeds_the_generated_diagram_and_table() -> None:
    text = DOC.read_text()
    blocks = re.findall(r"```mermaid\n(.*?)```", text, flags=re.DOTALL)
    assert blocks == [mermaid_diagram()], (
        "docs/server_rules.md is stale; regenerate its mermaid block from mermaid_diagram()"
    )
    assert markdown_table() in text, (
        "docs/server_rules.md is stale; regenerate its table from markdown_table()"
    )


def test_the_diagram_and_table_show_every_rule() -> None:
    diagram, table = mermaid_diagram(), markdown_table()
    for event, rules in RULES.items():
        for rule in rules:
            assert f'"{rule.when}" .-> {rule.code}' in diagram
            assert f"| `{event}` | {rule.when} | `{rule.code}` |" in table


@pytest.mark.parametrize("event_type", sorted(RULES))
def test_a_fresh_session_accepts_each_event_it_can(event_type: str) -> None:
    """What a fresh session refuses is only what needs earlier events (audio, a response...)."""
    outcome = decide(Facts(plays_audio=True), Request(type=event_type, item_id=None))
    needs_history = {
        "input_audio_buffer.commit",
        "response.cancel",
        "conversation.item.retrieve",
        "conversation.item.truncate",
        "conversation.item.delete",
    }
    assert isinstance(outcome, Refuse) == (event_type in needs_history)
