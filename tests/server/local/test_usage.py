"""response.done usage: text by the model's tokenizer, audio in and out at the hosted rates."""

from __future__ import annotations

import base64
import math
from collections.abc import AsyncIterator

import pytest
from server_harness import RawClient, memory_session

from rtagents.engines.scripted import scripted_engines, scripted_speech
from rtagents.server.config import ServerConfig
from rtagents.server.local.usage import TokenCounts, audio_tokens
from rtagents.server.serving import RunningServer, running_server

PCM_BYTES_PER_MS = 48  # pcm16 at 24 kHz


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    async with running_server(ServerConfig(port=0), scripted_engines()) as running:
        yield running


@pytest.fixture
async def client(server: RunningServer) -> AsyncIterator[RawClient]:
    async with memory_session(server) as connected:
        yield connected


def test_rates_and_sums() -> None:
    assert [audio_tokens(ms, 100) for ms in (0, 1, 100, 101, 1000)] == [0, 1, 1, 2, 10]
    counts = TokenCounts(text_in=10, cached_in=4, audio_in=7, text_out=3, audio_out=20)
    wire = counts.to_wire()
    assert (wire["input_tokens"], wire["output_tokens"], wire["total_tokens"]) == (17, 23, 40)
    assert wire["input_token_details"]["cached_tokens"] == 4


async def test_audio_in_and_out_is_counted_at_the_hosted_rates(client: RawClient) -> None:
    await client.say("what is the weather like")
    user_ms = len(scripted_speech("what is the weather like")) / PCM_BYTES_PER_MS
    events = await client.respond()  # audio out
    usage = events[-2].response.usage
    spoken = [e for e in events if e.type == "response.output_audio.delta"]
    reply_ms = sum(len(base64.b64decode(e.delta)) for e in spoken) / PCM_BYTES_PER_MS
    assert reply_ms > 0
    assert usage.input_token_details.audio_tokens == math.ceil(user_ms / 100)  # 1 per 100 ms
    assert usage.output_token_details.audio_tokens == math.ceil(reply_ms / 50)  # 1 per 50 ms
    assert usage.input_tokens == (
        usage.input_token_details.text_tokens + usage.input_token_details.audio_tokens
    )
    assert usage.output_token_details.text_tokens > 0  # the transcript the model wrote
    # Next turn, the assistant's audio is part of the input, at its own rate.
    await client.user_text("thanks")
    usage = (await client.respond({"output_modalities": ["text"]}))[-2].response.usage
    expected = math.ceil(user_ms / 100) + math.ceil(reply_ms / 50)
    assert usage.input_token_details.audio_tokens == expected
    assert usage.output_token_details.audio_tokens == 0
