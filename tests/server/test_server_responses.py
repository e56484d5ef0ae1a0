"""response.create / response.cancel: event order, overrides, tools, failures, cancel."""

from __future__ import annotations

import json
import re

import pytest
from server_harness import RawClient, audio_bytes, types

from rtagents.engines.scripted import CallTool, Fail, Rule, Say, scripted_engines
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server

SLOW = "one, two, three, four, five, six, seven, eight, nine, ten, eleven, twelve."
RULES = [
    Rule(when=re.compile("weather"), then=CallTool("get_weather", {"city": "Paris"})),
    Rule(when="slowly", then=Say(SLOW, token_delay_s=0.05)),
    Rule(when="break", then=Fail("model crashed", hint="restart the model server")),
]
TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
TEXT_ONLY = {
    "type": "session.update",
    "session": {"type": "realtime", "output_modalities": ["text"]},
}


@pytest.fixture
async def server() -> RunningServer:
    async with running_server(ServerConfig(port=0), scripted_engines(RULES)) as running:
        yield running


@pytest.mark.conformance(
    "response.create",
    "response.created",
    "response.output_item.added",
    "conversation.item.added",
    "response.content_part.added",
    "response.output_audio_transcript.delta",
    "response.output_audio.delta",
    "response.output_audio.done",
    "response.output_audio_transcript.done",
    "response.content_part.done",
    "response.output_item.done",
    "conversation.item.done",
    "response.done",
    "output_modalities=audio",
    status="supported",
    client="raw",
    transport="in-process",
    note="the hosted event order of an audio response",
)
async def test_audio_response_event_order(client: RawClient) -> None:
    first = await client.user_text("hi")
    events = await client.respond()
    seen = types(events)
    head = seen[:4]
    assert head == [
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
    ]
    assert seen[-7:] == [
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
        "rate_limits.updated",
    ]
    deltas = seen[4:-7]
    assert set(deltas) == {"response.output_audio_transcript.delta", "response.output_audio.delta"}
    # In step: each transcript delta comes before the audio that speaks it.
    assert deltas[0] == "response.output_audio_transcript.delta"
    added = events[2]
    assert added.previous_item_id == first
    done = events[-2].response
    assert done.status == "completed" and done.id.startswith("resp_")
    assert done.output[0].content[0].transcript == "You said: hi"
    assert done.usage.total_tokens == done.usage.input_tokens + done.usage.output_tokens > 0
    assert audio_bytes(events) > 0


@pytest.mark.conformance(
    "session.update",
    "session.updated",
    "response.output_text.delta",
    "response.output_text.done",
    "output_modalities=text",
    status="supported",
    client="raw",
    transport="in-process",
)
async def test_text_response_event_order(client: RawClient) -> None:
    await client.roundtrip(TEXT_ONLY, "session.updated")
    await client.user_text("hello")
    events = await client.respond()
    seen = types(events)
    assert seen[:4] == [
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
    ]
    assert seen[-6:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
        "rate_limits.updated",
    ]
    assert set(seen[4:-6]) == {"response.output_text.delta"}
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == (
        "You said: hello"
    )


@pytest.mark.conformance(
    "response.create",
    "error",
    status="supported",
    client="raw",
    transport="in-process",
    note="conversation_already_has_active_response; out-of-band responses run beside",
)
async def test_one_active_response_per_conversation(client: RawClient) -> None:
    await client.user_text("say it slowly")
    await client.send({"type": "response.create"})
    await client.until("response.created")
    error = await client.error({"type": "response.create", "event_id": "second"}, interleaved=True)
    assert (error.code, error.event_id) == ("conversation_already_has_active_response", "second")
    # An out-of-band response may run beside it.
    await client.send({"type": "response.create", "response": {"conversation": "none"}})
    await client.send({"type": "response.cancel"})
    events = await client.until("rate_limits.updated")
    assert "response.done" in types(events)


@pytest.mark.conformance(
    "response.cancel",
    "response.done",
    status="supported",
    client="raw",
    transport="in-process",
    note="status cancelled, no delta after response.done",
)
async def test_cancel_mid_response_stops_every_delta(client: RawClient) -> None:
    await client.user_text("count slowly")
    await client.send({"type": "response.create"})
    await client.until("response.output_audio.delta")
    await client.send({"type": "response.cancel"})
    events = await client.until("rate_limits.updated")
    done = next(e for e in events if e.type == "response.done")
    assert done.response.status == "cancelled"
    assert done.response.status_details.reason == "client_cancelled"
    after = types(events)[types(events).index("response.done") :]
    assert not any(t.endswith(".delta") for t in after)
    assert done.response.output[0].status == "incomplete"
    # The session is still usable and has no active response.
    await client.user_text("hi")
    events = await client.respond()
    assert events[-2].response.status == "completed"


