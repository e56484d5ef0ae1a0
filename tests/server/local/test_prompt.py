"""What one response sends the model: the history fitted by session.truncation, images checked.

The model is the scripted LLM given a small context window, counting in its
own tokens (whitespace words, see engines/token_count.py), and keeping every
request it is sent; the session runs for real over the memory transport.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import pytest
from server_harness import RawClient, memory_session

from rtagents.engines.base import Engines, LLMChunk, LLMRequest
from rtagents.engines.scripted import ScriptedLLM, ScriptedSTT, ScriptedTTS
from rtagents.engines.token_count import message_words, words
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server

TEXT = {"output_modalities": ["text"]}
INSTRUCTIONS = "Answer briefly."
WINDOW = 400  # the model's context, in its tokens
LIMIT = WINDOW - words(INSTRUCTIONS) - WINDOW // 8  # minus instructions and the output reserve


class SmallWindowLLM(ScriptedLLM):
    """The scripted model with a context window; keeps every request it is sent."""

    context_tokens = WINDOW

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[LLMRequest] = []

    async def stream(self, request: LLMRequest) -> AsyncGenerator[LLMChunk, None]:
        self.requests.append(request)
        async for chunk in super().stream(request):
            yield chunk


@pytest.fixture
def llm() -> SmallWindowLLM:
    return SmallWindowLLM()


@pytest.fixture
async def server(llm: SmallWindowLLM) -> AsyncIterator[RunningServer]:
    engines = Engines(llm=llm, tts=ScriptedTTS(), stt=ScriptedSTT(), name="scripted")
    async with running_server(ServerConfig(port=0), engines) as running:
        yield running


@pytest.fixture
async def client(server: RunningServer) -> AsyncIterator[RawClient]:
    async with memory_session(server) as connected:
        yield connected


async def _configure(client: RawClient, truncation: Any) -> None:
    session = {"type": "realtime", "instructions": INSTRUCTIONS, "truncation": truncation}
    await client.roundtrip({"type": "session.update", "session": session}, "session.updated")


def _sentence(turn: int) -> str:
    return f"turn {turn} " + " ".join(f"word{turn}x{i}" for i in range(8))  # ten words


def _conversation_tokens(request: LLMRequest) -> int:
    return sum(message_words(m) for m in request.messages)


@pytest.mark.conformance(
    "truncation[retention_ratio]",
    "truncation[retention_ratio].retention_ratio",
    status="supported",
    client="raw",
    transport="in-process",
    note="the oldest turns are left out in chunks down to the ratio; the cut is kept",
)
async def test_retention_ratio_keeps_the_prompt_under_the_window_and_cuts_in_chunks(
    client: RawClient, llm: SmallWindowLLM
) -> None:
    await _configure(client, {"type": "retention_ratio", "retention_ratio": 0.5})
    for turn in range(40):
        await client.user_text(_sentence(turn))
        events = await client.respond(TEXT)
        done = events[-2].response
        assert done.status == "completed", done.status_details
        request = llm.requests[-1]
        assert request.messages[-1].content == _sentence(turn)  # the newest turn is sent
        assert _conversation_tokens(request) <= LIMIT
        # The scripted model reports its own tokens: the server's count agrees exactly.
        prompt = words(INSTRUCTIONS) + _conversation_tokens(request)
        assert done.usage.input_token_details.text_tokens == prompt
    firsts = [request.messages[0].content for request in llm.requests]
    cuts = sum(1 for a, b in zip(firsts, firsts[1:], strict=False) if a != b)
    # 40 turns of ~22 tokens is ~880 tokens through a 348-token limit: each cut
    # frees at least half of it, so at most ~6 cuts; "auto" would cut ~25 times.
    assert 1 <= cuts <= 6, firsts


@pytest.mark.conformance(
    "truncation=auto",
    status="supported",
    client="raw",
    transport="in-process",
    note="just enough oldest turns are left out to fit the model's window",
)
async def test_auto_drops_only_what_it_must(client: RawClient, llm: SmallWindowLLM) -> None:
    await _configure(client, "auto")
    for turn in range(30):
        await client.user_text(_sentence(turn))
        await client.respond(TEXT)
    sizes = [_conversation_tokens(r) for r in llm.requests]
    assert max(sizes) <= LIMIT
    assert sizes[-1] > LIMIT - 25  # full to the brim: one turn is ~22 tokens


@pytest.mark.conformance(
    "truncation[retention_ratio].token_limits.post_instructions",
    status="supported",
    client="raw",
    transport="in-process",
    note="lowers the limit below the model's",
)
async def test_token_limits_lower_the_limit(client: RawClient, llm: SmallWindowLLM) -> None:
    wire = {"type": "retention_ratio", "retention_ratio": 1.0, "token_limits": {}}
    wire["token_limits"] = {"post_instructions": 60}
    await _configure(client, wire)
    for turn in range(6):
        await client.user_text(_sentence(turn))
        await client.respond(TEXT)
    assert all(_conversation_tokens(r) <= 60 for r in llm.requests)
    assert len(llm.requests[-1].messages) < 12


@pytest.mark.conformance(
    "truncation=disabled",
    status="supported",
    client="raw",
    transport="in-process",
    note="a history over the limit fails the response (context_length_exceeded)",
)
async def test_disabled_fails_the_response_with_context_length_exceeded(
    client: RawClient, llm: SmallWindowLLM
) -> None:
    await _configure(client, "disabled")
    failed = None
    for turn in range(30):
        await client.user_text(_sentence(turn))
        events = await client.respond(TEXT)
        done = events[-2].response
        if done.status == "failed":
            failed = events
            break
        assert len(llm.requests[-1].messages) == 2 * turn + 1  # nothing is ever left out
    assert failed is not None, "the history never overflowed"
    error = next(e for e in failed if e.type == "error").error
    assert error.code == "context_length_exceeded" and '"disabled"' in error.message
    details = failed[-2].response.status_details
    assert details.error.code == "context_length_exceeded"
    assert details.error.type == "invalid_request_error"
    # The session goes on: with truncation back on, the next response answers.
    await _configure(client, "auto")
    assert (await client.respond(TEXT))[-2].response.status == "completed"


async def test_an_image_the_model_cannot_read_fails_the_response_by_name(
    client: RawClient, llm: SmallWindowLLM
) -> None:
    image = {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="}
    item = {"type": "message", "role": "user", "content": [image]}
    await client.send({"type": "conversation.item.create", "item": item})
    item_id = (await client.until("conversation.item.done"))[-1].item.id
    events = await client.respond(TEXT)
    error = next(e for e in events if e.type == "error").error
    assert error.code == "image_input_not_supported"
    assert item_id in error.message and "--llm-url" in error.message
    assert events[-2].response.status == "failed"
    assert llm.requests == []  # never sent without it
    # Deleting the item lets the session answer again.
    await client.send({"type": "conversation.item.delete", "item_id": item_id})
    await client.until("conversation.item.deleted")
    await client.user_text("hello")
    assert (await client.respond(TEXT))[-2].response.status == "completed"


@pytest.mark.parametrize(
    ("truncation", "words_in_message"),
    [
        ({"type": "retention_ratio", "retention_ratio": 1.5}, "between 0.0 and 1.0"),
        (
            {
                "type": "retention_ratio",
                "retention_ratio": 0.5,
                "token_limits": {"post_instructions": 0},
            },
            "positive number of tokens",
        ),
    ],
)
async def test_truncation_out_of_range_is_refused_naming_the_field(
    client: RawClient, truncation: dict[str, Any], words_in_message: str
) -> None:
    session = {"type": "realtime", "truncation": truncation}
    error = await client.error({"type": "session.update", "session": session})
    assert error.param == "session.truncation"
    assert words_in_message in error.message
    await client.user_text("still here")
    assert (await client.respond(TEXT))[-2].response.status == "completed"
