"""Server VAD end to end: a real server's session host, the scripted model, the energy VAD.

Speech is the scripted tone code (50 ms per character) padded with digital
silence, streamed in lock step (see ``vad_harness``). With the energy VAD and
10 ms-aligned audio the event times are exact, so they are asserted with no
tolerance; *when* an event comes is known to one chunk (plus the resampler's
few ms of delay), which the latency assertions allow for.
"""

from __future__ import annotations

import base64
import math
from collections.abc import AsyncIterator

import pytest
from server_harness import RawClient, audio_bytes, memory_session, mint, session
from vad_harness import Streamer, configure, silence, speech

from rtagents.engines.scripted import Rule, Say, scripted_engines
from rtagents.protocol.audio import PCMU, mulaw_encode, resample_pcm16
from rtagents.server.config import ServerConfig
from rtagents.server.local.turns import MARKS_KEPT, SILENCE_KEPT_MS
from rtagents.server.serving import RunningServer, running_server

STORY = " ".join(f"Sentence {n} of a long story." for n in range(40))
RULES = [Rule("story", Say(STORY, token_delay_s=0.01))]
TEXT_ONLY = {"output_modalities": ["text"]}


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    async with running_server(ServerConfig(port=0), scripted_engines(RULES)) as running:
        yield running


def host_of(server: RunningServer):  # type: ignore[no-untyped-def]
    (host,) = server.app.state.rtagents.sessions
    return host


