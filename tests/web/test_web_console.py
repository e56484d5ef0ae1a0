"""The browser console (src/rtagents/web), end to end in a real headless chromium.

A real server on loopback, the console page it serves, a WebRTC call from the
page (Opus both ways, events on ``oai-events``), and a microphone that plays
a WAV this test writes. The engines are the scripted model's: the question
is tone-coded speech, which survives the trip through Chrome's Opus encoder
and the server's decoder exactly, so the transcript can be checked word for
word; the server VAD is the scripted set's energy VAD. The reply's audio is
checked by the page's own getStats() counters. The real offline engines make
the same trip in test_web_console_local.py.

Turn 1 is found by server VAD; then the page switches to push to talk and
the test holds the talk button over the second question, timed from when the
microphone file started playing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from console_driver import (
    CHROMIUM,
    SKIP_REASON,
    connect,
    console_browser,
    hang_up,
    mic_seconds,
    open_console,
    screenshot,
    silence,
    transcript_lines,
    wait_for,
    write_wav,
)
from playwright.async_api import Page

from rtagents.engines.scripted import SAMPLE_RATE, scripted_engines, scripted_speech
from rtagents.protocol.errors import (
    _CONNECTION_CODES,
    _MODEL_CODES,
    _SERVER_SIDE_TYPES,
    _TOOL_CODES,
    classify_error_payload,
)
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server

pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason=SKIP_REASON)]

QUESTION = "what is the weather like"
FOLLOW_UP = "thank you very much"
LEAD_S = 3.0  # silence before the question: the call connects meanwhile
FOLLOW_UP_AT_S = 11.0  # turn 1 (VAD, reply audio) is over well before this
PRESS_EARLY_S = 1.0  # the talk button goes down this long before the follow-up


def microphone_audio() -> bytes:
    """The question, a pause long enough for its answer, the follow-up, then silence."""
    question = silence(LEAD_S, SAMPLE_RATE) + scripted_speech(QUESTION)
    gap = silence(FOLLOW_UP_AT_S, SAMPLE_RATE)[len(question) :]
    return question + gap + scripted_speech(FOLLOW_UP) + silence(1.5, SAMPLE_RATE)


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    async with running_server(ServerConfig(port=0), scripted_engines()) as running:
        yield running


async def test_spoken_turns_over_webrtc(server: RunningServer, tmp_path: Path) -> None:
    audio = write_wav(tmp_path / "question.wav", microphone_audio(), SAMPLE_RATE)
    async with console_browser(tmp_path / "profile", audio) as browser:
        page = await browser.new_page()
        problems = await connect(page, server, "opus", LEAD_S)
        await _server_vad_turn(page, "opus 48000 Hz")
        await _check_stage_bars(page, 1, "speech_stopped")
        await _push_to_talk_turn(page)
        await _check_stage_bars(page, 2, "committed")
        print(f"console screenshot: {await screenshot(page, 'console.png')}")
        await _event_log_checks(page)
        await hang_up(page, server, problems)


@pytest.mark.parametrize(("codec", "wire"), [("pcmu", "PCMU 8000 Hz"), ("pcma", "PCMA 8000 Hz")])
async def test_g711_call(server: RunningServer, tmp_path: Path, codec: str, wire: str) -> None:
    """The codec choice reaches the SDP (setCodecPreferences) and the session's formats."""
    question = silence(LEAD_S, SAMPLE_RATE) + scripted_speech(QUESTION) + silence(3, SAMPLE_RATE)
    audio = write_wav(tmp_path / "question.wav", question, SAMPLE_RATE)
    async with console_browser(tmp_path / "profile", audio) as browser:
        page = await browser.new_page()
        problems = await connect(page, server, codec, LEAD_S)
        await _server_vad_turn(page, wire)
        formats = await page.evaluate("rtConsole.session.audio")
        assert (
            formats["input"]["format"] == formats["output"]["format"] == {"type": f"audio/{codec}"}
        )
        await hang_up(page, server, problems)


