"""``rtagents demo --scenario``: a spoken scripted caller through each ported scenario."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rtagents.cli.main import main


def _calls(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, Any]]:
    assert main(["demo", "--json", *args]) == 0
    out = capsys.readouterr().out
    calls: list[dict[str, Any]] = json.loads(out[out.index("\n[") :])
    return calls


def _steps(call: dict[str, Any], kind: str) -> list[str]:
    return [s["text"] for t in call["turns"] for s in t["steps"] if s["kind"] == kind]


def test_the_retail_scenario_report_shows_agents_tools_approval_guardrail_and_latency(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--engine", "scripted", "--scenario", "customer_service_retail"]) == 0
    out = capsys.readouterr().out
    assert "tool choice is rule-driven" in out
    for expected in (
        "[agent] authentication",
        "agent:       authentication -> returns",
        "tool:        lookup_order(",
        "result:      Order 4521 is the Powder Glide 158 snowboard",
        "approval:    process_return: approved",
        "guardrail:   brand_safety:",
        "OFF_BRAND",
        "agent:       sales -> human_agent",
        "latency:     first reply",
    ):
        assert expected in out, expected


def test_spoken_calls_are_heard_exactly_and_follow_the_scenario(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Tone-coded speech through server VAD and the scripted STT: every line is heard as said,
    so the rules pick the same tools as in the typed scenario tests."""
    (call,) = _calls(capsys, "--engine", "scripted", "--scenario", "simple_handoff")
    assert call["errors"] == []
    assert _steps(call, "user") == [t["line"] for t in call["turns"]]
    assert _steps(call, "agent") == ["greeter -> haiku_writer"]
    assert [t["first_reply_ms"] is not None for t in call["turns"]] == [True] * 3


def test_the_supervisor_scenario_speaks_a_filler_and_shows_the_supervisors_tools(
    capsys: pytest.CaptureFixture[str],
) -> None:
    (call,) = _calls(capsys, "--engine", "scripted", "--scenario", "chat_supervisor")
    assert call["errors"] == []
    supervisor = [text.split("(")[0] for text in _steps(call, "supervisor")]
    assert supervisor == ["get_user_account_info", "find_nearest_store", "lookup_policy_document"]
    assert _steps(call, "assistant").count("One moment, let me check that for you.") == 3


def test_an_unknown_scenario_is_refused_with_the_choices(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["demo", "--scenario", "nope"])
    assert "simple_handoff" in capsys.readouterr().err
