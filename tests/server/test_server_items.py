"""conversation.item.create / retrieve / delete / truncate."""

from __future__ import annotations

import pytest
from server_harness import RawClient, audio_bytes, types

from rtagents.engines.scripted import MS_PER_CHAR


def _message(text: str, **extra: object) -> dict[str, object]:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    return {"type": "conversation.item.create", "item": {**item, **extra}}


async def _spoken_reply(client: RawClient, text: str) -> tuple[str, list[object]]:
    await client.user_text(text)
    events = await client.respond()
    return str(events[-2].response.output[0].id), events


@pytest.mark.conformance(
    "conversation.item.create",
    "conversation.item.added",
    "conversation.item.done",
    status="supported",
    client="raw",
    transport="in-process",
)
async def test_create_appends_and_echoes_added_then_done(client: RawClient) -> None:
    first = await client.user_text("one")
    await client.send(_message("two", id="my_item"))
    events = await client.until("conversation.item.done")
    assert types(events) == ["conversation.item.added", "conversation.item.done"]
    added, done = events
    assert added.item.id == "my_item" and added.previous_item_id == first
    assert done.item.status == "completed" and done.item.content[0].text == "two"


@pytest.mark.conformance(
    "conversation.item.create",
    status="supported",
    client="raw",
    transport="in-process",
    note="previous_item_id: root and after an item",
)
async def test_create_inserts_at_root_and_after_an_item(client: RawClient) -> None:
    first = await client.user_text("one")
    await client.user_text("three")
    await client.send({**_message("zero"), "previous_item_id": "root"})
    root = (await client.until("conversation.item.done"))[-1]
    await client.send({**_message("two"), "previous_item_id": first})
    after = (await client.until("conversation.item.done"))[-1]
    assert root.previous_item_id == "root"
    assert after.previous_item_id == first


@pytest.mark.conformance(
    "conversation.item.create",
    "error",
    status="supported",
    client="raw",
    transport="in-process",
    note="item_not_found and duplicate_item_id name the param and echo event_id",
)
async def test_create_refuses_unknown_previous_and_duplicate_ids(client: RawClient) -> None:
    error = await client.error({**_message("x"), "previous_item_id": "item_nope", "event_id": "p"})
    assert (error.code, error.param, error.event_id) == ("item_not_found", "previous_item_id", "p")
    await client.send(_message("x", id="dup"))
    await client.until("conversation.item.done")
    error = await client.error(_message("y", id="dup"))
    assert (error.code, error.param) == ("duplicate_item_id", "item.id")


async def test_an_item_may_not_take_the_id_root(client: RawClient) -> None:
    first = await client.user_text("one")
    error = await client.error({**_message("x", id="root"), "event_id": "r1"})
    assert (error.type, error.code, error.param, error.event_id) == (
        "invalid_request_error",
        "invalid_value",
        "item.id",
        "r1",
    )
    assert "root" in error.message
    # The session goes on, and the next item still follows the last real one.
    await client.send(_message("two"))
    added = (await client.until("conversation.item.done"))[0]
    assert added.previous_item_id == first


async def test_create_checks_the_item_schema(client: RawClient) -> None:
    bad = {"type": "conversation.item.create", "item": {"type": "message", "role": "user"}}
    error = await client.error(bad)
    assert (error.code, error.param) == ("missing_required_parameter", "item.content")


@pytest.mark.conformance(
    "conversation.item.retrieve",
    "conversation.item.retrieved",
    "conversation.item.delete",
    "conversation.item.deleted",
    status="supported",
    client="raw",
    transport="in-process",
)
async def test_retrieve_and_delete(client: RawClient) -> None:
    item_id = await client.user_text("keep me")
    retrieved = await client.roundtrip(
        {"type": "conversation.item.retrieve", "item_id": item_id}, "conversation.item.retrieved"
    )
    assert retrieved.item.content[0].text == "keep me"
    deleted = await client.roundtrip(
        {"type": "conversation.item.delete", "item_id": item_id}, "conversation.item.deleted"
    )
    assert deleted.item_id == item_id
    for kind in ("retrieve", "delete"):
        error = await client.error({"type": f"conversation.item.{kind}", "item_id": item_id})
        assert (error.code, error.param) == ("item_not_found", "item_id")


@pytest.mark.conformance(
    "conversation.item.retrieve",
    "conversation.item.retrieved",
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    status="supported",
    client="raw",
    transport="in-process",
    note="the committed audio comes back",
)
async def test_retrieve_returns_committed_audio(client: RawClient) -> None:
    import base64

    from rtagents.engines.scripted import scripted_speech

    await client.say("hey")
    item_id = (await client.until("conversation.item.done"))[-1].item.id
    retrieved = await client.roundtrip(
        {"type": "conversation.item.retrieve", "item_id": item_id}, "conversation.item.retrieved"
    )
    assert base64.b64decode(retrieved.item.content[0].audio) == scripted_speech("hey")


