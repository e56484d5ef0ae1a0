"""Drive the browser console in Debian's chromium, headless, from a test.

The browser is the system ``chromium`` (``make browser`` installs it), driven
by the ``playwright`` package with ``executable_path``: Playwright never
downloads a browser here. Its microphone is a WAV file the test writes
(``--use-file-for-fake-audio-capture``), played once from the moment the page
opens it.

Playwright's ``wait_for_function`` evaluates strings with ``eval``, which the
console's Content-Security-Policy forbids (as it should); :func:`wait_for`
polls with ``page.evaluate`` instead, so the page runs under its real policy.
"""

from __future__ import annotations

import asyncio
import shutil
import wave
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, Page, async_playwright

from rtagents.server.app import server_state
from rtagents.server.serving import RunningServer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SKIP_REASON = (
    "chromium is not installed: `make browser` installs Debian's chromium "
    "(`make test` runs it first); this machine could not"
)
POLL_S = 0.1
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / ".artifacts" / "web"


def chromium_flags(audio: Path) -> list[str]:
    """Headless, offline, and a fake microphone that plays ``audio`` once."""
    return [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={audio}%noloop",
        "--autoplay-policy=no-user-gesture-required",
        # The server is on this machine: let ICE use loopback and real addresses.
        "--allow-loopback-in-peer-connection",
        "--disable-features=WebRtcHideLocalIpsWithMdns",
    ]


def silence(seconds: float, rate: int) -> bytes:
    return b"\0\0" * round(rate * seconds)


def write_wav(path: Path, pcm16: bytes, rate: int) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm16)
    return path


@asynccontextmanager
async def console_browser(profile: Path, audio: Path) -> AsyncIterator[BrowserContext]:
    """A fresh chromium profile whose microphone plays ``audio``."""
    assert CHROMIUM is not None
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=chromium_flags(audio),
            viewport={"width": 1280, "height": 1000},
        )
        try:
            yield context
        finally:
            await context.close()


class PageProblems:
    """Uncaught page exceptions and Content-Security-Policy violations, collected."""

    def __init__(self, page: Page) -> None:
        self.problems: list[str] = []
        page.on("pageerror", lambda exc: self.problems.append(f"uncaught: {exc}"))
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text:
            self.problems.append(f"CSP: {message.text}")


async def wait_for(page: Page, expression: str, what: str, timeout_s: float = 20.0) -> Any:
    """Poll ``expression`` until it is truthy; on timeout, say what and show the page state."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        value = await page.evaluate(expression)
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            state = await page.evaluate(
                "({state: rtConsole.state, notice: document.getElementById('notice').textContent,"
                " transcript: document.getElementById('transcript').innerText,"
                " log: [...document.querySelectorAll('#log li')].map(e => e.dataset.type)})"
            )
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}: {state}")
        await asyncio.sleep(POLL_S)


async def transcript_lines(page: Page, role: str) -> list[str]:
    """Final transcript lines of ``role`` (user / assistant), in order."""
    lines: list[str] = await page.evaluate(
        f"[...document.querySelectorAll('#transcript li.{role}.final .text')]"
        ".map(e => e.textContent)"
    )
    return lines


async def mic_seconds(page: Page) -> float:
    """How far the fake microphone's file has played (it starts with getUserMedia)."""
    ms: float = await page.evaluate("performance.now() - rtConsole.micStartedAt")
    return ms / 1000


async def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    await page.screenshot(path=str(path), full_page=True)
    return path


async def open_console(page: Page, server: RunningServer) -> PageProblems:
    problems = PageProblems(page)
    await page.goto(f"{server.http_url}/")
    assert await page.evaluate("rtConsole.state") == "closed"
    return problems


async def connect(page: Page, server: RunningServer, codec: str, lead_s: float) -> PageProblems:
    """Open the console and call with ``codec``; the microphone's speech starts at ``lead_s``."""
    problems = await open_console(page, server)
    # Chrome's voice processing would treat the tone code as noise.
    await page.uncheck("#voice-processing")
    await page.select_option("#codec", codec)
    await page.click("#connect")
    await wait_for(page, "rtConsole.state === 'connected'", "the call to connect")
    assert await mic_seconds(page) < lead_s, "the call connected after the speech began"
    return problems


async def hang_up(page: Page, server: RunningServer, problems: PageProblems) -> None:
    await page.click("#disconnect")
    await wait_for(page, "rtConsole.state === 'closed'", "the call to close", 5)
    # The hang-up reached the server: no session is left behind.
    state = server_state(server.app)
    for _ in range(100):
        if not state.sessions:
            break
        await asyncio.sleep(0.05)
    assert not state.sessions, f"{len(state.sessions)} session(s) open after the page hung up"
    assert problems.problems == []