async def _server_vad_turn(page: Page, wire_codec: str) -> None:
    await wait_for(
        page, "document.querySelector('#transcript li.user.final')", "the question's transcript"
    )
    assert await transcript_lines(page, "user") == [QUESTION]
    await wait_for(
        page, "rtConsole.counts['output_audio_buffer.stopped'] >= 1", "the reply to be played"
    )
    assert await transcript_lines(page, "assistant") == [f"You said: {QUESTION}"]
    # The reply's audio arrived as RTP, and was not silence.
    await wait_for(page, "rtConsole.stats.audioEnergyReceived > 0", "reply audio energy", 5)
    stats = await page.evaluate("rtConsole.stats")
    assert stats["packetsReceived"] > 0 and stats["samplesReceived"] > 0
    assert stats["codecSent"] == stats["codecReceived"] == wire_codec
    row = await page.inner_text("#latency-body tr[data-turn='1']")
    assert "speech_stopped" in row and row.count(" ms") == 3, row


async def _stage_bars(page: Page, turn: int) -> tuple[str, dict[str, float | None]]:
    """The server-marks figure of ``turn`` once drawn: its origin, and each bar's ms (or None)."""
    figure = f"#stage-bars figure[data-turn='{turn}']"
    await wait_for(
        page,
        f"document.querySelector(\"{figure} .stage[data-stage='first_audio'][data-ms]\")"
        f" && document.querySelector(\"{figure} .stage[data-stage='done'][data-ms]\")"
        f" && document.querySelector(\"{figure} .stage[data-stage='heard']\")",
        f"turn {turn}'s stage bars with first audio, done and heard",
        15,
    )
    origin: str = await page.get_attribute(figure, "data-origin") or ""
    bars: dict[str, float | None] = await page.evaluate(
        "(figure) => Object.fromEntries([...document.querySelectorAll(`${figure} .stage`)]"
        ".map(e => [e.dataset.stage, e.dataset.ms === undefined ? null : Number(e.dataset.ms)]))",
        figure,
    )
    return origin, bars


async def _check_stage_bars(page: Page, turn: int, origin: str) -> None:
    """Every stage drawn, in pipeline order; the page heard the reply after its first text."""
    drawn_origin, bars = await _stage_bars(page, turn)
    assert drawn_origin == origin
    stages = ["transcript_final", "first_token", "first_text", "first_audio", "done", "heard"]
    assert list(bars) == stages, bars
    assert None not in bars.values(), bars
    order = [bars[s] for s in ("transcript_final", "first_token", "first_text", "first_audio")]
    assert order == sorted(order), bars  # first audio may follow done on a call: not compared
    assert bars["first_text"] <= bars["done"], bars  # type: ignore[operator]
    # The text is measured at its first delta, not after synthesis: it comes before the
    # reply is heard, and the first LLM token before it.
    marks = await page.evaluate(f"rtConsole.latency[{turn - 1}].marks")
    assert 0 <= marks["text"] < marks["audio"], marks
    widths = await page.evaluate(
        f"[...document.querySelectorAll(\"#stage-bars figure[data-turn='{turn}'] .bar\")]"
        ".map(e => e.getBoundingClientRect().width)"
    )
    assert len(widths) == len(stages) and max(widths) > 0, widths  # the bars are drawn


async def _push_to_talk_turn(page: Page) -> None:
    await page.check("input[value='push_to_talk']")
    await wait_for(page, "rtConsole.session.audio.input.turn_detection === null", "PTT applied")
    press_at = FOLLOW_UP_AT_S - PRESS_EARLY_S
    waited = await mic_seconds(page)
    assert waited < press_at, f"turn 1 took until {waited:.1f} s of the file; too slow to go on"
    await asyncio.sleep(press_at - waited)
    await page.hover("#talk")
    await page.mouse.down()
    assert await page.get_attribute("#talk", "aria-pressed") == "true"
    follow_up_end = FOLLOW_UP_AT_S + len(scripted_speech(FOLLOW_UP)) / 2 / SAMPLE_RATE
    await asyncio.sleep(follow_up_end + 0.3 - await mic_seconds(page))
    await page.mouse.up()
    await wait_for(page, "rtConsole.counts['response.done'] >= 2", "the push-to-talk reply", 15)
    assert await transcript_lines(page, "user") == [QUESTION, FOLLOW_UP]
    assert (await transcript_lines(page, "assistant"))[1] == f"You said: {FOLLOW_UP}"
    row = await page.inner_text("#latency-body tr[data-turn='2']")
    assert "push_to_talk" in row, row


