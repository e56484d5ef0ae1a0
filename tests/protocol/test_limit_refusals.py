"""The rules that bound a session (protocol/limit_refusals.py): each names its limit."""

from __future__ import annotations

import base64
from dataclasses import replace

from rtagents.protocol.codec import decode_client_event, encode_event
from rtagents.protocol.limit_refusals import conversation_full_refusal
from rtagents.protocol.server_facts import item_content_bytes, item_text_bytes
from rtagents.protocol.server_rules import (
    ACCEPT,
    Facts,
    Refuse,
    Request,
    decide,
    session_size_refusal,
)

BOUNDED = Facts(max_instructions_bytes=10, max_tools_bytes=70, max_tools=2)


def refusal(facts: Facts, request: Request) -> Refuse:
    outcome = decide(facts, request)
    assert isinstance(outcome, Refuse), outcome
    return outcome


def _tool(name: str) -> dict[str, str]:
    return {"type": "function", "name": name}


def test_instructions_are_bounded_in_utf8_bytes_for_sessions_and_responses() -> None:
    ten = Request(type="session.update", session={"instructions": "x" * 10})
    assert decide(BOUNDED, ten) is ACCEPT  # exactly at the limit
    # Four characters, but twelve bytes once encoded: over a limit of ten.
    wide = refusal(BOUNDED, Request(type="session.update", session={"instructions": "€€€€"}))
    assert (wide.code, wide.param) == ("instructions_too_large", "session.instructions")
    assert "12 bytes" in wide.message and "limit instructions_bytes" in wide.message
    response = Request(type="response.create", response={"instructions": "y" * 11})
    refused = refusal(BOUNDED, response)
    assert (refused.code, refused.param) == ("instructions_too_large", "response.instructions")
    # A lone surrogate (legal in JSON) is measured, not a crash.
    odd = Request(type="session.update", session={"instructions": "\ud800" * 3})
    assert decide(BOUNDED, odd) is ACCEPT
    unbounded = Request(type="session.update", session={"instructions": "z" * 99})
    assert decide(Facts(), unbounded) is ACCEPT


def test_tools_are_bounded_in_count_and_in_json_bytes() -> None:
    three = Request(type="session.update", session={"tools": [_tool("a"), _tool("b"), _tool("c")]})
    many = refusal(BOUNDED, three)
    assert (many.code, many.param) == ("too_many_tools", "session.tools")
    assert "3 tools" in many.message and "limit tools_count" in many.message
    big = Request(type="response.create", response={"tools": [_tool("n" * 40)]})
    large = refusal(BOUNDED, big)
    assert (large.code, large.param) == ("tools_too_large", "response.tools")
    assert "limit tools_bytes" in large.message
    two = Request(type="response.create", response={"tools": [_tool("a"), _tool("b")]})
    assert decide(BOUNDED, two) is ACCEPT
    assert decide(Facts(), three) is ACCEPT  # no bounds: anything goes


def test_a_full_conversation_refuses_new_items_and_commits() -> None:
    full = Facts(item_count=3, max_items=3, buffered_ms=500.0)
    create = refusal(full, Request(type="conversation.item.create"))
    assert (create.code, create.param) == ("conversation_full", "item")
    assert "3 items" in create.message and "limit conversation_items" in create.message
    commit = refusal(full, Request(type="input_audio_buffer.commit"))
    assert (commit.code, commit.param) == ("conversation_full", None)
    assert decide(replace(full, item_count=2), Request(type="conversation.item.create")) is ACCEPT
    assert conversation_full_refusal(3, None) == commit


def test_the_memory_budget_refuses_what_would_pass_it() -> None:
    facts = Facts(memory_held=900, memory_budget=1000)
    item = refusal(facts, Request(type="conversation.item.create", item_bytes=101))
    assert (item.code, item.param) == ("session_memory_exceeded", "item")
    assert "900 bytes" in item.message and "limit session_memory_bytes" in item.message
    fits = Request(type="conversation.item.create", item_bytes=100)
    assert decide(facts, fits) is ACCEPT
    # An append is weighed as the 24 kHz pcm16 it is kept as: 8 kHz g711 triples in size.
    g711 = replace(facts, input_bytes_per_ms=8.0)
    append = Request(type="input_audio_buffer.append", appended_bytes=16)  # 96 bytes held
    assert decide(g711, append) is ACCEPT
    over = refusal(g711, append._replace(appended_bytes=17))  # 102 bytes: past 1000
    assert (over.code, over.param) == ("session_memory_exceeded", "audio")
    # With turn detection the VAD must hear every append; the buffer keeps what fits.
    assert decide(replace(g711, turn_detection=True), over_request(17)) is ACCEPT
    assert decide(Facts(memory_held=10**9), over_request(10**6)) is ACCEPT  # no budget


def over_request(size: int) -> Request:
    return Request(type="input_audio_buffer.append", appended_bytes=size)


def test_session_size_refusal_checks_a_whole_config() -> None:
    config = {"type": "realtime", "instructions": "x" * 11, "tools": []}
    refused = session_size_refusal(BOUNDED, config)
    assert refused is not None and refused.code == "instructions_too_large"
    assert session_size_refusal(BOUNDED, {"type": "transcription"}) is None


def test_requests_carry_what_the_size_rules_read() -> None:
    audio = base64.b64encode(bytes(30)).decode()
    item = {
        "type": "message",
        "role": "user",
        "content": [
            {"type": "input_text", "text": "hello"},
            {"type": "input_audio", "audio": audio, "transcript": "hi"},
        ],
    }
    create = {"type": "conversation.item.create", "item": item}
    tools = [{"type": "function", "name": "f", "description": "d"}]
    response = {"type": "response.create", "response": {"instructions": "be brief", "tools": tools}}
    for event in (create, response):
        wire = Request.from_event(event)
        decoded = Request.from_event(decode_client_event(encode_event(event)))
        assert wire == decoded
    assert Request.from_event(create).item_bytes == 5 + 2 + 30
    assert item_text_bytes(item) == 7 and item_content_bytes(item) == 37
    assert item_content_bytes(None) == 0
    fields = Request.from_event(response).response
    assert fields == {"instructions": "be brief", "tools": tools}
    assert Request.from_event({"type": "response.create", "response": {}}).response == {}
    assert Request.from_event({"type": "conversation.item.create"}).item_bytes == 0
