"""The relay's pure parts: the asked config, the upstream URL, a failed response's events."""

from __future__ import annotations

import pytest
from openai.types.realtime import ResponseCreatedEvent, ResponseOutputItemAddedEvent

from rtagents.protocol.conversation import Conversation
from rtagents.server.relay.asked_config import MAX_PENDING, UpstreamAskedConfig
from rtagents.server.relay.response_failure import LOST_CODE, failed_responses, lost_error
from rtagents.server.relay.upstream_settings import UpstreamSettings, UpstreamUrlError


def test_a_refused_update_leaves_the_asked_config() -> None:
    asked = UpstreamAskedConfig({"type": "realtime", "instructions": "be brief"})
    asked.sent("e1", {"audio": {"output": {"voice": "marin"}}})
    asked.sent("e2", {"instructions": "x" * 10})
    assert asked.refused("e2") is True
    asked.confirmed()
    assert asked.current == {
        "type": "realtime",
        "instructions": "be brief",
        "audio": {"output": {"voice": "marin"}},
    }
    assert asked.refused("e1") is False  # settled: a late error about it changes nothing
    assert asked.refused(None) is False


def test_pending_updates_count_until_answered_and_stay_bounded() -> None:
    asked = UpstreamAskedConfig(None)
    for n in range(MAX_PENDING + 5):
        asked.sent(f"e{n}", {"instructions": str(n)})
    assert asked.current == {"instructions": str(MAX_PENDING + 4)}
    assert asked.refused("e0") is False  # the oldest were settled to keep the bound


def test_the_upstream_url_gets_the_model_unless_it_names_one() -> None:
    settings = UpstreamSettings(url="https://api.example.com/v1/realtime", api_key="k")
    assert settings.session_url("gpt-realtime") == (
        "wss://api.example.com/v1/realtime?model=gpt-realtime"
    )
    pinned = UpstreamSettings(url="ws://h:1/v1/realtime?model=fixed", api_key="k")
    assert pinned.session_url("other") == "ws://h:1/v1/realtime?model=fixed"
    assert pinned.session_url(None, "transcription") == (
        "ws://h:1/v1/realtime?model=fixed&intent=transcription"
    )


@pytest.mark.parametrize(
    ("url", "key", "says"),
    [("ftp://x/v1/realtime", "k", "not a Realtime URL"), ("ws://h/v1", "", "API key")],
)
def test_bad_settings_say_what_is_wrong(url: str, key: str, says: str) -> None:
    with pytest.raises(UpstreamUrlError, match=says):
        UpstreamSettings(url=url, api_key=key)


def test_a_response_in_progress_ends_failed_with_its_items_incomplete() -> None:
    conversation = Conversation()
    conversation.apply(
        ResponseCreatedEvent.model_validate(
            {
                "type": "response.created",
                "event_id": "ev1",
                "response": {
                    "id": "resp_1",
                    "object": "realtime.response",
                    "status": "in_progress",
                },
            }
        )
    )
    conversation.apply(
        ResponseOutputItemAddedEvent.model_validate(
            {
                "type": "response.output_item.added",
                "event_id": "ev2",
                "response_id": "resp_1",
                "output_index": 0,
                "item": {
                    "id": "item_a",
                    "type": "message",
                    "role": "assistant",
                    "status": "in_progress",
                    "content": [],
                },
            }
        )
    )
    done, error = failed_responses(conversation, lost_error("close 1006"), "conv_1")
    assert done.type == "response.done"
    response = done.response  # type: ignore[attr-defined]
    assert (response.id, response.status) == ("resp_1", "failed")
    assert response.status_details.error.code == LOST_CODE
    assert [(i.id, i.status) for i in response.output] == [("item_a", "incomplete")]
    assert response.conversation_id == "conv_1"
    assert error.type == "error"
    assert "close 1006" in error.error.message  # type: ignore[attr-defined]
    conversation.apply(done)
    assert failed_responses(conversation, lost_error("again"), "conv_1") == []
