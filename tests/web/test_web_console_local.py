"""The browser console with the real offline engines, end to end in headless chromium.

The question is spoken by Piper into the fake microphone; the server hears it
with Silero VAD and Whisper (over WebRTC, through Chrome's Opus encoder),
answers with the embedded SmolLM2 and speaks with Piper. What the model says
is not checked (it is a small model), only that a reply is written and heard.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from console_driver import (
    CHROMIUM,
    SKIP_REASON,
    connect,
    console_browser,
    hang_up,
    screenshot,
    silence,
    transcript_lines,
    wait_for,
    write_wav,
)

from rtagents.engines.base import Engines
from rtagents.server.config import ServerConfig
from rtagents.server.serving import running_server

pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason=SKIP_REASON)]

SPOKEN_QUESTION = "What is the weather like today?"
LEAD_S = 3.0  # silence before the question: the call connects meanwhile


async def test_spoken_question_with_local_engines(tmp_path: Path) -> None:
    """The real offline pipeline: a Piper-spoken question, Silero VAD, Whisper, SmolLM2, Piper."""
    from rtagents.engines.local.factory import local_engines
    from rtagents.engines.warmup import close_engines

    engines = local_engines(stt_threads=1, llm_threads=1)
    try:
        spoken = [chunk async for chunk in engines.tts.synthesize(SPOKEN_QUESTION, voice="alloy")]
        rate = engines.tts.sample_rate
        pcm16 = silence(LEAD_S, rate) + b"".join(spoken) + silence(8, rate)
        await _local_turn(write_wav(tmp_path / "spoken.wav", pcm16, rate), engines, tmp_path)
    finally:
        await close_engines(engines)


async def _local_turn(audio: Path, engines: Engines, tmp_path: Path) -> None:
    async with (
        running_server(ServerConfig(port=0), engines) as server,
        console_browser(tmp_path / "profile", audio) as browser,
    ):
        page = await browser.new_page()
        problems = await connect(page, server, "opus", LEAD_S)
        await wait_for(
            page, "document.querySelector('#transcript li.user.final')", "Whisper's words", 30
        )
        heard = " ".join(await transcript_lines(page, "user")).lower()
        assert "weather" in heard, heard
        # SmolLM2 may talk for a long time: its first words and audio are enough,
        # and hanging up mid-reply is worth exercising too.
        await wait_for(
            page,
            "document.querySelector('#transcript li.assistant .text')?.textContent.trim()",
            "the reply's first words",
            30,
        )
        await wait_for(page, "rtConsole.stats.audioEnergyReceived > 0", "reply audio energy", 15)
        # Where the time went, before the long reply is done: the server's stages so far.
        figure = "#stage-bars figure[data-turn='1']"
        await wait_for(
            page,
            f"document.querySelector(\"{figure} .stage[data-stage='first_audio'][data-ms]\")",
            "the server's stage bars up to the first audio",
            15,
        )
        bars = await page.evaluate(
            f'[...document.querySelectorAll("{figure} .stage[data-ms]")]'
            ".map(e => [e.dataset.stage, Number(e.dataset.ms)])"
        )
        print(f"server stages (ms after speech stopped): {bars}")
        reached = dict(bars)
        order = [reached[s] for s in ("first_token", "first_text", "first_audio")]
        assert order == sorted(order), bars
        print(f"console screenshot: {await screenshot(page, 'console-local.png')}")
        await hang_up(page, server, problems)
