"""customerServiceRetail end to end: authentication, returns with an approval, sales with a
guardrail trip, a human; over WebSocket and WebRTC against the real server."""

from __future__ import annotations

import pytest
from scenario_kit import play, scenario_server

from rtagents.scenarios.brand_guardrail import classify
from rtagents.scenarios.retail_tools import RetailContext

TRANSPORTS = pytest.mark.parametrize("webrtc", [False, True], ids=["websocket", "webrtc"])
NAME = "customer_service_retail"


@TRANSPORTS
async def test_a_return_is_verified_looked_up_checked_approved_and_processed(
    webrtc: bool,
) -> None:
    approvals: list[str] = []

    def approve(tool: str, arguments: str) -> bool:
        approvals.append(tool)
        return True

    async with scenario_server(NAME, webrtc=webrtc) as server:
        played = await play(server, NAME, 0, webrtc=webrtc, approve=approve)
    assert played.steps("agent") == ["authentication -> returns"]
    assert played.tools() == [
        "authenticate_user",
        "transfer_to_returns",
        "lookup_order",
        "check_return_eligibility",
        "process_return",
    ]
    assert approvals == ["process_return"]
    context = played.context
    assert isinstance(context, RetailContext)
    assert context.verified_name == "Maya"
    assert context.returns_started == ["4521"]  # exactly once
    assert "prepaid label" in played.turns[-1].of("assistant")[-1].text
    assert played.steps("guardrail") == []
    assert played.errors == []


@TRANSPORTS
async def test_shopping_trips_the_brand_guardrail_once_then_reaches_a_human(webrtc: bool) -> None:
    async with scenario_server(NAME, webrtc=webrtc) as server:
        played = await play(server, NAME, 1, webrtc=webrtc)
    assert played.steps("agent") == ["authentication -> sales", "sales -> human_agent"]
    assert played.tools() == [
        "authenticate_user",
        "transfer_to_sales",
        "find_deals",
        "add_to_cart",
        "transfer_to_human_agent",
    ]
    deals = played.turns[2]
    (trip,) = deals.of("guardrail")
    assert trip.data["info"] == {"classification": "OFF_BRAND", "matched": "Frostline"}
    # After the trip the agent answers again, and that answer is clean.
    assert classify(deals.of("assistant")[-1].text) == ("NONE", None)
    assert played.steps("guardrail") == [trip.text]
    assert played.context.cart == ["powder glide snowboard"]
    assert played.errors == []


async def test_a_rejected_return_is_not_processed() -> None:
    async with scenario_server(NAME) as server:
        played = await play(server, NAME, 0, approve=lambda tool, arguments: False)
    assert played.steps("approval") == ["process_return: rejected"]
    assert played.context.returns_started == []
    assert "rejected" in played.turns[-1].of("result")[-1].text
    # The rejection is reported as a tool error (the app's own decision), nothing else.
    (error,) = played.errors
    assert error.startswith("tool:") and "tool_rejected" in error


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Our boards are great.", "NONE"),
        ("Frostline makes better boots.", "OFF_BRAND"),
        ("Don't be stupid.", "OFFENSIVE"),
        ("I will punch the stupid wall.", "VIOLENCE"),  # the most severe wins
    ],
)
def test_the_brand_classifier_is_deterministic(text: str, label: str) -> None:
    assert classify(text)[0] == label