@pytest.mark.conformance(
    "audio.input.turn_detection[server_vad]",
    "audio.input.turn_detection[server_vad].threshold",
    "audio.input.turn_detection[server_vad].prefix_padding_ms",
    "audio.input.turn_detection[server_vad].silence_duration_ms",
    "audio.input.turn_detection[server_vad].create_response",
    "input_audio_buffer.speech_started",
    "input_audio_buffer.speech_stopped",
    "input_audio_buffer.committed",
    "input_audio_buffer.append",
    "conversation.item.retrieved",
    status="supported",
    client="raw",
    transport="in-process",
    note="defaults filled in session.updated; exact audio_start_ms/audio_end_ms",
)
async def test_server_vad_turn_is_detected_committed_and_answered(client: RawClient) -> None:
    updated = await configure(client, {"type": "server_vad"}, **TEXT_ONLY)
    assert updated.session.audio.input.turn_detection.model_dump() == {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 500,
        "idle_timeout_ms": None,
        "create_response": True,
        "interrupt_response": True,
    }
    stream = Streamer(client)
    await stream.send(speech("Hello there.", lead_ms=500, tail_ms=600), chunk_ms=[20, 40, 100, 60])
    await stream.quiet_until("input_audio_buffer.speech_stopped")
    started, stopped = (
        stream.first("input_audio_buffer.speech_started"),
        stream.first("input_audio_buffer.speech_stopped"),
    )
    assert started.event.audio_start_ms == 200  # onset 500 ms minus 300 ms of padding
    assert stopped.event.audio_end_ms == 1100  # 12 characters: 600 ms of speech
    assert started.event.item_id == stopped.event.item_id
    assert 1600 <= stopped.sent_ms <= 1600 + 100  # decided after 500 ms of silence
    done = await stream.until("response.done")
    types = stream.types()
    committed = types.index("input_audio_buffer.committed")
    assert types[committed - 1 : committed + 3] == [
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    assert stream.first("input_audio_buffer.committed").event.item_id == started.event.item_id
    assert done.event.response.output[0].content[0].text == "You said: Hello there."
    await stream.until("rate_limits.updated")
    # The item keeps the audio from the padded start to the decision: 200..1600 ms.
    retrieved = await client.roundtrip(
        {"type": "conversation.item.retrieve", "item_id": started.event.item_id},
        "conversation.item.retrieved",
    )
    assert len(base64.b64decode(retrieved.item.content[0].audio)) == 1400 * 48


@pytest.mark.conformance(
    "audio.input.turn_detection[server_vad].create_response",
    status="supported",
    client="raw",
    transport="in-process",
    note="create_response false: no response",
)
async def test_audio_time_is_cumulative_across_turns(client: RawClient) -> None:
    await configure(client, {"type": "server_vad", "create_response": False})
    stream = Streamer(client)
    await stream.send(speech("one", lead_ms=100, tail_ms=600))  # speech 100..250
    await stream.send(speech("two", lead_ms=100, tail_ms=600))  # 850 + 100 = 950..1100
    starts = [e.audio_start_ms for e in stream.events("input_audio_buffer.speech_started")]
    ends = [e.audio_end_ms for e in stream.events("input_audio_buffer.speech_stopped")]
    assert starts == [0, 750]  # padding clamped at 0, then at the first commit (750 ms)
    assert ends == [250, 1100]
    assert "response.created" not in stream.types()  # create_response false


@pytest.mark.conformance(
    "input_audio_buffer.commit",
    status="supported",
    client="raw",
    transport="in-process",
    note="turn_detection null: push to talk",
)
async def test_push_to_talk_is_unchanged(client: RawClient) -> None:
    await configure(client, None, **TEXT_ONLY)
    stream = Streamer(client)
    await stream.send(speech("Hello.", lead_ms=300, tail_ms=1000))
    assert stream.types() == []  # no VAD events, no commit
    committed = await client.roundtrip(
        {"type": "input_audio_buffer.commit"}, "input_audio_buffer.committed"
    )
    events = await client.respond()
    assert events[-2].response.output[0].content[0].text == "You said: Hello."
    assert committed.item_id


@pytest.mark.conformance(
    "audio.input.turn_detection[server_vad].interrupt_response",
    "input_audio_buffer.speech_started",
    "response.done",
    "conversation.item.truncate",
    "conversation.item.truncated",
    status="supported",
    client="raw",
    transport="in-process",
    note="barge-in cancels (turn_detected) with no stale audio",
)
async def test_barge_in_cancels_the_response_with_no_stale_audio(
    server: RunningServer, client: RawClient
) -> None:
    await configure(client, {"type": "server_vad", "silence_duration_ms": 200})
    stream = Streamer(client)
    await stream.send(speech("Tell me a story.", lead_ms=200, tail_ms=200))
    await stream.quiet_until("input_audio_buffer.speech_stopped")
    first_delta = await stream.until("response.output_audio.delta")
    response_id, item_id = first_delta.event.response_id, first_delta.event.item_id
    await stream.send(speech("stop"))  # the user talks over the story
    done = await stream.until("response.done")
    assert done.event.response.id == response_id
    assert done.event.response.status == "cancelled"
    assert done.event.response.status_details.reason == "turn_detected"
    events = stream.events()
    barge = [i for i, e in enumerate(events) if e.type == "input_audio_buffer.speech_started"][1]
    # Not one audio delta once the speech started, so none after response.done either.
    assert not [e for e in events[barge:] if e.type == "response.output_audio.delta"]
    # The audio the item is credited with is exactly the audio that was sent.
    heard_ms = audio_bytes(events) / 48
    assert heard_ms > 0
    assert host_of(server).conversation.audio_ms(item_id) == heard_ms
    await stream.quiet_until("response.created", nth=2)  # "stop" ends: a new turn, a reply
    await stream.until("response.done", nth=2)
    await stream.until("rate_limits.updated", nth=2)
    truncate = {"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0}
    too_far = await client.error({**truncate, "audio_end_ms": math.ceil(heard_ms) + 1})
    assert too_far.param == "audio_end_ms"
    truncated = await client.roundtrip(
        {**truncate, "audio_end_ms": math.floor(heard_ms)}, "conversation.item.truncated"
    )
    assert truncated.audio_end_ms == math.floor(heard_ms)


@pytest.mark.conformance(
    "audio.input.turn_detection[server_vad].interrupt_response",
    status="supported",
    client="raw",
    transport="in-process",
)
async def test_without_interrupt_response_speech_does_not_cancel(client: RawClient) -> None:
    await configure(
        client, {"type": "server_vad", "silence_duration_ms": 200, "interrupt_response": False}
    )
    stream = Streamer(client)
    await stream.send(speech("Tell me a story.", lead_ms=200, tail_ms=200))
    await stream.quiet_until("input_audio_buffer.speech_stopped")
    await stream.until("response.output_audio.delta")
    await stream.send(speech("hm", tail_ms=0))
    assert len(stream.events("input_audio_buffer.speech_started")) == 2
    done = await stream.until("response.done")
    assert done.event.response.status == "completed"


@pytest.mark.conformance(
    "audio.input.turn_detection[server_vad].idle_timeout_ms",
    "input_audio_buffer.timeout_triggered",
    status="supported",
    client="raw",
    transport="in-process",
)
async def test_idle_timeout_commits_the_quiet_and_responds(client: RawClient) -> None:
    await configure(client, {"type": "server_vad", "idle_timeout_ms": 1000})
    stream = Streamer(client)
    await stream.send(speech("Hi.", lead_ms=100, tail_ms=500))
    await stream.quiet_until("input_audio_buffer.speech_stopped")
    await stream.until("response.done")  # no audio is sent meanwhile: audio time stands still
    reply_ms = audio_bytes(stream.events()) / 48
    assert reply_ms > 0
    done_at = stream.sent_ms
    await stream.quiet_until("input_audio_buffer.timeout_triggered", limit_ms=int(reply_ms) + 1500)
    idle = stream.first("input_audio_buffer.timeout_triggered").event
    assert idle.audio_start_ms == done_at + reply_ms  # counted from when the reply was heard
    assert idle.audio_end_ms == idle.audio_start_ms + 1000
    types = stream.types()
    after = types[types.index("input_audio_buffer.timeout_triggered") :]
    assert after[1:4] == [
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ]
    assert stream.events("input_audio_buffer.committed")[-1].item_id == idle.item_id
    assert (await stream.until("response.done", nth=2)).event.response.status == "completed"


@pytest.mark.conformance(
    "audio.input.turn_detection[semantic_vad]",
    "audio.input.turn_detection[semantic_vad].eagerness=high",
    "audio.input.turn_detection[semantic_vad].eagerness=medium",
    "audio.input.turn_detection[semantic_vad].eagerness=low",
    status="supported",
    client="raw",
    transport="in-process",
)
@pytest.mark.parametrize(
    ("eagerness", "text", "wait_ms"),
    [("high", "Thank you.", 200), ("medium", "Paris", 800), ("low", "I want to go and", 8000)],
)
async def test_semantic_vad_eagerness_sets_the_end_of_turn_wait(
    client: RawClient, eagerness: str, text: str, wait_ms: int
) -> None:
    await configure(client, {"type": "semantic_vad", "eagerness": eagerness}, **TEXT_ONLY)
    stream = Streamer(client)
    await stream.send(speech(text, lead_ms=100))
    speech_end = stream.sent_ms
    await stream.send(silence(wait_ms + 300), chunk_ms=20 if wait_ms < 1000 else 100)
    stopped = stream.first("input_audio_buffer.speech_stopped")
    assert stopped.event.audio_end_ms == speech_end
    waited = stopped.sent_ms - speech_end
    assert wait_ms <= waited <= wait_ms + 100, waited


@pytest.mark.conformance(
    "audio.input.format[audio/pcmu]",
    "conversation.item.input_audio_transcription.completed",
    status="supported",
    client="raw",
    transport="in-process",
)
async def test_pcmu_session_with_server_vad(client: RawClient) -> None:
    await configure(
        client,
        {"type": "server_vad"},
        audio={"input": {"format": PCMU.to_wire(), "transcription": {"model": "whisper-1"}}},
        **TEXT_ONLY,
    )
    pcm24 = speech("Call me back.", lead_ms=400, tail_ms=700)
    wire = mulaw_encode(resample_pcm16(pcm24, 24_000, 8_000))
    stream = Streamer(client)
    await stream.send(wire, chunk_ms=[20, 60, 100], bytes_per_ms=8)  # 8 kHz, 1 byte a sample
    started = stream.first("input_audio_buffer.speech_started").event
    stopped = stream.first("input_audio_buffer.speech_stopped").event
    assert abs(started.audio_start_ms - 100) <= 10
    assert abs(stopped.audio_end_ms - 1050) <= 10
    completed = await stream.until("conversation.item.input_audio_transcription.completed")
    assert completed.event.transcript == "Call me back."
    done = await stream.until("response.done")
    assert done.event.response.output[0].content[0].text == "You said: Call me back."


async def test_changing_turn_detection_mid_utterance_resets_cleanly(client: RawClient) -> None:
    await configure(client, {"type": "server_vad"}, **TEXT_ONLY)
    stream = Streamer(client)
    await stream.send(speech("Hello", lead_ms=400))  # speaking: 400..650
    assert stream.types() == ["input_audio_buffer.speech_started"]
    await configure(client, {"type": "server_vad", "silence_duration_ms": 200}, **TEXT_ONLY)
    await stream.send(silence(1000))
    assert "input_audio_buffer.speech_stopped" not in stream.types()  # the turn was dropped
    await stream.send(speech("again", tail_ms=300))  # 1650..1900
    starts = [e.audio_start_ms for e in stream.events("input_audio_buffer.speech_started")]
    assert starts == [100, 1350]  # audio time kept counting through the change
    assert stream.first("input_audio_buffer.speech_stopped").event.audio_end_ms == 1900
    await configure(client, None)
    await stream.send(speech("quiet now", tail_ms=800))
    assert len(stream.events("input_audio_buffer.speech_started")) == 2


async def test_manual_commit_during_speech_uses_the_announced_item(client: RawClient) -> None:
    await configure(client, {"type": "server_vad", "create_response": False})
    stream = Streamer(client)
    await stream.send(speech("Hello", lead_ms=100))
    announced = stream.first("input_audio_buffer.speech_started").event.item_id
    committed = await client.roundtrip(
        {"type": "input_audio_buffer.commit"}, "input_audio_buffer.committed"
    )
    assert committed.item_id == announced


async def test_each_session_has_its_own_vad_and_clock(
    server: RunningServer, client: RawClient
) -> None:
    await configure(client, {"type": "server_vad", "create_response": False})
    async with memory_session(server) as other:
        await configure(other, {"type": "server_vad", "create_response": False})
        talker, listener = Streamer(client), Streamer(other)
        for step in range(60):  # interleaved: 20 ms to each session in turn
            talker_audio = speech("Hi.", lead_ms=200, tail_ms=1000)
            await talker.send(talker_audio[step * 960 : (step + 1) * 960])
            await listener.send(silence(20))
    assert listener.types() == []
    assert stream_times(talker) == ([0], [350])  # "Hi." is 200..350 ms in its own stream


def stream_times(stream: Streamer) -> tuple[list[int], list[int]]:
    starts = [e.audio_start_ms for e in stream.events("input_audio_buffer.speech_started")]
    ends = [e.audio_end_ms for e in stream.events("input_audio_buffer.speech_stopped")]
    return starts, ends


async def test_a_secret_with_turn_detection_starts_detecting_at_once(
    server: RunningServer,
) -> None:
    body = {
        "session": {
            "type": "realtime",
            "audio": {
                "input": {"turn_detection": {"type": "server_vad", "create_response": False}}
            },
        }
    }
    secret = (await mint(server, body)).json()["value"]
    async with session(server, key=secret) as client:
        stream = Streamer(client)
        await stream.send(speech("Yes.", lead_ms=400, tail_ms=700))
    assert stream_times(stream) == ([100], [600])


async def test_turn_detection_needs_a_vad_engine() -> None:
    async with running_server(ServerConfig(port=0), scripted_engines(vad=False)) as bare:
        async with memory_session(bare) as client:
            update = {
                "type": "realtime",
                "audio": {"input": {"turn_detection": {"type": "server_vad"}}},
            }
            error = await client.error({"type": "session.update", "session": update})
    assert error.code == "unsupported_turn_detection"
    assert error.param == "session.audio.input.turn_detection"
    assert "null" in error.message and "input_audio_buffer.commit" in error.message


@pytest.mark.parametrize(
    ("detection", "param"),
    [
        ({"type": "server_vad", "threshold": 1.01}, "threshold"),
        ({"type": "server_vad", "silence_duration_ms": -1}, "silence_duration_ms"),
        ({"type": "server_vad", "prefix_padding_ms": -5}, "prefix_padding_ms"),
        ({"type": "server_vad", "idle_timeout_ms": -1}, "idle_timeout_ms"),
        ({"type": "semantic_vad", "eagerness": "eager"}, "eagerness"),
    ],
)
async def test_turn_detection_fields_are_checked(
    client: RawClient, detection: dict[str, object], param: str
) -> None:
    update = {"type": "realtime", "audio": {"input": {"turn_detection": detection}}}
    error = await client.error({"type": "session.update", "session": update})
    assert error.param == f"session.audio.input.turn_detection.{param}"
    assert error.code == "invalid_value"


async def test_marks_time_each_voice_turn(server: RunningServer, client: RawClient) -> None:
    await configure(client, {"type": "server_vad"})
    stream = Streamer(client)
    await stream.send(speech("Hi there.", lead_ms=100, tail_ms=500))
    await stream.quiet_until("response.created")
    await stream.until("response.done")  # the marks are complete when it is emitted
    (marks,) = host_of(server).backend.turns.marks
    stopped = stream.first("input_audio_buffer.speech_stopped").event
    assert (marks.item_id, marks.audio_end_ms, marks.status) == (
        stopped.item_id,
        stopped.audio_end_ms,
        "completed",
    )
    order = [
        marks.speech_stopped_at,
        marks.first_token_at,
        marks.first_text_at,
        marks.first_audio_at,
        marks.done_at,
    ]
    assert all(a is not None for a in order) and order == sorted(order)  # type: ignore[type-var]
    assert marks.transcript_final_at is not None
    assert marks.transcript_final_at <= marks.first_token_at  # type: ignore[operator]
    assert set(marks.latencies_ms()) == {
        "transcript_final_ms",
        "first_token_ms",
        "first_text_ms",
        "first_audio_ms",
        "done_ms",
    }


async def test_long_silence_is_let_go_and_the_next_turn_is_exact(
    server: RunningServer, client: RawClient
) -> None:
    await configure(client, {"type": "server_vad", "create_response": False})
    stream = Streamer(client)
    quiet_ms = 3 * SILENCE_KEPT_MS
    await stream.send(silence(quiet_ms), chunk_ms=1000)
    host = host_of(server)
    # Never more than the bound plus what the next turn's padding needs.
    assert host.backend.input.buffered_ms <= SILENCE_KEPT_MS + 300 + 1000 + 1000
    await stream.send(speech("Hello there.", lead_ms=500, tail_ms=600))
    started = stream.first("input_audio_buffer.speech_started").event
    stopped = stream.first("input_audio_buffer.speech_stopped").event
    assert started.audio_start_ms == quiet_ms + 200  # audio time still counts everything
    assert stopped.audio_end_ms == quiet_ms + 1100
    retrieved = await client.roundtrip(
        {"type": "conversation.item.retrieve", "item_id": started.item_id},
        "conversation.item.retrieved",
    )
    assert len(base64.b64decode(retrieved.item.content[0].audio)) == 1400 * 48


async def test_turn_marks_keep_the_last_turns_and_no_open_ones(
    server: RunningServer, client: RawClient
) -> None:
    await configure(client, None, **TEXT_ONLY)
    for turn in range(MARKS_KEPT + 6):
        await client.user_text(f"turn {turn}")
        events = await client.respond()
        assert events[-2].response.status == "completed"
    turns = host_of(server).backend.turns
    assert len(turns.marks) == MARKS_KEPT
    assert turns.marks[-1].response_id == events[-2].response.id
    assert not turns.book.open
