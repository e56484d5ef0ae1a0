"""input_image parts reach an --llm-url model that reads images (a real HTTP stub on loopback)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from server_harness import RawClient, memory_session

from rtagents.engines.base import Engines
from rtagents.engines.local.openai_compat import OpenAICompatLLM
from rtagents.engines.scripted import ScriptedSTT, ScriptedTTS
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server

# The stub lives with the engine tests; pytest only puts this file's folder on the path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engines" / "local"))
from llm_stub_server import MODEL, LLMStub, Status, running_stub  # noqa: E402

PNG = (  # one transparent pixel
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8"
    "z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)
TEXT = {"output_modalities": ["text"]}


@pytest.fixture
async def stub() -> AsyncIterator[LLMStub]:
    async with running_stub() as running:
        yield running


@pytest.fixture
async def server(stub: LLMStub) -> AsyncIterator[RunningServer]:
    llm = OpenAICompatLLM(url=stub.url, model=MODEL, connect_timeout_s=2.0)
    engines = Engines(llm=llm, tts=ScriptedTTS(), stt=ScriptedSTT(), name="llm-url")
    async with running_server(ServerConfig(port=0), engines) as running:
        yield running
    await llm.aclose()


@pytest.fixture
async def client(server: RunningServer) -> AsyncIterator[RawClient]:
    async with memory_session(server) as connected:
        yield connected


async def _user_image(client: RawClient, text: str) -> None:
    content = [
        {"type": "input_text", "text": text},
        {"type": "input_image", "image_url": PNG, "detail": "low"},
    ]
    item = {"type": "message", "role": "user", "content": content}
    await client.send({"type": "conversation.item.create", "item": item})
    await client.until("conversation.item.done")


async def test_image_parts_reach_a_model_that_reads_images(
    client: RawClient, stub: LLMStub
) -> None:
    await _user_image(client, "What is in this picture?")
    events = await client.respond(TEXT)
    assert events[-2].response.status == "completed"
    sent = stub.requests[-1]["messages"][-1]
    assert sent == {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is in this picture?"},
            {"type": "image_url", "image_url": {"url": PNG}},
        ],
    }


async def test_a_model_that_refuses_images_fails_the_response_with_its_message(
    client: RawClient, stub: LLMStub
) -> None:
    stub.replies.append(Status(400, "image input is not supported by this model"))
    await _user_image(client, "And this one?")
    events = await client.respond(TEXT)
    done = events[-2].response
    assert done.status == "failed"
    assert "image input is not supported" in done.status_details.error.message
