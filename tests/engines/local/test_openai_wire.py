"""The chat-completions wire without I/O: SSE framing and chunk mapping edge cases."""

from __future__ import annotations

import json

import pytest

from rtagents.engines.base import TextDelta, ToolCallDelta, Usage
from rtagents.engines.local.openai_wire import (
    ChunkMapper,
    MalformedStream,
    SSEDecoder,
    error_message,
)


def feed(decoder: SSEDecoder, *lines: str) -> list[str]:
    return [data for line in lines for data in decoder.feed(line)]


def test_sse_skips_comments_and_other_fields_and_joins_data_lines() -> None:
    decoder = SSEDecoder()
    assert feed(decoder, ": ping", "event: chunk", "id: 7", "data: a", "data:b", "") == ["a\nb"]
    assert feed(decoder, "data: tail") == []
    assert list(decoder.flush()) == ["tail"]
    assert list(decoder.flush()) == []


def chunk(**delta: object) -> str:
    return json.dumps({"choices": [{"index": 0, "delta": delta}]})


def test_tool_call_arguments_before_the_name_wait_for_it() -> None:
    mapper = ChunkMapper()
    early = {"index": 0, "id": "call_a", "function": {"arguments": '{"x"'}}
    named = {"index": 0, "function": {"name": "f", "arguments": ": 1}"}}
    assert list(mapper.map(chunk(tool_calls=[early]))) == []
    assert list(mapper.map(chunk(tool_calls=[named]))) == [
        ToolCallDelta(call_id="call_a", name="f", arguments_delta='{"x": 1}')
    ]


def test_two_calls_by_index_and_a_call_without_id_get_their_own_ids() -> None:
    mapper = ChunkMapper()
    parts = [
        {"index": 0, "function": {"name": "a", "arguments": "{}"}},
        {"index": 1, "id": "call_b", "function": {"name": "b", "arguments": ""}},
    ]
    first, second = mapper.map(chunk(tool_calls=parts))
    assert isinstance(first, ToolCallDelta) and first.call_id.startswith("call_")
    assert first.name == "a" and first.arguments_delta == "{}"
    assert second == ToolCallDelta(call_id="call_b", name="b", arguments_delta="")
    # Later empty fragments of an announced call add nothing.
    assert list(mapper.map(chunk(tool_calls=[{"index": 1, "function": {}}]))) == []


def test_text_usage_and_empty_choices() -> None:
    mapper = ChunkMapper()
    assert list(mapper.map(chunk(content="hi", role="assistant"))) == [TextDelta("hi")]
    assert list(mapper.map(chunk(content=""))) == []
    usage = json.dumps({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2}})
    assert list(mapper.map(usage)) == [Usage(input_tokens=5, output_tokens=2)]


@pytest.mark.parametrize(
    "bad",
    [
        chunk(tool_calls=["x"]),
        chunk(tool_calls=[{"index": "zero", "function": {"name": "f"}}]),
    ],
)
def test_malformed_tool_calls_are_reported(bad: str) -> None:
    with pytest.raises(MalformedStream):
        list(ChunkMapper().map(bad))


def test_error_bodies_give_their_message() -> None:
    assert error_message(b'{"error": {"message": "no such model"}}') == "no such model"
    assert error_message(b'{"error": "plain"}') == "plain"
    assert error_message(b"<html>Bad Gateway</html>") == "<html>Bad Gateway</html>"
    assert error_message(b'{"detail": "x"}') == '{"detail": "x"}'


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ('{"choices": [], "usage": {"prompt_tokens": "many"}}', "token counts are not integers"),
        ('{"choices": [], "usage": {"prompt_tokens": [1]}}', "token counts are not integers"),
        (
            '{"choices": [{"delta": {"tool_calls": [{"index": 0, "function": "f"}]}}]}',
            "function is not an object",
        ),
    ],
)
def test_odd_fields_are_malformed_stream_errors_not_crashes(payload: str, expected: str) -> None:
    with pytest.raises(MalformedStream, match=expected):
        list(ChunkMapper().map(payload))
