"""Session fields end to end: what reaches the model, and what is only echoed.

The model is the scripted LLM with a window on the requests it is sent, so a
field that does something is seen in the request (or in the reply), and a
field accepted without effect is shown to leave the request exactly as it is
without it. Those rows of docs/conformance.md say "accepted without effect".
"""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import pytest
from server_harness import RawClient, audio_bytes, memory_session
from vad_harness import Streamer, configure, silence, speech

from rtagents.engines.base import Engines, LLMChunk, LLMRequest
from rtagents.engines.scripted import (
    MS_PER_CHAR,
    CallTool,
    Rule,
    Say,
    ScriptedLLM,
    ScriptedSTT,
    ScriptedTTS,
    scripted_engines,
    scripted_speech,
)
from rtagents.protocol.audio import PCMA, pcm16_to_wire
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server

TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
RULES = [Rule(when=re.compile("weather"), then=CallTool("get_weather", {"city": "Paris"}))]


class WatchedLLM(ScriptedLLM):
    """The scripted model, keeping every request it is sent (it answers as usual)."""

    def __init__(self) -> None:
        super().__init__(RULES)
        self.requests: list[LLMRequest] = []

    async def stream(self, request: LLMRequest) -> AsyncGenerator[LLMChunk, None]:
        self.requests.append(request)
        async for chunk in super().stream(request):
            yield chunk


@pytest.fixture
def llm() -> WatchedLLM:
    return WatchedLLM()


@pytest.fixture
async def server(llm: WatchedLLM) -> AsyncIterator[RunningServer]:
    engines = Engines(llm=llm, tts=ScriptedTTS(), stt=ScriptedSTT(), name="watched")
    async with running_server(ServerConfig(port=0), engines) as running:
        yield running


async def _update(client: RawClient, **fields: Any) -> Any:
    update = {"type": "session.update", "session": {"type": "realtime", **fields}}
    return (await client.roundtrip(update, "session.updated")).session


async def _turn(client: RawClient, text: str) -> Any:
    """One user text turn and its response; the ``response.done`` response."""
    await client.user_text(text)
    events = await client.respond()
    return next(e for e in events if e.type == "response.done").response


@pytest.mark.conformance(
    "tool_choice=auto",
    "tool_choice=none",
    "tool_choice=required",
    "tool_choice[function]",
    "tool_choice[function].name",
    status="supported",
    client="raw",
    transport="in-process",
    note="reaches the model; none answers in words, required and a named function call it",
)
async def test_tool_choice_reaches_the_model(client: RawClient, llm: WatchedLLM) -> None:
    await _update(client, tools=[TOOL], output_modalities=["text"])
    assert (await _turn(client, "weather?")).output[0].type == "function_call"  # auto
    await _update(client, tool_choice="none")
    assert (await _turn(client, "weather again?")).output[0].type == "message"
    await _update(client, tool_choice="required")
    assert (await _turn(client, "hello")).output[0].name == "get_weather"
    await _update(client, tool_choice={"type": "function", "name": "get_weather"})
    assert (await _turn(client, "hi")).output[0].name == "get_weather"
    assert [r.tool_choice for r in llm.requests] == ["auto", "none", "required", "get_weather"]


@pytest.mark.conformance(
    "max_output_tokens",
    "max_output_tokens=inf",
    status="supported",
    client="raw",
    transport="in-process",
    note="a session limit ends replies incomplete (max_output_tokens); inf sends no limit",
)
async def test_session_max_output_tokens_bounds_every_reply(
    client: RawClient, llm: WatchedLLM
) -> None:
    await _update(client, output_modalities=["text"], max_output_tokens=2)
    response = await _turn(client, "a b c d e f")
    assert (response.status, response.status_details.reason) == ("incomplete", "max_output_tokens")
    await _update(client, max_output_tokens="inf")
    assert (await _turn(client, "a b c d e f")).status == "completed"
    assert [r.max_output_tokens for r in llm.requests] == [2, None]


@pytest.mark.conformance(
    "audio.output.speed",
    status="supported",
    client="raw",
    transport="in-process",
    note="the reply audio is shorter by the speed factor",
)
async def test_speed_changes_how_long_the_reply_speaks(client: RawClient) -> None:
    await client.user_text("abc")
    normal = audio_bytes(await client.respond())
    await _update(client, audio={"output": {"speed": 1.5}})
    fast = audio_bytes(await client.respond())
    assert fast == pytest.approx(normal / 1.5, rel=0.05)


