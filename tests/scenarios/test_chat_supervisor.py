"""chatSupervisor end to end: the junior agent greets, then relays each question to the
supervisor (the server's own /v1/chat/completions), saying a filler line first."""

from __future__ import annotations

import pytest
from scenario_kit import play, scenario_server

from rtagents.scenarios.supervisor import FILLER

NAME = "chat_supervisor"


@pytest.mark.parametrize("webrtc", [False, True], ids=["websocket", "webrtc"])
async def test_every_real_question_goes_to_the_supervisor_after_a_filler(webrtc: bool) -> None:
    async with scenario_server(NAME, webrtc=webrtc) as server:
        played = await play(server, NAME, webrtc=webrtc)
    hello, *questions = played.turns
    assert hello.of("tool") == []
    assert "NewTelco" in hello.of("assistant")[0].text
    assert played.tools() == ["get_next_response_from_supervisor"] * 3
    supervisor = [s.data["name"] for t in questions for s in t.of("supervisor")]
    assert supervisor == ["get_user_account_info", "find_nearest_store", "lookup_policy_document"]
    for turn in questions:
        said = [s.text for s in turn.of("assistant")]
        assert said[0] == FILLER  # the caller hears the filler before the answer
        (result,) = turn.of("result")
        assert said[-1] == result.text  # the supervisor's answer, read verbatim
    assert "42.17" in questions[0].of("result")[0].text
    assert "Pike Street" in questions[1].of("result")[0].text
    assert played.steps("agent") == []
    assert played.errors == []
