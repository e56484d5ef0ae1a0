"""A new session's defaults: turn detection as the hosted API starts it, unless it cannot."""

from __future__ import annotations

from server_harness import memory_session

from rtagents.engines.base import Engines
from rtagents.engines.scripted import ScriptedLLM, ScriptedSTT, ScriptedTTS
from rtagents.server.config import ServerConfig
from rtagents.server.local.session_config import SessionConfig, default_config
from rtagents.server.serving import running_server

HOSTED_SERVER_VAD = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 500,
    "idle_timeout_ms": None,
    "create_response": True,
    "interrupt_response": True,
}


def test_a_realtime_session_listens_for_turns_with_the_hosted_defaults() -> None:
    data = default_config("realtime", "gpt-realtime")
    assert data["audio"]["input"]["turn_detection"] == HOSTED_SERVER_VAD
    config = SessionConfig.initial("realtime", "gpt-realtime")
    assert config.to_model("sess_1").audio.input.turn_detection.model_dump() == HOSTED_SERVER_VAD


def test_without_a_vad_and_for_transcription_it_starts_push_to_talk() -> None:
    no_vad = default_config("realtime", "gpt-realtime", vad_available=False)
    assert no_vad["audio"]["input"]["turn_detection"] is None
    transcription = default_config("transcription", "gpt-realtime")
    assert transcription["audio"]["input"]["turn_detection"] is None


def test_a_default_is_a_fresh_copy_each_time() -> None:
    first = default_config("realtime", "m")
    first["audio"]["input"]["turn_detection"]["threshold"] = 0.9
    assert default_config("realtime", "m")["audio"]["input"]["turn_detection"] == HOSTED_SERVER_VAD


async def test_a_server_without_vad_opens_push_to_talk_sessions() -> None:
    engines = Engines(llm=ScriptedLLM(), tts=ScriptedTTS(), stt=ScriptedSTT(), vad=None)
    async with running_server(ServerConfig(port=0), engines) as server:
        async with memory_session(server, greet=False) as client:
            created = await client.recv()
    assert created.session.audio.input.turn_detection is None
