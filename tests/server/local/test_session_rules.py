"""Tool refusals quote the names the client chose escaped and bounded."""

from __future__ import annotations

import pytest

from rtagents.protocol.errors import RemoteProtocolError
from rtagents.server.local.session_rules import check_tool_choice, check_tools, check_voice

HOSTILE = "f\n05:00:00.000 CRITICAL forged" + "n" * 100_000


def _tool(name: str) -> dict[str, object]:
    return {"type": "function", "name": name, "parameters": {"type": "object"}}


def test_two_tools_of_one_hostile_name_are_refused_with_the_name_bounded() -> None:
    with pytest.raises(RemoteProtocolError) as refused:
        check_tools([_tool(HOSTILE), _tool(HOSTILE)], "session.tools")
    assert refused.value.param == "session.tools[1].name"
    message = refused.value.message
    assert "\n" not in message and len(message) < 500 and f"({len(HOSTILE)} chars)" in message


def test_a_tool_choice_naming_no_tool_lists_ten_names_bounded() -> None:
    tools = [_tool(f"tool_{n}" + "x" * 1000) for n in range(50)]
    with pytest.raises(RemoteProtocolError) as refused:
        check_tool_choice({"type": "function", "name": HOSTILE}, tools, "session.tool_choice")
    message = refused.value.message
    assert refused.value.param == "session.tool_choice.name"
    assert "\n" not in message and len(message) < 4000
    assert message.count("(1006 chars)") == 10 and "and 40 more" in message


def test_a_tool_choice_with_no_tools_says_none() -> None:
    with pytest.raises(RemoteProtocolError, match=r"'f', which .*\(none\)"):
        check_tool_choice({"type": "function", "name": "f"}, [], "tool_choice")


def test_an_unsupported_tool_choice_type_is_quoted() -> None:
    with pytest.raises(RemoteProtocolError, match=r"tool_choice type 'mcp\\n' is not"):
        check_tool_choice({"type": "mcp\n"}, [], "tool_choice")


def test_a_voice_is_checked_against_what_the_engine_speaks() -> None:
    check_voice("marin", ("alloy", "marin"), "session.audio.output.voice")
    with pytest.raises(RemoteProtocolError, match=r"'nova\\n' is not one .*: alloy, marin\. "):
        check_voice("nova\n", ("alloy", "marin"), "session.audio.output.voice")
    with pytest.raises(RemoteProtocolError, match=r"custom voice 'voice_1' is not available"):
        check_voice({"id": "voice_1"}, ("alloy",), "response.audio.output.voice")
