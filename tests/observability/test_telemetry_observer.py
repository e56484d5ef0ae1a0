"""OpenTelemetry spans of real sessions: a spoken turn that calls a tool, into the SDK's exporter.

A real server (scripted engine, energy VAD) on loopback and the rtagents
client over WebSocket: the user says "weather", the model calls
``get_weather``, the client's tool runner answers, the model replies. The
span tree the server built is read back from the SDK's in-memory exporter.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from rtagents.client import connect
from rtagents.engines.scripted import CallTool, Rule, scripted_engines, scripted_speech
from rtagents.observability.telemetry import Telemetry
from rtagents.observability.telemetry_observer import MAX_OPEN, SessionTracer
from rtagents.protocol.codec import decode_server_event, encode_event
from rtagents.server.config import ServerConfig
from rtagents.server.serving import running_server
from rtagents.testing.spoken import stream_speech

RULES = [Rule("weather", CallTool("get_weather", {"city": "Paris"}))]
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
VOICE_TURNS = {
    "type": "realtime",
    "audio": {
        "input": {
            "turn_detection": {"type": "server_vad"},
            "transcription": {"model": "whisper-1"},
        }
    },
}


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    yield memory
    memory.shutdown()


def provider_for(exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


async def weather_turn(config: ServerConfig, tracing: Any) -> None:
    """Speak "weather" with server VAD; the tool runs; wait for the reply to its output."""
    async with running_server(config, scripted_engines(RULES)) as server:
        async with connect(
            server.ws_url, credentials=server.api_key, model="gpt-realtime"
        ) as session:

            @session.tools.register(parameters=WEATHER)
            async def get_weather(city: str) -> dict[str, str]:
                return {"city": city, "forecast": "sunny"}

            await session.update_session(
                {**VOICE_TURNS, "tools": session.tools.definitions(), "tracing": tracing}
            )
            speaking = asyncio.create_task(
                stream_speech(session, scripted_speech("weather please"), realtime=False)
            )
            done = 0
            async with asyncio.timeout(60):
                async for event in session:
                    done += event.type == "response.done"
                    if done == 2:  # the tool call, then the reply to its output
                        break
            await speaking


def tree(spans: tuple[ReadableSpan, ...]) -> dict[str, list[str]]:
    """Each span's name -> the names of its children, in start order."""
    by_id = {span.context.span_id: span for span in spans}
    children: dict[str, list[str]] = {span.name: [] for span in spans}
    for span in sorted(spans, key=lambda s: s.start_time or 0):
        if span.parent is not None:
            children[by_id[span.parent.span_id].name].append(span.name)
    return children


@pytest.mark.conformance(
    "tracing=auto",
    status="supported",
    client="rtagents",
    transport="websocket",
    note="a session with tracing set gets OpenTelemetry spans (server default --tracing session)",
)
async def test_a_spoken_turn_with_a_tool_call_builds_the_span_tree(
    exporter: InMemorySpanExporter,
) -> None:
    config = ServerConfig(port=0, tracer_provider=provider_for(exporter))
    await weather_turn(config, "auto")
    spans = exporter.get_finished_spans()
    (root,) = [s for s in spans if s.parent is None]
    assert root.name == "rtagents.session"
    assert root.attributes is not None and root.attributes["gen_ai.request.model"] == "gpt-realtime"
    children = tree(spans)
    assert children["rtagents.session"] == ["rtagents.turn"]
    assert children["rtagents.turn"] == ["vad", "stt", "chat gpt-realtime", "chat gpt-realtime"]
    first, second = sorted(
        (s for s in spans if s.name == "chat gpt-realtime"), key=lambda s: s.start_time or 0
    )
    assert children_of(spans, first) == ["llm", "execute_tool get_weather"]
    assert children_of(spans, second) == ["llm", "tts"]  # the reply to the tool output speaks
    (tool,) = [s for s in spans if s.name == "execute_tool get_weather"]
    assert tool.attributes is not None
    assert tool.attributes["gen_ai.tool.name"] == "get_weather"
    assert tool.attributes["gen_ai.operation.name"] == "execute_tool"
    for response in (first, second):
        attributes = response.attributes or {}
        assert attributes["gen_ai.operation.name"] == "chat"
        assert attributes["gen_ai.usage.output_tokens"] > 0
        assert attributes["gen_ai.response.finish_reasons"] == ("completed",)
    for span in spans:  # every span ends, and never before it starts
        assert span.end_time is not None and span.start_time is not None
        assert span.end_time >= span.start_time


def children_of(spans: tuple[ReadableSpan, ...], parent: ReadableSpan) -> list[str]:
    mine = [s for s in spans if s.parent and s.parent.span_id == parent.context.span_id]
    return [s.name for s in sorted(mine, key=lambda s: s.start_time or 0)]


@pytest.mark.conformance(
    "tracing=auto",
    status="supported",
    client="rtagents",
    transport="websocket",
    note="without tracing no spans, unless the server traces all",
)
async def test_untraced_sessions_make_no_spans_unless_the_server_traces_all(
    exporter: InMemorySpanExporter,
) -> None:
    await weather_turn(ServerConfig(port=0, tracer_provider=provider_for(exporter)), None)
    assert exporter.get_finished_spans() == ()
    config = ServerConfig(port=0, tracing="all", tracer_provider=provider_for(exporter))
    await weather_turn(config, None)
    assert [s.name for s in exporter.get_finished_spans() if s.parent is None] == [
        "rtagents.session"
    ]
    off = ServerConfig(port=0, tracing="off", tracer_provider=provider_for(exporter))
    exporter.clear()
    await weather_turn(off, "auto")
    assert exporter.get_finished_spans() == ()


def fed(exporter: InMemorySpanExporter, *payloads: dict[str, Any]) -> SessionTracer:
    """A traced session's tracer, shown ``payloads`` as sent events, then closed."""
    tracer = SessionTracer(Telemetry("all", provider_for(exporter)), "sess_1", time.time_ns)
    for n, payload in enumerate(payloads):
        decoded = decode_server_event(encode_event({"event_id": f"event_{n}", **payload}))
        assert getattr(decoded, "type", None) == payload["type"], decoded
        tracer.on_sent(decoded, None)
    return tracer


def session_event(transcription: Any) -> dict[str, Any]:
    audio = {"input": {"transcription": transcription, "turn_detection": None}}
    session = {"type": "realtime", "model": "gpt-realtime", "audio": audio}
    return {"type": "session.created", "session": session}


def test_no_stt_span_waits_for_a_transcript_that_will_not_come(
    exporter: InMemorySpanExporter,
) -> None:
    committed = {"type": "input_audio_buffer.committed", "previous_item_id": None}
    tracer = fed(exporter, session_event(None), {**committed, "item_id": "item_1"})
    tracer.on_closed(1000, "", "client")
    assert sorted(s.name for s in exporter.get_finished_spans()) == [
        "rtagents.session",
        "rtagents.turn",
    ]


def test_stage_spans_left_open_are_bounded(exporter: InMemorySpanExporter) -> None:
    started = [
        {"type": "input_audio_buffer.speech_started", "audio_start_ms": n, "item_id": f"i{n}"}
        for n in range(MAX_OPEN + 10)
    ]  # speech that never stops (each new one also ends the turn before)
    tracer = fed(exporter, session_event({"model": "whisper-1"}), *started)
    assert len(tracer._stages) == MAX_OPEN
    tracer.on_closed(None, None, "transport")
    spans = exporter.get_finished_spans()
    assert sum(s.name == "vad" for s in spans) == MAX_OPEN + 10  # all ended, none lost
    assert tracer._stages == {}
