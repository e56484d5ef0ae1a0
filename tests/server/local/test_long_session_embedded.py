"""A long session on the embedded SmolLM2 keeps answering: the history is fitted to its 4k window.

``make test`` runs a 12-turn slice with ``token_limits.post_instructions``
lowered to 160 tokens, so the cut happens several times in seconds of model
time (about a minute on a loaded two-core machine). ``RTAGENTS_LONG_SESSION=1``
runs the full 300 turns against the model's real window (4,096 tokens; the
history, ~30 tokens a turn, overflows it past turn 130): 37 min on the shared
two-core machine at load average 7-9 (2026-12-06).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from server_harness import memory_session

from rtagents.engines.base import Engines
from rtagents.engines.local.embedded_llm import EmbeddedLLM
from rtagents.engines.scripted import ScriptedSTT, ScriptedTTS
from rtagents.server.config import ServerConfig
from rtagents.server.serving import running_server

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.timeout(3600 if os.environ.get("RTAGENTS_LONG_SESSION") == "1" else 400),
]

FULL = os.environ.get("RTAGENTS_LONG_SESSION") == "1"
TURNS = 300 if FULL else 12
POST_INSTRUCTIONS = 160  # the slice's limit
MAX_OUTPUT = 12


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def llm() -> AsyncIterator[EmbeddedLLM]:
    engine = EmbeddedLLM(threads=2)
    await engine.warm_up()
    yield engine
    await engine.aclose()


async def test_a_long_session_keeps_answering(llm: EmbeddedLLM) -> None:
    truncation: dict[str, object] = {"type": "retention_ratio", "retention_ratio": 0.5}
    if not FULL:
        truncation["token_limits"] = {"post_instructions": POST_INSTRUCTIONS}
    session = {
        "type": "realtime",
        "instructions": "You are a helpful assistant. Answer in one short sentence.",
        "output_modalities": ["text"],
        "max_output_tokens": MAX_OUTPUT,
        "truncation": truncation,
    }
    engines = Engines(llm=llm, tts=ScriptedTTS(), stt=ScriptedSTT(), name="local")
    inputs, cached = [], []
    async with (
        running_server(ServerConfig(port=0), engines) as server,
        memory_session(server) as client,
    ):
        await client.roundtrip({"type": "session.update", "session": session}, "session.updated")
        for turn in range(TURNS):
            await client.user_text(f"Question {turn}: name an animal that lives in the sea.")
            events = await client.respond()
            done = events[-2].response
            assert done.status in ("completed", "incomplete"), (turn, done.status_details)
            text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
            assert text.strip(), f"turn {turn} got no answer"
            details = done.usage.input_token_details
            inputs.append(details.text_tokens)
            cached.append(details.cached_tokens)
    window = llm.context_tokens - MAX_OUTPUT
    assert max(inputs) <= (window if FULL else POST_INSTRUCTIONS + 60)  # 60: the instructions
    # The history was cut (the prompt shrank) more than once, but not at every turn:
    cuts = sum(1 for a, b in zip(inputs, inputs[1:], strict=False) if b < a)
    assert 2 <= cuts <= TURNS // 3, inputs
    # Between cuts the prefix stays the same, so most turns read it from llama.cpp's cache.
    assert sum(1 for c in cached if c > 0) >= TURNS // 2, cached