async def _event_log_checks(page: Page) -> None:
    entries = await page.evaluate(
        "[...document.querySelectorAll('#log li')].map(e => [e.classList[1], e.dataset.type])"
    )
    assert ["in", "session.created"] in entries
    assert ["out", "session.update"] in entries
    assert ["out", "input_audio_buffer.commit"] in entries
    assert ["out", "response.create"] in entries
    assert await page.locator("#log li.error").count() == 0
    # An entry opens to its JSON.
    first = page.locator("#log li[data-type='session.created'] details").first
    await first.locator("summary").click()
    assert '"type": "session.created"' in await first.locator("pre").inner_text()


async def test_error_categories_match_python(server: RunningServer, tmp_path: Path) -> None:
    """errors.js is a port of classify_error_payload: same answer for every known name."""
    audio = write_wav(tmp_path / "silence.wav", silence(0.5, SAMPLE_RATE), SAMPLE_RATE)
    codes = [None, "invalid_value", *_MODEL_CODES, *_CONNECTION_CODES, *_TOOL_CODES]
    types = [None, "invalid_request_error", *_SERVER_SIDE_TYPES]
    cases = [[t, c] for t in types for c in codes]
    async with console_browser(tmp_path / "profile", audio) as browser:
        page = await browser.new_page()
        await open_console(page, server)
        got = await page.evaluate(
            "async (cases) => { const m = await import('/console/errors.js');"
            " return cases.map(([t, c]) => m.classifyError(t, c)); }",
            cases,
        )
    expected = [str(classify_error_payload(t, c)) for t, c in cases]
    drift = [(case, js, py) for case, js, py in zip(cases, got, expected, strict=True) if js != py]
    assert not drift, f"src/rtagents/web/errors.js is behind protocol/errors.py: {drift}"


async def test_server_hang_up_closes_the_page(server: RunningServer, tmp_path: Path) -> None:
    audio = write_wav(tmp_path / "silence.wav", silence(LEAD_S, SAMPLE_RATE), SAMPLE_RATE)
    async with console_browser(tmp_path / "profile", audio) as browser:
        page = await browser.new_page()
        problems = await connect(page, server, "opus", LEAD_S)
        call_id = await page.evaluate("rtConsole.callId")
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            hung_up = await http.post(
                f"/v1/realtime/calls/{call_id}/hangup",
                headers={"Authorization": f"Bearer {server.api_key}"},
            )
        assert hung_up.status_code == 200, hung_up.text
        await wait_for(page, "rtConsole.state === 'closed'", "the page to see the hang-up", 10)
        assert await page.locator("#log li[data-type='console.hangup']").count() == 1
        assert await page.is_enabled("#connect")
        assert problems.problems == []


async def test_refused_secret_shows_failed_with_category(tmp_path: Path) -> None:
    audio = write_wav(tmp_path / "silence.wav", silence(0.5, SAMPLE_RATE), SAMPLE_RATE)
    config = ServerConfig(port=0, console=False)
    async with (
        running_server(config, scripted_engines()) as server,
        console_browser(tmp_path / "profile", audio) as browser,
    ):
        page = await browser.new_page()
        problems = await open_console(page, server)
        await page.click("#connect")
        await wait_for(page, "rtConsole.state === 'failed'", "the refusal", 5)
        assert "console_disabled" in await page.inner_text("#log li.error")
        assert await page.get_attribute("#log li.error", "data-category") == "connection"
        assert "connection error" in await page.inner_text("#notice")
        assert await page.is_enabled("#connect")
        assert problems.problems == []
