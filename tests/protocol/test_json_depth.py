"""Deep JSON: refused as json_too_deep with its event_id, read without recursion, bounded work."""

from __future__ import annotations

import json

import pytest

from rtagents.protocol import json_depth
from rtagents.protocol.codec import InvalidEvent, decode_client_event, decode_server_event
from rtagents.protocol.json_depth import (
    MAX_DEPTH,
    nesting_depth,
    parse_untrusted,
    top_level_strings,
)
from rtagents.protocol.server_rules import Facts, Refuse, Request, decide

WANTED = ("type", "event_id")


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize(
    "text",
    [
        # event_id first, last, and after another deep value; keys with escapes
        '{"event_id": "evt_1", "type": "session.update", "x": ' + _deep(300) + "}",
        '{"type": "session.update", "x": ' + _deep(300) + ', "event_id": "evt_1"}',
        '{"x": {"s": "]]}}[[", "y": ' + _deep(300) + '}, "type": "session.update", '
        '"event_id": "evt_1"}',
        '{"t\\u0079pe": "session.update", "n": 1.5, "b": null, "event_id": "evt_1", "x": '
        + _deep(300)
        + "}",
    ],
)
def test_a_too_deep_event_keeps_its_event_id_and_type(text: str) -> None:
    event = decode_client_event(text)
    assert isinstance(event, InvalidEvent)
    assert (event.error.code, event.error.event_id) == ("json_too_deep", "evt_1")
    assert event.type == "session.update" and "200 levels" in event.error.message
    server_side = decode_server_event(text.replace("session.update", "error"))
    assert isinstance(server_side, InvalidEvent) and server_side.error.code == "json_too_deep"


def test_what_cannot_be_read_is_left_out() -> None:
    assert top_level_strings(_deep(300), WANTED) == {}  # not an object
    assert top_level_strings(b'  {"event_id": 5, "type": "a"', WANTED) == {"type": "a"}
    assert top_level_strings('{"event_id": "e", "x": [[[', WANTED) == {"event_id": "e"}
    assert top_level_strings('{"event_id": "e" "type": "t"}', WANTED) == {"event_id": "e"}
    assert top_level_strings('{"event_id": nope, "type": "t"}', WANTED) == {}
    assert top_level_strings('{"a": 1,}', WANTED) == {}
    assert top_level_strings('{"event_id": "first", "event_id": "second"}', WANTED) == {
        "event_id": "first"
    }
    bare = decode_client_event(_deep(300))
    assert isinstance(bare, InvalidEvent)
    assert (bare.error.code, bare.error.event_id, bare.type) == ("json_too_deep", None, None)


def test_skipping_a_huge_nested_value_gives_up_after_bounded_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(json_depth, "MAX_SKIPPED_TOKENS", 50)
    text = '{"type": "a", "x": ' + _deep(40) + ', "event_id": "e"}'
    assert top_level_strings(text, WANTED) == {"type": "a"}
    shallow = '{"type": "a", "x": ' + _deep(20) + ', "event_id": "e"}'
    assert top_level_strings(shallow, WANTED) == {"type": "a", "event_id": "e"}


def test_nesting_depth_is_iterative() -> None:
    assert nesting_depth("x") == 0
    assert nesting_depth({"a": [1, {"b": []}]}) == 4
    assert nesting_depth(json.loads(_deep(900))) == 900  # past what recursion would survive


def test_tools_nesting_past_json_depth_are_refused() -> None:
    schema: dict[str, object] = {"type": "object"}
    for _ in range(10):
        schema = {"type": "object", "properties": {"p": schema}}
    tools = [{"type": "function", "name": "f", "parameters": schema}]
    deep = Request(type="session.update", session={"tools": tools})
    outcome = decide(Facts(max_json_depth=20), deep)
    assert isinstance(outcome, Refuse)
    assert (outcome.code, outcome.param) == ("json_too_deep", "session.tools")
    assert "limit json_depth" in outcome.message and "25 levels" in outcome.message
    assert not isinstance(decide(Facts(max_json_depth=25), deep), Refuse)
    response = Request(type="response.create", response={"tools": tools})
    refused = decide(Facts(max_json_depth=20), response)
    assert isinstance(refused, Refuse) and refused.param == "response.tools"


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 5_000, 200_000])
def test_untrusted_json_past_the_depth_is_a_value_error_saying_so(levels: int) -> None:
    with pytest.raises(ValueError, match=f"nested deeper than {MAX_DEPTH} levels"):
        parse_untrusted(_deep(levels))
    with pytest.raises(ValueError, match="nested deeper"):
        parse_untrusted('{"a":' * levels + "1" + "}" * levels)


@pytest.mark.parametrize(
    "text",
    [
        '{"type": "x", "n": [1, 2.5, null, true], "s": "\\u00e9"}',
        "[]",
        "3",
        '"s"',
        _deep(MAX_DEPTH),
    ],
)
def test_untrusted_json_parses_as_the_stdlib_does(text: str) -> None:
    assert parse_untrusted(text) == json.loads(text)
    assert parse_untrusted(text.encode()) == json.loads(text)


@pytest.mark.parametrize("text", ["{", "[1,]", "1 2", "", '"\\ud800"', "{'a': 1}"])
def test_untrusted_json_that_is_not_one_value_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_untrusted(text)
    assert "nested deeper" not in str(refused.value)