@pytest.mark.conformance(
    "audio.input.format[audio/pcma]",
    "audio.output.format[audio/pcma]",
    status="supported",
    client="raw",
    transport="in-process",
    note="G.711 A-law in is heard, out is 8 bytes per ms",
)
async def test_pcma_in_and_out(client: RawClient) -> None:
    pcma = {"type": "audio/pcma"}
    await _update(client, audio={"input": {"format": pcma}, "output": {"format": pcma}})
    alaw = pcm16_to_wire(scripted_speech("hello"), 24_000, PCMA)
    await client.send(
        {"type": "input_audio_buffer.append", "audio": base64.b64encode(alaw).decode()}
    )
    await client.send({"type": "input_audio_buffer.commit"})
    events = await client.respond()
    spoken = events[-2].response.output[0].content[0].transcript
    assert spoken == "You said: hello"
    assert audio_bytes(events) == pytest.approx(len(spoken) * MS_PER_CHAR * 8, abs=8)


@pytest.mark.conformance(
    "audio.input.turn_detection[semantic_vad].create_response",
    "audio.input.turn_detection[semantic_vad].interrupt_response",
    status="supported",
    client="raw",
    transport="in-process",
    note="create_response false: committed, no reply; interrupt_response false: the reply finishes",
)
async def test_semantic_vad_create_and_interrupt_response() -> None:
    story = " ".join(["A long story goes on."] * 12)
    engines = scripted_engines([Rule("story", Say(story, token_delay_s=0.01))])
    async with running_server(ServerConfig(port=0), engines) as server:
        async with memory_session(server) as client:
            quiet = {"type": "semantic_vad", "eagerness": "high", "create_response": False}
            await configure(client, quiet, output_modalities=["text"])
            stream = Streamer(client)
            await stream.send(speech("Thank you.", lead_ms=100, tail_ms=600))
            await stream.quiet_until("input_audio_buffer.committed")
            await stream.send(silence(200))  # a reply would have started by now
            assert "response.created" not in stream.types()
        async with memory_session(server) as client:
            keep = {"type": "semantic_vad", "eagerness": "high", "interrupt_response": False}
            await configure(client, keep)
            stream = Streamer(client)
            await stream.send(speech("Tell me a story.", lead_ms=100, tail_ms=600))
            await stream.until("response.output_audio.delta")
            await stream.send(speech("hm", tail_ms=0))
            assert len(stream.events("input_audio_buffer.speech_started")) == 2
            assert (await stream.until("response.done")).event.response.status == "completed"


@pytest.mark.conformance(
    "tracing.workflow_name",
    status="supported",
    client="raw",
    transport="in-process",
    note="names the session's OpenTelemetry span (rtagents.tracing.workflow_name)",
)
async def test_tracing_workflow_name_labels_the_session_span() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    config = ServerConfig(port=0, tracer_provider=provider)
    async with running_server(config, scripted_engines()) as server:
        async with memory_session(server) as client:
            await _update(client, tracing={"workflow_name": "support desk"})
            await _turn(client, "hello")
    (root,) = [s for s in exporter.get_finished_spans() if s.parent is None]
    assert root.attributes is not None
    assert root.attributes["rtagents.tracing.workflow_name"] == "support desk"
    exporter.shutdown()


WITHOUT_EFFECT = [
    ("prompt", {"id": "pmpt_123", "version": "2", "variables": {"city": "Paris"}}),
    ("reasoning", {"effort": "minimal"}),
    ("reasoning", {"effort": "low"}),
    ("reasoning", {"effort": "medium"}),
    ("reasoning", {"effort": "high"}),
    ("reasoning", {"effort": "xhigh"}),
    ("parallel_tool_calls", False),
    ("tracing", {"group_id": "g1", "metadata": {"team": "voice"}}),
]


@pytest.mark.conformance(
    "prompt.id",
    "prompt.version",
    "prompt.variables",
    "reasoning.effort=minimal",
    "reasoning.effort=low",
    "reasoning.effort=medium",
    "reasoning.effort=high",
    "reasoning.effort=xhigh",
    "parallel_tool_calls",
    "tracing.group_id",
    "tracing.metadata",
    status="no-effect",
    client="raw",
    transport="in-process",
    note="echoed in session.updated; the model's request is the same as without it",
)
@pytest.mark.parametrize(("name", "value"), WITHOUT_EFFECT)
async def test_fields_without_effect_are_echoed_and_change_no_request(
    server: RunningServer, llm: WatchedLLM, name: str, value: Any
) -> None:
    async with memory_session(server) as plain:
        await _update(plain, tools=[TOOL], output_modalities=["text"])
        baseline = await _turn(plain, "hello")
    async with memory_session(server) as client:
        await _update(client, tools=[TOOL], output_modalities=["text"])
        echoed = await _update(client, **{name: value})
        with_field = await _turn(client, "hello")
    shown = echoed.model_dump(mode="json", exclude_none=True)[name]
    assert shown == value if not isinstance(value, dict) else shown.items() >= value.items()
    first, second = llm.requests
    assert first == second
    assert with_field.output[0].content[0].text == baseline.output[0].content[0].text
