"""``POST /v1/chat/completions`` on the embedded SmolLM2, with and without scenario rules.

The supervisor of the chat_supervisor scenario runs exactly like this offline:
rules pick its tool call, the embedded model words the answer.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from openai import AsyncOpenAI

from rtagents.engines.base import Engines
from rtagents.engines.local.embedded_llm import EmbeddedLLM
from rtagents.engines.scripted import ScriptedTTS
from rtagents.server.config import ServerConfig
from rtagents.server.serving import running_server

pytestmark = pytest.mark.asyncio(loop_scope="module")

SUPERVISOR_RULES = Path(__file__).resolve().parents[2] / "examples/chat_supervisor/rules.toml"
TOOLS = [
    {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}
    for name in ("get_user_account_info", "lookup_policy_document", "find_nearest_store")
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def engines() -> AsyncIterator[Engines]:
    llm = EmbeddedLLM(threads=2)
    await llm.warm_up()
    yield Engines(llm=llm, tts=ScriptedTTS(), name="embedded")
    await llm.aclose()


async def test_the_embedded_model_answers_streamed(engines: Engines) -> None:
    async with running_server(ServerConfig(port=0), engines) as server:
        client = AsyncOpenAI(base_url=f"{server.http_url}/v1", api_key=server.api_key)
        try:
            stream = await client.chat.completions.create(
                model="smollm2",
                messages=[
                    {"role": "system", "content": "Answer in one short sentence."},
                    {"role": "user", "content": "What is the capital of France?"},
                ],
                max_tokens=16,
                stream=True,
                stream_options={"include_usage": True},
            )
            chunks = [chunk async for chunk in stream]
        finally:
            await client.close()
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    usage = chunks[-1].usage
    assert usage is not None and 0 < usage.completion_tokens <= 16 and usage.prompt_tokens > 5


async def test_rules_choose_the_tool_and_the_model_words_the_result(engines: Engines) -> None:
    config = ServerConfig(port=0, scenario_rules=str(SUPERVISOR_RULES))
    async with running_server(config, engines) as server:
        client = AsyncOpenAI(base_url=f"{server.http_url}/v1", api_key=server.api_key)
        messages: list[dict[str, object]] = [
            {"role": "system", "content": "You are a telecom supervisor. Be brief."},
            {"role": "user", "content": "Why is my bill so high? My number is 206-555-0123."},
        ]
        try:
            first = await client.chat.completions.create(
                model="smollm2",
                messages=messages,  # type: ignore[arg-type]
                tools=TOOLS,  # type: ignore[arg-type]
            )
            calls = first.choices[0].message.tool_calls or []
            assert [c.function.name for c in calls] == ["get_user_account_info"]
            assert json.loads(calls[0].function.arguments) == {"phone_number": "206-555-0123"}
            messages.append(first.choices[0].message.model_dump(exclude_none=True))
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": calls[0].id,
                    "content": "Balance 84 dollars, including a 20 dollar roaming charge.",
                }
            )
            second = await client.chat.completions.create(
                model="smollm2",
                messages=messages,  # type: ignore[arg-type]
                tools=TOOLS,  # type: ignore[arg-type]
                max_tokens=24,
            )
        finally:
            await client.close()
    assert second.choices[0].finish_reason == "stop"
    assert (second.choices[0].message.content or "").strip()  # worded by SmolLM2
