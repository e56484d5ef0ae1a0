"""simpleHandoff end to end against the real server: greeter, then the haiku writer."""

from __future__ import annotations

import pytest
from scenario_kit import play, scenario_server


@pytest.mark.parametrize("webrtc", [False, True], ids=["websocket", "webrtc"])
async def test_the_greeter_hands_a_poem_request_to_the_haiku_writer(webrtc: bool) -> None:
    async with scenario_server("simple_handoff", webrtc=webrtc) as server:
        played = await play(server, "simple_handoff", webrtc=webrtc)
    assert played.steps("agent") == ["greeter -> haiku_writer"]
    assert played.tools() == ["transfer_to_haiku_writer"]
    greeting, haiku, thanks = (turn.of("assistant") for turn in played.turns)
    assert "haiku writer" in greeting[0].text
    assert haiku[-1].text.startswith("A haiku about falling snow:")
    assert thanks[0].text  # the haiku writer answers freely (the LLM, not a rule)
    assert played.steps("guardrail") == []
    assert played.errors == []