@pytest.mark.conformance(
    "response.cancel", "error", status="supported", client="raw", transport="in-process"
)
async def test_cancel_with_nothing_active(client: RawClient) -> None:
    error = await client.error({"type": "response.cancel", "event_id": "c"})
    assert (error.code, error.event_id) == ("response_cancel_not_active", "c")
    error = await client.error({"type": "response.cancel", "response_id": "resp_nope"})
    assert error.code == "response_cancel_not_active" and error.param == "response_id"
    await client.user_text("hi")
    assert (await client.respond())[-2].response.status == "completed"


@pytest.mark.conformance(
    "response.create",
    status="supported",
    client="raw",
    transport="in-process",
    note="conversation: none and metadata",
)
async def test_out_of_band_response_stays_out_of_the_conversation(client: RawClient) -> None:
    await client.user_text("summarise")
    events = await client.respond(
        {"conversation": "none", "output_modalities": ["text"], "metadata": {"purpose": "summary"}}
    )
    seen = types(events)
    assert "conversation.item.added" not in seen and "conversation.item.done" not in seen
    done = events[-2].response
    assert done.conversation_id is None and done.metadata == {"purpose": "summary"}
    assert done.output[0].content[0].text == "You said: summarise"
    # The conversation did not grow: an in-band reply answers the same user turn.
    events = await client.respond({"output_modalities": ["text"]})
    assert events[-2].response.output[0].content[0].text == "You said: summarise"


@pytest.mark.conformance(
    "response.create",
    status="supported",
    client="raw",
    transport="in-process",
    note="custom input and item references",
)
async def test_custom_input_and_item_references(client: RawClient) -> None:
    referenced = await client.user_text("first words")
    await client.user_text("later words")
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "own"}]}
    events = await client.respond(
        {"conversation": "none", "output_modalities": ["text"], "input": [item]}
    )
    assert events[-2].response.output[0].content[0].text == "You said: own"
    reference = {"type": "item_reference", "id": referenced}
    events = await client.respond(
        {"conversation": "none", "output_modalities": ["text"], "input": [reference]}
    )
    assert events[-2].response.output[0].content[0].text == "You said: first words"
    error = await client.error(
        {"type": "response.create", "response": {"input": [{"type": "item_reference", "id": "x"}]}}
    )
    assert (error.code, error.param) == ("item_not_found", "response.input[0].id")


@pytest.mark.conformance(
    "response.create",
    status="supported",
    client="raw",
    transport="in-process",
    note="per-response instructions, voice and format overrides",
)
async def test_per_response_overrides(client: RawClient) -> None:
    await client.user_text("hi")
    events = await client.respond(
        {
            "instructions": "Be brief.",
            "audio": {"output": {"voice": "cedar", "format": {"type": "audio/pcma"}}},
        }
    )
    done = events[-2].response
    assert done.audio.output.voice == "cedar" and done.audio.output.format.type == "audio/pcma"
    bad = await client.error({"type": "response.create", "response": {"conversation": "conv_x"}})
    assert bad.param == "response.conversation"
    bad = await client.error(
        {"type": "response.create", "response": {"output_modalities": ["audio", "text"]}}
    )
    assert bad.param == "response.output_modalities"


@pytest.mark.conformance(
    "session.update",
    "tools[function]",
    "tools[function].name",
    "tools[function].parameters",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
    "conversation.item.create",
    status="supported",
    client="raw",
    transport="in-process",
)
async def test_function_call_round_trip(client: RawClient) -> None:
    await client.roundtrip(
        {"type": "session.update", "session": {"type": "realtime", "tools": [TOOL]}},
        "session.updated",
    )
    await client.user_text("what is the weather")
    events = await client.respond()
    seen = types(events)
    assert seen[:3] == ["response.created", "response.output_item.added", "conversation.item.added"]
    assert seen[-6:] == [
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
        "rate_limits.updated",
    ]
    call = next(e for e in events if e.type == "response.function_call_arguments.done")
    assert call.name == "get_weather" and call.call_id.startswith("call_")
    assert json.loads(call.arguments) == {"city": "Paris"}
    output = {"type": "function_call_output", "call_id": call.call_id, "output": '{"sky": "clear"}'}
    await client.send({"type": "conversation.item.create", "item": output})
    await client.until("conversation.item.done")
    events = await client.respond({"output_modalities": ["text"]})
    assert events[-2].response.output[0].content[0].text == 'The tool returned: {"sky": "clear"}'


