"""The console's scenario picker, text input and breadcrumbs, in a real headless chromium.

A real server runs the customer-service scenario's rules with the scripted
engines; the page picks that scenario (from ``/healthz``), types the caller's
lines, and the test checks what a person would see: the active agent, the
handoff applied by the page, each tool call waiting for approve / reject with
its result, and the brand guardrail's chip on an off-brand reply. The
microphone plays silence, so every turn is typed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from console_driver import (
    CHROMIUM,
    SKIP_REASON,
    connect,
    console_browser,
    hang_up,
    open_console,
    screenshot,
    silence,
    transcript_lines,
    wait_for,
    write_wav,
)
from playwright.async_api import Page

from rtagents.engines.scripted import SAMPLE_RATE, scripted_engines
from rtagents.scenarios import SCENARIOS
from rtagents.scenarios.brand_guardrail import CATEGORIES, classify
from rtagents.scenarios.customer_service_retail import VERIFY
from rtagents.server.config import ServerConfig
from rtagents.server.serving import RunningServer, running_server

pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason=SKIP_REASON)]
RETAIL = SCENARIOS["customer_service_retail"]
LEAD_S = 120.0  # the microphone plays only silence


@pytest.fixture
async def server() -> AsyncIterator[RunningServer]:
    config = ServerConfig(port=0, scenario_rules=str(RETAIL.rules_file))
    async with running_server(config, scripted_engines()) as running:
        yield running


async def test_a_typed_retail_call_with_handoff_approvals_and_a_guardrail_chip(
    server: RunningServer, tmp_path: Path
) -> None:
    audio = write_wav(tmp_path / "silence.wav", silence(LEAD_S, SAMPLE_RATE), SAMPLE_RATE)
    async with console_browser(tmp_path / "profile", audio) as browser:
        page = await browser.new_page()
        await open_console(page, server)
        await wait_for(page, "rtConsole.scenariosLoaded", "the scenario catalogue")
        # The picker follows the server's rules file, shown with its label.
        assert await page.input_value("#scenario") == RETAIL.name
        rules = await page.inner_text("#scenario-rules")
        assert "customer_service_retail.toml" in rules and "rule-driven" in rules
        problems = await connect(page, server, "opus", LEAD_S)
        assert await _crumbs(page, "agent") == ["agent: authentication"]

        await _type(page, VERIFY)
        await _approve(page, "authenticate_user", "Thanks Maya, you're verified.")
        await _assistant_says(page, "Thanks Maya, you're verified.")

        await _type(page, "I'd like to buy a new snowboard.")
        await wait_for(page, "rtConsole.agent === 'sales'", "the handoff to sales")
        await _assistant_says(page, "Sales here. What are you looking for today?")
        assert await _crumbs(page, "agent") == [
            "agent: authentication",
            "agent: authentication \u2192 sales",
        ]

        await _type(page, "Do you have any deals on goggles?")
        await _approve(page, "find_deals", "Half price goggles, better than Frostline ones.")
        await _assistant_says(page, "Half price goggles, better than Frostline ones.")
        chip = page.locator("#transcript li.chip.guardrail")
        await wait_for(page, "document.querySelector('#transcript li.chip')", "the chip")
        assert await chip.get_attribute("data-label") == "OFF_BRAND"
        assert "brand_safety" in await chip.inner_text()

        await _type(page, "Please add the powder glide snowboard to my cart.")
        prompt = await _prompt(page, "add_to_cart")
        await prompt.locator("button.reject").click()
        assert await prompt.get_attribute("data-decision") == "rejected"
        await wait_for(
            page,
            "[...document.querySelectorAll('#transcript li.crumb.result')]"
            ".some(e => e.textContent.includes('rejected by the console user'))",
            "the rejection's result",
        )
        results = await _crumbs(page, "result")
        assert len(results) == 4  # authenticate, handoff, find_deals, add_to_cart: once each
        await screenshot(page, "console-scenario.png")
        assert await page.locator("#log li.error").count() == 0
        await hang_up(page, server, problems)


async def test_the_console_classifier_agrees_with_the_python_one(
    server: RunningServer, tmp_path: Path
) -> None:
    texts = [
        "Our boards are great.",
        "Frostline makes better boots.",
        "frostliner is not a brand",
        "Don't be stupid.",
        "I will punch the stupid wall.",
        "overpriced junk everywhere",
    ]
    audio = write_wav(tmp_path / "silence.wav", silence(1.0, SAMPLE_RATE), SAMPLE_RATE)
    async with console_browser(tmp_path / "profile", audio) as browser:
        page = await browser.new_page()
        await open_console(page, server)
        labels = await page.evaluate(
            "async ([texts, categories]) => { const m = await import('/console/scenario.js');"
            " return texts.map((t) => m.classify(t, categories).label); }",
            [texts, [[label, list(words)] for label, words in CATEGORIES]],
        )
    assert labels == [classify(text)[0] for text in texts]


async def _type(page: Page, text: str) -> None:
    await page.fill("#text-input", text)
    await page.click("#send-text")


async def _prompt(page: Page, tool: str) -> object:
    selector = f"#transcript li.approval[data-tool='{tool}']"
    await wait_for(page, f'document.querySelector("{selector}")', f"{tool}'s approval prompt")
    return page.locator(selector)


async def _approve(page: Page, tool: str, output: str) -> None:
    prompt = await _prompt(page, tool)
    await prompt.locator("input.tool-output").fill(output)  # type: ignore[attr-defined]
    await prompt.locator("button.approve").click()  # type: ignore[attr-defined]


async def _assistant_says(page: Page, text: str) -> None:
    await wait_for(
        page,
        f"[...document.querySelectorAll('#transcript li.assistant.final .text')]"
        f".some(e => e.textContent === {text!r})",
        f"the assistant to say {text!r}",
    )
    assert text in await transcript_lines(page, "assistant")


async def _crumbs(page: Page, kind: str) -> list[str]:
    found: list[str] = await page.evaluate(
        f"[...document.querySelectorAll('#transcript li.crumb.{kind}')].map(e => e.textContent)"
    )
    return found
