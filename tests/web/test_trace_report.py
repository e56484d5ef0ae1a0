"""``rtagents trace --html`` in headless chromium: the plots render, offline, in their colours.

The report is opened from a file with the network unused (every request the
page makes is collected; only the file itself may be loaded). Each plot is
screenshotted as an element and the browser itself decodes the PNG in a
blank page, counting the pixels painted in each stage's colour: a plot that
did not render (an SVG error, zero size, a blocked style) has none.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from console_driver import ARTIFACTS, CHROMIUM, SKIP_REASON
from playwright.async_api import async_playwright

from rtagents.cli.main import main
from rtagents.observability.recording import RecordingWriter
from rtagents.observability.trace_svg import CATEGORY_COLOURS, STAGE_COLOURS, STATUS_COLOURS

pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason=SKIP_REASON)]

COUNT_COLOURS = """
async ([png, colours]) => {
  const bytes = Uint8Array.from(atob(png), (c) => c.charCodeAt(0));
  const bitmap = await createImageBitmap(new Blob([bytes], {type: "image/png"}));
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = canvas.getContext("2d");
  context.drawImage(bitmap, 0, 0);
  const data = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
  const wanted = colours.map((hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)));
  const counts = colours.map(() => 0);
  for (let i = 0; i < data.length; i += 4) {
    wanted.forEach(([r, g, b], k) => {
      if (Math.abs(data[i] - r) <= 3 && Math.abs(data[i + 1] - g) <= 3
          && Math.abs(data[i + 2] - b) <= 3) counts[k] += 1;
    });
  }
  return {width: bitmap.width, height: bitmap.height, counts};
}
"""


def _voice_session(path: Path) -> Path:
    """Two spoken turns with every stage, the second answered by a failed response."""
    now = [0.0]
    writer = RecordingWriter(path, side="client", clock=lambda: now[0])

    def at(t: float, event: dict[str, object]) -> None:
        now[0] = t
        writer.event("received", event)

    for turn, start in enumerate((0.0, 3.0), start=1):
        item, response = f"item_{turn}", f"resp_{turn}"
        at(start, {"type": "input_audio_buffer.speech_started", "item_id": item})
        at(start + 1.0, {"type": "input_audio_buffer.speech_stopped", "item_id": item})
        at(start + 1.05, {"type": "response.created", "response": {"id": response}})
        at(
            start + 1.15,
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": item,
                "transcript": "where is my order",
            },
        )
        now[0] = start + 1.3
        writer.mark("first_token", response_id=response)
        delta = {"response_id": response, "item_id": f"{item}_reply", "content_index": 0}
        at(start + 1.45, {"type": "response.output_audio_transcript.delta", **delta, "delta": "Hi"})
        at(start + 1.7, {"type": "response.output_audio.delta", **delta, "delta": "AAAA"})
        status = "completed" if turn == 1 else "failed"
        at(start + 2.5, {"type": "response.done", "response": {"id": response, "status": status}})
    writer.close()
    return path


async def test_the_html_report_renders_its_plots_offline(tmp_path: Path) -> None:
    assert CHROMIUM is not None
    report = tmp_path / "report.html"
    assert (
        main(["trace", str(_voice_session(tmp_path / "voice.jsonl")), "--html", str(report)]) == 1
    )
    requests: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = await browser.new_page(viewport={"width": 1100, "height": 900})
            page.on("request", lambda request: requests.append(request.url))
            problems: list[str] = []
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            await page.goto(report.as_uri())
            shots = {
                name: await page.locator(f"svg#{name}").screenshot()
                for name in ("waterfall", "timeline")
            }
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "trace_report.png"), full_page=True)
            blank = await browser.new_page()
            counted = {
                name: await blank.evaluate(
                    COUNT_COLOURS, [base64.b64encode(png).decode(), _colours(name)]
                )
                for name, png in shots.items()
            }
        finally:
            await browser.close()
    assert requests == [report.as_uri()], requests  # nothing but the file itself
    assert problems == []
    waterfall = dict(zip(_colours("waterfall"), counted["waterfall"]["counts"], strict=True))
    assert counted["waterfall"]["width"] >= 900, counted
    for stage, colour in STAGE_COLOURS.items():
        assert waterfall[colour] > 100, f"the {stage} bars are not painted: {json.dumps(counted)}"
    timeline = dict(zip(_colours("timeline"), counted["timeline"]["counts"], strict=True))
    assert timeline[STATUS_COLOURS["completed"]] > 100, counted  # the first response's bar
    assert timeline[CATEGORY_COLOURS["model"]] > 20, counted  # the failed response's tick


def _colours(plot: str) -> list[str]:
    if plot == "waterfall":
        return list(STAGE_COLOURS.values())
    return [STATUS_COLOURS["completed"], CATEGORY_COLOURS["model"]]
