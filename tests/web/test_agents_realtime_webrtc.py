"""``@openai/agents-realtime`` in headless chromium, over WebRTC, on our server.

The SDK's own browser bundle (installed by tests/node/package-lock.json, not
modified) runs in a page served by the server's origin, with its WebRTC
transport: it posts the SDP offer to ``/v1/realtime/calls`` with an ``ek_``
secret the test minted, talks on the ``oai-events`` channel and plays the
reply from the Opus track. The microphone is a file of silence, so the turn
is the text message the SDK sends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from console_driver import CHROMIUM, SKIP_REASON, console_browser, silence, write_wav

from rtagents.engines.scripted import SAMPLE_RATE, scripted_engines
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server

BUNDLE = (
    Path(__file__).resolve().parents[1]
    / "node/node_modules/@openai/agents-realtime/dist/bundle/openai-realtime-agents.umd.js"
)
WAIT_S = 60.0  # generous: chromium start, ICE and DTLS on a loaded 2-core machine

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason=SKIP_REASON),
    pytest.mark.skipif(
        not BUNDLE.is_file(), reason="tests/node is not installed (make node runs npm ci)"
    ),
]

START = """
async ([url, key]) => {
  const { RealtimeAgent, RealtimeSession } = OpenAIAgentsRealtime;
  const agent = new RealtimeAgent({ name: 'assistant', instructions: 'Answer briefly.' });
  const session = new RealtimeSession(agent, { transport: 'webrtc', model: 'gpt-realtime' });
  window.seen = [];
  window.errors = [];
  session.transport.on('*', (event) => window.seen.push(event.type));
  session.on('error', (event) => window.errors.push(JSON.stringify(event.error ?? event)));
  await session.connect({ apiKey: key, url });
  window.rtSession = session;
  session.sendMessage('hello from the browser');
}
"""
REPLY = """
() => window.rtSession.history.filter((item) => item.role === 'assistant')
  .flatMap((item) => item.content.map((part) => part.transcript ?? part.text ?? ''))
"""


# What the SDK must have received for the turn (all of it on the oai-events channel).
SERVER_EVENTS = (
    "session.created",
    "conversation.created",
    "session.updated",
    "conversation.item.added",
    "conversation.item.done",
    "response.created",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_audio_transcript.delta",
    "response.output_audio_transcript.done",
    "response.output_audio.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.done",
    "rate_limits.updated",
    "output_audio_buffer.started",
    "output_audio_buffer.stopped",
)


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    async with running_server(ServerConfig(port=0), scripted_engines()) as running:
        yield running


async def _client_secret(server: RunningServer) -> str:
    async with httpx.AsyncClient() as http:
        minted = await http.post(
            f"{server.http_url}/v1/realtime/client_secrets",
            json={"session": {"type": "realtime"}},
            headers={"Authorization": f"Bearer {server.api_key}"},
        )
    value: str = minted.json()["value"]
    return value


async def _until(page: Any, expression: str, what: str) -> Any:
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while True:
        value = await page.evaluate(expression)
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            state = await page.evaluate("({seen: window.seen, errors: window.errors})")
            raise AssertionError(f"timed out waiting for {what}: {state}")
        await asyncio.sleep(0.1)


@pytest.mark.conformance(
    "session.update",
    "conversation.item.create",
    "response.create",
    *SERVER_EVENTS,
    "instructions",
    status="supported",
    client="agents-realtime",
    transport="webrtc",
    note="the SDK's browser bundle in chromium: ek_ secret, SDP offer, oai-events, Opus track",
)
async def test_agents_realtime_in_the_browser_runs_a_turn_over_webrtc(
    server: RunningServer, tmp_path: Path
) -> None:
    microphone = write_wav(tmp_path / "silence.wav", silence(30, SAMPLE_RATE), SAMPLE_RATE)
    key = await _client_secret(server)
    async with console_browser(tmp_path / "profile", microphone) as browser:
        page = await browser.new_page()
        await page.goto(f"{server.http_url}/healthz")
        await page.add_script_tag(path=str(BUNDLE))
        await page.evaluate(START, [f"{server.http_url}/v1/realtime/calls", key])
        await _until(page, "window.seen.includes('output_audio_buffer.stopped')", "the reply")
        replies = await _until(page, REPLY, "the reply in the SDK's history")
        seen = await page.evaluate("window.seen")
        errors = await page.evaluate("window.errors")
        await page.evaluate("window.rtSession.close()")
    assert errors == []
    assert "You said: hello from the browser" in " ".join(replies)
    assert set(SERVER_EVENTS) <= set(seen), seen