async def test_max_output_tokens_ends_incomplete(client: RawClient) -> None:
    await client.user_text("a b c d e f")
    events = await client.respond({"max_output_tokens": 2, "output_modalities": ["text"]})
    done = events[-2].response
    assert done.status == "incomplete"
    assert done.status_details.reason == "max_output_tokens"
    assert done.output[0].content[0].text == "You said: "


@pytest.mark.conformance(
    "error",
    "response.done",
    status="supported",
    client="raw",
    transport="in-process",
    note="an engine failure fails the response (status failed), the session goes on",
)
async def test_engine_failure_fails_the_response_not_the_session(client: RawClient) -> None:
    await client.user_text("break please")
    events = await client.respond()
    error = next(e for e in events if e.type == "error").error
    assert error.type == "server_error" and error.code == "engine_failure"
    assert "restart the model server" in error.message
    done = events[-2].response
    assert done.status == "failed"
    assert done.status_details.error.code == "engine_failure"
    await client.user_text("hi")
    assert (await client.respond())[-2].response.status == "completed"


@pytest.mark.conformance(
    "audio.output.voice",
    "session.update",
    status="supported",
    client="raw",
    transport="in-process",
    note="cannot_update_voice once audio was produced",
)
async def test_voice_is_frozen_once_audio_was_produced(client: RawClient) -> None:
    update = {
        "type": "session.update",
        "session": {"type": "realtime", "audio": {"output": {"voice": "sage"}}},
    }
    await client.roundtrip(update, "session.updated")
    await client.user_text("hi")
    await client.respond()
    change = {
        "type": "session.update",
        "session": {"type": "realtime", "audio": {"output": {"voice": "ash"}}},
    }
    error = await client.error(change)
    assert (error.code, error.param) == ("cannot_update_voice", "session.audio.output.voice")
    # Re-sending the same voice is not a change.
    await client.roundtrip(update, "session.updated")


async def test_cancel_right_after_create(client: RawClient) -> None:
    await client.user_text("count slowly")
    await client.send({"type": "response.create"})
    await client.send({"type": "response.cancel"})
    events = await client.until("rate_limits.updated")
    seen = types(events)
    assert seen[0] == "response.created"
    assert events[-2].response.status == "cancelled"
    assert seen.count("response.done") == 1


@pytest.mark.conformance(
    "response.cancel", status="supported", client="raw", transport="in-process"
)
async def test_cancel_by_id_targets_an_out_of_band_response(client: RawClient) -> None:
    await client.user_text("count slowly")
    await client.send({"type": "response.create", "response": {"conversation": "none"}})
    created = (await client.until("response.created"))[-1]
    await client.send({"type": "response.cancel", "response_id": created.response.id})
    events = await client.until("rate_limits.updated")
    assert events[-2].response.id == created.response.id
    assert events[-2].response.status == "cancelled"


@pytest.mark.conformance(
    "conversation.item.delete",
    "conversation.item.deleted",
    status="supported",
    client="raw",
    transport="in-process",
)
async def test_an_item_deleted_while_its_response_streams_stays_deleted(
    client: RawClient,
) -> None:
    question = await client.user_text("count slowly")
    await client.send({"type": "response.create"})
    added = next(
        e for e in await client.until("conversation.item.added") if e.type.endswith("added")
    )
    assistant = added.item.id
    await client.send({"type": "conversation.item.delete", "item_id": assistant})
    events = await client.until("rate_limits.updated")
    seen = types(events)
    deleted_at = seen.index("conversation.item.deleted")
    after = events[deleted_at + 1 :]
    # The response itself still ends its output item; the conversation never
    # hears of the item again.
    assert "response.output_item.done" in types(after)
    assert not any(e.type.startswith("conversation.item.") for e in after)
    error = await client.error({"type": "conversation.item.retrieve", "item_id": assistant})
    assert (error.code, error.param) == ("item_not_found", "item_id")
    await client.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "next"}],
            },
        }
    )
    next_added = (await client.until("conversation.item.done"))[0]
    assert next_added.previous_item_id == question
    events = await client.respond()
    assert events[2].previous_item_id == next_added.item.id