@pytest.mark.conformance(
    "audio.output.format[audio/pcm]",
    "audio.output.format[audio/pcm].rate=24000",
    status="supported",
    client="raw",
    transport="in-process",
    note="24 kHz pcm16 out: 48 bytes per ms",
)
@pytest.mark.conformance(
    "conversation.item.truncate",
    "conversation.item.truncated",
    status="supported",
    client="raw",
    transport="in-process",
    note="drops the unheard transcript",
)
async def test_truncate_cuts_to_what_was_heard(client: RawClient) -> None:
    item_id, events = await _spoken_reply(client, "abcdefghij")
    spoken = "You said: abcdefghij"
    produced_ms = audio_bytes(events) / 48  # pcm16 at 24 kHz: 48 bytes per ms
    assert produced_ms == pytest.approx(len(spoken) * MS_PER_CHAR)
    heard_ms = int(MS_PER_CHAR * len("You said: "))
    truncated = await client.roundtrip(
        {
            "type": "conversation.item.truncate",
            "item_id": item_id,
            "content_index": 0,
            "audio_end_ms": heard_ms,
        },
        "conversation.item.truncated",
    )
    assert (truncated.item_id, truncated.audio_end_ms) == (item_id, heard_ms)
    item = (
        await client.roundtrip(
            {"type": "conversation.item.retrieve", "item_id": item_id},
            "conversation.item.retrieved",
        )
    ).item
    assert item.content[0].transcript.strip() == "You said:"


@pytest.mark.conformance(
    "conversation.item.truncate",
    "error",
    status="supported",
    client="raw",
    transport="in-process",
    note="audio_end_ms beyond the audio produced is refused",
)
async def test_truncate_beyond_the_audio_produced(client: RawClient) -> None:
    item_id, _ = await _spoken_reply(client, "abc")
    produced = int(len("You said: abc") * MS_PER_CHAR)
    error = await client.error(
        {
            "type": "conversation.item.truncate",
            "item_id": item_id,
            "content_index": 0,
            "audio_end_ms": produced + 100,
            "event_id": "t1",
        }
    )
    assert (error.code, error.param, error.event_id) == ("invalid_value", "audio_end_ms", "t1")
    assert f"{produced} ms" in error.message


async def test_truncate_refusals(client: RawClient) -> None:
    user_item = await client.user_text("not audio")
    item_id, _ = await _spoken_reply(client, "abc")
    cases = [
        ({"item_id": "item_nope", "content_index": 0}, "item_not_found", "item_id"),
        ({"item_id": user_item, "content_index": 0}, "invalid_value", "item_id"),
        ({"item_id": item_id, "content_index": 3}, "invalid_value", "content_index"),
        (
            {"item_id": item_id, "content_index": 0, "audio_end_ms": -1},
            "invalid_value",
            "audio_end_ms",
        ),
    ]
    for fields, code, param in cases:
        event = {"type": "conversation.item.truncate", "audio_end_ms": 10, **fields}
        error = await client.error(event)
        assert (error.code, error.param) == (code, param), fields


@pytest.mark.conformance(
    "output_modalities=text", status="supported", client="raw", transport="in-process"
)
async def test_text_replies_cannot_be_truncated(client: RawClient) -> None:
    await client.roundtrip(
        {"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"]}},
        "session.updated",
    )
    item_id, _ = await _spoken_reply(client, "abc")
    error = await client.error(
        {
            "type": "conversation.item.truncate",
            "item_id": item_id,
            "content_index": 0,
            "audio_end_ms": 0,
        }
    )
    assert error.param == "content_index"


@pytest.mark.conformance(
    "conversation.item.truncate",
    "conversation.item.truncated",
    status="supported",
    client="raw",
    transport="in-process",
)
async def test_truncate_measures_a_per_response_format_override(client: RawClient) -> None:
    # The session speaks pcm16; this one response speaks G.711 (8 bytes per ms).
    # Measured in the session's format its audio would look six times shorter,
    # and a truncate inside the real duration would be refused.
    await client.user_text("abcdefghij")
    await client.send(
        {
            "type": "response.create",
            "response": {"audio": {"output": {"format": {"type": "audio/pcmu"}}}},
        }
    )
    events = await client.until("rate_limits.updated")  # the last event of a response
    item_id = events[-2].response.output[0].id
    produced_ms = audio_bytes(events) / 8
    assert produced_ms == pytest.approx(len("You said: abcdefghij") * MS_PER_CHAR)
    truncated = await client.roundtrip(
        {
            "type": "conversation.item.truncate",
            "item_id": item_id,
            "content_index": 0,
            "audio_end_ms": int(produced_ms) - 50,
        },
        "conversation.item.truncated",
    )
    assert truncated.audio_end_ms == int(produced_ms) - 50


async def test_item_ids_the_client_chose_are_quoted_bounded_in_refusals(
    client: RawClient,
) -> None:
    long_id = "u\n" + "x" * 5000
    await client.send(_message("hi", id=long_id))
    await client.until("conversation.item.done")
    truncate = {"type": "conversation.item.truncate", "content_index": 0, "audio_end_ms": 0}
    error = await client.error({**truncate, "item_id": long_id})
    assert error.param == "item_id" and "'u\\nxxx" in error.message
    assert "(5002 chars)" in error.message and len(error.message) < 500
    error = await client.error({"type": "conversation.item.delete", "item_id": "n\r" * 500_000})
    assert error.code == "item_not_found" and "(1000000 chars)" in error.message
    assert "\r" not in error.message and len(error.message) < 500
