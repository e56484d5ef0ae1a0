"""``python examples/<name>/agents.py``: the scripted calls typed into a server already running."""

from __future__ import annotations

import pytest
from scenario_kit import scenario_server

from rtagents.scenarios import ServerLink
from rtagents.scenarios.live import main, play_scenario


async def test_the_example_entry_plays_every_call_and_prints_the_transcript(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with scenario_server("customer_service_retail") as server:
        link = ServerLink(server.http_url, server.api_key)
        assert await play_scenario("customer_service_retail", link) == 0
    out = capsys.readouterr().out
    assert out.count("call: ") == 2
    assert "approval:    process_return: approved" in out
    assert "guardrail:   brand_safety:" in out
    assert "agent:       sales -> human_agent" in out


def test_the_example_entry_needs_an_api_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("RTAGENTS_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(SystemExit):
        main("simple_handoff", [])
    assert "--api-key" in capsys.readouterr().err
